"""Lesson 08's measurements: the lecture's y = 2x example, logistic regression
metrics and the threshold trade-off, and the sanity checks run before a long job.

Everything here is measured (torch runs the training) or computed from a stated
formula, so the lesson can put the two side by side:

* `epochs_to_fit` trains `nn.Linear(1, 1)`-shaped models with `torch.optim.SGD`,
  one parameter group per learning rate, and reports the first epoch from which
  every parameter stays within `tol` of the target; `predicted_epochs` gives the
  same number from lesson 02's closed form, e_k = (I − ηH)^k e_0.
* `scores_table`, `threshold_table`, `roc_curve`: metrics of a binary classifier
  from its scores, with `lessons_lib.metrics`.
* `loss_at_init`, `overfit_one_batch`, `update_to_weight_ratios`,
  `decay_groups`: the checks and the parameter groups practitioners use.
"""
from __future__ import annotations

import math

import numpy as np

from . import linear, metrics

LECTURE_X = ((1.0,), (2.0,), (3.0,), (4.0,))   # the lecture's x; y = 2x


def _check_tol(tol):
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive number; got {tol!r}")
    return float(tol)


def _check_lrs(lrs):
    lrs = [float(lr) for lr in lrs]
    if not lrs or not all(math.isfinite(lr) and lr > 0 for lr in lrs):
        raise ValueError(f"lrs must be positive numbers, at least one; got {lrs!r}")
    return lrs


def _first_stable(within):
    """First index from which `within` (a boolean sequence) stays True to the end, else None."""
    within = np.asarray(within, dtype=bool)
    if within.size == 0 or not within[-1]:
        return None
    outside = np.flatnonzero(~within)
    return int(outside[-1] + 1) if outside.size else 0


# ---------------------------------------------------------------- the lecture's example

def predicted_epochs(x, y, theta0, lr, tol=1e-3, max_epochs=100_000):
    """Full-batch gradient descent on the MSE of a linear model, from theory alone.

    GD on a quadratic with Hessian H moves the error e = θ − θ* as
    e_k = (I − ηH)^k e_0 (lesson 02), so in H's eigenbasis each coordinate is
    multiplied by (1 − ηλ_i) per step. Returns the first k from which
    max_i |e_k[i]| ≤ tol holds (θ = (w..., b), bias last), or None when that
    does not happen within `max_epochs` (for instance η ≥ 2/λ_max: divergence).
    """
    tol = _check_tol(tol)
    lr = _check_lrs([lr])[0]
    x, y = linear.checked_data(x, y)
    lam, Q = np.linalg.eigh(linear.mse_hessian(x))
    factors = 1 - lr * lam
    if np.any(np.abs(factors) > 1):          # the error grows along that direction
        return None
    e0 = Q.T @ (np.asarray(theta0, dtype=float) - linear.closed_form(x, y))
    k = np.arange(max_epochs + 1)[:, None]
    with np.errstate(under="ignore"):
        errors = np.abs((factors ** k * e0) @ Q.T).max(axis=1)
    return _first_stable(errors <= tol)


def epochs_to_fit(lrs, x, y, theta0, *, tol=1e-3, max_epochs=30_000):
    """Measured: train y ≈ w·x + b with torch.optim.SGD at each learning rate.

    All runs start from `theta0` = (w..., b) and train together in one loop:
    one parameter group per learning rate (each group its own `lr`), full-batch
    MSE, `zero_grad`, `backward`, `step`, as in the lecture. Parameters are
    float32, as `nn.Linear`'s. Returns {lr: first epoch from which every
    parameter stays within `tol` of the least-squares solution, or None}.
    Diverging runs (inf/NaN) give None; they cannot disturb the other groups,
    because each group's gradient comes from its own term of the loss.
    """
    import torch
    tol = _check_tol(tol)
    lrs = _check_lrs(lrs)
    x, y = linear.checked_data(x, y)
    target = torch.tensor(linear.closed_form(x, y), dtype=torch.float32)
    xs = torch.tensor(x, dtype=torch.float32)
    ys = torch.tensor(y, dtype=torch.float32)
    params = [torch.nn.Parameter(torch.tensor(theta0, dtype=torch.float32)) for _ in lrs]
    optimizer = torch.optim.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs)])
    errors = torch.empty(max_epochs + 1, len(lrs))
    for epoch in range(max_epochs + 1):
        theta = torch.stack(params)                                # (runs, d + 1)
        errors[epoch] = (theta.detach() - target).abs().amax(dim=1)  # before this update
        if epoch == max_epochs:
            break
        pred = xs @ theta[:, :-1].T + theta[:, -1]                 # (n, runs)
        loss = ((pred - ys[:, None]) ** 2).mean(dim=0).sum()       # each run's own MSE
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    within = (errors <= tol).numpy()             # NaN compares False: never within
    return {lr: _first_stable(within[:, i]) for i, lr in enumerate(lrs)}


# ---------------------------------------------------------------- binary classification

def sigmoid(z):
    """1 / (1 + e^(−z)), computed without overflow for large |z|."""
    z = np.asarray(z, dtype=float)
    return np.exp(-np.logaddexp(0.0, -z))


