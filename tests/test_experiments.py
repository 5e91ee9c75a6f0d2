"""Measured experiments: each checked against an answer known in closed form.

GD on a quadratic has an exact number of steps to a tolerance; a linear chain
with orthogonal weights scales the backpropagated gradient by exactly `gain`
per layer; a mini-batch mean of B rows drawn without replacement has variance
σ²/B·(n−B)/(n−1). The experiments must reproduce these, not only run.
"""
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lessons_lib import experiments as E  # noqa: E402
from lessons_lib import linear, schedules  # noqa: E402
from lessons_lib.landscapes import REGISTRY, Quadratic  # noqa: E402

X_SQUARED, ILL = REGISTRY["quadratic"], REGISTRY["ill_conditioned"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def closed_form_steps(lr, x0, tol):
    """GD on f = x²: x_k = (1 − 2η)^k x0, so f(x_k) ≤ tol once (1 − 2η)^(2k) x0² ≤ tol."""
    return max(0, math.ceil(math.log(tol / x0**2) / (2 * math.log(abs(1 - 2 * lr)))))


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


# ---------------------------------------------------------------- tables


def test_markdown_table_formats_numbers_none_booleans_and_escapes_pipes():
    text = E.markdown_table([{"a": 0.000123456, "b": None, "c": True, "d": "x|y", "e": 3}],
                            headers={"a": "|a|"})
    header, rule, row = text.splitlines()
    assert header == "| \\|a\\| | b | c | d | e |"
    assert rule == "|---|---|---|---|---|"
    assert row == "| 1.23e-04 | — | yes | x\\|y | 3 |"
    with pytest.raises(ValueError, match="at least one row"):
        E.markdown_table([])


def test_table_columns_rows_display_and_plot():
    table = E.Table([{"lr": 0.1, "steps": 5, "label": "a"}, {"lr": 0.2, "steps": None, "label": "b"}],
                    {"steps": "steps to tol"}, title="demo")
    np.testing.assert_array_equal(table.column("lr"), [0.1, 0.2])
    assert np.isnan(table.column("steps")[1])
    assert list(table.column("label")) == ["a", "b"]
    assert table.row(lr=0.1 + 1e-12)["steps"] == 5  # floats match to round-off
    assert table._repr_markdown_().startswith("**demo**") and "steps to tol" in str(table)
    assert isinstance(table.plot("lr", "steps"), Figure)
    narrow = table.select("label", "lr")
    assert list(narrow[0]) == ["label", "lr"] and narrow.title == "demo" and len(narrow) == 2
    with pytest.raises(ValueError, match="unknown: \\['x'\\]"):
        table.select("lr", "x")
    with pytest.raises(ValueError, match="no column 'nope'"):
        table.column("nope")
    with pytest.raises(ValueError, match="no row"):
        table.row(lr=0.3)


# ---------------------------------------------------------------- GD theory on quadratics


def test_critical_learning_rates_and_contraction_from_the_eigenvalues():
    rates = E.critical_learning_rates(ILL)  # eigenvalues 1 and 50
    assert rates == pytest.approx({"1/L": 1 / 50, "optimal": 2 / 51, "2/L": 2 / 50})
    # at the optimal step both directions shrink by (κ − 1)/(κ + 1)
    assert E.contraction(ILL, rates["optimal"]) == pytest.approx(49 / 51)
    assert E.contraction(ILL, rates["1/L"]) == pytest.approx(1 - 1 / 50)
    assert E.contraction(ILL, 0.05) == pytest.approx(1.5)
    rotated = Quadratic([[3.0, 1.0], [1.0, 3.0]])  # eigenvalues 2 and 4: not the diagonal
    assert E.critical_learning_rates(rotated)["2/L"] == pytest.approx(0.5)


def test_theory_refuses_landscapes_without_a_positive_definite_hessian():
    with pytest.raises(ValueError, match="landscapes.Quadratic"):
        E.critical_learning_rates(REGISTRY["rosenbrock"])
    with pytest.raises(ValueError, match="positive definite"):
        E.contraction(REGISTRY["saddle"], 0.1)
    with pytest.raises(ValueError, match=r"lr=-0.1 is out of range; valid: lr in \(0, inf\)"):
        E.contraction(ILL, -0.1)


@pytest.mark.parametrize("lr", [0.01, 0.1, 0.3, 0.45, 0.55, 0.8, 0.95])
def test_predicted_steps_is_the_closed_form_on_x_squared(lr):
    assert E.predicted_steps(X_SQUARED, [2.5], lr, 1e-6) == closed_form_steps(lr, 2.5, 1e-6)


def test_predicted_steps_edge_cases():
    assert E.predicted_steps(X_SQUARED, [2.5], 0.5, 1e-6) == 1    # ηλ = 1: one step
    assert E.predicted_steps(X_SQUARED, [1e-4], 0.1, 1e-6) == 0   # already there
    assert E.predicted_steps(X_SQUARED, [2.5], 1.0, 1e-6) is None  # bounces forever
    assert E.predicted_steps(X_SQUARED, [2.5], 1.2, 1e-6) is None  # diverges
    assert E.predicted_steps(X_SQUARED, [2.5], 1e-4, 1e-6, max_steps=100) is None  # too slow


# ---------------------------------------------------------------- GD measured


def test_lr_table_on_x_squared_measures_the_closed_form_and_the_four_regimes():
    lrs = [0.001, 0.01, 0.25, 0.5, 0.75, 1.0, 1.1]
    table = E.lr_table(X_SQUARED, [2.5], lrs, tol=1e-6, max_steps=1000)
    steps = {row["lr"]: row["steps"] for row in table}
    for lr in (0.01, 0.25, 0.75):
        assert steps[lr] == closed_form_steps(lr, 2.5, 1e-6)
    assert steps[0.5] == 1 and steps[0.001] is None and steps[1.0] is None and steps[1.1] is None
    behaviour = dict(zip(lrs, table.column("behaviour")))
    assert behaviour == {0.001: "crawls", 0.01: "converges", 0.25: "converges", 0.5: "converges",
                         0.75: "zig-zags in", 1.0: "bounces forever", 1.1: "diverges"}
    for row in table:  # in 1-D the measured rate is exactly |1 − 2η|
        assert row["rate"] == pytest.approx(abs(1 - 2 * row["lr"]), abs=1e-9)
        assert row["rate_theory"] == pytest.approx(abs(1 - 2 * row["lr"]))
        assert row["steps_theory"] == row["steps"]
        assert row["lr_L"] == pytest.approx(2 * row["lr"])


def test_lr_table_on_the_ill_conditioned_valley_matches_theory_and_the_best_step():
    rates = E.critical_learning_rates(ILL)
    lrs = [0.5 / 50, rates["1/L"], rates["optimal"], 1.99 / 50, 2.02 / 50]
    table = E.lr_table(ILL, [-8.0, 2.0], lrs, tol=1e-6, max_steps=2000)
    measured = table.column("steps")
    assert np.nanargmin(measured) == 2  # the optimal step is the fastest
    assert np.isnan(measured[-1]) and table[-1]["behaviour"] == "diverges"
    for row in table[:-1]:
        assert abs(row["steps"] - row["steps_theory"]) <= 1
        assert row["rate"] == pytest.approx(row["rate_theory"], abs=2e-3)


def test_lr_table_runs_other_optimizers_without_theory_columns():
    table = E.lr_table(ILL, [-8.0, 2.0], [0.02], optimizer="momentum", max_steps=500)
    assert "rate_theory" not in table[0] and table[0]["steps"] is not None
    with pytest.raises(ValueError, match="optimizer='nope' is not known"):
        E.lr_table(ILL, [-8.0, 2.0], [0.02], optimizer="nope")
    with pytest.raises(ValueError, match="at least one learning rate"):
        E.lr_table(ILL, [-8.0, 2.0], [])
    with pytest.raises(ValueError, match="tol=0 is out of range"):
        E.lr_table(ILL, [-8.0, 2.0], [0.02], tol=0)


def test_where_descent_ends_finds_each_himmelblau_minimum_from_its_own_corner():
    f = REGISTRY["himmelblau"]
    table = E.where_descent_ends(f, [(4, 4), (-4, 4), (-4, -4), (4, -4)], lr=0.01, steps=300)
    assert sorted(table.column("minimum")) == [0, 1, 2, 3]
    assert all(table.column("global")) and np.all(table.column("grad_norm") < 1e-8)
    assert len(table.paths) == 4 and all(p.shape == (301, 2) for p in table.paths.values())


def test_where_descent_ends_in_a_local_minimum_of_rastrigin():
    f = REGISTRY["rastrigin"]
    table = E.where_descent_ends(f, [(1.2, -2.1)], lr=0.002, steps=300)
    row, end = table[0], table.paths["start (1.2, -2.1)"][-1]
    assert row["minimum"] is None and not row["global"]
    assert row["grad_norm"] < 1e-8 and row["value"] > 4  # stationary, but not the global minimum
    assert E.classify_point(f, end) == "minimum"          # a local one


# ---------------------------------------------------------------- Hessians


def test_hessian_is_exact_on_a_quadratic_and_right_on_rosenbrock():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    np.testing.assert_allclose(E.hessian(Quadratic(A), [0.3, -0.7]), A, atol=1e-8)
    np.testing.assert_allclose(E.hessian(REGISTRY["rosenbrock"], [1.0, 1.0]),
                               [[802.0, -400.0], [-400.0, 200.0]], rtol=1e-7)


@pytest.mark.parametrize("f, x, kind", [
    (REGISTRY["saddle"], [0.0, 0.0], "saddle"),
    (REGISTRY["saddle"], [1.0, 0.0], "not critical"),
    (REGISTRY["ill_conditioned"], [0.0, 0.0], "minimum"),
    (Quadratic(-np.eye(2)), [0.0, 0.0], "maximum"),
    (Quadratic(np.diag([1.0, 0.0])), [0.0, 0.0], "degenerate"),
    (REGISTRY["himmelblau"], REGISTRY["himmelblau"].minima[2], "minimum"),
])
def test_classify_point_reads_the_hessian_eigenvalues(f, x, kind):
    assert E.classify_point(f, x) == kind


# ---------------------------------------------------------------- vanishing gradients


@pytest.mark.parametrize("gain", [0.5, 0.8, 1.3])
def test_linear_orthogonal_chain_scales_the_gradient_by_exactly_gain_per_layer(gain):
    table = E.gradient_norms_through_depth(12, "linear", init="orthogonal", gain=gain, width=16)
    g = table.column("signal_grad")
    np.testing.assert_allclose(g[:-1] / g[1:], gain, rtol=1e-10)
    assert list(table.column("layer")) == list(range(1, 13))


def test_tanh_chain_in_its_linear_regime_shrinks_geometrically():
    # tiny inputs keep tanh(z) ≈ z, so tanh' ≈ 1 and only the gain remains
    table = E.gradient_norms_through_depth(10, "tanh", init="orthogonal", gain=0.7, input_scale=1e-6)
    g = table.column("signal_grad")
    np.testing.assert_allclose(g[:-1] / g[1:], 0.7, rtol=1e-6)


def test_autograd_norms_match_backpropagation_by_hand():
    depth, width, batch, seed = 6, 8, 5, 3
    table = E.gradient_norms_through_depth(depth, "tanh", width=width, batch=batch, gain=1.2, seed=seed)
    rng = np.random.default_rng(seed)  # the same draws, in the same order
    Ws = [rng.normal(0, 1.2 / math.sqrt(width), (width, width)) for _ in range(depth)]
    h = [rng.normal(0, 1.0, (batch, width))]
    readout = rng.normal(size=(batch, width))
    for W in Ws:
        h.append(np.tanh(h[-1] @ W.T))
    delta = readout / batch                      # ∂L/∂h_depth
    signal, weight = [], []
    for l in reversed(range(depth)):
        dz = delta * (1 - h[l + 1] ** 2)         # through tanh
        weight.append(np.linalg.norm(dz.T @ h[l]))
        delta = dz @ Ws[l]                       # ∂L/∂h_(l−1)
        signal.append(np.linalg.norm(delta))
    np.testing.assert_allclose(table.column("signal_grad"), signal[::-1], rtol=1e-12)
    np.testing.assert_allclose(table.column("weight_grad"), weight[::-1], rtol=1e-12)


def test_sigmoid_vanishes_faster_than_tanh_and_errors_are_named():
    tanh = E.gradient_norms_through_depth(20, "tanh").column("signal_grad")
    sigmoid = E.gradient_norms_through_depth(20, "sigmoid").column("signal_grad")
    assert sigmoid[0] / sigmoid[-1] < 1e-9 < tanh[0] / tanh[-1]
    with pytest.raises(ValueError, match="activation='gelu' is not known"):
        E.gradient_norms_through_depth(3, "gelu")
    with pytest.raises(ValueError, match="depth=0 is out of range"):
        E.gradient_norms_through_depth(0)
    with pytest.raises(ValueError, match="init='he' is not known"):
        E.gradient_norms_through_depth(3, init="he")


# ---------------------------------------------------------------- least squares


def test_full_batch_run_is_batch_gradient_descent():
    x, y = regression()
    run = E.least_squares_sgd(x, y, batch_size=len(x), lr=0.05, epochs=15)
    theta = batch_gd(x, y, 0.05, 15)
    np.testing.assert_allclose(run.theta, theta, rtol=1e-12)
    assert len(run.losses) == 16 and run.losses[-1] == pytest.approx(linear.mse(theta, x, y))
    np.testing.assert_array_equal(run.epochs, np.arange(16))
    assert np.all(np.diff(run.seconds) >= 0) and np.all(np.diff(run.losses) < 0)


def test_minibatch_run_follows_data_batches_and_the_schedule():
    from lessons_lib.data import batches
    x, y = regression(n=50)
    sched = schedules.REGISTRY["inverse_time"](lr=0.05, total_steps=26, k=0.1)
    run = E.least_squares_sgd(x, y, batch_size=4, schedule=sched, epochs=2, seed=7)
    rng, theta, t = np.random.default_rng(7), np.zeros(x.shape[1] + 1), 0
    for _ in range(2):
        for xb, yb in batches(x, y, 4, rng=rng):
            theta = theta - sched(t) * linear.mse_grad(theta, xb, yb)
            t += 1
    np.testing.assert_allclose(run.theta, theta, rtol=1e-12)
    assert run.updates_per_epoch == 13 and len(run.losses) == 27
    np.testing.assert_allclose(run.lrs, [sched(k) for k in range(26)])
    assert run.samples[-1] == 100 and run.epochs[13] == 1.0
    np.testing.assert_allclose(run.losses[-1], linear.mse(theta, x, y), rtol=1e-12)


def test_stop_below_ends_the_run_at_the_target():
    x, y = regression()
    full = E.least_squares_sgd(x, y, batch_size=8, lr=0.02, epochs=10)
    target = full.losses[37]
    stopped = E.least_squares_sgd(x, y, batch_size=8, lr=0.02, epochs=10, stop_below=target)
    assert len(stopped.losses) == full.updates_to(target) + 1
    np.testing.assert_array_equal(stopped.losses, full.losses[: len(stopped.losses)])


def test_run_noise_ignores_a_smooth_descent_and_sees_jitter():
    x, y = regression()
    smooth = E.least_squares_sgd(x, y, batch_size=len(x), lr=0.05, epochs=30)
    jittery = E.least_squares_sgd(x, y, batch_size=1, lr=0.05, epochs=3)
    assert smooth.noise() < 1e-2 * jittery.noise()
    assert len(smooth.last_epoch()) == 3 and len(jittery.last_epoch()) == len(x) + 1


def test_least_squares_sgd_errors_name_the_parameter():
    x, y = regression(n=10)
    with pytest.raises(ValueError, match=r"batch_size=11 is out of range; valid: batch_size in \[1, 10\]"):
        E.least_squares_sgd(x, y, batch_size=11, lr=0.1)
    with pytest.raises(ValueError, match="lr is required"):
        E.least_squares_sgd(x, y, batch_size=2)
    with pytest.raises(ValueError, match=r"lr=0 is out of range; valid: lr in \(0, inf\)"):
        E.least_squares_sgd(x, y, batch_size=2, lr=0)
    with pytest.raises(ValueError, match=r"y must have shape \(10,\)"):
        E.least_squares_sgd(x, y[:5], batch_size=2, lr=0.1)
    with pytest.raises(ValueError, match=r"theta0 must have shape \(5,\)"):
        E.least_squares_sgd(x, y, batch_size=2, lr=0.1, theta0=np.zeros(4))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gradient_spread_is_sigma_squared_over_b_with_the_finite_population_factor(seed):
    x, y = regression(n=300, seed=seed)
    theta = np.zeros(x.shape[1] + 1)
    table = E.gradient_spread(x, y, theta, [1, 4, 16, 64, 300], draws=600, seed=seed)
    ratios = table.column("ratio")[:-1]
    assert np.all(np.abs(ratios - 1) < 0.15), ratios
    assert table[-1]["spread"] < 1e-20 and table[-1]["ratio"] is None  # B = n: no noise at all
    predicted, n, B = table.column("predicted"), 300, np.array([4, 16, 64])
    np.testing.assert_allclose(predicted[0] / predicted[1:4], B * (n - 1) / (n - B))
    with pytest.raises(ValueError, match=r"batch_sizes contains 301, which is out of range"):
        E.gradient_spread(x, y, theta, [301])


def test_minibatch_runs_batch_gd_needs_fewer_updates_sgd_fewer_epochs():
    x, y = regression(n=200)
    optimum = linear.mse(linear.closed_form(x, y), x, y)
    table = E.minibatch_runs(x, y, [1, 16, 200], lr=0.02, target=1.1 * optimum, epochs=60, repeats=2)
    sgd, mini, batch = table
    assert all(table.column("reached"))
    assert batch["updates"] < sgd["updates"] and sgd["epochs"] < mini["epochs"] < batch["epochs"]
    assert batch["uphill"] == 0 and sgd["uphill"] > 0.2
    assert sgd["noise"] > mini["noise"] > batch["noise"]
    assert set(table.runs) == {1, 16, 200} and table.runs[200].updates_per_epoch == 1
    assert batch["seconds"] > 0 and batch["seconds_per_epoch"] > 0


def test_noise_ball_grows_with_the_learning_rate_and_starts_at_the_minimum():
    x, y = regression(n=200)
    table = E.noise_ball(x, y, [0.0025, 0.005, 0.01, 0.02], epochs=10, last_epochs=5)
    excess = table.column("excess")
    assert np.all(excess > 0) and np.all(np.diff(excess) > 0)
    theta_star = linear.closed_form(x, y)
    assert table.runs[0.01].losses[0] == pytest.approx(linear.mse(theta_star, x, y))
    with pytest.raises(ValueError, match="last_epochs=11 is out of range"):
        E.noise_ball(x, y, [0.01], epochs=10, last_epochs=11)


# ---------------------------------------------------------------- saddles, Newton, line search


def test_saddle_escape_exact_gradients_stay_and_a_nudge_escapes_on_schedule():
    from lessons_lib import optim
    wells = REGISTRY["saddle_wells"]
    gd = {"gd": optim.REGISTRY["sgd"](lr=0.1), "same gd": optim.REGISTRY["sgd"](lr=0.1),
          "adam": optim.REGISTRY["adam"](lr=0.05)}
    table = E.saddle_escape(wells, gd, [1.5, 0.0], noise=(0.0, 1e-3), steps=300)
    quiet = [r for r in table if r["noise"] == 0]
    assert all(r["escape"] is None for r in quiet)
    assert np.all(table.paths["gd, σ = 0"][:, 1] == 0)         # never leaves the stable manifold
    noisy = {r["optimizer"]: r["escape"] for r in table if r["noise"] > 0}
    assert noisy["gd"] == noisy["same gd"] is not None           # the same noise for every optimizer
    np.testing.assert_array_equal(table.paths["gd, σ = 0.001"], table.paths["same gd, σ = 0.001"])
    assert noisy["adam"] < noisy["gd"]
    # x² − y² from (1.5, 1e-8): x shrinks by 0.8, y grows by 1.2 per step; escape when y² − x² > 0.5
    saddle = REGISTRY["saddle"]
    nudged = E.saddle_escape(saddle, {"gd": gd["gd"]}, [1.5, 1e-8], steps=200)[0]["escape"]
    k = next(k for k in range(200) if (1.2**k * 1e-8) ** 2 - (0.8**k * 1.5) ** 2 > 0.5)
    assert nudged == k
    with pytest.raises(ValueError, match="lists no saddle point"):
        E.saddle_escape(REGISTRY["rosenbrock"], gd, [0.0, 0.0])
    with pytest.raises(ValueError, match=r"noise=-1 is out of range"):
        E.saddle_escape(wells, gd, [1.5, 0.0], noise=(-1,))


@pytest.mark.parametrize("seed", [0, 1])
def test_newton_solves_a_quadratic_in_one_step_and_jacobi_a_diagonal_one(seed):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(4, 4))
    q = Quadratic(M @ M.T + 0.1 * np.eye(4), rng.normal(size=4))
    x0 = rng.normal(size=4)
    newton = E.descent(q, x0, 3, direction="newton", line_search=False)
    np.testing.assert_allclose(newton[1], q.minima[0], atol=1e-8)
    diagonal = Quadratic(np.diag([1.0, 30.0, 900.0]), [1.0, 2.0, 3.0])
    jacobi = E.descent(diagonal, [5.0, 5.0, 5.0], 1, direction="diagonal")
    np.testing.assert_allclose(jacobi[1], diagonal.minima[0], atol=1e-9)


