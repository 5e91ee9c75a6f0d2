r"""Momentum, measured (lesson 04).

    polyak(L, mu)                     the heavy ball's optimal (η, β) on a quadratic
    steps_vs_condition(kappas)        steps to tolerance vs κ: GD at 2/(L+μ) and the
                                      heavy ball at Polyak's (η, β); log-log slopes
    heavy_ball_rate(lr, beta, lams)   the heavy ball's convergence rate on a quadratic
                                      (max |eigenvalue| of its iteration matrix)
    critical_beta(lr, curvature)      the β of critical damping

Everything is NumPy, float64 and deterministic.
"""
import math

import numpy as np

from .. import landscapes, optim
from ..checks import check_range


def _slope(x, y):
    """Slope of log y against log x (least squares): the exponent of y ∝ x^slope."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


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


