"""Training runs of the NumPy optimizers: trace, train, tune_lr, against minimize and by hand."""
import numpy as np
import pytest

from lessons_lib import landscapes, optim, studies


@pytest.fixture(scope="module")
def sparse():
    return landscapes.sparse_logistic(n_samples=600, n_common=4, n_rare=12, seed=3)


# -- trace ---------------------------------------------------------------------------------------

def test_trace_on_a_landscape_follows_minimize():
    f = landscapes.REGISTRY["rosenbrock"]
    opt = optim.REGISTRY["momentum"](lr=1e-3)
    record = studies.trace(opt, f, [-1.0, 2.0], 40)
    np.testing.assert_array_equal(record.path, optim.minimize(opt, f, [-1.0, 2.0], 40))
    np.testing.assert_array_equal(record.grads[3], f.grad(record.path[3]))
    np.testing.assert_allclose(record.step_sizes, np.linalg.norm(np.diff(record.path, axis=0), axis=1))


def test_effective_lr_of_sgd_is_the_learning_rate_and_of_adagrad_its_formula():
    q = landscapes.NoisyQuadratic([1.0, 10.0], noise=1.0, seed=0)
    sgd = studies.trace(optim.REGISTRY["sgd"](lr=0.05), q.grad, [3.0, 1.0], 30)
    np.testing.assert_allclose(sgd.effective_lr, 0.05, rtol=1e-9)
    lr, eps = 0.3, 1e-10
    ada = studies.trace(optim.REGISTRY["adagrad"](lr=lr, eps=eps), q.grad, [3.0, 1.0], 30)
    s = np.cumsum(ada.grads**2, axis=0)  # written from the definition, not from the library
    np.testing.assert_allclose(ada.effective_lr, lr / (np.sqrt(s) + eps), rtol=1e-7)
    assert np.all(np.diff(ada.effective_lr, axis=0) <= 0)


def test_trace_follows_a_schedule_and_marks_zero_gradients():
    record = studies.trace(optim.REGISTRY["sgd"](lr=1.0), lambda x, t: np.array([1.0, 0.0]),
                            [0.0, 0.0], 4, schedule=lambda t: 0.1 * (t + 1))
    np.testing.assert_allclose(record.effective_lr[:, 0], [0.1, 0.2, 0.3, 0.4])
    assert np.all(np.isnan(record.effective_lr[:, 1]))
    assert studies.trace(optim.REGISTRY["sgd"](lr=1.0), landscapes.REGISTRY["quadratic"], [1.0], 0).grads.shape == (0, 1)


def test_trace_rejects_a_bad_number_of_steps():
    with pytest.raises(ValueError, match=r"steps=-1 is out of range; valid: steps an integer >= 0"):
        studies.trace(optim.REGISTRY["sgd"](), landscapes.REGISTRY["quadratic"], [1.0], -1)


# -- train and tune_lr -----------------------------------------------------------------------------

def test_train_records_the_full_loss_after_every_step_and_is_seeded(sparse):
    opt = optim.REGISTRY["adagrad"](lr=0.3)
    run = studies.train(opt, sparse, 60, batch_size=16, seed=4)
    again = studies.train(opt, sparse, 60, batch_size=16, seed=4)
    other = studies.train(opt, sparse, 60, batch_size=16, seed=5)
    assert run.losses.shape == (61,) and not run.diverged
    assert run.losses[0] == pytest.approx(np.log(2) + 0.0)  # w = 0: every prediction is 1/2
    assert run.losses[-1] == pytest.approx(sparse.loss(run.params))
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
    studies.train(optim.REGISTRY["sgd"](lr=0.1), problem, 6, batch_size=5)  # 3 epochs
    for epoch in range(3):
        assert sorted(problem.seen[10 * epoch:10 * (epoch + 1)]) == list(range(10))


def test_train_with_full_batches_is_gradient_descent(sparse):
    lr, w = 0.5, np.zeros(sparse.dim)
    for _ in range(5):
        w = w - lr * sparse.grad(w)
    run = studies.train(optim.REGISTRY["sgd"](lr=lr), sparse, 5, batch_size=sparse.n_samples)
    np.testing.assert_allclose(run.params, w, rtol=1e-12)


def test_train_stops_a_diverging_run_and_pads_with_inf():
    q = landscapes.Quadratic([[1.0]])

    class Exploding:
        n_samples, dim = 4, 1

        def loss(self, w):
            return q.value(w)

        def grad(self, w, rows):
            return 1e200 * q.grad(w) if np.all(w != 0) else np.ones(1)

    run = studies.train(optim.REGISTRY["sgd"](lr=1.0), Exploding(), 10, batch_size=2)
    assert run.diverged and run.losses.shape == (11,)
    assert np.isinf(run.losses[-1]) and np.isfinite(run.losses[0])


def test_tune_lr_picks_the_lowest_final_loss_and_never_a_diverged_run(sparse):
    best, runs = studies.tune_lr(optim.REGISTRY["sgd"](), [0.01, 1.0, 1e4], sparse, 80, last=20)
    assert set(runs) == {0.01, 1.0, 1e4}
    assert runs[1e4].diverged or runs[1e4].final(20) > runs[1.0].final(20)
    assert best == 1.0
    with pytest.raises(ValueError, match="lrs must hold at least one learning rate"):
        studies.tune_lr(optim.REGISTRY["sgd"](), [], sparse, 10)


@pytest.mark.parametrize("seed", [0, 1])
def test_on_sparse_features_adaptive_methods_beat_tuned_sgd(seed):
    """The claim lesson 05 makes, on two seeds: each at the best lr of the same grid."""
    P = landscapes.sparse_logistic(seed=seed)
    w_star, loss_star = P.solve()
    lrs = [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0]
    result = {}
    for name in ("sgd", "adagrad", "rmsprop"):
        best, runs = studies.tune_lr(optim.REGISTRY[name](), lrs, P, 500)
        run = runs[best]
        result[name] = (run.final() - loss_star, np.abs(run.params - w_star)[P.rare].mean())
    for name in ("adagrad", "rmsprop"):
        assert result[name][0] < 0.5 * result["sgd"][0]
        assert result[name][1] < result["sgd"][1]
