import math

import numpy as np
import pytest
import torch

from lessons_lib import optim
from lessons_lib import optimizer_studies as studies


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


def test_digits_run_is_seeded_and_flags_divergence():
    a = studies.digits_run("adam", 0.01, seed=1, epochs=2)
    b = studies.digits_run("adam", 0.01, seed=1, epochs=2)
    assert a == b and not a["diverged"] and a["val_loss"][-1] < a["val_loss"][0]
    nan_lr = studies.digits_run("sgd", 0.1, seed=0, epochs=2, lr_at=lambda t: math.nan)
    assert nan_lr["diverged"] and nan_lr["val_loss"] == []


def test_digits_race_picks_the_best_mean_and_reports_its_spread():
    race = studies.digits_race(["sgd"], [0.001, 0.3], seeds=(0, 1), epochs=2)
    row = race["sgd"]
    assert row["lr"] == 0.3 and row["grid"][0.3] < row["grid"][0.001]
    final = row["curves"]["val_loss"][:, -1]
    assert row["curves"]["val_loss"].shape == (2, 2)
    assert math.isclose(row["val_mean"], final.mean()) and math.isclose(row["val_std"], final.std())
    with pytest.raises(ValueError, match="lrs"):
        studies.digits_race(["sgd"], [])


@pytest.mark.parametrize("mult", [1, 2])
def test_cosine_restarts_equals_torch_step_for_step(mult):
    rate = studies.cosine_restarts(0.1, period=10, mult=mult, eta_min=0.001)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=10, T_mult=mult,
                                                                 eta_min=0.001)
    for step in range(75):
        assert math.isclose(opt.param_groups[0]["lr"], rate(step), rel_tol=1e-12, abs_tol=1e-15)
        opt.step()
        sched.step()
    with pytest.raises(ValueError, match="period"):
        studies.cosine_restarts(0.1, period=0)


def test_one_cycle_momentum_equals_torch_step_for_step():
    total = 50
    beta = studies.one_cycle_momentum(total)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=total,
                                                cycle_momentum=True)
    for step in range(total):
        assert math.isclose(opt.param_groups[0]["momentum"], beta(step), rel_tol=1e-12)
        opt.step()
        sched.step()


def test_plots_for_lessons_04_to_07():
    import matplotlib
    matplotlib.use("Agg")
    from lessons_lib import landscapes, plots
    lrs, betas = np.linspace(0.001, 0.08, 30), np.linspace(0, 0.99, 20)
    rates = studies.heavy_ball_rate(lrs[None, :], betas[:, None], [1.0, 50.0])
    fig = plots.rate_map(lrs, betas, rates, curves={"c": (lrs, studies.critical_beta(lrs, 1.0))})
    assert fig.axes[0].get_xlabel() == "learning rate η"
    with pytest.raises(ValueError, match="rates must have shape"):
        plots.rate_map(lrs, betas, rates.T)
    runs = {"a": {"train_loss": np.ones((3, 4)), "val_loss": np.full((3, 4), 2.0)}}
    fig = plots.seeded_runs(runs)
    assert len(fig.axes) == 2 and fig.axes[1].get_legend() is not None
    with pytest.raises(ValueError, match="runs"):
        plots.seeded_runs({})
    ravine = landscapes.REGISTRY["ill_conditioned"]
    fig = plots.lookahead_diagram(ravine, [-4.6, -0.3], [0.7, -1.6], 0.02, 0.9)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "momentum βv" in labels and "Nesterov: −η∇f(x + βv)" in labels
    matplotlib.pyplot.close("all")
