"""Momentum measured (lesson 04): κ against √κ, the heavy ball's rate, Polyak's optimum."""
import math

import numpy as np
import pytest

from lessons_lib import studies


def test_steps_vs_condition_gd_linear_heavy_ball_square_root():
    sweep = studies.steps_vs_condition((10, 100, 1000))
    assert 0.95 < sweep["gd_slope"] < 1.15
    assert 0.45 < sweep["heavy_ball_slope"] < 0.65
    assert np.all(sweep["heavy_ball"] < sweep["gd"])
    with pytest.raises(ValueError, match="kappas"):
        studies.steps_vs_condition((0.5, 10))


def test_heavy_ball_rate_is_the_spectral_radius_and_polyak_is_optimal():
    rng = np.random.default_rng(0)
    for lr, beta, lam in zip(rng.uniform(0, 0.1, 20), rng.uniform(0, 0.99, 20),
                             rng.uniform(1, 50, 20)):
        M = np.array([[1 + beta - lr * lam, -beta], [1.0, 0.0]])
        expected = np.abs(np.linalg.eigvals(M)).max()
        assert math.isclose(studies.heavy_ball_rate(lr, beta, [lam]), expected, rel_tol=1e-9)
    kappa = 50.0
    best = studies.polyak(kappa, 1.0)
    rate = studies.heavy_ball_rate(best["lr"], best["momentum"], [1.0, kappa])
    assert math.isclose(rate, (kappa**0.5 - 1) / (kappa**0.5 + 1), rel_tol=1e-6)
    lrs, betas = np.meshgrid(np.linspace(0.001, 0.08, 200), np.linspace(0, 0.99, 200))
    assert studies.heavy_ball_rate(lrs, betas, [1.0, kappa]).min() >= rate - 1e-9
    # critical damping: the discriminant (1 + β − ηλ)² − 4β vanishes
    lr, lam = 0.01, 30.0
    b = studies.critical_beta(lr, lam)
    assert abs((1 + b - lr * lam) ** 2 - 4 * b) < 1e-12
