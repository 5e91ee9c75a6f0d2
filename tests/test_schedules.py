"""Learning-rate schedules: our formulas against torch's and Keras's built-ins,
our torch/Keras adapters, resuming, validation, and the LR range test."""
import io
import json
import math
import subprocess
import sys

import keras
import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes, load_digits

from lessons_lib.schedules import REGISTRY, get, lr_range_test

EXTRA = 5  # steps checked past total_steps

# (name, kwargs): every schedule at its defaults (T = 100), plus variants with
# an awkward T and non-default parameters, so that no default hides a mismatch.
CASES = [(name, {}) for name in REGISTRY] + [
    ("step", dict(total_steps=37, step_size=7, gamma=0.5)),
    ("multistep", dict(total_steps=37, milestones=[3, 20, 36], gamma=0.3)),
    ("exponential", dict(total_steps=37, gamma=0.9)),
    ("inverse_time", dict(total_steps=37, k=0.5)),
    ("polynomial", dict(total_steps=37, power=2.0)),
    ("polynomial", dict(total_steps=37, power=0.5, end_lr=0.01)),
    ("cosine", dict(total_steps=37, min_lr=0.01)),
    ("warmup_cosine", dict(total_steps=37, warmup_steps=0, min_lr=0.001)),
    ("warmup_cosine", dict(total_steps=37, warmup_steps=12, min_lr=0.005, warmup_start_lr=0.02)),
    ("warmup_cosine", dict(total_steps=37, warmup_steps=12, warmup_start_lr=0.0)),
    ("cosine_restarts", dict(total_steps=37, period=7)),
    ("cosine_restarts", dict(total_steps=37, period=5, mult=2, min_lr=0.001)),
    ("cosine_restarts", dict(total_steps=100, period=2, mult=3)),
    ("cyclical", dict(total_steps=37, step_size=5, min_lr=0.0)),
    ("one_cycle", dict(total_steps=37, anneal_strategy="linear")),
    ("one_cycle", dict(total_steps=37, pct_start=0.25, three_phase=True)),
    ("one_cycle", dict(total_steps=37, pct_start=0.5, div_factor=10.0, final_div_factor=100.0,
                       three_phase=True, anneal_strategy="linear")),
]


def make(name, kwargs):
    return REGISTRY[name](**{"lr": 0.1, "total_steps": 100, **kwargs})


def case_id(case):
    name, kwargs = case
    return name + "".join(f"-{k}={v}" for k, v in kwargs.items())


def has_torch_reference(s):
    """Where torch has a built-in for our formula (see each class's docstring)."""
    if s.name == "inverse_time":
        return False
    if s.name == "polynomial":
        return s.end_lr == 0
    if s.name == "warmup_cosine":
        return s.warmup_steps == 0 or s.warmup_start_lr > 0
    return True


def has_keras_reference(s):
    return s.name not in ("cyclical", "one_cycle")


def torch_horizon(s):
    """How many steps the torch reference agrees for (documented per class)."""
    T = s.total_steps
    if s.name in ("cosine", "warmup_cosine"):
        return T + 1  # CosineAnnealingLR is periodic: it rises again after T
    if s.name == "one_cycle":
        return T  # OneCycleLR refuses to step past T
    return T + EXTRA


def ours(s, n):
    return np.array([s(t) for t in range(n)])


def torch_rates(make_scheduler, n, groups=1):
    """lr of each step (read before the step), a scheduler stepped once per batch."""
    params = [torch.nn.Parameter(torch.zeros(1, dtype=torch.float64)) for _ in range(groups)]
    # A different starting lr: the scheduler must set the schedule's own.
    optimizer = torch.optim.SGD([{"params": [p]} for p in params], lr=123.0)
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(n):
        rates.append([group["lr"] for group in optimizer.param_groups])
        optimizer.step()  # no gradients: nothing moves, but torch sees the right call order
        scheduler.step()
    return np.array(rates)


def assert_torch_close(actual, expected, lr):
    # torch's chainable forms agree to round-off; near a zero rate only absolutely.
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-14 * lr)