def scores_table(y_true, scores, threshold=0.5):
    """{metric: value}: accuracy, precision, recall and F1 of `scores >= threshold`,
    ROC AUC of the scores themselves (it does not depend on a threshold)."""
    y_true = np.asarray(y_true)
    predicted = (np.asarray(scores) >= threshold).astype(y_true.dtype)
    return {"accuracy": metrics.accuracy(y_true, predicted),
            "precision": metrics.precision(y_true, predicted),
            "recall": metrics.recall(y_true, predicted),
            "F1": metrics.f1(y_true, predicted),
            "ROC AUC": metrics.roc_auc(y_true, scores)}


def threshold_table(y_true, scores, thresholds):
    """One row per threshold: predicted positives, precision, recall, F1, accuracy."""
    y_true = np.asarray(y_true)
    rows = []
    for t in thresholds:
        predicted = (np.asarray(scores) >= t).astype(y_true.dtype)
        rows.append({"threshold": float(t), "predicted yes": int(predicted.sum()),
                     "precision": metrics.precision(y_true, predicted),
                     "recall": metrics.recall(y_true, predicted),
                     "F1": metrics.f1(y_true, predicted),
                     "accuracy": metrics.accuracy(y_true, predicted)})
    return rows


def roc_curve(y_true, scores):
    """(false-positive rates, true-positive rates, thresholds) of `scores >= t`
    for every distinct score t, from the highest down, starting at (0, 0).

    The points where scikit-learn's `roc_curve(..., drop_intermediate=False)`
    puts them; its first threshold is +inf, ours too.
    """
    y_true = np.asarray(y_true).astype(bool)
    scores = np.asarray(scores, dtype=float)
    if y_true.shape != scores.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and scores must be 1-D and equally long; got shapes "
                         f"{y_true.shape} and {scores.shape}")
    if y_true.all() or not y_true.any():
        raise ValueError("roc_curve needs both classes in y_true")
    thresholds = np.r_[np.inf, np.unique(scores)[::-1]]
    tp = np.array([np.sum(y_true & (scores >= t)) for t in thresholds])
    fp = np.array([np.sum(~y_true & (scores >= t)) for t in thresholds])
    return fp / np.sum(~y_true), tp / np.sum(y_true), thresholds


def threshold_for_recall(y_true, scores, target):
    """The highest threshold t (a score) at which `scores >= t` finds at least
    `target` of the positives: the least alarm-prone classifier with that recall."""
    y_true = np.asarray(y_true).astype(bool)
    scores = np.asarray(scores, dtype=float)
    for t in np.unique(scores)[::-1]:
        if np.sum(y_true & (scores >= t)) >= target * np.sum(y_true):
            return float(t)
    return float(np.min(scores))


# ---------------------------------------------------------------- sanity checks

def loss_at_init(model, x, y, loss):
    """The loss of the untrained model on (x, y), a float: compare with log(classes)."""
    import torch
    model.eval()
    with torch.no_grad():
        value = float(loss(model(x), y))
    model.train()
    return value


def overfit_one_batch(model, x, y, *, loss, optimizer, steps):
    """Train on one small batch only, `steps` times: the losses (a NumPy array).

    A model and loop without bugs drive this to about 0; a loss that stalls
    points at the loop (a missing zero_grad, a detached tensor, a wrong target
    shape) rather than at the data.
    """
    import torch
    model.train()
    losses = torch.empty(steps)
    for step in range(steps):
        value = loss(model(x), y)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        losses[step] = value.detach()
    return losses.numpy()


def update_to_weight_ratios(model, x, y, *, loss, optimizer, steps=1):
    """{parameter name: ‖Δp‖ / ‖p‖} of the weight matrices over the last of `steps` updates.

    Karpathy's rule of thumb: about 1e-3 per update. Much larger and training
    is unstable; much smaller and the learning rate is too low to learn.
    """
    model.train()
    names = [n for n, p in model.named_parameters() if p.ndim >= 2]
    ratios = {}
    for _ in range(steps):
        before = {n: p.detach().clone() for n, p in model.named_parameters() if n in names}
        value = loss(model(x), y)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        after = dict(model.named_parameters())
        ratios = {n: float((after[n].detach() - before[n]).norm() / before[n].norm())
                  for n in names}
    return ratios


def decay_groups(model, weight_decay, **group_options):
    """Two parameter groups: weight matrices (and conv kernels) with `weight_decay`,
    biases and normalisation parameters (every tensor of fewer than 2 dims) without.

    Decaying a bias or a norm's scale towards 0 does not regularise the function
    the way shrinking a weight matrix does; most training recipes exclude them.
    """
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay, **group_options},
            {"params": no_decay, "weight_decay": 0.0, **group_options}]


def lecture_lr_table(lrs, theta0, *, tol=1e-3, max_epochs=25_000):
    """The learning-rate table of the lecture's y = 2x problem from `theta0`:
    epochs measured with torch.optim.SGD next to lesson 02's closed form."""
    x = np.array(LECTURE_X)
    y = 2 * x[:, 0]
    measured = epochs_to_fit(lrs, x, y, theta0, tol=tol, max_epochs=max_epochs)
    lam_max = float(np.linalg.eigvalsh(linear.mse_hessian(x))[-1])
    return [{"lr": lr, "η·λ_max": lr * lam_max, "measured": measured[lr],
             "closed form": predicted_epochs(x, y, theta0, lr, tol, max_epochs)}
            for lr in _check_lrs(lrs)]
