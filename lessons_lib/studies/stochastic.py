r"""Stochastic and mini-batch gradient descent on least squares, measured (lesson 03).

    least_squares_sgd(x, y, batch_size=..., lr=..., epochs=...)  -> Run
    gradient_spread(x, y, theta, batch_sizes)   E‖g_B − g‖² against σ²/B
    minibatch_runs(x, y, batch_sizes, lr=..., target=...)
    lr_per_batch_size(x, y, batch_sizes, lrs, target=...)   η tuned per B
    noise_ball(x, y, lrs, ...)       against stationary_excess (the theory)

The model, θ = (w, b) and ℒ(θ) = (1/n)‖Zθ − y‖², is lesson 01's `lessons_lib.linear`.
"""
import math
import time

import numpy as np

from .. import linear
from ..table import Table
from ._args import _check_int, _check_number, _check_sizes
from .runs import Run


# Features x of shape (n, d), parameters θ = (w_1, …, w_d, b) with the bias last,
# the design matrix Z = [x, 1] and the loss ℒ(θ) = (1/n)‖Zθ − y‖².
def _design(x, y):
    x, y = linear.checked_data(x, y)
    return linear.design_matrix(x), y


def _loss(Z, y, theta):
    r = Z @ theta - y
    return float(r @ r) / len(r)


def least_squares_sgd(x, y, *, batch_size, lr=None, epochs=10, seed=0, theta0=None, schedule=None,
                      stop_below=None, replace=False, drop_last=False):
    r"""Mini-batch SGD on the mean squared error of a linear model, with NumPy as on the slide.

    Every epoch visits the rows in a fresh shuffled order (`data.batches` with
    one seeded Generator), one update per mini-batch of B rows:
    $θ ← θ − η_t \frac{2}{B} Z_B^\top (Z_B θ − y_B)$. batch_size = n is batch GD,
    1 is stochastic GD. θ starts at `theta0` (default 0). `schedule(t)` (t = 0
    for the first update) overrides the constant `lr`. Time is measured with
    `time.perf_counter` around drawing each batch and updating (the loss
    recorded after each update is not timed). With `stop_below`, the run ends
    at the first update whose loss is at or below it. With `replace=True` each
    batch is B rows drawn at random WITH replacement (the textbook model of SGD:
    every update independent of the others), ⌈n/B⌉ of them per epoch, instead
    of a shuffled pass that uses every row exactly once. With `drop_last`, a
    shuffled epoch skips its last, smaller batch (n mod B rows): a batch of a
    single row at a step size tuned for B rows can overshoot badly. Returns a `Run` (its
    `params` are the final θ).
    """
    from ..data import batches
    Z, y = _design(x, y)
    n = len(Z)
    batch_size = _check_int("batch_size", batch_size)
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} is out of range; valid: batch_size in [1, {n}] "
                         f"(n = {n} rows)")
    epochs = _check_int("epochs", epochs)
    if schedule is None:
        if lr is None:
            raise ValueError("lr is required (a positive float) unless a schedule is given")
        lr = _check_number("lr", lr, 0, low_open=True)
    theta = np.zeros(Z.shape[1]) if theta0 is None else np.array(theta0, dtype=float)
    if theta.shape != (Z.shape[1],):
        raise ValueError(f"theta0 must have shape ({Z.shape[1]},) = (w_1, ..., w_d, b); got {theta.shape}")
    rng = np.random.default_rng(seed)
    losses, seconds, samples, lrs = [_loss(Z, y, theta)], [0.0], [0], []
    t, clock = 0, 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # a divergent η shows as inf, not a warning
        for _ in range(epochs):
            if stop_below is not None and losses[-1] <= stop_below:
                break
            if replace:
                picks = (rng.integers(0, n, batch_size) for _ in range(math.ceil(n / batch_size)))
                epoch = ((Z[i], y[i]) for i in picks)
            else:
                epoch = batches(Z, y, batch_size, rng=rng, drop_last=drop_last)
            while True:
                eta = lr if schedule is None else float(schedule(t))
                start = time.perf_counter()            # timed: drawing the batch and the update
                zb, yb = next(epoch, (None, None))
                if zb is None:
                    break
                theta = theta - eta * (2.0 / len(zb)) * (zb.T @ (zb @ theta - yb))
                clock += time.perf_counter() - start
                t += 1
                losses.append(_loss(Z, y, theta))
                seconds.append(clock)
                samples.append(samples[-1] + len(zb))
                lrs.append(eta)
                if stop_below is not None and losses[-1] <= stop_below:
                    break
    return Run(np.array(losses), theta, batch_size, n, np.array(samples), np.array(lrs),
               seconds=np.array(seconds), drop_last=drop_last and not replace)