def test_descent_without_line_search_is_gradient_descent_and_armijo_only_goes_down():
    from lessons_lib import optim
    rosen = REGISTRY["rosenbrock"]
    plain = E.descent(rosen, [-1.5, 2.0], 50, direction="gradient", line_search=False, lr=1e-3)
    np.testing.assert_allclose(plain, optim.minimize(optim.REGISTRY["sgd"](lr=1e-3), rosen,
                                                     [-1.5, 2.0], 50), rtol=1e-12)
    for direction in ("gradient", "diagonal", "newton"):
        path = E.descent(rosen, [-1.5, 2.0], 40, direction=direction)
        values = rosen.value(path.T)
        assert np.all(np.diff(values) < 0), direction               # sufficient decrease
    newton = E.descent(rosen, [-1.5, 2.0], 40, direction="newton")
    np.testing.assert_allclose(newton[-1], [1.0, 1.0], atol=1e-8)
    with pytest.raises(ValueError, match="direction='adam' is not known"):
        E.descent(rosen, [0.0, 0.0], 1, direction="adam")
    with pytest.raises(ValueError, match=r"shrink=1 is out of range"):
        E.descent(rosen, [0.0, 0.0], 1, shrink=1)


def test_descent_table_counts_steps_per_method():
    table = E.descent_table(ILL, [-8.0, 2.0], lr=2 / 51, steps=2000)
    steps = {r["method"]: r["steps"] for r in table}
    assert steps["Newton (t = 1, no search)"] == steps["Newton + Armijo"] == 1
    assert steps["diagonal (Jacobi) + Armijo"] == 1
    assert steps["gradient descent (fixed η)"] == E.lr_table(ILL, [-8.0, 2.0], [2 / 51], tol=1e-10,
                                                             max_steps=2000)[0]["steps"]
    assert set(table.paths) == set(steps)


