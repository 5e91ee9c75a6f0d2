"""Lesson 14's measurements: what changes when training gets big.

- `linear_scaling`: scale η with the batch size B (η = η₀·B/B₀, with warmup)
  and see which B keep the same loss per epoch;
- `noise_scale`: the gradient noise scale B_noise = tr(Σ)/|G|², the batch size
  beyond which a bigger batch stops buying a proportionally better step;
- `state_bytes`, `quantize_blockwise`, `zero_shard_bytes`: what an optimizer
  keeps, measured in bytes on real torch optimizers;
- `precision_table`, `loss_scaling`: bf16/fp16 round-off and underflow, on
  real tensors;
- `random_plane`: the loss on a plane through the weights along two random,
  filter-normalised directions (Li et al., 2018).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .studies import gradient_spread
from .table import Table


# -- the linear scaling rule ---------------------------------------------------------

def _digits(seed=0):
    from .tuning import digits_splits
    x, y, x_val, y_val, _, _ = digits_splits(seed)
    return x, y, x_val, y_val          # pixels already scaled to 0..1


def _softmax_loss_grad(w, x, y):
    """Cross-entropy of softmax regression (bias as a last input of 1) and its gradient."""
    logits = x @ w
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(len(y)), y] + 1e-300).mean()
    p[np.arange(len(y)), y] -= 1
    return float(loss), x.T @ p / len(y)


def scaled_sgd(batch_size, lr, *, epochs, warmup_steps=0, seed=0):
    """Mini-batch SGD on softmax regression of the digits: the training loss
    after each epoch (a list; inf once it diverged). The learning rate ramps
    linearly, η_t = η·(t + 1)/W, over the first W = `warmup_steps` updates."""
    x, y, _, _ = _digits()
    x = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros((x.shape[1], 10))
    rng = np.random.default_rng(seed)
    losses, step = [], 0
    with np.errstate(all="ignore"):
        for _ in range(epochs):
            order = rng.permutation(len(x))
            for start in range(0, len(x), batch_size):
                idx = order[start:start + batch_size]
                _, g = _softmax_loss_grad(w, x[idx], y[idx])
                w = w - lr * min(1.0, (step + 1) / warmup_steps if warmup_steps else 1.0) * g
                step += 1
            loss, _ = _softmax_loss_grad(w, x, y)
            losses.append(loss if math.isfinite(loss) else math.inf)
    return losses


def linear_scaling(batch_sizes, *, base_batch, base_lr, epochs, warmup_epochs=1, seed=0):
    """The linear scaling rule measured: for each B, SGD with η = η₀·B/B₀,
    with and without a linear warmup over `warmup_epochs` epochs: the training
    loss after the last epoch, and its ratio to the B₀ run's with the same
    warmup (1 = the rule holds: the same loss per epoch in B₀/B as many
    updates). The first of `batch_sizes` must be B₀."""
    if batch_sizes[0] != base_batch:
        raise ValueError(f"batch_sizes must start with base_batch={base_batch}; "
                         f"got batch_sizes={list(batch_sizes)!r}")
    n = len(_digits()[0])
    rows = []
    for B in batch_sizes:
        lr = base_lr * B / base_batch
        warm = warmup_epochs * math.ceil(n / B)
        plain = scaled_sgd(B, lr, epochs=epochs, seed=seed)
        warmed = scaled_sgd(B, lr, epochs=epochs, warmup_steps=warm, seed=seed)
        if not rows:
            base_plain, base_warmed = plain[-1], warmed[-1]   # the first B is B₀
        rows.append({"batch": B, "lr": lr, "updates_per_epoch": math.ceil(n / B),
                     "loss_no_warmup": plain[-1], "loss_warmup": warmed[-1],
                     "ratio_no_warmup": plain[-1] / base_plain,
                     "ratio_warmup": warmed[-1] / base_warmed})
    return Table(rows, {"batch": "B", "lr": "η = η₀B/B₀", "updates_per_epoch": "updates/epoch",
                        "loss_no_warmup": "loss, no warmup", "loss_warmup": "loss, warmup",
                        "ratio_no_warmup": "÷ B₀'s (no warmup)", "ratio_warmup": "÷ B₀'s (warmup)"},
                 title=f"training loss after {epochs} epochs, η₀ = {base_lr} at B₀ = {base_batch}")


# -- the gradient noise scale --------------------------------------------------------

def noise_scale(x, y, theta, batch_sizes=(1, 4, 16, 64), *, draws=200, seed=0):
    r"""B_noise = tr(Σ)/|G|², from lesson 03's gradient-spread measurement.

    `studies.gradient_spread` measures E‖g_B − G‖² = tr(Σ)/B · (n−B)/(n−1);
    each batch size B gives tr(Σ) = spread · B · (n−1)/(n−B), averaged here.
    A step with batch B on a quadratic improves the loss by a fraction
    ≈ 1/(1 + B_noise/B) of what the exact gradient would: well below B_noise, a
    k× bigger batch is worth almost k steps; well above, almost nothing
    (McCandlish et al., 2018, "An Empirical Model of Large-Batch Training").
    """
    from .linear import mse_grad
    n = len(x)
    table = gradient_spread(x, y, theta, [b for b in batch_sizes if b < n], draws=draws,
                            seed=seed)
    traces = [row["spread"] * row["batch_size"] * (n - 1) / (n - row["batch_size"])
              for row in table]
    trace = float(np.mean(traces))
    grad_sq = float(np.sum(mse_grad(theta, x, y) ** 2))
    return {"trace": trace, "grad_sq": grad_sq, "B_noise": trace / grad_sq,
            "trace_spread": float(np.std(traces) / trace)}


# -- optimizer state -----------------------------------------------------------------

def tensor_bytes(tensors):
    return int(sum(t.numel() * t.element_size() for t in tensors))


def state_bytes(optimizer):
    """Bytes of every tensor an optimizer keeps in its state (measured after a
    step: torch creates the state lazily)."""
    import torch
    return tensor_bytes(v for state in optimizer.state.values() for v in state.values()
                        if isinstance(v, torch.Tensor))


def quantize_blockwise(tensor, block=256):
    """8-bit block-wise quantisation: int8 codes q = round(127·t/absmax) per
    block of `block` values, plus one float32 absmax per block. Returns
    (codes, scales, dequantised tensor). A linear code, simpler than the
    dynamic (non-linear) one of bitsandbytes' 8-bit Adam, same byte count."""
    import torch
    flat = tensor.detach().float().reshape(-1)
    pad = (-len(flat)) % block
    blocks = torch.nn.functional.pad(flat, (0, pad)).reshape(-1, block)
    scales = blocks.abs().amax(dim=1, keepdim=True).clamp_min(1e-30)
    codes = torch.round(blocks / scales * 127).to(torch.int8)
    restored = (codes.float() * scales / 127).reshape(-1)[:len(flat)].reshape(tensor.shape)
    return codes, scales, restored


