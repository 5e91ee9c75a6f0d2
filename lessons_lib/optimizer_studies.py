r"""The measurements lessons 04–07 quote.

Each function runs one experiment that a lesson states as a fact and returns the
numbers, so the notebook can print them, plot them and assert on them:

    steps_vs_condition(kappas)        04: steps to tolerance vs κ, GD at 2/(L+μ) and
                                      the heavy ball at Polyak's (η, β); log-log slopes
    heavy_ball_rate(lr, beta, lams)   04: the heavy ball's convergence rate on a quadratic
                                      (max |eigenvalue| of its iteration matrix)
    noisy_convex_race(opts, ...)      05: E[f] over time on a noisy quadratic, many seeds
    gradient_square_vs_curvature()    05: E[g²] = σ²·diag(H) at a least-squares minimum
    first_steps(opt, g, steps)        05/06: |Δθ|/η of the first steps on a constant gradient
    online_reddi(opt, C, steps)       06: Reddi et al.'s online problem on [−1, 1]
    digits_race(names, lrs, seeds)    06: a tuned race on the digits MLP, mean ± std
    digits_run(name, lr, seed, ...)   06/07: one run of the digits MLP (train/val loss)
    cosine_restarts(lr, period, ...)  07: cosine with warm restarts (SGDR), as a schedule
    one_cycle_momentum(total, ...)    07: the momentum that one-cycle cycles against η

Everything is seeded; NumPy experiments run in float64.
"""
import math

import numpy as np

from . import landscapes, optim
from .checks import check_int, check_range