def assert_keras_close(actual, expected, lr):
    # Keras computes in float32: a few ulps of the peak rate.
    np.testing.assert_allclose(actual, expected, rtol=1e-6, atol=1e-6 * lr)


# -- the registry and the formulas ---------------------------------------------------
def test_registry_has_the_required_schedules():
    required = {"constant", "step", "multistep", "exponential", "inverse_time", "polynomial",
                "cosine", "warmup_cosine", "cyclical", "one_cycle"}
    assert required <= set(REGISTRY)
    for name, cls in REGISTRY.items():
        assert cls.name == name and isinstance(get(name), cls)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_defaults_give_rates_in_0_to_lr(name):
    s = REGISTRY[name](lr=0.1, total_steps=100)
    rates = ours(s, 100 + EXTRA)
    assert all(type(s(t)) is float for t in (0, 99, 104))
    # every update of the run moves; past the run a rate may have decayed to 0
    assert np.all(rates[:100] > 0) and np.all(rates >= 0) and np.all(rates <= 0.1 * (1 + 1e-15))
    assert type(s)(**s.get_config())(57) == s(57)


def test_formulas_at_landmark_steps():
    lr, T = 0.1, 100
    assert get("step")(33) == lr and get("step")(34) == pytest.approx(lr * 0.1)  # s = ⌈T/3⌉
    assert [get("multistep")(t) for t in (49, 50, 75)] == pytest.approx([lr, lr / 10, lr / 100])
    assert get("exponential")(T) == pytest.approx(lr / 100)
    assert get("inverse_time")(T) == pytest.approx(lr / 10)
    assert get("polynomial", power=2.0)(T // 2) == pytest.approx(lr / 4)
    assert get("cosine", min_lr=0.02)(T // 2) == pytest.approx((lr + 0.02) / 2)
    warm = get("warmup_cosine")  # W = 10, start lr/(W+1)
    assert [warm(t) for t in (0, 4, 10)] == pytest.approx([lr / 11, lr * 5 / 11, lr])
    assert warm(55) == pytest.approx(lr / 2)
    cyc = get("cyclical")  # s = 25, min lr/10
    assert [cyc(t) for t in (0, 25, 50, 60, 75)] == pytest.approx([lr / 10, lr, lr / 10,
                                                                  lr / 10 + 0.09 * 0.4, lr])
    one = get("one_cycle")  # peak at e1 = 0.3·T − 1 = 29
    assert [one(0), one(29), one(T - 1)] == pytest.approx([lr / 25, lr, lr / 25 / 1e4])
    assert max(ours(one, T)) == one(29)
    assert [one.momentum(t) for t in (0, 29, T - 1)] == pytest.approx([0.95, 0.85, 0.95])
    sgdr = get("cosine_restarts")  # P = 25: back at lr every 25 steps
    assert [sgdr(t) for t in (0, 25, 50, 75)] == [lr] * 4
    assert sgdr(24) == pytest.approx(lr / 2 * (1 + math.cos(math.pi * 24 / 25)))
    doubling = get("cosine_restarts", period=10, mult=2)  # cycles of 10, 20, 40: S = 10, 30, 70
    assert [doubling(t) for t in (10, 30, 70)] == [lr] * 3
    assert doubling(29) < lr / 100 and doubling(20) == pytest.approx(lr / 2)


def test_behaviour_past_total_steps():
    T = 100
    for name in ("polynomial", "cosine", "warmup_cosine"):
        s = get(name, min_lr=0.01) if name != "polynomial" else get(name, end_lr=0.01)
        assert [s(T + j) for j in range(EXTRA)] == [0.01] * EXTRA
    one = get("one_cycle")
    assert [one(T + j) for j in range(EXTRA)] == [one(T - 1)] * EXTRA
    cyc = get("cyclical")
    assert [cyc(t + 50) for t in range(T)] == pytest.approx([cyc(t) for t in range(T)])
    for name in ("exponential", "inverse_time", "step"):
        tail = ours(get(name), 3 * T)[T:]
        assert np.all(tail > 0) and np.all(np.diff(tail) <= 0) and tail[-1] < tail[0]


# -- the built-in references ------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_references_exist_exactly_where_documented(case):
    s = make(*case)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    ref = s.torch_reference(optimizer)
    assert (ref is not None) == has_torch_reference(s)
    if ref is not None:
        assert isinstance(ref, torch.optim.lr_scheduler.LRScheduler)
        assert not isinstance(ref, torch.optim.lr_scheduler.LambdaLR)
        assert type(ref).__module__ == "torch.optim.lr_scheduler"
    kref = s.keras_reference()
    assert (kref is not None) == has_keras_reference(s)
    if kref is not None:
        assert type(kref).__module__.startswith("keras.src.optimizers.schedules")


@pytest.mark.parametrize("case", [c for c in CASES if has_torch_reference(make(*c))], ids=case_id)
def test_matches_torch_reference(case):
    s = make(*case)
    n = torch_horizon(s)
    assert_torch_close(torch_rates(s.torch_reference, n)[:, 0], ours(s, n), s.lr)


@pytest.mark.parametrize("case", [c for c in CASES if has_keras_reference(make(*c))], ids=case_id)
def test_matches_keras_reference(case):
    s = make(*case)
    ref = s.keras_reference()
    n = s.total_steps + EXTRA
    assert_keras_close([float(ref(t)) for t in range(n)], ours(s, n), s.lr)


# -- our adapters ------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_to_torch_runs_our_formula(case):
    s = make(*case)
    n = s.total_steps + EXTRA
    scheduler = s.to_torch(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0))
    assert isinstance(scheduler, torch.optim.lr_scheduler.LRScheduler)
    assert not isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR)
    rates = torch_rates(s.to_torch, n, groups=2)
    np.testing.assert_array_equal(rates, np.stack([ours(s, n)] * 2, axis=1))


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_to_keras_runs_our_formula(case):
    s = make(*case)
    n = s.total_steps + EXTRA
    schedule = s.to_keras()
    assert isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule)
    # Keras passes optimizer.iterations, an int64 tensor.
    got = [float(schedule(keras.ops.convert_to_tensor(t, dtype="int64"))) for t in range(n)]
    assert_keras_close(got, ours(s, n), s.lr)