def zero_shard_bytes(params, ranks, make_optimizer):
    """ZeRO stage 1 measured: parameters split over `ranks` (greedily by size, as
    torch's ZeroRedundancyOptimizer does), one optimizer per shard, one step:
    the state bytes each rank would hold (a list, one per rank)."""
    params = list(params)
    shards, sizes = [[] for _ in range(ranks)], [0] * ranks
    for p in sorted(params, key=lambda p: -p.numel()):
        smallest = sizes.index(min(sizes))
        shards[smallest].append(p)
        sizes[smallest] += p.numel()
    measured = []
    for shard in shards:
        optimizer = make_optimizer(shard)
        for p in shard:
            p.grad = p.detach().clone()
        optimizer.step()
        measured.append(state_bytes(optimizer))
    return measured


def optimizer_state_table(model_fn, ranks=2):
    """Bytes of optimizer state for one model, measured on real optimizers:
    SGD, SGD + momentum, Adam, Adafactor (factored second moments), Adam with
    8-bit block-wise m and v, and Adam sharded over `ranks` (ZeRO-1: the most
    any rank holds)."""
    import torch
    params_bytes = tensor_bytes(model_fn().parameters())
    rows = []

    def measure(name, make, note=""):
        model = model_fn()
        optimizer = make(model.parameters())
        for p in model.parameters():
            p.grad = torch.full_like(p, 1e-3)
        optimizer.step()
        rows.append({"optimizer": name, "bytes": state_bytes(optimizer), "note": note})
        return optimizer

    measure("SGD", lambda p: torch.optim.SGD(p, lr=0.1))
    measure("SGD + momentum", lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), "buffer")
    adam = measure("Adam", lambda p: torch.optim.Adam(p, lr=1e-3), "m and v")
    measure("Adafactor", lambda p: torch.optim.Adafactor(p, lr=1e-2), "row + column of v")
    eight_bit = 0
    for state in adam.state.values():
        for key in ("exp_avg", "exp_avg_sq"):
            codes, scales, _ = quantize_blockwise(state[key])
            eight_bit += tensor_bytes([codes, scales])
        eight_bit += tensor_bytes([state["step"]])
    rows.append({"optimizer": "Adam, 8-bit m and v", "bytes": eight_bit,
                 "note": "int8 + an fp32 scale per 256"})
    shard = zero_shard_bytes(model_fn().parameters(), ranks,
                             lambda p: torch.optim.Adam(p, lr=1e-3))
    rows.append({"optimizer": f"Adam, ZeRO-1 over {ranks} ranks", "bytes": max(shard),
                 "note": "per rank (the largest shard)"})
    for row in rows:
        row["× params"] = row["bytes"] / params_bytes
    return Table(rows, title=f"optimizer state, measured; the parameters take {params_bytes:,} "
                             "bytes (float32)")


