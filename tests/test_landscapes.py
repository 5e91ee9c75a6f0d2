"""Landscapes: analytic gradients against torch.autograd, minima, bounds, errors.

The torch formulas below are written independently of lessons_lib, from the
textbook definitions, so a wrong formula in the library cannot hide here.
"""
import math

import numpy as np
import pytest
import torch
from matplotlib.mathtext import MathTextParser

from lessons_lib import landscapes
from lessons_lib.landscapes import REGISTRY, Quadratic


def _beale(p):
    x, y = p
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


TORCH = {
    "quadratic": lambda p: p[0] ** 2,
    "ill_conditioned": lambda p: 0.5 * (p[0] ** 2 + 50 * p[1] ** 2),
    "rosenbrock": lambda p: (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2,
    "beale": _beale,
    "himmelblau": lambda p: (p[0] ** 2 + p[1] - 11) ** 2 + (p[0] + p[1] ** 2 - 7) ** 2,
    "saddle": lambda p: p[0] ** 2 - p[1] ** 2,
    "rastrigin": lambda p: 10 * 2 + torch.sum(p**2 - 10 * torch.cos(2 * math.pi * p)),
    "saddle_wells": lambda p: p[0] ** 2 - p[1] ** 2 + p[1] ** 4 / 4,
}
NAMES = sorted(TORCH)


def _random_points(f, n=25, seed=0):
    rng = np.random.default_rng(seed)
    lo, hi = np.array(f.bounds).T
    return rng.uniform(lo, hi, size=(n, f.dim))


def _torch_grad(name, x):
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    value = TORCH[name](t)
    value.backward()
    return value.item(), t.grad.numpy()


def test_registry_has_every_landscape_the_course_uses():
    assert set(NAMES) <= set(REGISTRY)
    for name, f in REGISTRY.items():
        assert f.name == name
        assert len(f.bounds) == f.dim
        assert isinstance(f.formula, str) and f.formula


@pytest.mark.parametrize("name", NAMES)
def test_value_and_grad_match_torch_autograd(name):
    f = REGISTRY[name]
    for x in _random_points(f):
        value, grad = _torch_grad(name, x)
        assert f.value(x) == pytest.approx(value, rel=1e-12, abs=1e-12)
        g = f.grad(x)
        assert g.shape == (f.dim,)
        assert np.max(np.abs(g - grad)) <= 1e-10 * (1 + np.max(np.abs(grad)))


@pytest.mark.parametrize("name", NAMES)
def test_value_and_grad_on_a_grid_match_pointwise(name):
    f = REGISTRY[name]
    points = _random_points(f, n=12, seed=1)
    stack = points.T.reshape(f.dim, 3, 4)
    values, grads = f.value(stack), f.grad(stack)
    assert values.shape == (3, 4) and grads.shape == (f.dim, 3, 4)
    np.testing.assert_allclose(values.ravel(), [f.value(p) for p in points], rtol=1e-14)
    np.testing.assert_allclose(grads.reshape(f.dim, -1).T, [f.grad(p) for p in points], rtol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_minima_are_stationary_and_lower_than_their_neighbourhood(name):
    f = REGISTRY[name]
    for m in f.minima:
        assert np.max(np.abs(f.grad(m))) < 1e-10
        for angle in np.linspace(0, 2 * np.pi, 8, endpoint=False):
            step = 1e-3 * np.array([np.cos(angle), np.sin(angle)])[: f.dim]
            assert f.value(m + step) > f.value(m)


@pytest.mark.parametrize("name", NAMES)
def test_bounds_contain_every_minimum_and_saddle_point(name):
    f = REGISTRY[name]
    assert f.minima or f.saddle_points
    for point in f.minima + f.saddle_points:
        for coordinate, (lo, hi) in zip(point, f.bounds):
            assert lo < coordinate < hi


@pytest.mark.parametrize("name, point", [
    ("quadratic", [0.0]), ("ill_conditioned", [0.0, 0.0]), ("rosenbrock", [1.0, 1.0]),
    ("beale", [3.0, 0.5]), ("himmelblau", [3.0, 2.0]), ("himmelblau", [-2.805118, 3.131312]),
    ("himmelblau", [-3.779310, -3.283186]), ("himmelblau", [3.584428, -1.848126]),
    ("rastrigin", [0.0, 0.0]),
])
def test_known_minima_are_listed_with_value_zero(name, point):
    f = REGISTRY[name]
    listed = [m for m in f.minima if np.allclose(m, point, atol=1e-6)]
    assert len(listed) == 1
    assert f.value(listed[0]) == pytest.approx(0.0, abs=1e-20)
    assert TORCH[name](torch.tensor(listed[0])).item() == pytest.approx(0.0, abs=1e-20)


def test_himmelblau_has_four_distinct_minima():
    minima = REGISTRY["himmelblau"].minima
    assert len(minima) == 4
    assert min(np.linalg.norm(a - b) for i, a in enumerate(minima) for b in minima[i + 1:]) > 1


def test_saddle_has_no_minimum_and_a_saddle_point_at_the_origin():
    f = REGISTRY["saddle"]
    assert f.minima == []
    [s] = f.saddle_points
    np.testing.assert_array_equal(s, [0.0, 0.0])
    np.testing.assert_array_equal(f.grad(s), [0.0, 0.0])
    assert f.value(s + [1e-3, 0]) > f.value(s) > f.value(s + [0, 1e-3])


def test_saddle_wells_has_a_saddle_between_two_wells_and_a_stable_manifold():
    f = REGISTRY["saddle_wells"]
    for m in f.minima:
        np.testing.assert_allclose(f.grad(m), 0, atol=1e-15)
        assert f.value(m) == pytest.approx(-1.0, abs=1e-15)
    [s] = f.saddle_points
    assert f.value(s) == 0 and not np.any(f.grad(s))
    assert f.value(s + [1e-3, 0]) > 0 > f.value(s + [0, 1e-3])
    # on the x-axis the gradient has no y component: exact descent never leaves it
    for x in np.linspace(-2, 2, 9):
        assert f.grad([x, 0.0])[1] == 0


def test_ill_conditioned_lipschitz_constant_is_the_largest_hessian_eigenvalue():
    f = REGISTRY["ill_conditioned"]
    hessian = torch.autograd.functional.hessian(TORCH["ill_conditioned"], torch.zeros(2, dtype=torch.float64))
    eigenvalues = np.linalg.eigvalsh(hessian.numpy())
    np.testing.assert_allclose(f.eigenvalues, eigenvalues)
    assert f.L == pytest.approx(eigenvalues.max())
    assert 10 <= f.condition_number <= 50


@pytest.mark.parametrize("factor, converges", [(1.0, True), (1.99, True), (2.01, False)])
def test_gradient_descent_diverges_past_two_over_L(factor, converges):
    f = REGISTRY["ill_conditioned"]
    x = np.array([3.0, 1.0])
    for _ in range(2000):
        x = x - factor / f.L * f.grad(x)
    assert (np.linalg.norm(x) < 1e-6) == converges


def test_quadratic_with_chosen_curvature_matches_torch():
    rng = np.random.default_rng(3)
    M = rng.normal(size=(3, 3))
    A, b = M @ M.T + np.eye(3), rng.normal(size=3)
    f = Quadratic(A, b, c=1.5)
    At, bt = torch.tensor(A), torch.tensor(b)
    x = rng.normal(size=3)
    t = torch.tensor(x, requires_grad=True)
    value = 0.5 * t @ At @ t - bt @ t + 1.5
    value.backward()
    assert f.value(x) == pytest.approx(value.item(), rel=1e-12)
    np.testing.assert_allclose(f.grad(x), t.grad.numpy(), rtol=1e-12)
    [m] = f.minima
    np.testing.assert_allclose(A @ m, b, atol=1e-12)
    assert f.L == pytest.approx(np.linalg.eigvalsh(A).max())


@pytest.mark.parametrize("A, b, match", [
    ([[1.0, 2.0, 3.0]], None, r"A must be a square matrix; got shape \(1, 3\)"),
    ([[1.0, 2.0], [0.0, 1.0]], None, "A must be symmetric"),
    (np.eye(2), [1.0, 2.0, 3.0], r"b must have shape \(2,\).*got shape \(3,\)"),
])
def test_quadratic_rejects_bad_matrices(A, b, match):
    with pytest.raises(ValueError, match=match):
        Quadratic(A, b)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("method", ["value", "grad"])
def test_wrong_dimension_names_landscape_expected_and_got(name, method):
    f = REGISTRY[name]
    wrong = np.zeros(f.dim + 1)
    with pytest.raises(ValueError, match=rf"{name}: .*dimension {f.dim}.*got shape \({f.dim + 1},\)"):
        getattr(f, method)(wrong)
    with pytest.raises(ValueError, match=rf"{name}: .*got shape \(\)"):
        getattr(f, method)(1.0)


@pytest.mark.parametrize("name", NAMES)
def test_formula_renders_as_matplotlib_mathtext(name):
    MathTextParser("path").parse(f"${REGISTRY[name].formula}$")


def test_minima_of_shared_landscapes_cannot_be_modified_by_accident():
    with pytest.raises(ValueError):
        landscapes.REGISTRY["rosenbrock"].minima[0][0] = 5.0


# -- the tilted double well (lesson 04: momentum escapes a shallow minimum) ----------

def _double_well_torch(p, tilt):
    return (p[0] ** 2 - 1) ** 2 + tilt * p[0]


@pytest.mark.parametrize("tilt", [0.5, 0.0, -0.3, 1.5])
def test_double_well_value_and_grad_match_torch_autograd(tilt):
    f = landscapes.DoubleWell(tilt)
    for x in np.linspace(-1.8, 1.8, 13):
        t = torch.tensor([x], dtype=torch.float64, requires_grad=True)
        value = _double_well_torch(t, tilt)
        value.backward()
        assert f.value([x]) == pytest.approx(value.item(), rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(f.grad([x]), t.grad.numpy(), rtol=1e-12, atol=1e-12)
    grid = np.linspace(-1.8, 1.8, 6).reshape(1, 2, 3)
    assert f.value(grid).shape == (2, 3) and f.grad(grid).shape == (1, 2, 3)


@pytest.mark.parametrize("tilt", [0.5, 0.2, -0.7, 1.5])
def test_double_well_minima_are_deep_first_and_the_barrier_is_a_maximum(tilt):
    f = landscapes.DoubleWell(tilt)
    deep, shallow = (m[0] for m in f.minima)
    for x in (deep, shallow, f.barrier):
        assert abs(f.grad([x])[0]) < 1e-10
    for m in (deep, shallow):
        assert f.value([m + 1e-3]) > f.value([m]) < f.value([m - 1e-3])
    assert f.value([f.barrier + 1e-3]) < f.value([f.barrier]) > f.value([f.barrier - 1e-3])
    assert f.value([deep]) < f.value([shallow])
    assert min(deep, shallow) < f.barrier < max(deep, shallow)
    assert (deep < 0) == (tilt > 0)   # the tilt lowers the left well when positive
    assert f.barrier_height == pytest.approx(f.value([f.barrier]) - f.value([shallow]))
    assert f.barrier_height > 0
    (lo, hi), = f.bounds
    assert lo < min(deep, shallow) and max(deep, shallow) < hi


def test_double_well_is_in_the_registry_as_a_1d_landscape():
    f = REGISTRY["double_well"]
    assert f.dim == 1 and f.tilt == 0.5 and f.name == "double_well"
    MathTextParser("path").parse(f"${f.formula}$")
    with pytest.raises(ValueError):
        f.minima[0][0] = 0.0


def test_double_well_traps_gradient_descent_started_on_the_shallow_side():
    f = REGISTRY["double_well"]
    x = np.array([1.5])
    for _ in range(500):
        x = x - 0.02 * f.grad(x)
    np.testing.assert_allclose(x, f.minima[1], atol=1e-8)


@pytest.mark.parametrize("tilt", [1.54, -1.6, float("nan"), "steep"])
def test_double_well_rejects_a_tilt_without_two_wells(tilt):
    with pytest.raises(ValueError, match=r"DoubleWell: tilt=.* is out of range; valid: \|tilt\| < 8/\(3√3\)"):
        landscapes.DoubleWell(tilt)


def test_an_unknown_landscape_name_lists_the_valid_ones():
    with pytest.raises(KeyError, match=r"unknown landscape 'rosenbrok'; valid: quadratic, "
                                       r".*; did you mean 'rosenbrock'\?"):
        REGISTRY["rosenbrok"]


# -- Hessians ------------------------------------------------------------------------------
def test_hessian_is_exact_on_a_quadratic_and_by_differences_on_rosenbrock():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    f = Quadratic(A)
    np.testing.assert_array_equal(f.hessian([0.3, -0.7]), A)
    # the central differences every other landscape uses are exact on a quadratic too
    np.testing.assert_allclose(landscapes.Landscape.hessian(f, [0.3, -0.7]), A, atol=1e-8)
    np.testing.assert_allclose(REGISTRY["rosenbrock"].hessian([1.0, 1.0]),
                               [[802.0, -400.0], [-400.0, 200.0]], rtol=1e-7)
    with pytest.raises(ValueError, match=r"h=0"):
        REGISTRY["rosenbrock"].hessian([1.0, 1.0], h=0)


@pytest.mark.parametrize("name", ["beale", "himmelblau", "rastrigin", "saddle_wells"])
def test_hessian_by_differences_matches_torch_autograd(name):
    f = REGISTRY[name]
    x = np.array([0.3, -0.4][:f.dim])
    expected = torch.autograd.functional.hessian(TORCH[name], torch.tensor(x)).numpy()
    np.testing.assert_allclose(f.hessian(x), expected, rtol=1e-6, atol=1e-6)


# -- training problems: sparse logistic regression and a noisy quadratic ---------------------
def _torch_loss(P, w, rows=None):
    X = torch.tensor(P.X if rows is None else P.X[rows])
    y = torch.tensor(P.y if rows is None else P.y[rows])
    bce = torch.nn.functional.binary_cross_entropy_with_logits(X @ w, y)
    return bce + 0.5 * P.l2 * (w @ w)


@pytest.fixture(scope="module")
def sparse():
    return landscapes.sparse_logistic(n_samples=600, n_common=4, n_rare=12, seed=3)


# -- sparse_logistic ----------------------------------------------------------------------

def test_sparse_logistic_has_binary_features_with_the_asked_frequencies():
    P = landscapes.sparse_logistic(n_samples=4000, n_common=5, n_rare=20, p_common=0.4, p_rare=0.03)
    assert P.X.shape == (4000, 25) and P.y.shape == (4000,) and P.dim == 25 and P.n_samples == 4000
    assert set(np.unique(P.X)) == {0.0, 1.0} and set(np.unique(P.y)) == {0.0, 1.0}
    np.testing.assert_array_equal(P.rare, [False] * 5 + [True] * 20)
    np.testing.assert_allclose(P.frequency[~P.rare], 0.4, atol=0.03)
    np.testing.assert_allclose(P.frequency[P.rare], 0.03, atol=0.012)
    np.testing.assert_array_equal(np.abs(P.w_true[P.rare]), 3.0)


def test_sparse_logistic_labels_follow_the_logistic_model():
    P = landscapes.sparse_logistic(n_samples=20000, n_common=3, n_rare=0, seed=1)
    probability = 1 / (1 + np.exp(-P.X @ P.w_true))
    assert abs(P.y.mean() - probability.mean()) < 0.01


def test_sparse_logistic_is_reproducible_and_the_seed_matters():
    a, b = landscapes.sparse_logistic(seed=7), landscapes.sparse_logistic(seed=7)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.w_true, b.w_true)
    assert not np.array_equal(a.X, landscapes.sparse_logistic(seed=8).X)


@pytest.mark.parametrize("rows", [None, np.array([0, 5, 5, 17, 42])])
def test_sparse_logistic_loss_and_grad_match_torch(sparse, rows):
    rng = np.random.default_rng(0)
    for scale in (0.1, 1.0, 30.0):  # 30: large logits, where a naive formula overflows
        w = scale * rng.normal(size=sparse.dim)
        t = torch.tensor(w, requires_grad=True)
        loss = _torch_loss(sparse, t, rows)
        loss.backward()
        assert sparse.loss(w, rows) == pytest.approx(loss.item(), rel=1e-12)
        np.testing.assert_allclose(sparse.grad(w, rows), t.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_solve_finds_the_stationary_point_below_the_true_weights(sparse):
    w, loss = sparse.solve()
    assert np.max(np.abs(sparse.grad(w))) < 1e-10
    assert loss == pytest.approx(sparse.loss(w))
    assert loss < sparse.loss(sparse.w_true)
    w[0] = 99.0  # a copy: the cached solution is not changed
    assert sparse.solve()[0][0] != 99.0


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_samples=0), r"n_samples=0 is out of range; valid: n_samples an integer >= 1"),
    (dict(n_samples=10.5), r"n_samples=10.5 is out of range"),
    (dict(n_rare=-1), r"n_rare=-1 is out of range; valid: n_rare an integer >= 0"),
    (dict(n_common=0, n_rare=0), r"n_common \+ n_rare must be >= 1"),
    (dict(p_rare=0.0), r"p_rare=0.0 is out of range; valid: p_rare in \(0, 1\]"),
    (dict(p_common=1.5), r"p_common=1.5 is out of range; valid: p_common in \(0, 1\]"),
    (dict(rare_scale=-1.0), r"rare_scale=-1.0 is out of range; valid: rare_scale in \[0, inf\)"),
    (dict(l2=0.0), r"l2=0.0 is out of range; valid: l2 in \(0, inf\)"),
    (dict(l2="big"), r"l2='big' is out of range"),
])
def test_sparse_logistic_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        landscapes.sparse_logistic(**kwargs)