# ---------------------------------------------------------------- batch size, noise ball theory


def test_with_replacement_batches_are_independent_draws_and_drop_last_skips_the_rest():
    x, y = regression(n=50)
    run = E.least_squares_sgd(x, y, batch_size=4, lr=0.02, epochs=2, seed=3, replace=True)
    rng, theta = np.random.default_rng(3), np.zeros(x.shape[1] + 1)
    for _ in range(2 * 13):
        i = rng.integers(0, 50, 4)
        theta = theta - 0.02 * linear.mse_grad(theta, x[i], y[i])
    np.testing.assert_allclose(run.theta, theta, rtol=1e-12)
    assert run.samples[-1] == 2 * 13 * 4
    dropped = E.least_squares_sgd(x, y, batch_size=4, lr=0.02, epochs=2, drop_last=True)
    assert dropped.updates_per_epoch == 12 and len(dropped.losses) == 25
    assert dropped.samples[-1] == 96 and len(dropped.epoch_losses()) == 3


def test_stationary_excess_is_eta_trace_sigma_over_4b_for_small_steps_and_matches_sgd():
    x, y = regression(n=200)
    Z = linear.design_matrix(x)
    g = 2 * (Z @ linear.closed_form(x, y) - y)[:, None] * Z
    trace = np.trace(g.T @ g / len(y))
    for B in (1, 4):
        excess, rho = E.stationary_excess(x, y, 1e-5, batch_size=B)
        assert excess == pytest.approx(1e-5 * trace / (4 * B), rel=1e-3) and rho < 1
    ball = E.noise_ball(x, y, [0.005, 0.02], epochs=60, last_epochs=50, replace=True)
    np.testing.assert_allclose(ball.column("excess"), ball.column("theory"), rtol=0.15)
    excess, rho = E.stationary_excess(x, y, 5.0)               # past mean-square stability
    assert excess == math.inf and rho > 1


def test_lr_per_batch_size_keeps_the_fastest_eta_of_the_grid():
    x, y = regression(n=200)
    target = 1.1 * linear.mse(linear.closed_form(x, y), x, y)
    grid = [0.005, 0.01, 0.02, 0.04, 0.08, 0.16]
    table = E.lr_per_batch_size(x, y, [1, 8, 200], grid, target=target, epochs=10)
    for row in table:
        counts = [E.least_squares_sgd(x, y, batch_size=row["batch_size"], lr=lr, epochs=10,
                                      stop_below=target).updates_to(target) for lr in grid]
        best = min(c for c in counts if c is not None)
        assert row["updates"] == best and row["lr"] == grid[counts.index(best)]
    assert table[0]["lr"] <= table[1]["lr"] <= table[2]["lr"]
    runs = E.minibatch_runs(x, y, [1, 200], lr={1: 0.01, 200: 0.16}, target=target,
                            epochs=5, repeats=1)
    assert runs.column("lr").tolist() == [0.01, 0.16]
    with pytest.raises(ValueError, match=r"lr has no learning rate for batch size\(s\) \[200\]"):
        E.minibatch_runs(x, y, [1, 200], lr={1: 0.01}, target=target)