# -- reduced precision ---------------------------------------------------------------

def precision_table(weights, grads):
    """float32 / bfloat16 / float16 on real tensors: machine epsilon, smallest
    normal number, largest number; the relative round-off of `weights` cast
    to the type; the share of `grads` entries that become 0 (underflow); and
    whether w + 1e-3·w changes w (an update smaller than ε/2 is lost)."""
    import torch
    rows = []
    for dtype in (torch.float32, torch.bfloat16, torch.float16):
        info = torch.finfo(dtype)
        cast = weights.to(dtype).float()
        relative = ((cast - weights).abs() / weights.abs().clamp_min(1e-30)).median()
        zeros = ((grads.to(dtype) == 0) & (grads != 0)).float().mean()
        one = torch.tensor(1.0, dtype=dtype)
        rows.append({"dtype": str(dtype).replace("torch.", ""), "eps": info.eps,
                     "smallest_normal": info.tiny, "max": info.max,
                     "weight_roundoff": float(relative), "grads_to_zero": float(zeros),
                     "1 + 1e-3 == 1": bool(one + 1e-3 == one)})
    return Table(rows, {"eps": "ε", "smallest_normal": "smallest normal",
                        "weight_roundoff": "median round-off of weights",
                        "grads_to_zero": "gradients flushed to 0"})


def loss_scaling(grads, scales=(1, 2 ** 8, 2 ** 16, 2 ** 24)):
    """fp16 gradients with loss scaling: the loss (hence every gradient) is
    multiplied by S before backward and the gradient divided by S in float32
    after. Per S: the share of entries lost to underflow (0), lost to overflow
    (inf), and the median relative error of the rest."""
    import torch
    rows = []
    for S in scales:
        half = (grads * S).to(torch.float16)
        back = half.float() / S
        finite = torch.isfinite(half) & (half != 0)
        error = ((back - grads).abs() / grads.abs())[finite]
        rows.append({"scale": S, "underflow": float(((half == 0) & (grads != 0)).float().mean()),
                     "overflow": float((~torch.isfinite(half)).float().mean()),
                     "median_error": float(error.median()) if error.numel() else math.nan})
    return Table(rows, {"scale": "loss scale S", "underflow": "→ 0", "overflow": "→ inf",
                        "median_error": "median relative error"})


# -- activation checkpointing, measured ----------------------------------------------

def checkpointing_table(depths, *, width=128, batch=256):
    """For tanh MLPs of each depth: the bytes of activations kept for backward,
    plainly and with ⌈√L⌉ checkpointed segments, and the compute: how many
    Linear forward passes one training step runs (counted with forward hooks;
    checkpointing recomputes all segments but the last during backward).
    Counted rather than timed: a count does not depend on how busy the machine
    is (on a GPU, time it too: recomputation also costs memory traffic)."""
    import torch

    from .harness.recompute import ActivationCheckpointed, saved_activation_bytes
    rows = []
    for depth in depths:
        torch.manual_seed(0)
        net = torch.nn.Sequential(*[m for _ in range(depth)
                                    for m in (torch.nn.Linear(width, width), torch.nn.Tanh())])
        x = torch.randn(batch, width)
        calls = []
        hooks = [m.register_forward_hook(lambda *_: calls.append(1))
                 for m in net if isinstance(m, torch.nn.Linear)]
        plain = saved_activation_bytes(net, x)
        plain_calls = len(calls)
        calls.clear()
        kept = saved_activation_bytes(ActivationCheckpointed(net), x)
        for hook in hooks:
            hook.remove()
        rows.append({"layers": 2 * depth, "plain_bytes": plain, "checkpointed_bytes": kept,
                     "memory_ratio": kept / plain, "forwards_ratio": len(calls) / plain_calls})
    return Table(rows, {"plain_bytes": "kept, plain (bytes)",
                        "checkpointed_bytes": "kept, checkpointed", "memory_ratio": "memory ×",
                        "forwards_ratio": "Linear forwards ×"})


