"""Linear least squares: loss and gradient against torch.autograd, the closed form
against numpy.linalg.lstsq, the landscape against both, the 2/L threshold by running
gradient descent on each side of it.

The torch loss below is written from the definition, mean((x·w + b − y)²), without
the design matrix or the gradient formula, so a wrong formula in the library cannot
hide here.
"""
import numpy as np
import pytest
import torch
from matplotlib.mathtext import MathTextParser

from lessons_lib import data, linear, optim


def torch_loss_and_grad(params, x, y):
    x = torch.tensor(np.asarray(x, dtype=float).reshape(len(x), -1))
    y = torch.tensor(np.asarray(y, dtype=float).reshape(-1))
    theta = torch.tensor(np.asarray(params, dtype=float), requires_grad=True)
    loss = ((x @ theta[:-1] + theta[-1] - y) ** 2).mean()
    loss.backward()
    return loss.item(), theta.grad.numpy()


def random_problem(n, d, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d) + rng.normal(size=d)
    y = x @ rng.normal(size=d) + rng.normal() + 0.3 * rng.normal(size=n)
    return x, y, rng.normal(size=d + 1) * 2


PROBLEMS = [(4, 1, 0), (7, 1, 1), (30, 3, 2), (5, 4, 3)]


@pytest.mark.parametrize("n, d, seed", PROBLEMS)
def test_mse_and_gradient_equal_torch_autograd(n, d, seed):
    x, y, theta = random_problem(n, d, seed)
    loss, grad = torch_loss_and_grad(theta, x, y)
    assert linear.mse(theta, x, y) == pytest.approx(loss, rel=1e-13)
    np.testing.assert_allclose(linear.mse_grad(theta, x, y), grad, rtol=1e-12, atol=1e-12)


def test_one_feature_accepts_1d_arrays_and_the_toy_data_shapes():
    x, y = data.toy_regression()  # float32, shape (4, 1)
    assert x.dtype == np.float32
    theta = [0.5, 1.0]
    loss, grad = torch_loss_and_grad(theta, x, y)
    for xs, ys in [(x, y), (x.ravel(), y.ravel()), (x, y.ravel()), (x.ravel().tolist(), y.ravel().tolist())]:
        assert linear.mse(theta, xs, ys) == pytest.approx(loss, rel=1e-13)
        np.testing.assert_allclose(linear.mse_grad(theta, xs, ys), grad, rtol=1e-13)
    # by hand: residuals 0.5x + 1 − 2x = 1 − 1.5x = −0.5, −2, −3.5, −5
    assert linear.mse(theta, x, y) == pytest.approx((0.25 + 4 + 12.25 + 25) / 4)