# -- NoisyQuadratic ---------------------------------------------------------------------------

def test_noisy_quadratic_noise_depends_only_on_seed_and_step():
    q = landscapes.NoisyQuadratic([1.0, 4.0], noise=0.5, seed=2)
    x = np.array([1.0, -2.0])
    g5 = q.grad(x, 5)
    q.grad(x, 9)
    np.testing.assert_array_equal(q.grad(x, 5), g5)
    assert not np.array_equal(q.grad(x, 6), g5)
    np.testing.assert_allclose(landscapes.NoisyQuadratic([1.0, 4.0], noise=0.0).grad(x, 5), [1.0, -8.0])
    assert q.value(x) == pytest.approx(0.5 * (1 + 16))
    noise = np.array([q.grad(np.zeros(2), t) for t in range(4000)])
    np.testing.assert_allclose(noise.mean(axis=0), 0.0, atol=0.05)
    np.testing.assert_allclose(noise.std(axis=0), 0.5, rtol=0.05)


@pytest.mark.parametrize("kwargs, match", [
    (dict(curvature=[1.0, 0.0]), "curvature must be a 1-D sequence of positive numbers"),
    (dict(curvature=[[1.0]]), "curvature must be a 1-D sequence"),
    (dict(noise=-1.0), r"noise=-1.0 is out of range; valid: noise in \[0, inf\)"),
])
def test_noisy_quadratic_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        landscapes.NoisyQuadratic(**kwargs)