def amp_savings(model_fn, x, y, *, steps=20):
    """On a CUDA GPU: seconds per training step and peak memory, float32 vs
    autocast (bfloat16 where supported, else float16 with a GradScaler), for a
    fresh model from `model_fn`. A Table of two rows."""
    import torch
    if not torch.cuda.is_available():
        raise RuntimeError("amp_savings measures a CUDA GPU and none is present")
    device = torch.device("cuda")
    x, y = x.to(device), y.to(device)
    major, _ = torch.cuda.get_device_capability(device)
    low = torch.bfloat16 if major >= 8 else torch.float16
    rows = []
    for name, dtype in (("float32", None), (str(low).replace("torch.", ""), low)):
        model = model_fn().to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
        scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        for step in range(steps + 3):
            if step == 3:                      # 3 warm-up steps, then time
                torch.cuda.synchronize()
                start = time.perf_counter()
            with torch.autocast("cuda", dtype=dtype, enabled=dtype is not None):
                loss = torch.nn.functional.mse_loss(model(x).float(), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        torch.cuda.synchronize()
        rows.append({"precision": name, "ms_per_step": 1e3 * (time.perf_counter() - start) / steps,
                     "peak_MiB": torch.cuda.max_memory_allocated(device) / 2 ** 20})
    return Table(rows)


# -- the loss on a random plane ------------------------------------------------------

@dataclass
class PlaneSlice:
    """L(θ* + a·d₁ + b·d₂) on a grid of (a, b)."""
    alphas: np.ndarray
    betas: np.ndarray
    losses: np.ndarray      # shape (len(betas), len(alphas))

    def plot(self, ax=None, title="loss on a random plane through the trained weights"):
        import matplotlib.pyplot as plt

        from . import plots  # noqa: F401  (importing it gives notebook figures alt text)
        if ax is None:
            _, ax = plt.subplots(figsize=(5.5, 4.5))
        levels = np.geomspace(self.losses.min(), np.percentile(self.losses, 95), 20)
        shown = ax.contourf(self.alphas, self.betas, self.losses, levels=levels,
                            cmap="viridis", extend="max")
        ax.plot(0, 0, "w*", markersize=12, label="trained weights")
        ax.figure.colorbar(shown, ax=ax, label="loss")
        ax.set(xlabel="a (direction 1)", ylabel="b (direction 2)", title=title)
        ax.legend(loc="upper right")
        return ax.figure


def random_directions(params, seed=0):
    """Two random directions with each filter (row of a weight matrix) scaled
    to the norm of the same filter in the weights, and 0 for biases: so that a
    step of 1 means the same relative change in every layer (Li et al., 2018)."""
    import torch
    generator = torch.Generator().manual_seed(seed)
    directions = []
    for _ in range(2):
        d = {}
        for name, p in params.items():
            r = torch.randn(p.shape, generator=generator, dtype=p.dtype)
            if p.ndim <= 1:
                d[name] = torch.zeros_like(p)
            else:
                rows, filters = r.reshape(len(r), -1), p.detach().reshape(len(p), -1)
                r = rows * (filters.norm(dim=1, keepdim=True) / rows.norm(dim=1, keepdim=True))
                d[name] = r.reshape(p.shape)
        directions.append(d)
    return directions


def random_plane(model, loss_fn, x, y, *, span=1.0, steps=21, seed=0):
    """The loss of `model` on (x, y) at θ + a·d₁ + b·d₂ for a, b in
    [−span, span] (`steps` values each), d₁, d₂ from `random_directions`."""
    import torch
    from torch.func import functional_call
    params = {k: v.detach() for k, v in model.named_parameters()}
    d1, d2 = random_directions(params, seed)
    grid = np.linspace(-span, span, steps)
    losses = np.empty((steps, steps))
    with torch.no_grad():
        for i, b in enumerate(grid):
            for j, a in enumerate(grid):
                moved = {k: params[k] + a * d1[k] + b * d2[k] for k in params}
                losses[i, j] = float(loss_fn(functional_call(model, moved, (x,)), y))
    return PlaneSlice(grid, grid, losses)
