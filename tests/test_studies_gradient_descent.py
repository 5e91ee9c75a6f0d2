"""Gradient descent measured (lesson 02), each checked against an answer known in closed form.

GD on a quadratic has an exact number of steps to a tolerance; a linear chain
with orthogonal weights scales the backpropagated gradient by exactly `gain`
per layer; Newton solves a quadratic in one step. The studies must reproduce
these, not only run.
"""
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from lessons_lib import studies  # noqa: E402
from lessons_lib.landscapes import REGISTRY, Quadratic  # noqa: E402

X_SQUARED, ILL = REGISTRY["quadratic"], REGISTRY["ill_conditioned"]


def closed_form_steps(lr, x0, tol):
    """GD on f = x²: x_k = (1 − 2η)^k x0, so f(x_k) ≤ tol once (1 − 2η)^(2k) x0² ≤ tol."""
    return max(0, math.ceil(math.log(tol / x0**2) / (2 * math.log(abs(1 - 2 * lr)))))


# ---------------------------------------------------------------- GD theory on quadratics


def test_critical_learning_rates_and_contraction_from_the_eigenvalues():
    rates = studies.critical_learning_rates(ILL)  # eigenvalues 1 and 50
    assert rates == pytest.approx({"1/L": 1 / 50, "optimal": 2 / 51, "2/L": 2 / 50})
    # at the optimal step both directions shrink by (κ − 1)/(κ + 1)
    assert studies.contraction(ILL, rates["optimal"]) == pytest.approx(49 / 51)
    assert studies.contraction(ILL, rates["1/L"]) == pytest.approx(1 - 1 / 50)
    assert studies.contraction(ILL, 0.05) == pytest.approx(1.5)
    rotated = Quadratic([[3.0, 1.0], [1.0, 3.0]])  # eigenvalues 2 and 4: not the diagonal
    assert studies.critical_learning_rates(rotated)["2/L"] == pytest.approx(0.5)


def test_theory_refuses_landscapes_without_a_positive_definite_hessian():
    with pytest.raises(ValueError, match="landscapes.Quadratic"):
        studies.critical_learning_rates(REGISTRY["rosenbrock"])
    with pytest.raises(ValueError, match="positive definite"):
        studies.contraction(REGISTRY["saddle"], 0.1)
    with pytest.raises(ValueError, match=r"lr=-0.1 is out of range; valid: lr in \(0, inf\)"):
        studies.contraction(ILL, -0.1)


@pytest.mark.parametrize("lr", [0.01, 0.1, 0.3, 0.45, 0.55, 0.8, 0.95])
def test_predicted_steps_is_the_closed_form_on_x_squared(lr):
    assert studies.predicted_steps(X_SQUARED, [2.5], lr, 1e-6) == closed_form_steps(lr, 2.5, 1e-6)


def test_predicted_steps_edge_cases():
    assert studies.predicted_steps(X_SQUARED, [2.5], 0.5, 1e-6) == 1    # ηλ = 1: one step
    assert studies.predicted_steps(X_SQUARED, [1e-4], 0.1, 1e-6) == 0   # already there
    assert studies.predicted_steps(X_SQUARED, [2.5], 1.0, 1e-6) is None  # bounces forever
    assert studies.predicted_steps(X_SQUARED, [2.5], 1.2, 1e-6) is None  # diverges
    assert studies.predicted_steps(X_SQUARED, [2.5], 1e-4, 1e-6, max_steps=100) is None  # too slow


# ---------------------------------------------------------------- GD measured


def test_lr_table_on_x_squared_measures_the_closed_form_and_the_four_regimes():
    lrs = [0.001, 0.01, 0.25, 0.5, 0.75, 1.0, 1.1]
    table = studies.lr_table(X_SQUARED, [2.5], lrs, tol=1e-6, max_steps=1000)
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
    rates = studies.critical_learning_rates(ILL)
    lrs = [0.5 / 50, rates["1/L"], rates["optimal"], 1.99 / 50, 2.02 / 50]
    table = studies.lr_table(ILL, [-8.0, 2.0], lrs, tol=1e-6, max_steps=2000)
    measured = table.column("steps")
    assert np.nanargmin(measured) == 2  # the optimal step is the fastest
    assert np.isnan(measured[-1]) and table[-1]["behaviour"] == "diverges"
    for row in table[:-1]:
        assert abs(row["steps"] - row["steps_theory"]) <= 1
        assert row["rate"] == pytest.approx(row["rate_theory"], abs=2e-3)


