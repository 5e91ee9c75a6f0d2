"""lessons_lib.tuning: the trial function, the Optuna adapter, the searches and
the trials-to-target measurement."""
import math

import numpy as np
import pytest

optuna = pytest.importorskip("optuna")

from lessons_lib import tuning  # noqa: E402

MOMENTUM = {"momentum": 0.9}


def test_the_trial_is_a_deterministic_function_of_params_and_seed():
    a = tuning.train_and_validate({"lr": 0.5, **MOMENTUM}, epochs=2)
    assert a == tuning.train_and_validate({"lr": 0.5, **MOMENTUM}, epochs=2)
    assert a != tuning.train_and_validate({"lr": 0.5, **MOMENTUM}, epochs=2, seed=1)
    assert 0 < a < math.log(10)


def test_a_tiny_learning_rate_stays_near_a_guess_and_a_huge_one_reports_the_cap():
    assert abs(tuning.train_and_validate({"lr": 1e-6}) - math.log(10)) < 1e-3
    assert tuning.train_and_validate({"lr": 100.0, **MOMENTUM}) == tuning.DIVERGED


def test_report_is_called_every_epoch_and_can_stop_the_trial():
    seen = []
    tuning.train_and_validate({"lr": 0.1}, epochs=4, report=lambda e, v: seen.append((e, v)))
    assert [e for e, _ in seen] == [1, 2, 3, 4]
    assert seen[-1][1] < seen[0][1]

    class Stop(Exception):
        pass

    def stop_at_two(epoch, loss):
        if epoch == 2:
            raise Stop
    with pytest.raises(Stop):
        tuning.train_and_validate({"lr": 0.1}, epochs=4, report=stop_at_two)


def test_the_test_split_is_separate_and_only_used_on_request():
    x, y, x_val, y_val, x_test, y_test = tuning.digits_splits()
    assert (len(x), len(x_val), len(x_test)) == (1077, 360, 360)
    params = {"lr": 0.5, **MOMENTUM}
    assert tuning.train_and_validate(params) != \
        tuning.train_and_validate(params, evaluate_on="test")


def test_the_optuna_objective_calls_the_same_trial_function():
    calls = []

    def trial_function(params, *, report, epochs):
        calls.append(dict(params))
        report(1, params["lr"])
        return params["lr"] + params["momentum"]
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(tuning.optuna_objective(params=MOMENTUM, trial_function=trial_function,
                                           epochs=3), n_trials=3)
    assert len(calls) == 3 and all(c["momentum"] == 0.9 for c in calls)
    assert all(1e-4 <= c["lr"] <= 10 for c in calls)
    assert [t.value for t in study.trials] == [c["lr"] + 0.9 for c in calls]
    assert all(t.user_attrs["epochs"] == 1 for t in study.trials)


def test_grid_points_are_log_spaced_on_log_axes():
    points = tuning.grid_points({"lr": (1e-4, 1.0, "log"), "m": (0.0, 0.9, "linear")}, 5)
    assert np.allclose(points["lr"], [1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    assert np.allclose(points["m"], [0.0, 0.225, 0.45, 0.675, 0.9])


def test_each_search_is_seeded_and_the_grid_visits_its_points_once():
    grid = tuning.search("grid", budget=6, seed=0, params=MOMENTUM, epochs=1)
    lrs = sorted(t.params["lr"] for t in grid.trials)
    assert np.allclose(lrs, np.geomspace(1e-4, 10.0, 6))
    for method in ("random", "tpe"):
        one = tuning.values(tuning.search(method, budget=6, seed=3, epochs=1))
        again = tuning.values(tuning.search(method, budget=6, seed=3, epochs=1))
        assert np.array_equal(one, again)
    with pytest.raises(ValueError, match="grid"):
        tuning.make_sampler("bayes", seed=0)


def test_trials_to_target():
    assert tuning.trials_to_target([0.5, 0.3, 0.1, 0.05], 0.2) == 3
    assert tuning.trials_to_target([0.5, 0.3], 0.2) is None
    assert tuning.trials_to_target([np.inf, 0.1], 0.1) == 2


def test_trials_to_target_table_counts_misses_as_budget_plus_one():
    table = tuning.trials_to_target_table(["random"], budget=4, target=-1.0, seeds=range(3),
                                          epochs=1)
    row = table.row(search="random")
    assert row["median trials"] == 5 and row["reached"] == "0 of 3"
    assert table.raw["random"] == [None, None, None]


def test_pruning_stops_trials_early_and_counts_the_epochs():
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    full = tuning.search("random", budget=10, seed=0, params=MOMENTUM, epochs=4)
    pruned = tuning.search("random", budget=10, seed=0, params=MOMENTUM, epochs=4,
                           pruner=pruner)
    assert tuning.epochs_spent(pruned) < tuning.epochs_spent(full) <= 40
    assert any(t.state.name == "PRUNED" for t in pruned.trials)
    assert np.isinf(tuning.values(pruned)).any()


def test_seeds_needed():
    a, b = np.array([1.0, 1.2, 0.8, 1.0]), np.array([2.0, 2.2, 1.8, 2.0])
    spread = a.var(ddof=1) + b.var(ddof=1)
    assert tuning.seeds_needed(a, b) == max(2, math.ceil(4 * spread / 1.0))
    assert tuning.seeds_needed(a, b + 10) == 2
    assert tuning.seeds_needed(a, a) == math.inf


def test_batch_size_and_weight_decay_are_hyperparameters_of_the_trial():
    base = {"lr": 0.5, **MOMENTUM}
    assert tuning.train_and_validate({**base, "batch_size": 32}) == \
        tuning.train_and_validate(base, batch_size=32)
    assert tuning.train_and_validate({**base, "batch_size": 32}) != \
        tuning.train_and_validate(base)
    assert tuning.train_and_validate({**base, "weight_decay": 1e-2}) > \
        tuning.train_and_validate(base)          # a strong L2 pull costs fit in 3 epochs


def test_the_adam_option_is_torch_adam():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0, grads = rng.normal(size=5), rng.normal(size=(4, 5))
    w, m, v = w0.copy(), np.zeros(5), np.zeros(5)
    ref = torch.tensor(w0, requires_grad=True)
    opt = torch.optim.Adam([ref], lr=0.1, betas=(0.8, 0.99), eps=1e-3)
    for step, g in enumerate(grads, start=1):
        w, m, v = tuning._adam(w, g, m, v, 0.1, 0.8, 0.99, 1e-3, step)
        ref.grad = torch.tensor(g)
        opt.step()
    assert np.allclose(w, ref.detach().numpy(), rtol=0, atol=1e-12)


def test_the_trial_trains_with_adam_and_its_hyperparameters():
    adam = {"lr": 0.1, "optimizer": "adam"}
    loss = tuning.train_and_validate(adam)
    assert loss < 0.3 and loss != tuning.train_and_validate({"lr": 0.1})
    assert loss == tuning.train_and_validate({**adam, "momentum": 0.5})   # unused
    assert loss == tuning.train_and_validate({**adam, "beta1": 0.9, "beta2": 0.999,
                                              "eps": 1e-8})              # the defaults
    for name, value in (("beta1", 0.0), ("beta2", 0.9), ("eps", 0.1)):
        assert tuning.train_and_validate({**adam, name: value}) != loss
    with pytest.raises(ValueError, match="adam"):
        tuning.train_and_validate({"lr": 0.1, "optimizer": "lbfgs"})
