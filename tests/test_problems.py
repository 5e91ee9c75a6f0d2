"""Synthetic problems: gradients against torch.autograd, seeding, the measurements, errors."""
import numpy as np
import pytest
import torch

from lessons_lib import landscapes, optim, problems


@pytest.fixture(scope="module")
def sparse():
    return problems.sparse_logistic(n_samples=600, n_common=4, n_rare=12, seed=3)


# -- sparse_logistic ----------------------------------------------------------------------

def test_sparse_logistic_has_binary_features_with_the_asked_frequencies():
    P = problems.sparse_logistic(n_samples=4000, n_common=5, n_rare=20, p_common=0.4, p_rare=0.03)
    assert P.X.shape == (4000, 25) and P.y.shape == (4000,) and P.dim == 25 and P.n_samples == 4000
    assert set(np.unique(P.X)) == {0.0, 1.0} and set(np.unique(P.y)) == {0.0, 1.0}
    np.testing.assert_array_equal(P.rare, [False] * 5 + [True] * 20)
    np.testing.assert_allclose(P.frequency[~P.rare], 0.4, atol=0.03)
    np.testing.assert_allclose(P.frequency[P.rare], 0.03, atol=0.012)
    np.testing.assert_array_equal(np.abs(P.w_true[P.rare]), 3.0)


def test_sparse_logistic_labels_follow_the_logistic_model():
    P = problems.sparse_logistic(n_samples=20000, n_common=3, n_rare=0, seed=1)
    probability = 1 / (1 + np.exp(-P.X @ P.w_true))
    assert abs(P.y.mean() - probability.mean()) < 0.01


def test_sparse_logistic_is_reproducible_and_the_seed_matters():
    a, b = problems.sparse_logistic(seed=7), problems.sparse_logistic(seed=7)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    np.testing.assert_array_equal(a.w_true, b.w_true)
    assert not np.array_equal(a.X, problems.sparse_logistic(seed=8).X)


def _torch_loss(P, w, rows=None):
    X = torch.tensor(P.X if rows is None else P.X[rows])
    y = torch.tensor(P.y if rows is None else P.y[rows])
    bce = torch.nn.functional.binary_cross_entropy_with_logits(X @ w, y)
    return bce + 0.5 * P.l2 * (w @ w)


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
        problems.sparse_logistic(**kwargs)


# -- NoisyQuadratic ---------------------------------------------------------------------------

def test_noisy_quadratic_noise_depends_only_on_seed_and_step():
    q = problems.NoisyQuadratic([1.0, 4.0], noise=0.5, seed=2)
    x = np.array([1.0, -2.0])
    g5 = q.grad(x, 5)
    q.grad(x, 9)
    np.testing.assert_array_equal(q.grad(x, 5), g5)
    assert not np.array_equal(q.grad(x, 6), g5)
    np.testing.assert_allclose(problems.NoisyQuadratic([1.0, 4.0], noise=0.0).grad(x, 5), [1.0, -8.0])
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
        problems.NoisyQuadratic(**kwargs)


# -- trace ---------------------------------------------------------------------------------------

def test_trace_on_a_landscape_follows_minimize():
    f = landscapes.REGISTRY["rosenbrock"]
    opt = optim.REGISTRY["momentum"](lr=1e-3)
    record = problems.trace(opt, f, [-1.0, 2.0], 40)
    np.testing.assert_array_equal(record.path, optim.minimize(opt, f, [-1.0, 2.0], 40))
    np.testing.assert_array_equal(record.grads[3], f.grad(record.path[3]))
    np.testing.assert_allclose(record.step_sizes, np.linalg.norm(np.diff(record.path, axis=0), axis=1))


def test_effective_lr_of_sgd_is_the_learning_rate_and_of_adagrad_its_formula():
    q = problems.NoisyQuadratic([1.0, 10.0], noise=1.0, seed=0)
    sgd = problems.trace(optim.REGISTRY["sgd"](lr=0.05), q.grad, [3.0, 1.0], 30)
    np.testing.assert_allclose(sgd.effective_lr, 0.05, rtol=1e-9)
    lr, eps = 0.3, 1e-10
    ada = problems.trace(optim.REGISTRY["adagrad"](lr=lr, eps=eps), q.grad, [3.0, 1.0], 30)
    s = np.cumsum(ada.grads**2, axis=0)  # written from the definition, not from the library
    np.testing.assert_allclose(ada.effective_lr, lr / (np.sqrt(s) + eps), rtol=1e-7)
    assert np.all(np.diff(ada.effective_lr, axis=0) <= 0)


