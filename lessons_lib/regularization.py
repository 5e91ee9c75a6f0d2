"""Regularization and deep networks (lesson 10): what the lesson measures.

- L1 vs L2 on a real data set, refitted on bootstrap resamples: exact zeros,
  weight norms and how stable the chosen features are (`bootstrap_coefficients`,
  `penalty_table`);
- the classic small models with batch normalization and dropout (`small_net`);
- deep fully connected networks with a chosen initialization, plain or
  residual (`deep_mlp`), and their activations and gradients layer by layer
  (`layer_statistics`);
- the loss of a model on a data set, in evaluation mode (`mean_loss`).
"""
from __future__ import annotations

import math

import numpy as np

from .table import Table

INITS = ("small", "unit", "xavier", "he", "default")
ACTIVATIONS = ("relu", "tanh")


# ---------------------------------------------------------------- L1 vs L2

def bootstrap_coefficients(model, x, y, *, resamples=100, seed=0):
    """Refit a scikit-learn linear `model` on `resamples` bootstrap resamples of
    (x, y) (rows drawn with replacement): the coefficients, shape (resamples, d)."""
    from sklearn.base import clone

    if not isinstance(resamples, int) or resamples < 2:
        raise ValueError(f"resamples must be an int >= 2; got {resamples!r}")
    x, y = np.asarray(x), np.asarray(y)
    rng = np.random.default_rng(seed)
    rows = [rng.integers(0, len(x), len(x)) for _ in range(resamples)]
    return np.array([np.ravel(clone(model).fit(x[r], y[r]).coef_) for r in rows])


def _top(coef, k):
    return frozenset(np.argsort(-np.abs(coef), kind="stable")[:k].tolist())


def stability(coefs, full, *, top=4, doubt=(0.1, 0.9)):
    """How stable the coefficients `coefs` (resamples × d) are around the fit on
    all the data, `full` (d,):

    - ``mean zeros``: exact zeros per resample, on average;
    - ``in doubt``: features selected (non-zero) in some resamples but not in
      others: a selection frequency strictly between doubt[0] and doubt[1];
    - ``top-k agreement``: how often a resample's k largest |w| are the same
      set as the full fit's (the Jaccard index of the two sets, averaged);
    - ``sign flips``: features whose non-zero weights take both signs;
    - ``spread``: the average ‖w_b − w̄‖₂ / ‖w̄‖₂ (w̄ the mean over resamples).
    """
    coefs, full = np.asarray(coefs, dtype=float), np.asarray(full, dtype=float)
    chosen = coefs != 0
    frequency = chosen.mean(axis=0)
    reference = _top(full, top)
    jaccard = [len(_top(c, top) & reference) / len(_top(c, top) | reference) for c in coefs]
    flips = sum(bool((col > 0).any() and (col < 0).any()) for col in coefs.T)
    mean = coefs.mean(axis=0)
    spread = np.linalg.norm(coefs - mean, axis=1).mean() / np.linalg.norm(mean)
    return {"mean zeros": float((~chosen).sum(axis=1).mean()),
            "in doubt": int(((frequency > doubt[0]) & (frequency < doubt[1])).sum()),
            f"top-{top} agreement": float(np.mean(jaccard)),
            "sign flips": int(flips), "spread": float(spread)}


def penalty_table(models, x, y, x_val, y_val, *, resamples=100, seed=0, top=4):
    """One column per named scikit-learn linear model (e.g. {"L1": Lasso(...),
    "L2": Ridge(...)}): fitted on (x, y), scored on (x_val, y_val), refitted on
    bootstrap resamples. One row per measure (`table.row(measure=...)`): exact
    zeros, ‖w‖₁, ‖w‖₂, validation MSE, then `stability`'s measures."""
    columns = {}
    for name, model in models.items():
        fitted = model.fit(x, y)
        w = np.ravel(fitted.coef_)
        coefs = bootstrap_coefficients(model, x, y, resamples=resamples, seed=seed)
        columns[name] = {"exact zeros": int((w == 0).sum()),
                         "‖w‖₁": float(np.abs(w).sum()), "‖w‖₂": float(np.linalg.norm(w)),
                         "val MSE": float(np.mean((fitted.predict(x_val) - y_val) ** 2)),
                         **stability(coefs, w, top=top)}
    measures = next(iter(columns.values()))
    rows = [{"measure": m, **{name: column[m] for name, column in columns.items()}}
            for m in measures]
    return Table(rows, title=f"{len(x)} rows, {resamples} bootstrap resamples")


