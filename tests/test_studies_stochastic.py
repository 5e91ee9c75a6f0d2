"""Mini-batch SGD on least squares measured (lesson 03), against closed forms.

Batch GD is exactly gradient descent; a mini-batch mean of B rows drawn without
replacement has variance σ²/B·(n−B)/(n−1); the noise ball's height matches the
stationary covariance of the linear recursion.
"""
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lessons_lib import linear, schedules, studies  # noqa: E402


def regression(n=200, d=4, seed=0, noise=0.5):
    """Features x (n, d) and targets y = x·w + b + noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = x @ rng.normal(size=d) + 0.3 + noise * rng.normal(size=n)
    return x, y


def batch_gd(x, y, lr, steps, theta=None):
    theta = np.zeros(x.shape[1] + 1) if theta is None else theta
    for _ in range(steps):
        theta = theta - lr * linear.mse_grad(theta, x, y)
    return theta


# ---------------------------------------------------------------- least squares


def test_full_batch_run_is_batch_gradient_descent():
    x, y = regression()
    run = studies.least_squares_sgd(x, y, batch_size=len(x), lr=0.05, epochs=15)
    theta = batch_gd(x, y, 0.05, 15)
    np.testing.assert_allclose(run.params, theta, rtol=1e-12)
    assert len(run.losses) == 16 and run.losses[-1] == pytest.approx(linear.mse(theta, x, y))
    np.testing.assert_array_equal(run.epochs, np.arange(16))
    assert np.all(np.diff(run.seconds) >= 0) and np.all(np.diff(run.losses) < 0)


def test_minibatch_run_follows_data_batches_and_the_schedule():
    from lessons_lib.data import batches
    x, y = regression(n=50)
    sched = schedules.REGISTRY["inverse_time"](lr=0.05, total_steps=26, k=0.1)
    run = studies.least_squares_sgd(x, y, batch_size=4, schedule=sched, epochs=2, seed=7)
    rng, theta, t = np.random.default_rng(7), np.zeros(x.shape[1] + 1), 0
    for _ in range(2):
        for xb, yb in batches(x, y, 4, rng=rng):
            theta = theta - sched(t) * linear.mse_grad(theta, xb, yb)
            t += 1
    np.testing.assert_allclose(run.params, theta, rtol=1e-12)
    assert run.updates_per_epoch == 13 and len(run.losses) == 27
    np.testing.assert_allclose(run.lrs, [sched(k) for k in range(26)])
    assert run.samples[-1] == 100 and run.epochs[13] == 1.0
    np.testing.assert_allclose(run.losses[-1], linear.mse(theta, x, y), rtol=1e-12)


def test_stop_below_ends_the_run_at_the_target():
    x, y = regression()
    full = studies.least_squares_sgd(x, y, batch_size=8, lr=0.02, epochs=10)
    target = full.losses[37]
    stopped = studies.least_squares_sgd(x, y, batch_size=8, lr=0.02, epochs=10, stop_below=target)
    assert len(stopped.losses) == full.updates_to(target) + 1
    np.testing.assert_array_equal(stopped.losses, full.losses[: len(stopped.losses)])


def test_run_noise_ignores_a_smooth_descent_and_sees_jitter():
    x, y = regression()
    smooth = studies.least_squares_sgd(x, y, batch_size=len(x), lr=0.05, epochs=30)
    jittery = studies.least_squares_sgd(x, y, batch_size=1, lr=0.05, epochs=3)
    assert smooth.noise() < 1e-2 * jittery.noise()
    assert len(smooth.last_epoch()) == 3 and len(jittery.last_epoch()) == len(x) + 1


def test_least_squares_sgd_errors_name_the_parameter():
    x, y = regression(n=10)
    with pytest.raises(ValueError, match=r"batch_size=11 is out of range; valid: batch_size in \[1, 10\]"):
        studies.least_squares_sgd(x, y, batch_size=11, lr=0.1)
    with pytest.raises(ValueError, match="lr is required"):
        studies.least_squares_sgd(x, y, batch_size=2)
    with pytest.raises(ValueError, match=r"lr=0 is out of range; valid: lr in \(0, inf\)"):
        studies.least_squares_sgd(x, y, batch_size=2, lr=0)
    with pytest.raises(ValueError, match=r"y must have shape \(10,\)"):
        studies.least_squares_sgd(x, y[:5], batch_size=2, lr=0.1)
    with pytest.raises(ValueError, match=r"theta0 must have shape \(5,\)"):
        studies.least_squares_sgd(x, y, batch_size=2, lr=0.1, theta0=np.zeros(4))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_spread_is_sigma_squared_over_b_with_the_finite_population_factor(seed):
    x, y = regression(n=300, seed=seed)
    theta = np.zeros(x.shape[1] + 1)
    table = studies.gradient_spread(x, y, theta, [1, 4, 16, 64, 300], draws=600, seed=seed)
    ratios = table.column("ratio")[:-1]
    assert np.all(np.abs(ratios - 1) < 0.15), ratios
    assert table[-1]["spread"] < 1e-20 and table[-1]["ratio"] is None  # B = n: no noise at all
    predicted, n, B = table.column("predicted"), 300, np.array([4, 16, 64])
    np.testing.assert_allclose(predicted[0] / predicted[1:4], B * (n - 1) / (n - B))
    with pytest.raises(ValueError, match=r"batch_sizes contains 301, which is out of range"):
        studies.gradient_spread(x, y, theta, [301])


def test_minibatch_runs_batch_gd_needs_fewer_updates_sgd_fewer_epochs():
    x, y = regression(n=200)
    optimum = linear.mse(linear.closed_form(x, y), x, y)
    table = studies.minibatch_runs(x, y, [1, 16, 200], lr=0.02, target=1.1 * optimum, epochs=60, repeats=2)
    sgd, mini, batch = table
    assert all(table.column("reached"))
    assert batch["updates"] < sgd["updates"] and sgd["epochs"] < mini["epochs"] < batch["epochs"]
    assert batch["uphill"] == 0 and sgd["uphill"] > 0.2
    assert sgd["noise"] > mini["noise"] > batch["noise"]
    assert set(table.runs) == {1, 16, 200} and table.runs[200].updates_per_epoch == 1
    assert batch["seconds"] > 0 and batch["seconds_per_epoch"] > 0


def test_noise_ball_grows_with_the_learning_rate_and_starts_at_the_minimum():
    x, y = regression(n=200)
    table = studies.noise_ball(x, y, [0.0025, 0.005, 0.01, 0.02], epochs=10, last_epochs=5)
    excess = table.column("excess")
    assert np.all(excess > 0) and np.all(np.diff(excess) > 0)
    theta_star = linear.closed_form(x, y)
    assert table.runs[0.01].losses[0] == pytest.approx(linear.mse(theta_star, x, y))
    with pytest.raises(ValueError, match="last_epochs=11 is out of range"):
        studies.noise_ball(x, y, [0.01], epochs=10, last_epochs=11)


# ---------------------------------------------------------------- batch size, noise ball theory


def test_with_replacement_batches_are_independent_draws_and_drop_last_skips_the_rest():
    x, y = regression(n=50)
    run = studies.least_squares_sgd(x, y, batch_size=4, lr=0.02, epochs=2, seed=3, replace=True)
    rng, theta = np.random.default_rng(3), np.zeros(x.shape[1] + 1)
    for _ in range(2 * 13):
        i = rng.integers(0, 50, 4)
        theta = theta - 0.02 * linear.mse_grad(theta, x[i], y[i])
    np.testing.assert_allclose(run.params, theta, rtol=1e-12)
    assert run.samples[-1] == 2 * 13 * 4
    dropped = studies.least_squares_sgd(x, y, batch_size=4, lr=0.02, epochs=2, drop_last=True)
    assert dropped.updates_per_epoch == 12 and len(dropped.losses) == 25
    assert dropped.samples[-1] == 96 and len(dropped.epoch_losses()) == 3


def test_stationary_excess_is_eta_trace_sigma_over_4b_for_small_steps_and_matches_sgd():
    x, y = regression(n=200)
    Z = linear.design_matrix(x)
    g = 2 * (Z @ linear.closed_form(x, y) - y)[:, None] * Z
    trace = np.trace(g.T @ g / len(y))
    for B in (1, 4):
        excess, rho = studies.stationary_excess(x, y, 1e-5, batch_size=B)
        assert excess == pytest.approx(1e-5 * trace / (4 * B), rel=1e-3) and rho < 1
    ball = studies.noise_ball(x, y, [0.005, 0.02], epochs=60, last_epochs=50, replace=True)
    np.testing.assert_allclose(ball.column("excess"), ball.column("theory"), rtol=0.15)
    excess, rho = studies.stationary_excess(x, y, 5.0)               # past mean-square stability
    assert excess == math.inf and rho > 1


def test_lr_per_batch_size_keeps_the_fastest_eta_of_the_grid():
    x, y = regression(n=200)
    target = 1.1 * linear.mse(linear.closed_form(x, y), x, y)
    grid = [0.005, 0.01, 0.02, 0.04, 0.08, 0.16]
    table = studies.lr_per_batch_size(x, y, [1, 8, 200], grid, target=target, epochs=10)
    for row in table:
        counts = [studies.least_squares_sgd(x, y, batch_size=row["batch_size"], lr=lr, epochs=10,
                                      stop_below=target).updates_to(target) for lr in grid]
        best = min(c for c in counts if c is not None)
        assert row["updates"] == best and row["lr"] == grid[counts.index(best)]
    assert table[0]["lr"] <= table[1]["lr"] <= table[2]["lr"]
    runs = studies.minibatch_runs(x, y, [1, 200], lr={1: 0.01, 200: 0.16}, target=target,
                            epochs=5, repeats=1)
    assert runs.column("lr").tolist() == [0.01, 0.16]
    with pytest.raises(ValueError, match=r"lr has no learning rate for batch size\(s\) \[200\]"):
        studies.minibatch_runs(x, y, [1, 200], lr={1: 0.01}, target=target)
