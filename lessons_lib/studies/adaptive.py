r"""Adaptive learning rates and Adam, measured (lessons 05 and 06).

    noisy_convex_race(opts, ...)      E[f] over time on a noisy quadratic, many seeds
    gradient_square_vs_curvature()    E[g²] = σ²·diag(H) at a least-squares minimum
    first_steps(opt, g, steps)        |Δθ|/η of the first steps on a constant gradient
    online_reddi(opt, C, steps)       Reddi et al.'s online problem on [−1, 1]

Everything is NumPy, float64 and seeded.
"""
import math

import numpy as np

from ..checks import check_int, check_range


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


