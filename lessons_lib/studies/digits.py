r"""Optimizers raced on a real network: a small MLP on scikit-learn's digits (lessons 06, 07).

    digits_run(name, lr, seed, ...)   one run with torch's built-in optimizer: train and
                                      validation loss per epoch
    digits_race(names, lrs, seeds)    each optimizer at its own tuned η, mean ± std over seeds
"""
import math

import numpy as np

from .. import optim


def _digits_tensors():
    import torch

    from .. import data
    split = data.digits()
    flat = lambda x: torch.as_tensor(x.reshape(len(x), -1))
    return (flat(split.x_train), torch.as_tensor(split.y_train),
            flat(split.x_test), torch.as_tensor(split.y_test))


_DIGITS = {}


def digits_run(name, lr, seed=0, *, epochs=6, batch_size=64, hidden=32, lr_at=None, **hparams):
    r"""One run of a 64 → hidden → 10 ReLU MLP on scikit-learn's digits (1437 train /
    360 validation images), with torch's built-in optimizer for `optim.get(name)`.

    `seed` sets the initial weights and the batch order. `lr_at(t)` (t = 0, 1, …
    the update) scales nothing: it *is* the learning rate of update t, e.g. a warmup.
    Returns {"train_loss": mean loss of each epoch's batches, "val_loss": after each
    epoch, "diverged": bool}; a run whose loss stops being finite ends early, diverged.
    """
    import torch
    if not _DIGITS:
        _DIGITS["tensors"] = _digits_tensors()
    x, y, x_val, y_val = _DIGITS["tensors"]
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(64, hidden), torch.nn.ReLU(),
                                torch.nn.Linear(hidden, 10))
    opt = optim.get(name, lr=lr, **hparams).torch_reference(model.parameters())
    loss_fn, rows, t = torch.nn.functional.cross_entropy, {"train_loss": [], "val_loss": []}, 0
    for _ in range(epochs):
        order, total = torch.randperm(len(x), generator=generator), 0.0
        for i in range(0, len(x), batch_size):
            if lr_at is not None:
                opt.param_groups[0]["lr"] = lr_at(t)
            batch = order[i:i + batch_size]
            loss = loss_fn(model(x[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, t = total + loss.item() * len(batch), t + 1
        if not math.isfinite(total):
            return {**rows, "diverged": True}
        with torch.no_grad():
            rows["train_loss"].append(total / len(x))
            rows["val_loss"].append(loss_fn(model(x_val), y_val).item())
        if not math.isfinite(rows["val_loss"][-1]):
            return {**rows, "diverged": True}
    return {**rows, "diverged": False}


def digits_race(names, lrs, seeds=(0, 1, 2), **run_options):
    r"""Each optimizer at its own best η of `lrs`, judged by the mean final validation
    loss over `seeds` (a diverged run scores inf), then reported as mean ± std.

    Returns {name: {"lr", "train_mean", "train_std", "val_mean", "val_std" (final epoch),
    "curves": {"train_loss", "val_loss"}: (seeds, epochs) arrays at the best η,
    "grid": {lr: mean final val loss}}}.
    """
    lrs = [float(lr) for lr in lrs]
    if not lrs or not list(seeds):
        raise ValueError(f"digits_race needs at least one lr and one seed; got lrs={lrs}, "
                         f"seeds={list(seeds)}")
    table = {}
    for name in names:
        runs = {lr: [digits_run(name, lr, s, **run_options) for s in seeds] for lr in lrs}
        score = {lr: (np.inf if any(r["diverged"] for r in rs)
                      else float(np.mean([r["val_loss"][-1] for r in rs])))
                 for lr, rs in runs.items()}
        best = min(lrs, key=lambda lr: score[lr])
        curves = {key: np.array([r[key] for r in runs[best]]) for key in ("train_loss", "val_loss")}
        table[name] = {"lr": best, "grid": score, "curves": curves,
                       **{f"{k}_{stat}": float(fn(curves[f"{k}_loss"][:, -1]))
                          for k in ("train", "val") for stat, fn in (("mean", np.mean),
                                                                      ("std", np.std))}}
    return table