def test_lr_table_runs_other_optimizers_without_theory_columns():
    table = studies.lr_table(ILL, [-8.0, 2.0], [0.02], optimizer="momentum", max_steps=500)
    assert "rate_theory" not in table[0] and table[0]["steps"] is not None
    with pytest.raises(ValueError, match="optimizer='nope' is not known"):
        studies.lr_table(ILL, [-8.0, 2.0], [0.02], optimizer="nope")
    with pytest.raises(ValueError, match="at least one learning rate"):
        studies.lr_table(ILL, [-8.0, 2.0], [])
    with pytest.raises(ValueError, match="tol=0 is out of range"):
        studies.lr_table(ILL, [-8.0, 2.0], [0.02], tol=0)


def test_where_descent_ends_finds_each_himmelblau_minimum_from_its_own_corner():
    f = REGISTRY["himmelblau"]
    table = studies.where_descent_ends(f, [(4, 4), (-4, 4), (-4, -4), (4, -4)], lr=0.01, steps=300)
    assert sorted(table.column("minimum")) == [0, 1, 2, 3]
    assert all(table.column("global")) and np.all(table.column("grad_norm") < 1e-8)
    assert len(table.paths) == 4 and all(p.shape == (301, 2) for p in table.paths.values())


def test_where_descent_ends_in_a_local_minimum_of_rastrigin():
    f = REGISTRY["rastrigin"]
    table = studies.where_descent_ends(f, [(1.2, -2.1)], lr=0.002, steps=300)
    row, end = table[0], table.paths["start (1.2, -2.1)"][-1]
    assert row["minimum"] is None and not row["global"]
    assert row["grad_norm"] < 1e-8 and row["value"] > 4  # stationary, but not the global minimum
    assert studies.classify_point(f, end) == "minimum"          # a local one


@pytest.mark.parametrize("f, x, kind", [
    (REGISTRY["saddle"], [0.0, 0.0], "saddle"),
    (REGISTRY["saddle"], [1.0, 0.0], "not critical"),
    (REGISTRY["ill_conditioned"], [0.0, 0.0], "minimum"),
    (Quadratic(-np.eye(2)), [0.0, 0.0], "maximum"),
    (Quadratic(np.diag([1.0, 0.0])), [0.0, 0.0], "degenerate"),
    (REGISTRY["himmelblau"], REGISTRY["himmelblau"].minima[2], "minimum"),
])
def test_classify_point_reads_the_hessian_eigenvalues(f, x, kind):
    assert studies.classify_point(f, x) == kind


# ---------------------------------------------------------------- vanishing gradients


@pytest.mark.parametrize("gain", [0.5, 0.8, 1.3])
def test_linear_orthogonal_chain_scales_the_gradient_by_exactly_gain_per_layer(gain):
    table = studies.gradient_norms_through_depth(12, "linear", init="orthogonal", gain=gain, width=16)
    g = table.column("signal_grad")
    np.testing.assert_allclose(g[:-1] / g[1:], gain, rtol=1e-10)
    assert list(table.column("layer")) == list(range(1, 13))


def test_tanh_chain_in_its_linear_regime_shrinks_geometrically():
    # tiny inputs keep tanh(z) ≈ z, so tanh' ≈ 1 and only the gain remains
    table = studies.gradient_norms_through_depth(10, "tanh", init="orthogonal", gain=0.7, input_scale=1e-6)
    g = table.column("signal_grad")
    np.testing.assert_allclose(g[:-1] / g[1:], 0.7, rtol=1e-6)


def test_autograd_norms_match_backpropagation_by_hand():
    depth, width, batch, seed = 6, 8, 5, 3
    table = studies.gradient_norms_through_depth(depth, "tanh", width=width, batch=batch, gain=1.2, seed=seed)
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
    tanh = studies.gradient_norms_through_depth(20, "tanh").column("signal_grad")
    sigmoid = studies.gradient_norms_through_depth(20, "sigmoid").column("signal_grad")
    assert sigmoid[0] / sigmoid[-1] < 1e-9 < tanh[0] / tanh[-1]
    with pytest.raises(ValueError, match="activation='gelu' is not known"):
        studies.gradient_norms_through_depth(3, "gelu")
    with pytest.raises(ValueError, match="depth=0 is out of range"):
        studies.gradient_norms_through_depth(0)
    with pytest.raises(ValueError, match="init='he' is not known"):
        studies.gradient_norms_through_depth(3, init="he")


# ---------------------------------------------------------------- saddles, Newton, line search