@pytest.mark.parametrize("name", list(REGISTRY))
def test_to_keras_inside_compiled_fit(name):
    """In a compiled fit the step is a symbolic tensor. With w·1 as the model and
    mean(prediction) as the loss every gradient is 1, so plain SGD leaves
    w = −Σ_t η_t: the weight itself proves which rates the graph used."""
    s = REGISTRY[name](lr=0.1, total_steps=10)
    n, batch = 12, 4  # past total_steps too
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((1,)),
                              keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
    optimizer = keras.optimizers.SGD(learning_rate=s.to_keras())
    model.compile(optimizer=optimizer, loss=lambda y, prediction: keras.ops.mean(prediction))
    x = np.ones((n * batch, 1), dtype="float32")
    model.fit(x, x, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    assert int(optimizer.iterations) == n
    assert_keras_close(float(optimizer.learning_rate), s(n), s.lr)
    weight = float(model.layers[0].kernel.numpy()[0, 0])
    np.testing.assert_allclose(weight, -sum(s(t) for t in range(n)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("case", CASES[:len(REGISTRY)] + [CASES[-1]], ids=case_id)
def test_keras_schedule_config_round_trips_through_json(case):
    s = make(*case)
    schedule = s.to_keras()
    saved = json.dumps(keras.optimizers.schedules.serialize(schedule))  # as model.save does
    restored = keras.optimizers.schedules.deserialize(json.loads(saved))
    assert type(restored) is type(schedule) and restored.schedule.get_config() == s.get_config()
    steps = keras.ops.arange(s.total_steps + EXTRA)
    np.testing.assert_array_equal(restored(steps), schedule(steps))


def test_to_torch_state_dict_resumes_at_the_right_step():
    s = get("warmup_cosine", total_steps=30)

    def fresh():
        params = [torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(1))]
        optimizer = torch.optim.SGD([{"params": [p]} for p in params], lr=1.0, momentum=0.9)
        return optimizer, s.to_torch(optimizer)

    def run(optimizer, scheduler, steps):
        rates = []
        for _ in range(steps):
            rates.append([group["lr"] for group in optimizer.param_groups])
            optimizer.step()
            scheduler.step()
        return rates

    uninterrupted = run(*fresh(), 30)
    optimizer, scheduler = fresh()
    first = run(optimizer, scheduler, 13)
    buffer = io.BytesIO()
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}, buffer)
    buffer.seek(0)
    checkpoint = torch.load(buffer, weights_only=True)  # plain numbers only
    optimizer, scheduler = fresh()
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    assert scheduler.last_epoch == 13 and scheduler.schedule is s
    assert first + run(optimizer, scheduler, 17) == uninterrupted