# ---------------------------------------------------------------- small models

def small_net(inputs=10, hidden=20, *, batchnorm=False, dropout=0.0, seed=0):
    """The classic small regression net: Linear(inputs, hidden) [+ BatchNorm1d]
    + ReLU [+ Dropout(dropout)] + Linear(hidden, 1), seeded."""
    import torch
    from torch import nn

    if not 0 <= dropout < 1:
        raise ValueError(f"dropout must be in [0, 1); got {dropout!r}")
    torch.manual_seed(seed)
    layers = [nn.Linear(inputs, hidden)]
    if batchnorm:
        layers.append(nn.BatchNorm1d(hidden))
    layers.append(nn.ReLU())
    if dropout:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(hidden, 1))
    return nn.Sequential(*layers)


# ---------------------------------------------------------------- deep networks

def _init_(linear, init, activation):
    import torch
    from torch import nn

    fan_in = linear.weight.shape[1]
    with torch.no_grad():
        if init == "small":                   # the old "0.01 * randn" recipe
            linear.weight.normal_(0.0, 0.01)
        elif init == "unit":                  # plain randn: std 1 whatever the width
            linear.weight.normal_(0.0, 1.0)
        elif init == "xavier":                # Var = 2 / (fan_in + fan_out)
            nn.init.xavier_normal_(linear.weight, gain=nn.init.calculate_gain(activation))
            if activation == "relu":          # Glorot's recipe has no ReLU factor
                linear.weight.mul_(1 / math.sqrt(2))
        elif init == "he":                    # Var = 2 / fan_in
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
        if init != "default":
            linear.bias.zero_()
    return fan_in


def _modules():
    """The torch classes, defined once torch is imported (the module imports without it)."""
    global _CLASSES
    if _CLASSES is None:
        from torch import nn

        class ResidualBlock(nn.Module):
            """h ↦ h + φ(W h + b): the identity path carries signal and gradient."""

            def __init__(self, linear, activation):
                super().__init__()
                self.linear, self.activation = linear, activation

            def forward(self, h):
                return h + self.activation(self.linear(h))

        class DeepMLP(nn.Module):
            """x ↦ Linear + φ, the blocks in turn, then a linear read-out."""

            def __init__(self, first, activation, blocks, head):
                super().__init__()
                self.first, self.activation = first, activation
                self.blocks, self.head = nn.ModuleList(blocks), head

            def forward(self, x):
                h = self.activation(self.first(x.flatten(1)))
                for block in self.blocks:
                    h = block(h)
                return self.head(h)

        _CLASSES = ResidualBlock, DeepMLP
    return _CLASSES


_CLASSES = None


def deep_mlp(depth, width=64, *, inputs=64, outputs=10, activation="relu", init="he",
             residual=False, seed=0):
    """A deep fully connected net: Linear(inputs, width) + φ, then `depth` hidden
    layers Linear(width, width) + φ (each wrapped as h + φ(Wh + b) when
    `residual`), then Linear(width, outputs). Inputs are flattened first.

    init (every hidden layer and the first): "small" N(0, 0.01²), "unit"
    N(0, 1), "xavier" (Glorot: Var = 2/(fan_in + fan_out)), "he" (Kaiming:
    Var = 2/fan_in), or "default" (torch's own). Biases start at 0 except for
    "default". The hidden layers are `model.blocks`, for `layer_statistics`.
    """
    import torch
    from torch import nn

    if init not in INITS:
        raise ValueError(f"init={init!r} is not known; valid: {', '.join(INITS)}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r} is not known; valid: {', '.join(ACTIVATIONS)}")
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth must be an int >= 1; got {depth!r}")
    torch.manual_seed(seed)
    residual_block, deep = _modules()
    phi = nn.ReLU() if activation == "relu" else nn.Tanh()
    first = nn.Linear(inputs, width)
    _init_(first, init, activation)
    blocks = []
    for _ in range(depth):
        linear = nn.Linear(width, width)
        _init_(linear, init, activation)
        blocks.append(residual_block(linear, phi) if residual else nn.Sequential(linear, phi))
    return deep(first, phi, blocks, nn.Linear(width, outputs))