def test_saddle_escape_exact_gradients_stay_and_a_nudge_escapes_on_schedule():
    from lessons_lib import optim
    wells = REGISTRY["saddle_wells"]
    gd = {"gd": optim.REGISTRY["sgd"](lr=0.1), "same gd": optim.REGISTRY["sgd"](lr=0.1),
          "adam": optim.REGISTRY["adam"](lr=0.05)}
    table = studies.saddle_escape(wells, gd, [1.5, 0.0], noise=(0.0, 1e-3), steps=300)
    quiet = [r for r in table if r["noise"] == 0]
    assert all(r["escape"] is None for r in quiet)
    assert np.all(table.paths["gd, σ = 0"][:, 1] == 0)         # never leaves the stable manifold
    noisy = {r["optimizer"]: r["escape"] for r in table if r["noise"] > 0}
    assert noisy["gd"] == noisy["same gd"] is not None           # the same noise for every optimizer
    np.testing.assert_array_equal(table.paths["gd, σ = 0.001"], table.paths["same gd, σ = 0.001"])
    assert noisy["adam"] < noisy["gd"]
    # x² − y² from (1.5, 1e-8): x shrinks by 0.8, y grows by 1.2 per step; escape when y² − x² > 0.5
    saddle = REGISTRY["saddle"]
    nudged = studies.saddle_escape(saddle, {"gd": gd["gd"]}, [1.5, 1e-8], steps=200)[0]["escape"]
    k = next(k for k in range(200) if (1.2**k * 1e-8) ** 2 - (0.8**k * 1.5) ** 2 > 0.5)
    assert nudged == k
    with pytest.raises(ValueError, match="lists no saddle point"):
        studies.saddle_escape(REGISTRY["rosenbrock"], gd, [0.0, 0.0])
    with pytest.raises(ValueError, match=r"noise=-1 is out of range"):
        studies.saddle_escape(wells, gd, [1.5, 0.0], noise=(-1,))


@pytest.mark.parametrize("seed", [0, 1])
def test_newton_solves_a_quadratic_in_one_step_and_jacobi_a_diagonal_one(seed):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(4, 4))
    q = Quadratic(M @ M.T + 0.1 * np.eye(4), rng.normal(size=4))
    x0 = rng.normal(size=4)
    newton = studies.descent(q, x0, 3, direction="newton", line_search=False)
    np.testing.assert_allclose(newton[1], q.minima[0], atol=1e-8)
    diagonal = Quadratic(np.diag([1.0, 30.0, 900.0]), [1.0, 2.0, 3.0])
    jacobi = studies.descent(diagonal, [5.0, 5.0, 5.0], 1, direction="diagonal")
    np.testing.assert_allclose(jacobi[1], diagonal.minima[0], atol=1e-9)


def test_descent_without_line_search_is_gradient_descent_and_armijo_only_goes_down():
    from lessons_lib import optim
    rosen = REGISTRY["rosenbrock"]
    plain = studies.descent(rosen, [-1.5, 2.0], 50, direction="gradient", line_search=False, lr=1e-3)
    np.testing.assert_allclose(plain, optim.minimize(optim.REGISTRY["sgd"](lr=1e-3), rosen,
                                                     [-1.5, 2.0], 50), rtol=1e-12)
    for direction in ("gradient", "diagonal", "newton"):
        path = studies.descent(rosen, [-1.5, 2.0], 40, direction=direction)
        values = rosen.value(path.T)
        assert np.all(np.diff(values) < 0), direction               # sufficient decrease
    newton = studies.descent(rosen, [-1.5, 2.0], 40, direction="newton")
    np.testing.assert_allclose(newton[-1], [1.0, 1.0], atol=1e-8)
    with pytest.raises(ValueError, match="direction='adam' is not known"):
        studies.descent(rosen, [0.0, 0.0], 1, direction="adam")
    with pytest.raises(ValueError, match=r"shrink=1 is out of range"):
        studies.descent(rosen, [0.0, 0.0], 1, shrink=1)


def test_descent_table_counts_steps_per_method():
    table = studies.descent_table(ILL, [-8.0, 2.0], lr=2 / 51, steps=2000)
    steps = {r["method"]: r["steps"] for r in table}
    assert steps["Newton (t = 1, no search)"] == steps["Newton + Armijo"] == 1
    assert steps["diagonal (Jacobi) + Armijo"] == 1
    assert steps["gradient descent (fixed η)"] == studies.lr_table(ILL, [-8.0, 2.0], [2 / 51], tol=1e-10,
                                                             max_steps=2000)[0]["steps"]
    assert set(table.paths) == set(steps)