def test_trace_follows_a_schedule_and_marks_zero_gradients():
    record = problems.trace(optim.REGISTRY["sgd"](lr=1.0), lambda x, t: np.array([1.0, 0.0]),
                            [0.0, 0.0], 4, schedule=lambda t: 0.1 * (t + 1))
    np.testing.assert_allclose(record.effective_lr[:, 0], [0.1, 0.2, 0.3, 0.4])
    assert np.all(np.isnan(record.effective_lr[:, 1]))
    assert problems.trace(optim.REGISTRY["sgd"](lr=1.0), landscapes.REGISTRY["quadratic"], [1.0], 0).grads.shape == (0, 1)


def test_trace_rejects_a_bad_number_of_steps():
    with pytest.raises(ValueError, match=r"steps=-1 is out of range; valid: steps an integer >= 0"):
        problems.trace(optim.REGISTRY["sgd"](), landscapes.REGISTRY["quadratic"], [1.0], -1)


# -- train and tune_lr -----------------------------------------------------------------------------

def test_train_records_the_full_loss_after_every_step_and_is_seeded(sparse):
    opt = optim.REGISTRY["adagrad"](lr=0.3)
    run = problems.train(opt, sparse, 60, batch_size=16, seed=4)
    again = problems.train(opt, sparse, 60, batch_size=16, seed=4)
    other = problems.train(opt, sparse, 60, batch_size=16, seed=5)
    assert run.losses.shape == (61,) and not run.diverged
    assert run.losses[0] == pytest.approx(np.log(2) + 0.0)  # w = 0: every prediction is 1/2
    assert run.losses[-1] == pytest.approx(sparse.loss(run.w))
    np.testing.assert_array_equal(run.losses, again.losses)
    assert not np.array_equal(run.losses, other.losses)
    assert run.final(10) == pytest.approx(run.losses[-10:].mean())


def test_train_visits_every_row_once_per_epoch():
    class Counting:
        n_samples, dim = 10, 1

        def __init__(self):
            self.seen = []

        def loss(self, w):
            return 0.0

        def grad(self, w, rows):
            self.seen.extend(rows.tolist())
            return np.zeros(1)

    problem = Counting()
    problems.train(optim.REGISTRY["sgd"](lr=0.1), problem, 6, batch_size=5)  # 3 epochs
    for epoch in range(3):
        assert sorted(problem.seen[10 * epoch:10 * (epoch + 1)]) == list(range(10))


def test_train_with_full_batches_is_gradient_descent(sparse):
    lr, w = 0.5, np.zeros(sparse.dim)
    for _ in range(5):
        w = w - lr * sparse.grad(w)
    run = problems.train(optim.REGISTRY["sgd"](lr=lr), sparse, 5, batch_size=sparse.n_samples)
    np.testing.assert_allclose(run.w, w, rtol=1e-12)


def test_train_stops_a_diverging_run_and_pads_with_inf():
    q = landscapes.Quadratic([[1.0]])

    class Exploding:
        n_samples, dim = 4, 1

        def loss(self, w):
            return q.value(w)

        def grad(self, w, rows):
            return 1e200 * q.grad(w) if np.all(w != 0) else np.ones(1)

    run = problems.train(optim.REGISTRY["sgd"](lr=1.0), Exploding(), 10, batch_size=2)
    assert run.diverged and run.losses.shape == (11,)
    assert np.isinf(run.losses[-1]) and np.isfinite(run.losses[0])


def test_tune_lr_picks_the_lowest_final_loss_and_never_a_diverged_run(sparse):
    best, runs = problems.tune_lr(optim.REGISTRY["sgd"](), [0.01, 1.0, 1e4], sparse, 80, last=20)
    assert set(runs) == {0.01, 1.0, 1e4}
    assert runs[1e4].diverged or runs[1e4].final(20) > runs[1.0].final(20)
    assert best == 1.0
    with pytest.raises(ValueError, match="lrs must hold at least one learning rate"):
        problems.tune_lr(optim.REGISTRY["sgd"](), [], sparse, 10)


@pytest.mark.parametrize("seed", [0, 1])
def test_on_sparse_features_adaptive_methods_beat_tuned_sgd(seed):
    """The claim lesson 05 makes, on two seeds: each at the best lr of the same grid."""
    P = problems.sparse_logistic(seed=seed)
    w_star, loss_star = P.solve()
    lrs = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
    result = {}
    for name in ("sgd", "adagrad", "rmsprop"):
        best, runs = problems.tune_lr(optim.REGISTRY[name](), lrs, P, 500)
        run = runs[best]
        result[name] = (run.final() - loss_star, np.abs(run.w - w_star)[P.rare].mean())
    for name in ("adagrad", "rmsprop"):
        assert result[name][0] < 0.5 * result["sgd"][0]
        assert result[name][1] < result["sgd"][1]