def _slope(x, y):
    """Slope of log y against log x (least squares): the exponent of y ∝ x^slope."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


# -- lesson 04: momentum ------------------------------------------------------------------
def _steps_below(opt, curvature, x0, tol, max_steps):
    """Steps until ½ Σ λᵢ xᵢ² stays ≤ tol on the diagonal quadratic (None: not within max)."""
    f = landscapes.Quadratic(np.diag(curvature))
    path = optim.minimize(opt, f, x0, max_steps, stop_on_divergence=False)
    values = 0.5 * (path**2) @ np.asarray(curvature)
    above = np.flatnonzero(~(values <= tol))
    if len(path) < max_steps + 1 or (above.size and above[-1] == len(path) - 1):
        return None
    return int(above[-1] + 1) if above.size else 0


def polyak(L, mu):
    r"""The heavy ball's optimal (η, β) on a quadratic with curvatures in [μ, L]:

    η = 4/(√L + √μ)²,  β = ((√L − √μ)/(√L + √μ))²;  rate (√κ − 1)/(√κ + 1), κ = L/μ.
    """
    rl, rm = math.sqrt(L), math.sqrt(mu)
    return {"lr": 4 / (rl + rm) ** 2, "momentum": ((rl - rm) / (rl + rm)) ** 2}


def steps_vs_condition(kappas=(10, 30, 100, 300, 1000), tol=1e-6):
    r"""Steps to f ≤ tol on f = ½(x² + κ y²) from (1, 1), for each κ.

    Gradient descent at its best η = 2/(L + μ) contracts by (κ − 1)/(κ + 1) per step:
    steps ∝ κ. The heavy ball at Polyak's (η, β) by (√κ − 1)/(√κ + 1): steps ∝ √κ.
    Returns {"kappa", "gd", "heavy_ball": arrays, "gd_slope", "heavy_ball_slope": the
    fitted exponents of steps ∝ κ^slope}.
    """
    kappas = np.asarray(kappas, dtype=float)
    if kappas.ndim != 1 or kappas.size < 2 or np.any(kappas <= 1):
        raise ValueError(f"kappas must hold at least two condition numbers > 1; got {kappas}")
    check_range(None, "tol", tol, 0, math.inf, low_open=True)
    gd, hb = [], []
    for kappa in kappas:
        curvature, budget = [1.0, kappa], int(20 * kappa) + 100
        gd.append(_steps_below(optim.get("sgd", lr=2 / (kappa + 1)), curvature, [1.0, 1.0],
                               tol, budget))
        hb.append(_steps_below(optim.get("sgd", **polyak(kappa, 1.0)), curvature, [1.0, 1.0],
                               tol, budget))
    gd, hb = np.array(gd, dtype=float), np.array(hb, dtype=float)
    return {"kappa": kappas, "gd": gd, "heavy_ball": hb,
            "gd_slope": _slope(kappas, gd), "heavy_ball_slope": _slope(kappas, hb)}


def heavy_ball_rate(lr, beta, curvatures):
    r"""Worst rate per step of the heavy ball on a quadratic with these curvatures.

    Along an eigenvector with curvature λ the heavy ball is the linear recursion
    (x_{t+1}, x_t) = M (x_t, x_{t−1}) with M = [[1 + β − ηλ, −β], [1, 0]]; the error
    shrinks like ρ(M)^t, ρ the largest |eigenvalue|. Returns max over λ of ρ, broadcast
    over arrays `lr` and `beta` (a grid for a heatmap). Above 1: divergence.
    """
    lr, beta = np.broadcast_arrays(np.asarray(lr, dtype=float), np.asarray(beta, dtype=float))
    lams = np.atleast_1d(np.asarray(curvatures, dtype=float))
    worst = np.zeros(lr.shape)
    for lam in lams:
        trace = 1 + beta - lr * lam
        disc = np.sqrt((trace**2 - 4 * beta).astype(complex))   # roots (trace ± disc)/2
        rho = np.maximum(np.abs(trace + disc), np.abs(trace - disc)) / 2
        worst = np.maximum(worst, rho)
    return worst


def critical_beta(lr, curvature):
    r"""β at which the heavy ball is critically damped along curvature λ: (1 − √(ηλ))².

    Below it the two roots are real (overdamped, no oscillation); above it they are
    complex with modulus √β (underdamped: the ball swings, rate √β whatever η).
    """
    return (1 - np.sqrt(np.asarray(lr, dtype=float) * curvature)) ** 2


# -- lesson 05: adaptive learning rates ---------------------------------------------------
def noisy_convex_race(optimizers, *, steps=20000, seeds=200, curvature=1.0, noise=1.0, x0=3.0,
                      seed=0):
    r"""Mean f = ½ c x² over `seeds` runs with noisy gradients g = c x + σ ξ, ξ ~ N(0, 1).

    Every optimizer's rule is elementwise, so the runs are one vector of `seeds`
    coordinates, all fed the same noise. Returns ({label: mean f after each step,
    (steps + 1,)}, {label: final optimizer state}): the state shows, e.g., that
    RMSprop's v stays near σ² under noise instead of vanishing.
    """
    check_int(None, "steps", steps, 1)
    check_int(None, "seeds", seeds, 1)
    noise_draws = np.random.default_rng(seed).normal(size=(steps, seeds))
    curves, states = {}, {}
    for label, opt in optimizers.items():
        x = np.full(seeds, float(x0))
        state, values = opt.init(x), [0.5 * curvature * x0**2]
        for xi in noise_draws:
            x, state = opt.update(x, curvature * x + noise * xi, state)
            values.append(0.5 * curvature * np.mean(x * x))
        curves[label], states[label] = np.array(values), state
    return curves, states


def gradient_square_vs_curvature(n_samples=20000, n_features=8, noise=0.5, seed=0):
    r"""Per-sample gradients of least squares at the true weights: E[g²] against diag(H).

    Loss ½ (xᵀw − y)², y = xᵀw* + σε. At w* the residual is σε, independent of x, so
    g = σε·x and E[gᵢ²] = σ² E[xᵢ²] = σ² Hᵢᵢ with H = E[x xᵀ]: the mean squared gradient
    is the Hessian's diagonal times σ² (the Fisher-information identity). Features get
    scales spread over two decades. Returns (diag H, mean g², σ²), measured on the sample.
    """
    rng = np.random.default_rng(seed)
    scales = np.logspace(-1, 1, n_features)
    x = rng.normal(size=(n_samples, n_features)) * scales
    residual = noise * rng.normal(size=n_samples)
    grads = residual[:, None] * x
    return np.mean(x * x, axis=0), np.mean(grads**2, axis=0), noise**2


def first_steps(opt, g=1.0, steps=10):
    """|Δθ|/η of the first `steps` updates on a constant gradient g (one coordinate)."""
    theta = np.zeros(1)
    state, sizes = opt.init(theta), []
    for _ in range(steps):
        new, state = opt.update(theta, np.array([g]), state)
        sizes.append(abs(new[0] - theta[0]) / opt.lr)
        theta = new
    return np.array(sizes)


# -- lesson 06: Adam and its variants -----------------------------------------------------
def online_reddi(opt, C=3.0, steps=3000, x0=0.0, schedule=None):
    r"""Reddi, Kale & Kumar (2018), §3: f_t(x) = C x when t mod 3 = 1, else −x, x ∈ [−1, 1].

    Over any three steps the losses sum to (C − 2) x, so for C > 2 the best point is
    x = −1. The gradient is C once, then −1 twice; each step is projected back onto
    [−1, 1]. `schedule(t)` (t = 0, 1, …) sets η, e.g. η/√(t + 1) as in the paper.
    Returns the path x_0 … x_steps.
    """
    check_range(None, "C", C, 2, math.inf, low_open=True)
    x = np.array([float(x0)])
    state, path = opt.init(x), [x[0]]
    for t in range(1, steps + 1):
        g = np.array([C if t % 3 == 1 else -1.0])
        lr = None if schedule is None else schedule(t - 1)
        x, state = opt.update(x, g, state, lr=lr)
        x = np.clip(x, -1.0, 1.0)
        path.append(x[0])
    return np.array(path)


def _digits_tensors():
    import torch

    from . import data
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


# -- lesson 07: schedules -----------------------------------------------------------------
def cosine_restarts(lr, period, mult=1, eta_min=0.0):
    r"""Cosine annealing with warm restarts (Loshchilov & Hutter's SGDR) as `step -> lr`.

    Cycle i lasts Tᵢ = period·multⁱ updates; inside it, at position s,
    η = η_min + ½(η₀ − η_min)(1 + cos(π s/Tᵢ)): back to η₀ at every restart. The same
    rates as torch's CosineAnnealingWarmRestarts(T_0=period, T_mult=mult) stepped per update.
    """
    check_range(None, "lr", lr, 0, math.inf, low_open=True)
    check_int(None, "period", period, 1)
    check_int(None, "mult", mult, 1)

    def rate(step):
        s, length = int(step), period
        while s >= length:
            s, length = s - length, length * mult
        return eta_min + 0.5 * (lr - eta_min) * (1 + math.cos(math.pi * s / length))
    return rate


def one_cycle_momentum(total_steps, base=0.85, top=0.95, pct_start=0.3):
    r"""The momentum that one-cycle moves against the learning rate (torch's OneCycleLR,
    cycle_momentum=True, "cos"): from `top` down to `base` while η rises (first
    pct_start of the run), then back up to `top` while η anneals. Returns `step -> β`.
    """
    check_int(None, "total_steps", total_steps, 2)
    rise_end = pct_start * total_steps - 1

    def anneal(a, b, frac):
        return b + 0.5 * (a - b) * (1 + math.cos(math.pi * frac))

    def momentum(step):
        if step <= rise_end:
            return anneal(top, base, step / rise_end)
        return anneal(base, top, (step - rise_end) / (total_steps - 1 - rise_end))
    return momentum
