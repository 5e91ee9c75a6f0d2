"""Run an optimizer on a landscape with NumPy and keep the whole path."""
import math

import numpy as np

from ..checks import check_range


class DivergenceError(FloatingPointError):
    """The iterate or the loss stopped being a finite number."""


def minimize(opt, f, x0, steps, *, schedule=None, stop_on_divergence=True):
    """Trajectory of `opt` on landscape `f` from `x0`: array of shape (steps+1, dim).

    Row 0 is x0; row k is the point after k updates. `schedule(step)` (step 0 =
    first update) overrides the learning rate; a rate that is negative, NaN or not
    a number stops the run with a ValueError naming the step. If an iterate stops being
    finite, a DivergenceError names the step and the learning rate; with
    `stop_on_divergence=False` the trajectory is returned up to that point
    instead (so a lesson can draw a divergent run).
    """
    x = np.array(x0, dtype=float)
    dim = getattr(f, "dim", x.size)
    if x.ndim != 1 or x.size != dim:
        raise ValueError(f"x0 must be a 1-D array of length {dim} for {getattr(f, 'name', f)!r}; "
                         f"got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"x0 must be finite; got {x.tolist()}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0; got {steps!r}")
    path = [x]
    state = opt.init(x)
    for k in range(steps):
        lr = opt.lr if schedule is None else check_range(None, f"schedule({k})", schedule(k),
                                                         0, math.inf, why="(a learning rate)")
        with np.errstate(over="ignore", invalid="ignore"):
            x, state = opt.update(x, f.grad(x), state, lr=lr)
        if not np.all(np.isfinite(x)):
            if not stop_on_divergence:
                break
            raise DivergenceError(
                f"{type(opt).__name__} diverged at step {k + 1} with lr={lr:g}: the iterate is "
                f"no longer finite. Try a smaller learning rate (e.g. lr={lr / 10:g}).")
        path.append(x)
    return np.stack(path)


def steps_to_tolerance(path, f, tol):
    """First step k from which f(path[j]) − f* ≤ tol for every j ≥ k; None if the end is above.

    "Stays below", not "first touches": an oscillating run can pass through the
    tolerance and leave it again. f* is the lowest listed minimum (0 if none).
    """
    best = min(f.value(m) for m in f.minima) if f.minima else 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        gap = np.array([f.value(x) for x in path]) - best
    above = np.flatnonzero(~(gap <= tol))          # ~(≤) also counts NaN as above
    if above.size and above[-1] == len(path) - 1:
        return None
    return int(above[-1] + 1) if above.size else 0


def race(optimizers, f, x0, steps, tol=1e-6):
    """Run each optimizer (dict label -> optimizer) on `f` from `x0`.

    Returns {label: (trajectory, steps until it stays within `tol`, or None)}.
    A run that diverges keeps its finite prefix and counts as None.
    """
    results = {}
    for label, opt in optimizers.items():
        path = minimize(opt, f, x0, steps, stop_on_divergence=False)
        results[label] = (path, steps_to_tolerance(path, f, tol) if len(path) == steps + 1 else None)
    return results


def tune(name, f, x0, lrs, steps, tol=1e-6, **hparams):
    """(lr, trajectory) of the learning rate in `lrs` that settles within `tol` soonest.

    `name` is a REGISTRY name, `hparams` the optimizer's other settings. Ties,
    and grids where nothing settles, go to the lowest final value.
    """
    from . import get
    runs = {lr: race({lr: get(name, lr=lr, **hparams)}, f, x0, steps, tol)[lr] for lr in lrs}

    def score(lr):
        path, settled = runs[lr]
        final = f.value(path[-1]) if len(path) == steps + 1 else np.inf
        return (np.inf if settled is None else settled, final)
    best = min(runs, key=score)
    return best, runs[best][0]