def layer_statistics(model, x, y, loss_fn):
    """One forward and backward pass on (x, y): per block of `model.blocks`,
    the std of its output (``activation_std``) and the norm of its weight
    gradient ‖∂L/∂W‖ (``weight_grad``); block 1 is next to the input.
    The model's gradients are cleared again afterwards."""
    import torch

    outputs = []
    hooks = [block.register_forward_hook(lambda m, i, out: outputs.append(out.detach()))
             for block in model.blocks]
    try:
        model.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
    finally:
        for hook in hooks:
            hook.remove()
    rows = []
    for k, (block, out) in enumerate(zip(model.blocks, outputs), start=1):
        weight = next(p for name, p in block.named_parameters() if name.endswith("weight"))
        rows.append({"layer": k, "activation_std": float(out.std()),
                     "weight_grad": float(torch.linalg.vector_norm(weight.grad))})
    model.zero_grad(set_to_none=True)
    return Table(rows, {"activation_std": "std(h_l)", "weight_grad": "‖∂L/∂W_l‖"})


def mean_loss(model, batches, loss_fn):
    """The loss of `model` over all of `batches`, each batch weighted by its size,
    in evaluation mode (dropout off, batch norm's running statistics) and
    without gradients; the model's train/eval mode is restored."""
    import torch

    was_training = model.training
    device = next(model.parameters()).device
    model.eval()
    total, count = 0.0, 0
    try:
        with torch.no_grad():
            for x, y in batches:
                x, y = x.to(device), y.to(device)
                total += float(loss_fn(model(x), y)) * len(x)
                count += len(x)
    finally:
        model.train(was_training)
    return total / count


# ---------------------------------------------------------------- stable learning rates

def stable_learning_rates(make_model, make_batches, *, loss, lrs, epochs=10, seeds=(0,),
                          momentum=0.0, **fit_options):
    """For each learning rate of `lrs` and each seed of `seeds`, train a fresh
    `make_model(seed)` with SGD on a fresh `make_batches()` for `epochs` epochs
    through the course's harness. A run is stable when it finishes (no NaN/inf
    loss: the harness raises `DivergenceError`) with its last training loss
    below its first epoch's. Rows: lr, ``stable`` (how many seeds were),
    ``runs`` (how many seeds there were) and ``worst loss`` (the largest last
    training loss among the stable runs; None when none was)."""
    import torch

    from .harness import DivergenceError
    from .harness import torch as harness

    rows = []
    for lr in lrs:
        stable, losses = 0, []
        for seed in seeds:
            model = make_model(seed)
            optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
            try:
                history = harness.fit(model, make_batches(), loss=loss, optimizer=optimizer,
                                      epochs=epochs, **{"progress": False, "seed": seed,
                                                        **fit_options})
            except DivergenceError:
                continue
            if history["train_loss"][-1] < history["train_loss"][0]:
                stable += 1
                losses.append(history["train_loss"][-1])
        rows.append({"lr": lr, "stable": stable, "runs": len(seeds),
                     "worst loss": max(losses) if losses else None})
    return Table(rows, title=f"SGD, {epochs} epochs, seeds {list(seeds)}")


def largest_stable(table):
    """The largest learning rate of a `stable_learning_rates` table at which every
    seed was stable (None if there is none)."""
    stable = [row["lr"] for row in table if row["stable"] == row["runs"]]
    return max(stable) if stable else None