def gradient_spread(x, y, theta, batch_sizes, *, draws=400, seed=0):
    r"""How far a mini-batch gradient falls from the full gradient, by batch size.

    Measured: $\mathbb E\|g_B − g\|^2$ over `draws` batches of B rows drawn
    without replacement (as one mini-batch of a shuffled epoch is), at θ.
    Predicted: with per-row gradients $g_i$ and $σ^2 = \frac1n\sum\|g_i − g\|^2$,
    $\mathbb E\|g_B − g\|^2 = \frac{σ^2}{B}\cdot\frac{n − B}{n − 1}$: the variance of
    a mean of B samples, ∝ 1/B, with the finite-population factor that makes
    it exactly 0 at B = n (batch GD has no noise).
    """
    Z, y = _design(x, y)
    n = len(Z)
    sizes = _check_sizes("batch_sizes", batch_sizes, n)
    draws = _check_int("draws", draws)
    theta = np.asarray(theta, dtype=float)
    per_row = 2.0 * (Z @ theta - y)[:, None] * Z          # g_i, shape (n, d + 1)
    g = per_row.mean(axis=0)
    sigma2 = float(np.mean(np.sum((per_row - g) ** 2, axis=1)))
    rng = np.random.default_rng(seed)
    rows = []
    for B in sizes:
        spread = np.mean([np.sum((per_row[rng.choice(n, B, replace=False)].mean(axis=0) - g) ** 2)
                          for _ in range(draws)])
        predicted = sigma2 / B * (n - B) / (n - 1) if n > 1 else 0.0
        rows.append({"batch_size": B, "spread": float(spread), "predicted": predicted,
                     "ratio": float(spread) / predicted if predicted > 0 else None})
    return Table(rows, {"batch_size": "B", "spread": "E‖g_B − g‖² (measured)",
                        "predicted": "σ²/B·(n−B)/(n−1)", "ratio": "measured / predicted"},
                 title=f"mini-batch gradient spread around the full gradient (σ² = {sigma2:.3g}, n = {n})")


def minibatch_runs(x, y, batch_sizes, *, lr, target, epochs=20, seed=0, repeats=3, drop_last=False):
    """Batch size -> cost of reaching a target training loss, measured.

    For each B, runs `least_squares_sgd` (same seed; `lr` is one float for every
    B, or a mapping batch size -> lr, e.g. `lr_per_batch_size`'s tuned ones) and records
    ``updates`` (to reach `target`), ``epochs`` (passes over the data by then),
    ``seconds`` (training time by then: the best of `repeats` identical runs, so
    that a busy machine disturbs it less), ``seconds_per_epoch`` (over the whole
    run), ``uphill`` (the fraction of updates after which the full training loss
    was HIGHER than before: 0 for batch GD with η < 2/L), ``final_loss`` (mean
    loss over the last epoch), ``noise`` (its jitter, `Run.noise`) and ``reached``.
    None when the target is not reached in `epochs`. The runs are kept in
    `table.runs` (batch size -> Run) for plotting. `drop_last` as in `least_squares_sgd`.
    """
    Z, y = _design(x, y)
    sizes = _check_sizes("batch_sizes", batch_sizes, len(Z))
    target = _check_number("target", target)
    repeats = _check_int("repeats", repeats)
    x = Z[:, :-1]
    per_size = dict(lr) if isinstance(lr, dict) else {B: lr for B in sizes}
    missing = [B for B in sizes if B not in per_size]
    if missing:
        raise ValueError(f"lr has no learning rate for batch size(s) {missing}; give one float "
                         f"or a dict with every batch size in {sizes}")
    rows, runs = [], {}
    for B in sizes:
        eta = _check_number("lr", per_size[B], 0, low_open=True)
        run = least_squares_sgd(x, y, batch_size=B, lr=eta, epochs=epochs, seed=seed, drop_last=drop_last)
        k = run.updates_to(target)
        # the same run again, stopped at the target: the best time is the least disturbed one
        retimed = [least_squares_sgd(x, y, batch_size=B, lr=eta, epochs=epochs, seed=seed,
                                     stop_below=target, drop_last=drop_last).seconds[-1] for _ in range(repeats - 1)]
        last = run.last_epoch()
        rows.append({"batch_size": B, "lr": eta, "updates": k,
                     "epochs": None if k is None else float(run.epochs[k]),
                     "seconds": None if k is None else min([run.seconds[k], *retimed]),
                     "seconds_per_epoch": run.seconds[-1] / run.epochs[-1],
                     "uphill": float(np.mean(np.diff(run.losses) > 0)),
                     "final_loss": float(last.mean()), "noise": run.noise(),
                     "reached": k is not None})
        runs[B] = run
    table = Table(rows, {"batch_size": "B", "lr": "η", "updates": "updates to target",
                         "epochs": "epochs to target",
                         "seconds": "seconds to target", "seconds_per_epoch": "seconds per epoch",
                         "uphill": "updates that raised the loss",
                         "final_loss": "final loss (last-epoch mean)",
                         "noise": "noise (last epoch)", "reached": "reached?"},
                  title=f"mini-batch SGD, target loss {target:.4g}")
    table.runs = runs
    return table