@pytest.mark.parametrize("case", [c for c in CASES if c[0] == "one_cycle"], ids=case_id)
def test_one_cycle_momentum_matches_torch_cycle_momentum(case):
    s = make(*case)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1, momentum=0.9)
    torch_cycle = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=s.lr, total_steps=s.total_steps, pct_start=s.pct_start,
        anneal_strategy=s.anneal_strategy, div_factor=s.div_factor,
        final_div_factor=s.final_div_factor, three_phase=s.three_phase,
        cycle_momentum=True, base_momentum=0.8, max_momentum=0.97)
    s = type(s)(**{**s.get_config(), "base_momentum": 0.8, "max_momentum": 0.97})
    for t in range(s.total_steps):
        group = optimizer.param_groups[0]
        assert math.isclose(group["momentum"], s.momentum(t), rel_tol=1e-12)
        assert math.isclose(group["lr"], s(t), rel_tol=1e-9, abs_tol=1e-15)
        optimizer.step()
        torch_cycle.step()


# -- validation --------------------------------------------------------------------------
@pytest.mark.parametrize("name, kwargs, named", [
    ("cosine", dict(lr=-0.1), "lr=-0.1"),
    ("constant", dict(lr=0.0), "lr=0.0"),
    ("cosine", dict(total_steps=0), "total_steps=0"),
    ("step", dict(total_steps=-5), "total_steps=-5"),
    ("exponential", dict(total_steps=10.5), "total_steps=10.5"),
    ("step", dict(step_size=0), "step_size=0"),
    ("step", dict(gamma=0.0), "gamma=0.0"),
    ("step", dict(gamma=1.5), "gamma=1.5"),
    ("multistep", dict(gamma=-0.1), "gamma=-0.1"),
    ("multistep", dict(milestones=[50, 30]), "milestones=[50, 30]"),
    ("multistep", dict(milestones=[30, 30]), "milestones=[30, 30]"),
    ("multistep", dict(milestones=[0, 30]), "milestones=[0, 30]"),
    ("multistep", dict(milestones=[30, 101]), "milestones=[30, 101]"),
    ("multistep", dict(milestones=[]), "milestones=[]"),
    ("exponential", dict(gamma=0.0), "gamma=0.0"),
    ("inverse_time", dict(k=-1.0), "k=-1.0"),
    ("polynomial", dict(power=0.0), "power=0.0"),
    ("polynomial", dict(end_lr=-0.01), "end_lr=-0.01"),
    ("polynomial", dict(end_lr=0.5), "end_lr=0.5"),
    ("cosine", dict(min_lr=0.2), "min_lr=0.2"),
    ("warmup_cosine", dict(warmup_steps=101), "warmup_steps=101"),
    ("warmup_cosine", dict(warmup_steps=100), "warmup_steps=100"),
    ("warmup_cosine", dict(warmup_steps=-1), "warmup_steps=-1"),
    ("warmup_cosine", dict(warmup_start_lr=-0.01), "warmup_start_lr=-0.01"),
    ("cyclical", dict(step_size=0), "step_size=0"),
    ("cyclical", dict(min_lr=0.5), "min_lr=0.5"),
    ("one_cycle", dict(pct_start=0.0), "pct_start=0.0"),
    ("one_cycle", dict(pct_start=1.0), "pct_start=1.0"),
    ("one_cycle", dict(pct_start=0.6, three_phase=True), "pct_start=0.6"),
    ("one_cycle", dict(total_steps=3), "pct_start=0.3"),
    ("one_cycle", dict(div_factor=0.5), "div_factor=0.5"),
    ("one_cycle", dict(final_div_factor=0.0), "final_div_factor=0.0"),
    ("one_cycle", dict(anneal_strategy="cosine"), "anneal_strategy='cosine'"),
    ("one_cycle", dict(total_steps=1), "total_steps=1"),
    ("one_cycle", dict(three_phase="False"), "three_phase='False'"),
    ("cosine_restarts", dict(period=0), "period=0"),
    ("cosine_restarts", dict(mult=0), "mult=0"),
    ("cosine_restarts", dict(mult=1.5), "mult=1.5"),
    ("cosine_restarts", dict(min_lr=0.2), "min_lr=0.2"),
    ("one_cycle", dict(max_momentum=1.0), "max_momentum=1.0"),
    ("one_cycle", dict(base_momentum=0.99), "base_momentum=0.99"),
    ("cosine", dict(lr="0.1"), "lr='0.1'"),
    ("cosine", dict(total_steps="100"), "total_steps='100'"),
    ("step", dict(gamma=True), "gamma=True"),
])
def test_invalid_parameters_are_named_with_value_and_range(name, kwargs, named):
    with pytest.raises(ValueError) as error:
        REGISTRY[name](**{"lr": 0.1, "total_steps": 100, **kwargs})
    assert named in str(error.value) and "valid" in str(error.value)