@pytest.mark.parametrize("n, d, seed", PROBLEMS)
def test_closed_form_equals_lstsq_and_zeroes_the_gradient(n, d, seed):
    x, y, _ = random_problem(n, d, seed)
    theta = linear.closed_form(x, y)
    expected = np.linalg.lstsq(np.column_stack([x, np.ones(n)]), y, rcond=None)[0]
    np.testing.assert_allclose(theta, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(linear.mse_grad(theta, x, y), 0.0, atol=1e-10)


def test_toy_regression_is_solved_by_w_2_b_0():
    x, y = data.toy_regression()
    np.testing.assert_allclose(linear.closed_form(x, y), [2.0, 0.0], atol=1e-12)
    assert linear.mse([2.0, 0.0], x, y) == 0.0


def test_design_matrix_appends_a_column_of_ones():
    np.testing.assert_array_equal(linear.design_matrix([1.0, 2.0, 3.0]), [[1, 1], [2, 1], [3, 1]])
    assert linear.design_matrix(np.zeros((5, 3))).shape == (5, 4)


@pytest.mark.parametrize("n, d, seed", PROBLEMS)
def test_hessian_equals_torch_autograd_hessian(n, d, seed):
    x, y, theta = random_problem(n, d, seed)
    xt, yt = torch.tensor(x), torch.tensor(y)

    def loss(t):
        return ((xt @ t[:-1] + t[-1] - yt) ** 2).mean()

    expected = torch.autograd.functional.hessian(loss, torch.tensor(theta)).numpy()
    np.testing.assert_allclose(linear.mse_hessian(x), expected, rtol=1e-12, atol=1e-12)


def test_toy_hessian_by_hand():
    # Z = [[1,1],[2,1],[3,1],[4,1]]: ZᵀZ = [[30, 10], [10, 4]], times 2/4
    np.testing.assert_allclose(linear.mse_hessian(data.toy_regression()[0]), [[15.0, 5.0], [5.0, 2.0]])


@pytest.mark.parametrize("n, d, seed", PROBLEMS)
def test_landscape_equals_mse_gradient_and_closed_form(n, d, seed):
    x, y, _ = random_problem(n, d, seed)
    f = linear.mse_landscape(x, y)
    assert f.dim == d + 1
    rng = np.random.default_rng(seed + 100)
    for theta in rng.normal(scale=3.0, size=(5, d + 1)):
        assert f.value(theta) == pytest.approx(linear.mse(theta, x, y), rel=1e-10, abs=1e-12)
        np.testing.assert_allclose(f.grad(theta), linear.mse_grad(theta, x, y), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(f.A, linear.mse_hessian(x), rtol=1e-14)
    assert len(f.minima) == 1
    np.testing.assert_allclose(f.minima[0], linear.closed_form(x, y), rtol=1e-9, atol=1e-10)
    assert f.L == pytest.approx(np.linalg.eigvalsh(linear.mse_hessian(x)).max())


@pytest.mark.parametrize("n, d, seed", PROBLEMS[:3])
def test_landscape_value_keeps_its_digits_next_to_the_minimum(n, d, seed):
    # The expanded form ½θᵀAθ − bᵀθ + c cancels catastrophically here (and can go
    # negative, which breaks a log-scale loss curve); the value must not.
    x, y, _ = random_problem(n, d, seed)
    f, best = linear.mse_landscape(x, y), linear.closed_form(x, y)
    rng = np.random.default_rng(seed)
    for scale in (1e-3, 1e-6, 1e-9):
        theta = best + scale * rng.normal(size=d + 1)
        assert f.value(theta) - f.value(best) >= 0
        assert f.value(theta) == pytest.approx(linear.mse(theta, x, y), rel=1e-12)
    assert f.value(best) == pytest.approx(linear.mse(best, x, y), rel=1e-12)


def test_toy_landscape_is_never_negative_along_a_converging_run():
    x, y = data.toy_regression()
    f = linear.mse_landscape(x, y)
    path = optim.minimize(optim.REGISTRY["sgd"](lr=0.1), f, [0.0, 3.0], 1500)
    values = f.value(path.T)
    assert np.all(values >= 0) and values[-1] < 1e-25
    # early on, equal to the loss computed from the residuals; at the end both are round-off
    np.testing.assert_allclose(values[:50], [linear.mse(p, x, y) for p in path[:50]], rtol=1e-10)


def test_landscape_evaluates_a_plotting_grid_in_one_call():
    x, y = data.toy_regression()
    f = linear.mse_landscape(x, y, bounds=[(-1, 5), (-4, 4)])
    assert f.bounds == ((-1.0, 5.0), (-4.0, 4.0)) and f.name == "mse"
    W, B, Z = f.grid(7)
    for i, j in [(0, 0), (3, 4), (6, 6)]:
        assert Z[i, j] == pytest.approx(linear.mse([W[i, j], B[i, j]], x, y), rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(linear.mse_landscape(x, y).bounds, [(-3, 7), (-5, 5)])  # θ* ± 5


@pytest.mark.parametrize("d", [1, 3])
def test_landscape_formula_renders_as_matplotlib_mathtext(d):
    x, y, _ = random_problem(6, d, 0)
    MathTextParser("path").parse(f"${linear.mse_landscape(x, y).formula}$")


@pytest.mark.parametrize("n, d, seed", PROBLEMS[:3])
def test_gradient_descent_converges_just_below_2_over_L_and_diverges_just_above(n, d, seed):
    x, y, theta0 = random_problem(n, d, seed)
    f, lr_max = linear.mse_landscape(x, y), linear.max_stable_lr(x)
    assert lr_max == pytest.approx(2.0 / f.L)
    best = f.value(linear.closed_form(x, y))
    below = optim.minimize(optim.REGISTRY["sgd"](lr=0.98 * lr_max), f, theta0, 3000)
    above = optim.minimize(optim.REGISTRY["sgd"](lr=1.02 * lr_max), f, theta0, 300)
    assert f.value(below[-1]) - best < 1e-6 * (f.value(theta0) - best)
    assert f.value(above[-1]) - best > 1e3 * (f.value(theta0) - best)


def test_toy_threshold_by_hand():
    # eigenvalues of [[15, 5], [5, 2]]: (17 ± √269) / 2
    assert linear.max_stable_lr(np.arange(1.0, 5.0)) == pytest.approx(4 / (17 + np.sqrt(269)))


def test_singular_problem_has_the_minimum_norm_solution_and_no_unique_minimum():
    x, y = np.array([[2.0]]), np.array([4.0])  # one point, two parameters: a line of solutions
    theta = linear.closed_form(x, y)
    np.testing.assert_allclose(theta, [1.6, 0.8])  # the shortest (w, b) with 2w + b = 4
    assert linear.mse(theta, x, y) == pytest.approx(0.0, abs=1e-24)
    assert linear.mse_landscape(x, y).minima == []


@pytest.mark.parametrize("call, match", [
    (lambda: linear.mse([1.0, 0.0], [1.0, 2.0], [1.0, 2.0, 3.0]), r"y must have shape \(2,\) or \(2, 1\).*got shape \(3,\)"),
    (lambda: linear.mse([1.0, 0.0, 3.0], [1.0, 2.0], [1.0, 2.0]), r"params must be .*shape \(2,\) for 1 feature.*got shape \(3,\)"),
    (lambda: linear.mse_grad([1.0], np.ones((3, 2)), np.ones(3)), r"params .*shape \(3,\) for 2 feature.*got shape \(1,\)"),
    (lambda: linear.closed_form(np.ones((2, 2, 2)), np.ones(2)), r"x must have shape \(n,\) or \(n, d\).*got shape \(2, 2, 2\)"),
    (lambda: linear.mse_hessian([]), r"x must have shape .*n, d >= 1.*got shape \(0, 1\)"),
    (lambda: linear.mse_landscape([1.0, np.nan], [1.0, 2.0]), r"x must hold finite numbers"),
    (lambda: linear.mse_grad([0.0, 0.0], [1.0, 2.0], [1.0, np.inf]), r"y must hold finite numbers"),
    (lambda: linear.max_stable_lr(np.ones((3, 0))), r"x must have shape .*got shape \(3, 0\)"),
])
def test_bad_input_raises_a_value_error_naming_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_standardize_centres_and_scales_each_column_and_rounds_the_toy_valley():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, [1.0, 5.0], size=(50, 2))
    centred, scaled = linear.standardize(x, scale=False), linear.standardize(x)
    np.testing.assert_allclose(centred.mean(axis=0), 0, atol=1e-13)
    np.testing.assert_allclose(centred, x - x.mean(axis=0))
    np.testing.assert_allclose(scaled.std(axis=0), 1, rtol=1e-13)
    # centred: ZᵀZ is block-diagonal, H = diag(2 Cov(x), 2)
    H = linear.mse_hessian(centred)
    np.testing.assert_allclose(H[:2, 2], 0, atol=1e-13)
    np.testing.assert_allclose(H[:2, :2], 2 * np.cov(x.T, bias=True), rtol=1e-12)
    # the toy data: κ 55.8 -> 1.25 (Var x = 1.25) -> 1
    toy, _ = data.toy_regression(dtype=np.float64)
    kappa = lambda v: np.linalg.cond(linear.mse_hessian(v))
    assert kappa(toy) == pytest.approx(55.782, abs=1e-3)
    assert kappa(linear.standardize(toy, scale=False)) == pytest.approx(1.25)
    assert kappa(linear.standardize(toy)) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"constant column\(s\) \[1\]"):
        linear.standardize(np.column_stack([x[:, 0], np.ones(50)]))