def lr_per_batch_size(x, y, batch_sizes, lrs, *, target, epochs=20, seed=0, drop_last=False):
    r"""The learning rate from the grid `lrs` that reaches `target` in the fewest updates, per B.

    Each (B, η) runs `least_squares_sgd` (same seed) until the training loss is
    at most `target`. Rows: ``batch_size``, ``lr`` (the best; ties go to the
    smaller η), ``updates`` and ``epochs`` to the target with it, and
    ``lr_per_B`` = η/B. The linear-scaling rule says the best η grows ∝ B while
    the gradient noise (∝ 1/B) limits the step, and stops growing once the
    curvature does (η < 2/L for the full-batch gradient). Rows where no η of the
    grid reaches the target hold None. `drop_last` as in `least_squares_sgd`.
    """
    Z, y = _design(x, y)
    x = Z[:, :-1]
    sizes = _check_sizes("batch_sizes", batch_sizes, len(Z))
    lrs = sorted(_check_number("lrs", lr, 0, low_open=True) for lr in lrs)
    if not lrs:
        raise ValueError("lrs must hold at least one learning rate")
    target = _check_number("target", target)
    rows = []
    for B in sizes:
        best = None
        for eta in lrs:
            run = least_squares_sgd(x, y, batch_size=B, lr=eta, epochs=epochs, seed=seed,
                                    stop_below=target, drop_last=drop_last)
            k = run.updates_to(target)
            if k is not None and (best is None or k < best[1]):
                best = (eta, k, float(run.epochs[k]))
        eta, k, ep = best if best else (None, None, None)
        rows.append({"batch_size": B, "lr": eta, "updates": k, "epochs": ep,
                     "lr_per_B": None if eta is None else eta / B})
    return Table(rows, {"batch_size": "B", "lr": "best η", "updates": "updates to target",
                        "epochs": "epochs to target", "lr_per_B": "η / B"},
                 title=f"η tuned per batch size on {len(lrs)} values, target loss {target:.4g}")