def test_one_cycle_with_one_step_blames_total_steps():
    # It used to blame pct_start, whose valid range (1/T, 1) is empty when T = 1.
    with pytest.raises(ValueError) as error:
        get("one_cycle", total_steps=1)
    assert str(error.value) == ("OneCycle: total_steps=1 is out of range; valid: total_steps an "
                                "integer >= 2 (the warm-up and the annealing phase each need a "
                                "step)")
    with pytest.raises(ValueError, match=r"OneCycle: pct_start=0.3 is out of range; valid: "
                                         r"pct_start in \(0.333333, 1\) \(with total_steps=3, each "
                                         r"phase needs at least one step\)"):
        get("one_cycle", total_steps=3)
    assert get("one_cycle", total_steps=2, pct_start=0.6)(1) == pytest.approx(0.1 / 25 / 1e4)


def test_one_cycle_three_phase_must_be_a_bool():
    # "False" is truthy: it used to switch the third phase on.
    with pytest.raises(ValueError, match=r"OneCycle: three_phase='False' is a str; "
                                         r"valid: three_phase=True or three_phase=False"):
        get("one_cycle", three_phase="False")


@pytest.mark.parametrize("step", [-1, 2.5, "3"])
def test_invalid_step(step):
    with pytest.raises(ValueError, match=r"step=.*valid: step an integer >= 0"):
        get("cosine")(step)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError) as error:
        get("linear_warmup")
    assert "'linear_warmup'" in str(error.value)
    assert all(name in str(error.value) for name in REGISTRY)
    with pytest.raises(KeyError, match=r"unknown schedule 'onecycle'; valid: constant, .*; "
                                       r"did you mean 'one_cycle'\?"):
        REGISTRY["onecycle"]


# -- the learning-rate range test --------------------------------------------------------
def diabetes_loader():
    x, y = load_diabetes(return_X_y=True)
    x = torch.tensor((x - x.mean(0)) / x.std(0), dtype=torch.float32)
    y = torch.tensor((y - y.mean()) / y.std(), dtype=torch.float32)[:, None]
    data = torch.utils.data.TensorDataset(x, y)
    return x, y, torch.utils.data.DataLoader(data, batch_size=32, shuffle=True,
                                             generator=torch.Generator().manual_seed(0))


def train(model, optimizer, loss_fn, loader, epochs):
    for _ in range(epochs):
        for xb, yb in loader:
            optimizer.zero_grad()
            loss_fn(model(xb), yb).backward()
            optimizer.step()


