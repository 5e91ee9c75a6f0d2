"""Adaptive methods measured (lessons 05, 06): noise floors, E[g²] vs curvature, Reddi's problem."""
import math

import numpy as np
import pytest

from lessons_lib import optim, studies


def test_noisy_convex_race_matches_the_sgd_noise_floor():
    eta = 0.1
    curves, states = studies.noisy_convex_race({"sgd": optim.get("sgd", lr=eta)}, steps=2000,
                                               seeds=400)
    floor = eta / (2 * (2 - eta))            # E[½x²] for x ← x − η(x + ξ), σ = 1
    assert math.isclose(curves["sgd"][-1000:].mean(), floor, rel_tol=0.1)
    assert curves["sgd"][0] == 4.5 and states["sgd"]["step"] == 2000
    with pytest.raises(ValueError, match="steps"):
        studies.noisy_convex_race({}, steps=0)


def test_mean_squared_gradient_is_sigma_squared_times_the_hessian_diagonal():
    h, g2, s2 = studies.gradient_square_vs_curvature(n_samples=50000, noise=0.5)
    np.testing.assert_allclose(g2 / h, s2, rtol=0.05)
    assert h.max() / h.min() > 1000


def test_first_steps_rmsprop_starts_large_adam_does_not():
    rms = studies.first_steps(optim.get("rmsprop", lr=0.01, alpha=0.99), g=2.0, steps=3)
    np.testing.assert_allclose(rms, 1 / np.sqrt(1 - 0.99 ** np.arange(1, 4)), rtol=1e-6)
    adam = studies.first_steps(optim.get("adam", lr=0.01, betas=(0.0, 0.99)), g=2.0)
    np.testing.assert_allclose(adam, 1.0, rtol=1e-6)


def test_online_reddi_adam_goes_wrong_amsgrad_does_not():
    C = 3.0
    hp = dict(lr=0.1, betas=(0.0, 1 / (1 + C * C)))
    adam = studies.online_reddi(optim.get("adam", **hp), C, 600)
    ams = studies.online_reddi(optim.get("amsgrad", **hp), C, 600)
    assert adam[-300:].mean() > 0.9 and ams[-300:].mean() < -0.9
    assert np.all(np.abs(adam) <= 1)
    with pytest.raises(ValueError, match="C"):
        studies.online_reddi(optim.get("adam"), C=2.0)
