"""The GPU rows: where a CUDA device is present, and skipped (with the reason) elsewhere.

1. Adam and AdamW steps on ~100M parameters (48 tensors of a 24-layer MLP's
   shapes): our `to_torch` step (the default backend, "foreach" on CUDA, and
   "compiled") against torch.optim's `foreach=True` and `fused=True` steps.
   Goal: ours / fused <= 1.5.
2. The harness's `fit` with AMP against a hand-tuned AMP loop on the same model
   and batches: autocast (bfloat16 from Ampere on, else float16 with a grad
   scaler), `zero_grad(set_to_none=True)`, the losses kept on the device and read
   once per epoch. Throughput ratio, hand-tuned time / fit's time: goal >= 0.95.

`tiny` runs both on the CPU at toy sizes (bfloat16 autocast), so the code is
tested on machines without a GPU; its figures measure nothing.
"""
import torch
from torch import nn

from lessons_lib import optim
from lessons_lib.harness.torch import fit

from . import bench_harness
from .timing import device_sync, side_by_side

LAYERS, WIDTH = 24, 2048        # 24 x (2048 x 2048 + 2048) = 100,712,448 parameters
TINY_LAYERS, TINY_WIDTH = 2, 16
NAMES = ("adam", "adamw")
CONTENDERS = ("ours_auto", "ours_compiled", "torch_foreach", "torch_fused")


def _params(layers, width, device):
    g = torch.Generator(device=device).manual_seed(0)
    params = []
    for shape in [(width, width), (width,)] * layers:
        p = torch.randn(shape, generator=g, device=device).requires_grad_()
        p.grad = torch.randn(shape, generator=g, device=device) * 1e-2
        params.append(p)
    return params


def _optimizer(contender, rule, params):
    if contender.startswith("ours_"):
        return rule.to_torch(params, backend=contender.removeprefix("ours_"))
    cls, kwargs = rule.torch_equivalent()
    implementation = contender.removeprefix("torch_")
    return getattr(torch.optim, cls)(params, **kwargs, **{implementation: True})


def step_ratios(device, layers, width, repeats, calls, contenders=CONTENDERS):
    """{name: {contender: side_by_side(contender's step, fused step)}}."""
    sync = lambda: device_sync(device)  # noqa: E731
    results = {}
    for name in NAMES:
        rule = optim.get(name, lr=1e-3, weight_decay=0.01)
        steps = {c: _optimizer(c, rule, _params(layers, width, device)).step for c in contenders}
        for step in steps.values():
            for _ in range(3):  # warm up; "compiled" compiles here
                step()
        results[name] = {c: side_by_side(step, steps["torch_fused"], repeats=repeats,
                                          calls=calls, sync=sync)
                         for c, step in steps.items() if c != "torch_fused"}
        del steps
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return results


def _amp_dtype(device):
    if device.type == "cuda" and torch.cuda.get_device_capability(device)[0] < 8:
        return torch.float16
    return torch.bfloat16


def _hand_tuned_amp(model, batches, epochs, device):
    dtype = _amp_dtype(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    for _ in range(epochs):
        losses = []
        for x, y in batches:
            with torch.autocast(device.type, dtype=dtype):
                loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(loss.detach())
        mean = torch.stack(losses).float().mean().item()  # the epoch's one host read
    return mean


def _fit_amp(model, batches, epochs, device):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    history = fit(model, batches, loss=nn.CrossEntropyLoss(), optimizer=optimizer,
                  epochs=epochs, device=device, amp=True, progress=False)
    return history[-1]["train_loss"]


def harness_amp(device, size, repeats):
    batches, model = bench_harness._problem(device, size)
    epochs = bench_harness.EPOCHS if size == "full" else 1
    ours = lambda: _fit_amp(model(), batches, epochs, device)  # noqa: E731
    hand = lambda: _hand_tuned_amp(model(), batches, epochs, device)  # noqa: E731
    ours(), hand()  # warm up: cuBLAS handles, autocast caches, lazy imports
    timed = side_by_side(ours, hand, repeats=repeats, sync=lambda: device_sync(device))
    steps = epochs * len(batches)
    return {**timed, "throughput_ratio": round(timed["reference_ms"] / timed["ours_ms"], 3),
            "steps": steps, "batch_size": len(batches[0][1]), "dtype": str(_amp_dtype(device))}


def run(size="full", repeats=None):
    if size == "tiny":
        device, layers, width = torch.device("cpu"), TINY_LAYERS, TINY_WIDTH
    elif torch.cuda.is_available():
        device, layers, width = torch.device("cuda"), LAYERS, WIDTH
    else:
        return {"gpu": {"skipped": "no CUDA device here (torch.cuda.is_available() is False)"}}
    repeats = repeats or (7 if size == "full" else 2)
    # tiny: no "compiled" (seconds of compiling per optimizer on a CPU)
    contenders = CONTENDERS if size == "full" else tuple(c for c in CONTENDERS
                                                          if c != "ours_compiled")
    steps = step_ratios(device, layers, width, repeats, calls=10 if size == "full" else 2,
                        contenders=contenders)
    amp = harness_amp(device, size, repeats=11 if size == "full" else 2)
    return {"gpu_step_ratio_vs_fused": {n: {c: r["ratio"] for c, r in by.items()}
                                        for n, by in steps.items()},
            "gpu_harness_amp_throughput": amp["throughput_ratio"],
            "gpu": {"device": str(device),
                    "device_name": torch.cuda.get_device_name(device)
                    if device.type == "cuda" else "cpu (tiny: a check that it runs)",
                    "parameters": layers * (width * width + width),
                    "steps": steps, "harness_amp": amp}}


def describe(figures):
    gpu = figures["gpu"]
    if "skipped" in gpu:
        return f"GPU rows skipped: {gpu['skipped']}"
    lines = [f"on {gpu['device_name']}: Adam/AdamW step / torch.optim fused step, "
             f"{gpu['parameters']:,} parameters; goal for ours <= 1.5"]
    for name, by in gpu["steps"].items():
        cells = [f"{c} {r['ratio']:.2f} [{r['spread'][0]:.2f}, {r['spread'][1]:.2f}]"
                 + (" ✓" if r["ratio"] <= 1.5 else " ✗") * c.startswith("ours")
                 for c, r in by.items()]
        fused_ms = next(iter(by.values()))["reference_ms"]
        lines.append(f"  {name:<6} " + "   ".join(cells) + f"   (fused {fused_ms:.2f} ms)")
    a = gpu["harness_amp"]
    mark = "✓" if a["throughput_ratio"] >= 0.95 else "✗"
    lines.append(f"harness fit with AMP ({a['dtype']}) / hand-tuned AMP loop, throughput, "
                 f"{a['steps']} steps of batch {a['batch_size']}; goal >= 0.95\n"
                 f"  {a['throughput_ratio']:.3f} {mark} over {a['repeats']} repeats   "
                 f"({a['ours_ms']:.1f} ms vs {a['reference_ms']:.1f} ms)")
    return "\n".join(lines)