def test_range_test_on_linear_regression_stops_at_divergence_and_restores():
    torch.manual_seed(0)
    x, y, loader = diabetes_loader()
    model, loss_fn = torch.nn.Linear(10, 1), torch.nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    before = {k: v.clone() for k, v in model.state_dict().items()}

    result = lr_range_test(model, loss_fn, loader, optimizer=optimizer, steps=100)

    # exponentially spaced from start_lr; stopped once the loss blew up
    n = len(result.lrs)
    assert 10 < n < 100 and len(result.losses) == n
    np.testing.assert_allclose(result.lrs, 1e-7 * 1e8 ** (np.arange(n) / 99), rtol=1e-12)
    assert result.losses[-1] > 4 * result.losses.min()
    assert result.suggestion == pytest.approx(result.lrs[np.argmin(result.losses)] / 10)
    # everything restored: weights, optimizer state and lr, train mode
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert optimizer.state_dict()["state"] == {} and optimizer.param_groups[0]["lr"] == 0.5
    assert model.training

    # the suggestion trains well
    with torch.no_grad():
        initial = loss_fn(model(x), y).item()
    for group in optimizer.param_groups:
        group["lr"] = result.suggestion
    train(model, optimizer, loss_fn, loader, epochs=5)
    with torch.no_grad():
        final = loss_fn(model(x), y).item()
    assert final < 0.5 * initial


def test_range_test_on_logistic_regression_with_an_optimizer_factory():
    x, y = load_digits(return_X_y=True)
    x = torch.tensor((x - x.mean(0)) / (x.std(0) + 1e-8), dtype=torch.float32)
    y = torch.tensor(y)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64,
                                         shuffle=True, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model, loss_fn = torch.nn.Linear(64, 10), torch.nn.CrossEntropyLoss()
    model.eval()
    factory = lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9)  # noqa: E731
    result = lr_range_test(model, loss_fn, loader, optimizer=factory, steps=60)
    assert not model.training  # mode restored
    assert 1e-7 <= result.suggestion <= 10
    with torch.no_grad():
        initial = loss_fn(model(x), y).item()
    optimizer = torch.optim.SGD(model.parameters(), lr=result.suggestion, momentum=0.9)
    train(model, optimizer, loss_fn, loader, epochs=3)
    with torch.no_grad():
        assert loss_fn(model(x), y).item() < 0.2 * initial


def test_range_test_stops_when_a_one_shot_iterator_runs_out():
    torch.manual_seed(0)
    _, _, loader = diabetes_loader()
    batches = iter(list(loader)[:5])
    result = lr_range_test(torch.nn.Linear(10, 1), torch.nn.MSELoss(), batches, steps=50)
    assert len(result.lrs) == 5


def test_range_test_restores_the_model_when_training_fails():
    torch.manual_seed(0)
    _, _, loader = diabetes_loader()
    model = torch.nn.Linear(10, 1)
    before = [p.detach().clone() for p in model.parameters()]
    calls = []

    def failing_loss(prediction, target):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("boom")
        return torch.nn.functional.mse_loss(prediction, target)

    with pytest.raises(RuntimeError, match="boom"):
        lr_range_test(model, failing_loss, loader, start_lr=0.1, end_lr=1.0, steps=10)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


@pytest.mark.parametrize("kwargs, parameter", [
    (dict(start_lr=0.0), "start_lr"), (dict(start_lr=1.0, end_lr=0.1), "end_lr"),
    (dict(steps=1), "steps"), (dict(smooth=0.0), "smooth"), (dict(diverge_factor=1.0),
                                                             "diverge_factor"),
    (dict(start_lr="1e-7"), r"start_lr='1e-7' is a str; give a number, e.g. start_lr=1e-07"),
    (dict(end_lr="10"), r"end_lr='10' is a str"), (dict(smooth="0.05"), "smooth='0.05' is a str"),
    (dict(steps=100.0), r"steps=100.0 is out of range; valid: steps an integer >= 2"),
    (dict(diverge_factor=None), r"diverge_factor=None is out of range"),
])
def test_range_test_validates_its_arguments(kwargs, parameter):
    with pytest.raises(ValueError, match=parameter):
        lr_range_test(torch.nn.Linear(1, 1), torch.nn.MSELoss(), [], **kwargs)


def test_importing_schedules_imports_neither_framework():
    # Lessons on NumPy alone must not pay for torch/TensorFlow start-up.
    code = ("import sys, lessons_lib.schedules as s; s.get('cosine')(3); "
            "assert 'torch' not in sys.modules and 'keras' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