def stationary_excess(x, y, lr, *, batch_size=1):
    r"""SGD's noise ball in theory: the stationary $\mathbb E[\mathcal L(θ) − \mathcal L^*]$ with replacement.

    With batches of B rows drawn independently (with replacement), the error
    $e = θ − θ^*$ follows $e ← (I − ηH_B)e − η g_B(θ^*)$, $H_B$ the batch's
    Hessian and $g_B(θ^*)$ its gradient at the optimum (zero mean, covariance
    $Σ/B$, $Σ = rac1n\sum_i g_i g_i^	op$). Its covariance P is then stationary when
    $P = \mathbb E[(I − ηH_B) P (I − ηH_B)] + η^2 Σ/B$, a linear system for P
    (the noise is multiplicative: $H_B$ is random too). Returns
    ``(excess, rho)``: excess $= 	frac12 \operatorname{tr}(HP)$, ≈ ηtr(Σ)/(4B) for small η,
    and rho the spectral radius of the map P ↦ 𝔼[(I − ηH_B)P(I − ηH_B)]: the
    mean-square stability of SGD, which needs rho < 1 (excess is inf otherwise).
    """
    Z, y = _design(x, y)
    n, d = Z.shape
    B = _check_sizes("batch_size", [batch_size], n)[0]
    lr = _check_number("lr", lr, 0, low_open=True)
    theta_star = np.linalg.lstsq(Z, y, rcond=None)[0]
    H = 2.0 / n * Z.T @ Z
    g = 2.0 * (Z @ theta_star - y)[:, None] * Z                      # per-row gradients at θ*
    sigma = g.T @ g / n
    rows_kron = np.einsum("ni,nj->nij", Z, Z).reshape(n, d * d)        # z ⊗ z per row
    HH_row = 4.0 / n * rows_kron.T @ rows_kron                         # E[H_i ⊗ H_i]
    HH = HH_row / B + (1 - 1 / B) * np.kron(H, H)                      # E[H_B ⊗ H_B]
    eye = np.eye(d)
    M = np.eye(d * d) - lr * (np.kron(H, eye) + np.kron(eye, H)) + lr**2 * HH
    rho = float(np.max(np.abs(np.linalg.eigvals(M))))
    if rho >= 1:
        return math.inf, rho
    P = np.linalg.solve(np.eye(d * d) - M, lr**2 * (sigma / B).ravel()).reshape(d, d)
    return float(0.5 * np.trace(H @ P)), rho


def noise_ball(x, y, lrs, *, batch_size=1, epochs=20, seed=0, last_epochs=5, theta0=None,
               replace=False):
    r"""SGD with a constant step hovers above the minimum; how high, by learning rate.

    For each η, runs `least_squares_sgd` and reports ``excess``: the mean of
    $\mathcal L(θ_k) − \mathcal L^*$ over the updates of the last `last_epochs`
    epochs ($\mathcal L^*$ at the least-squares θ*, `linear.closed_form`). Every
    run starts at `theta0`, by default AT the minimiser θ*, so what is measured
    is the noise alone, not what is left of the descent: the gradient noise
    kicks the iterate out of the minimum, and a step η kicks it about η far.
    ``excess_per_lr`` shows how close to proportional the growth is, and
    ``theory`` is `stationary_excess` (sampling with replacement). `replace`
    chooses how batches are drawn (see `least_squares_sgd`): shuffled epochs,
    the default and what data loaders do, cancel part of the noise within each
    epoch (every row's gradient at θ* is used once, and they sum to zero), so
    at small η they hover lower than the theory, ∝ η² rather than ∝ η. The runs
    are kept in `table.runs` (lr -> Run).
    """
    Z, y = _design(x, y)
    x = Z[:, :-1]
    epochs = _check_int("epochs", epochs)
    last_epochs = _check_int("last_epochs", last_epochs)
    if last_epochs > epochs:
        raise ValueError(f"last_epochs={last_epochs} is out of range; valid: 1 to epochs={epochs}")
    theta_star = linear.closed_form(x, y)
    optimum = _loss(Z, y, theta_star)
    rows, runs = [], {}
    for lr in lrs:
        run = least_squares_sgd(x, y, batch_size=batch_size, lr=lr, epochs=epochs, seed=seed,
                                theta0=theta_star if theta0 is None else theta0, replace=replace)
        tail = run.losses[-last_epochs * run.updates_per_epoch:] - optimum
        theory = stationary_excess(x, y, lr, batch_size=batch_size)[0]
        rows.append({"lr": float(lr), "excess": float(tail.mean()), "excess_per_lr": float(tail.mean() / lr),
                     "theory": theory})
        runs[float(lr)] = run
    drawn = "with replacement" if replace else "shuffled epochs"
    table = Table(rows, {"lr": "η", "excess": "mean ℒ − ℒ* (last epochs)", "excess_per_lr": "excess / η",
                         "theory": "theory, with replacement"},
                  title=f"constant-step SGD (B = {batch_size}, {drawn}): the noise ball")
    table.runs = runs
    return table
