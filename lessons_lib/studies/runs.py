r"""Training runs of the NumPy optimizers, and what they record.

    Run                               one run: the loss after every update, the final
                                      parameters, the step sizes (and times)
    train(opt, problem, steps)        mini-batch training of a problem -> Run
    tune_lr(opt, lrs, problem, steps) the best learning rate of a small grid, and every Run
    trace(opt, grad, x0, steps)       -> Trace: the path, the gradients and the effective
                                      learning rates −Δx/g

A problem is anything with `loss(w)`, `grad(w, rows)`, `n_samples` and `dim`
(`landscapes.sparse_logistic`); everything is NumPy, float64 and seeded.
"""
import math
from dataclasses import dataclass, field

import numpy as np

from ._args import _check_int


@dataclass
class Run:
    """One training run of a NumPy optimizer, recorded after every update.

    `losses[k]` is the full training loss after k updates (k = 0: the start); a run
    that `diverged` stops there and its remaining losses are inf. `params` are the
    final parameters, `lrs[k]` the step size of update k + 1, `samples[k]` the
    training rows the first k updates read, with `batch_size` rows per update out of
    the `n` of the training set. `least_squares_sgd` also
    records `seconds[k]`, the training time of the first k updates (loss evaluations
    not counted), and whether the last, smaller batch of each epoch was dropped.
    """

    losses: np.ndarray
    params: np.ndarray = field(repr=False)
    batch_size: int
    n: int
    samples: np.ndarray = field(repr=False)
    lrs: np.ndarray = field(repr=False)
    diverged: bool = False
    seconds: np.ndarray = field(default=None, repr=False)
    drop_last: bool = False

    @property
    def updates_per_epoch(self):
        return self.n // self.batch_size if self.drop_last else math.ceil(self.n / self.batch_size)

    @property
    def epochs(self):
        """Passes over the training set after each update (samples / n)."""
        return self.samples / self.n

    def updates_to(self, target):
        """First update count k with losses[k] ≤ target, or None."""
        hit = np.flatnonzero(self.losses <= target)
        return int(hit[0]) if hit.size else None

    def final(self, last=50):
        """Mean loss over the last `last` updates: a score that mini-batch noise does not sway."""
        return float(np.mean(self.losses[-last:]))

    def epoch_losses(self):
        """The loss at the end of every epoch (index 0: the start)."""
        return self.losses[:: self.updates_per_epoch]

    def last_epoch(self):
        """The losses recorded during the last epoch (at least three)."""
        return self.losses[-max(3, self.updates_per_epoch + 1):]

    def noise(self):
        """How much the loss jitters from update to update over the last epoch: std(Δℒ)/√2.

        For independent fluctuations around a level this is their standard
        deviation; a smooth descent (batch GD) adds almost nothing, because
        its steps Δℒ are all about the same.
        """
        return float(np.std(np.diff(self.last_epoch())) / math.sqrt(2))


@dataclass
class Trace:
    """What `trace` records: `path` (steps + 1, dim) and `grads` (steps, dim)."""

    path: np.ndarray
    grads: np.ndarray

    @property
    def effective_lr(self):
        """(steps, dim): −Δx/g, the step each coordinate took per unit of gradient.

        For SGD this is η; for AdaGrad η/(√s_t + ε). NaN where the gradient is 0.
        (With momentum it mixes in the old gradients: read it as a ratio, not a rule.)
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (self.path[:-1] - self.path[1:]) / self.grads
        return np.where(self.grads != 0, ratio, np.nan)

    @property
    def step_sizes(self):
        """(steps,): ‖x_t − x_{t−1}‖, the length of every step."""
        return np.linalg.norm(np.diff(self.path, axis=0), axis=1)


def trace(opt, grad, x0, steps, *, schedule=None):
    """Run `opt` for `steps` updates from `x0` and keep the path and the gradients.

    `grad` is a callable `grad(x, t)` (t = 0, 1, ... the step, as `NoisyQuadratic.grad`)
    or a landscape (anything with `grad(x)`). `schedule(t)` overrides the learning rate.
    """
    _check_int("steps", steps, 0)
    gradient = (lambda x, t: grad.grad(x)) if hasattr(grad, "grad") else grad
    x = np.array(x0, dtype=float)
    path, grads, state = [x], [], opt.init(x)
    for t in range(steps):
        g = np.asarray(gradient(x, t), dtype=float)
        x, state = opt.update(x, g, state, lr=None if schedule is None else schedule(t))
        path.append(x)
        grads.append(g)
    return Trace(np.stack(path), np.array(grads).reshape(steps, x.size))


def train(opt, problem, steps, *, batch_size=32, seed=0, w0=None):
    """Mini-batch training of `problem` (with `loss(w)`, `grad(w, rows)`, `n_samples`,
    `dim`) by the NumPy optimizer `opt`. Every epoch visits the rows in a fresh seeded
    order. Returns a `Run`; a loss that stops being finite ends the run (diverged)."""
    _check_int("steps", steps, 0)
    _check_int("batch_size", batch_size, 1)
    rng = np.random.default_rng(seed)
    w = np.zeros(problem.dim) if w0 is None else np.array(w0, dtype=float)
    state, losses, order = opt.init(w), [problem.loss(w)], np.array([], dtype=int)
    record = dict(batch_size=batch_size, n=problem.n_samples, lrs=np.full(steps, float(opt.lr)),
                  samples=batch_size * np.arange(steps + 1))
    for _ in range(steps):
        if len(order) < batch_size:
            order = np.concatenate([order, rng.permutation(problem.n_samples)])
        rows, order = order[:batch_size], order[batch_size:]
        with np.errstate(all="ignore"):
            w, state = opt.update(w, problem.grad(w, rows), state)
            loss = problem.loss(w)
        if not np.isfinite(loss):
            losses += [np.inf] * (steps + 1 - len(losses))
            return Run(np.array(losses), w, diverged=True, **record)
        losses.append(loss)
    return Run(np.array(losses), w, **record)


def tune_lr(opt, lrs, problem, steps, *, last=50, **train_kwargs):
    """Train `opt` with each learning rate in `lrs`; return (best lr, {lr: Run}).

    The best is the lowest `Run.final(last)`; a diverged run never wins. Every run
    uses the same seed, so the learning rate is the only difference between them.
    """
    lrs = [float(lr) for lr in lrs]
    if not lrs:
        raise ValueError("lrs must hold at least one learning rate; got none")
    runs = {lr: train(opt.with_hparams(lr=lr), problem, steps, **train_kwargs) for lr in lrs}
    best = min(lrs, key=lambda lr: np.inf if runs[lr].diverged else runs[lr].final(last))
    return best, runs
