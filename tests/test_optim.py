"""Our optimizers, step for step, against torch.optim and Keras (float64)."""
import math
import re

import numpy as np
import pytest
import torch

from lessons_lib import optim
from optim_cases import (Problem, run_keras, run_numpy, run_torch, sample_hparams,
                         relative_error)

NAMES = list(optim.REGISTRY)
REQUIRED = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam",
            "amsgrad", "adamw", "nadam", "adamax"]
TORCH_TOL = 1e-10
KERAS_TOL = 1e-10   # hyperparameters rounded to float32 first (see sample_hparams)
# Keras's Nadam computes μ_t with 0.96 cast through float32 (ops.cast of a Python
# float) but its running product Π_t with the exact 0.96: a 2e-8 inconsistency
# inside Keras itself, which no exact formula can follow.
KERAS_NADAM_TOL = 1e-7
SCALES = [1.0, 1e-6]

# Worst relative error per comparison; conftest.py prints it after the run.
WORST = {}


@pytest.fixture(autouse=True, scope="module")
def float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)   # torch keeps scalar state (NAdam's μ product) in it
    yield
    torch.set_default_dtype(previous)


def record(key, err):
    WORST[key] = max(WORST.get(key, 0.0), err)


def make(name, flavor, seed):
    rng = np.random.default_rng(seed)
    opt = optim.REGISTRY[name](flavor=flavor, **sample_hparams(name, flavor, rng))
    return optim.compare.float32_exact(opt)   # what Keras can hold exactly (see compare.py)


def test_registry_has_every_optimizer_of_the_course():
    assert set(REQUIRED) <= set(optim.REGISTRY)


@pytest.mark.parametrize("flavor", ["torch", "keras"])
@pytest.mark.parametrize("name", NAMES)
def test_flavor_has_its_own_framework_reference(name, flavor):
    opt = optim.REGISTRY[name](flavor=flavor)
    if flavor == "torch":
        assert opt.torch_reference([torch.zeros(2, requires_grad=True)]) is not None
    else:
        assert opt.keras_reference() is not None


def _cases(has_reference):
    """(name, flavor, scale, seed) where the framework has a built-in with our math."""
    return [(n, f, s, seed) for n in NAMES for f in ("torch", "keras") for s in SCALES
            for seed in (0, 1) if has_reference(make(n, f, seed))]


TORCH_CASES = _cases(lambda opt: opt.torch_equivalent() is not None)
KERAS_CASES = _cases(lambda opt: opt.keras_equivalent() is not None)


def test_every_torch_flavor_case_has_a_torch_reference_and_vice_versa():
    for flavor, cases in (("torch", TORCH_CASES), ("keras", KERAS_CASES)):
        covered = {(n, s, seed) for n, f, s, seed in cases if f == flavor}
        assert covered == {(n, s, seed) for n in NAMES for s in SCALES for seed in (0, 1)}


@pytest.mark.parametrize("name,flavor,scale,seed", TORCH_CASES)
def test_matches_torch_reference(name, flavor, scale, seed):
    opt = make(name, flavor, seed)
    problem = Problem(seed, scale)
    reference = run_torch(opt.torch_reference, problem)
    ours_numpy = run_numpy(opt, problem)
    ours_torch = run_torch(opt.to_torch, problem)
    err = max(relative_error(ours_numpy, reference),
              relative_error(ours_torch, reference))
    record(f"{name}/{flavor} vs torch", err)
    assert err < TORCH_TOL, f"{opt}: worst relative error {err:.2e}"


@pytest.mark.parametrize("name,flavor,scale,seed", KERAS_CASES)
def test_matches_keras_reference(name, flavor, scale, seed):
    opt = make(name, flavor, seed)
    problem = Problem(seed, scale)
    reference = run_keras(opt.keras_reference(), problem)
    ours = run_numpy(opt, problem)
    err = relative_error(ours, reference)
    record(f"{name}/{flavor} vs keras", err)
    assert err < (KERAS_NADAM_TOL if name == "nadam" else KERAS_TOL), f"{opt}: worst relative error {err:.2e}"


@pytest.mark.parametrize("flavor", ["torch", "keras"])
@pytest.mark.parametrize("name", NAMES)
def test_keras_adapter_matches_torch_adapter(name, flavor):
    """Our rule inside Keras and inside torch: the same numbers."""
    opt = make(name, flavor, seed=7)
    problem = Problem(7, 1.0)
    in_keras = run_keras(opt.to_keras(), problem)
    in_torch = run_torch(opt.to_torch, problem)
    err = relative_error(in_keras, in_torch)
    record(f"{name}/{flavor} keras-adapter vs torch-adapter", err)
    assert err < KERAS_TOL


@pytest.mark.parametrize("name", NAMES)
def test_numpy_path_matches_torch_path_in_default_configuration(name):
    problem = Problem(3, 1.0)
    opt = optim.REGISTRY[name]()
    assert relative_error(run_numpy(opt, problem), run_torch(opt.to_torch, problem)) < 1e-12


# --- the conventions the lessons talk about ---------------------------------

def _tiny_run(opt):
    return run_numpy(opt, Problem(5, 1e-6))


@pytest.mark.parametrize("name,option", [("adam", "eps_hat"), ("adagrad", "eps_inside_sqrt"),
                                         ("rmsprop", "eps_inside_sqrt"),
                                         ("adamax", "eps_inside_max")])
def test_epsilon_placement_changes_the_path_when_gradients_are_tiny(name, option):
    base = optim.REGISTRY[name](eps=1e-6)
    flipped = base.with_hparams(**{option: not base.hparams[option]})
    tiny = relative_error(_tiny_run(base), _tiny_run(flipped))
    big = Problem(5, 1.0)
    normal = relative_error(run_numpy(base, big), run_numpy(flipped, big))
    assert tiny > 1e-3 and tiny > 1000 * normal


def test_lr_in_buffer_is_the_same_for_constant_lr_and_differs_under_a_schedule():
    torch_style = optim.REGISTRY["momentum"](lr=0.05)
    keras_style = torch_style.with_hparams(lr_in_buffer=True)
    problem = Problem(2, 1.0)
    assert relative_error(run_numpy(torch_style, problem),
                                run_numpy(keras_style, problem)) < 1e-12

    def scheduled(opt):
        params, state, out = [p.copy() for p in problem.p0], opt.init(problem.p0), []
        for t in range(problem.steps):
            params, state = opt.update(params, problem.grads(params, t), state,
                                       lr=0.05 * 0.9 ** t)
            out.append(params)
        return out
    assert relative_error(scheduled(torch_style), scheduled(keras_style)) > 1e-3


def test_adamw_is_not_adam_with_l2():
    l2 = optim.REGISTRY["adam"](lr=0.01, weight_decay=0.1)
    decoupled = optim.REGISTRY["adamw"](lr=0.01, weight_decay=0.1)
    problem = Problem(4, 1.0)
    assert relative_error(run_numpy(l2, problem), run_numpy(decoupled, problem)) > 1e-3


def test_nadam_keras_flavor_has_an_exact_torch_reference():
    opt = optim.REGISTRY["nadam"](flavor="keras")
    assert opt.torch_equivalent()[1]["momentum_decay"] == 1.0


def test_references_that_would_only_be_close_are_none():
    assert optim.REGISTRY["adam"]().keras_reference() is None           # ε placement
    assert optim.REGISTRY["adagrad"](flavor="keras").torch_reference([torch.zeros(1)]) is None
    assert optim.REGISTRY["nadam"]().keras_reference() is None          # ψ = 0.004
    assert optim.REGISTRY["sgd"](weight_decay=0.1).keras_reference() is None  # L2 vs decoupled


# --- torch adapter: a real torch.optim.Optimizer ------------------------------

def test_torch_adapter_param_groups_match_reference():
    opt = optim.REGISTRY["adam"](lr=0.01)
    problem = Problem(6, 1.0)

    def groups(factory):
        return lambda params: factory([{"params": params[:1], "lr": 0.03, "betas": (0.8, 0.99)},
                                       {"params": params[1:], "weight_decay": 0.05}])
    ours = run_torch(groups(opt.to_torch), problem)
    reference = run_torch(groups(opt.torch_reference), problem)
    assert relative_error(ours, reference) < TORCH_TOL
    assert relative_error(ours, run_torch(opt.to_torch, problem)) > 1e-3


@pytest.mark.parametrize("name", NAMES)
def test_torch_adapter_state_dict_round_trip_resumes_exactly(name):
    opt = make(name, "torch", seed=11)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    x, y = torch.randn(32, 4), torch.randn(32, 1)

    def train(model, optimizer, steps):
        for _ in range(steps):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()

    import copy
    twin = copy.deepcopy(model)
    straight = opt.to_torch(model.parameters())
    train(model, straight, 20)

    first = opt.to_torch(twin.parameters())
    train(twin, first, 10)
    saved = copy.deepcopy(first.state_dict())
    resumed = opt.to_torch(twin.parameters())
    resumed.load_state_dict(saved)
    train(twin, resumed, 10)
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.equal(a, b)


# The test wraps optimizer.step to step the scheduler too, which torch warns about.
@pytest.mark.filterwarnings("ignore:Seems like `optimizer.step\\(\\)` has been overridden")
def test_torch_adapter_works_with_a_torch_scheduler():
    opt = optim.REGISTRY["momentum"](lr=0.1)
    problem = Problem(8, 1.0)

    def with_scheduler(factory):
        def build(params):
            optimizer = factory(params)
            scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=5, gamma=0.5)
            original = optimizer.step

            def step():
                original()
                scheduler.step()
            optimizer.step = step
            return optimizer
        return build
    assert relative_error(run_torch(with_scheduler(opt.to_torch), problem),
                                run_torch(with_scheduler(opt.torch_reference), problem)) < TORCH_TOL


@pytest.mark.gpu
@pytest.mark.parametrize("name", NAMES)
def test_torch_adapter_on_cuda_matches_cpu(name):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    opt = make(name, "torch", seed=5)
    problem = Problem(5, 1.0)
    on_gpu = run_torch(opt.to_torch, problem, device="cuda")
    assert relative_error(on_gpu, run_torch(opt.torch_reference, problem)) < 1e-9


@pytest.mark.gpu
def test_torch_adapter_step_does_not_sync_the_gpu():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    params = [torch.randn(100, device="cuda", requires_grad=True)]
    opt = optim.REGISTRY["nadam"]().to_torch(params)
    params[0].grad = torch.randn(100, device="cuda")
    opt.step()                              # first step creates the state
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(5):
            opt.step()
    finally:
        torch.cuda.set_sync_debug_mode("default")


# --- Keras adapter inside model.fit --------------------------------------------

@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
@pytest.mark.parametrize("name", ["momentum", "rmsprop", "adam", "nadam"])
def test_keras_adapter_inside_compiled_fit_matches_keras_builtin(name, jit):
    import keras
    opt = optim.REGISTRY[name](flavor="keras", lr=0.01)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 5)).astype("float32")
    y = (x @ rng.normal(size=(5, 1))).astype("float32")

    def train(optimizer):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="tanh"),
                                  keras.layers.Dense(1)])
        model.compile(optimizer=optimizer, loss="mse", jit_compile=jit)
        history = model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0)
        return model, history.history["loss"]
    ours, ours_loss = train(opt.to_keras())
    reference, ref_loss = train(opt.keras_reference())
    assert ours_loss[-1] < ours_loss[0]
    for a, b in zip(ours.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)


def test_keras_adapter_accepts_a_keras_schedule():
    import keras
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.9)
    opt = optim.REGISTRY["sgd"](flavor="keras")
    variable = keras.Variable(np.ones(2), dtype="float64")
    keras_opt = opt.to_keras(learning_rate=schedule)
    for _ in range(3):
        keras_opt.apply([keras.ops.ones(2, dtype="float64")], [variable])
    expected = 1 - float(np.float32(0.1)) * (1 + 0.9 + 0.81)
    np.testing.assert_allclose(variable.numpy(), expected, rtol=1e-6)


# --- minimize on NumPy ----------------------------------------------------------

class Bowl:
    """f(x) = ½ Σ a_i x_i², a small landscape defined here so the test owns it."""
    name, dim = "bowl", 2
    a = np.array([1.0, 10.0])

    def value(self, x):
        return 0.5 * float(np.sum(self.a * x * x))

    def grad(self, x):
        return self.a * x


def test_minimize_returns_the_whole_trajectory():
    path = optim.minimize(optim.REGISTRY["sgd"](lr=0.05), Bowl(), [1.0, 1.0], 30)
    assert path.shape == (31, 2)
    np.testing.assert_array_equal(path[0], [1.0, 1.0])
    # gradient descent on a quadratic: x_k = (1 − η a)^k x_0, coordinate by coordinate
    np.testing.assert_allclose(path[-1], (1 - 0.05 * Bowl.a) ** 30, rtol=1e-12)


def test_minimize_follows_a_schedule():
    path = optim.minimize(optim.REGISTRY["sgd"](lr=1.0), Bowl(), [1.0, 1.0], 3,
                          schedule=lambda k: 0.01 * (k + 1))
    expected = np.prod([1 - 0.01 * (k + 1) * Bowl.a for k in range(3)], axis=0)
    np.testing.assert_allclose(path[-1], expected, rtol=1e-12)


def test_minimize_stops_with_a_message_when_it_diverges():
    with pytest.raises(optim.DivergenceError, match=r"step \d+ with lr=0.5.*smaller"):
        optim.minimize(optim.REGISTRY["sgd"](lr=0.5), Bowl(), [1.0, 1.0], 10_000)
    path = optim.minimize(optim.REGISTRY["sgd"](lr=0.5), Bowl(), [1.0, 1.0], 10_000,
                          stop_on_divergence=False)
    assert np.all(np.isfinite(path)) and len(path) < 10_001


@pytest.mark.parametrize("x0,match", [([np.nan, 1.0], "x0 must be finite"),
                                      ([1.0, 2.0, 3.0], "x0 must be a 1-D array of length 2"),
                                      ([[1.0, 2.0]], "x0 must be a 1-D array")])
def test_minimize_rejects_bad_start(x0, match):
    with pytest.raises(ValueError, match=match):
        optim.minimize(optim.REGISTRY["adam"](), Bowl(), x0, 5)


@pytest.mark.parametrize("steps", [-1, 2.5, True])
def test_minimize_rejects_bad_steps(steps):
    with pytest.raises(ValueError, match="steps must be an integer >= 0"):
        optim.minimize(optim.REGISTRY["adam"](), Bowl(), [1.0, 1.0], steps)


# --- bad hyperparameters --------------------------------------------------------

@pytest.mark.parametrize("name,kwargs,match", [
    ("sgd", dict(lr=-0.1), r"lr=-0.1 is out of range; valid: lr in \[0, inf\)"),
    ("adam", dict(lr=math.nan), r"lr=nan is out of range"),
    ("adam", dict(lr=math.inf), r"lr=inf is out of range"),
    ("adam", dict(betas=(1.0, 0.999)), r"betas\[0\]=1.0 .*valid: betas\[0\] in \[0, 1\)"),
    ("adam", dict(betas=(0.9, -0.1)), r"betas\[1\]=-0.1"),
    ("adam", dict(betas=0.9), r"betas=0.9 must be a pair"),
    ("adamw", dict(eps=-1e-8), r"eps=-1e-08 is out of range; valid: eps in \[0, inf\)"),
    ("rmsprop", dict(weight_decay=-0.01), r"weight_decay=-0.01 is out of range"),
    ("momentum", dict(momentum=1.0), r"momentum=1.0 .*valid: momentum in \[0, 1\)"),
    ("sgd", dict(momentum=-0.5), r"momentum=-0.5"),
    ("sgd", dict(nesterov=True), r"nesterov=True needs momentum in \(0, 1\)"),
    ("rmsprop", dict(alpha=1.5), r"alpha=1.5 .*valid: alpha in \[0, 1\]"),
    ("adadelta", dict(rho=-0.1), r"rho=-0.1"),
    ("adagrad", dict(initial_accumulator_value=-1.0), r"initial_accumulator_value=-1.0"),
    ("adam", dict(learning_rate=0.1), r"unknown hyperparameter 'learning_rate'; valid: lr"),
])
def test_bad_hyperparameters_are_named_with_the_valid_range(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        optim.REGISTRY[name](**kwargs)


def test_unknown_flavor_and_unknown_name():
    with pytest.raises(ValueError, match=r"flavor='jax' is not known; valid flavors: 'torch', 'keras'"):
        optim.REGISTRY["adam"](flavor="jax")
    with pytest.raises(ValueError, match=r"unknown optimizer 'adamm'; valid: sgd, momentum"):
        optim.get("adamm")
    with pytest.raises(KeyError, match=r"unknown optimizer 'adamm'; valid: sgd, momentum.*"
                                       r"adamax; did you mean 'adam'\?"):
        optim.REGISTRY["adamm"]


def test_update_rejects_mismatched_params_and_grads():
    opt = optim.REGISTRY["adam"]()
    state = opt.init(np.zeros(3))
    with pytest.raises(ValueError, match=r"grads has shape \(2,\) but params has shape \(3,\)"):
        opt.update(np.zeros(3), np.zeros(2), state)
    with pytest.raises(ValueError, match="grads must be a list of 2 arrays"):
        opt.update([np.zeros(1), np.zeros(1)], [np.zeros(1)], opt.init([np.zeros(1)] * 2))


def test_torch_param_group_with_a_bad_value_is_rejected():
    opt = optim.REGISTRY["adam"]().to_torch([{"params": [torch.zeros(1, requires_grad=True)],
                                               "betas": (1.2, 0.9)}])
    opt.param_groups[0]["params"][0].grad = torch.ones(1)
    with pytest.raises(ValueError, match=r"betas\[0\]=1.2"):
        opt.step()


def test_steps_to_tolerance_and_race_on_a_quadratic():
    from lessons_lib import landscapes
    f = landscapes.REGISTRY["quadratic"]          # x², minimum 0 at 0
    # GD on x²: x_k = (1 − 2η)^k x_0, so f_k = (1 − 2η)^{2k} ≤ tol first at k = ⌈log tol / (2 log|1 − 2η|)⌉
    results = optim.race({"slow": optim.REGISTRY["sgd"](lr=0.05),
                          "fast": optim.REGISTRY["sgd"](lr=0.4),
                          "diverges": optim.REGISTRY["sgd"](lr=1.5)}, f, [1.0], 500, tol=1e-6)
    for label, lr in (("slow", 0.05), ("fast", 0.4)):
        expected = math.ceil(math.log(1e-6) / (2 * math.log(abs(1 - 2 * lr))))
        assert results[label][1] == expected
    assert results["diverges"][1] is None


def test_steps_to_tolerance_counts_staying_below_not_passing_through():
    from lessons_lib import landscapes
    f = landscapes.REGISTRY["quadratic"]
    path = np.array([[1.0], [1e-4], [0.5], [1e-4], [1e-5], [0.0]])
    assert optim.steps_to_tolerance(path, f, 1e-6) == 3
    assert optim.steps_to_tolerance(path[:3], f, 1e-6) is None


def test_tune_picks_the_learning_rate_that_settles_first():
    from lessons_lib import landscapes
    f = landscapes.REGISTRY["quadratic"]   # x²: GD at lr 0.5 lands on 0 in one step
    lr, path = optim.tune("sgd", f, [1.0], [0.1, 0.5, 0.9, 2.0], 100)
    assert lr == 0.5 and path[1, 0] == 0.0


# --- issue 14: arguments that used to slip through ------------------------------------------

def cases_of(kind):
    """(name, flavor, hyperparameter) of every optimizer whose default is of `kind`."""
    return [(name, flavor, key) for name in NAMES for flavor in ("torch", "keras")
            for key, default in optim.REGISTRY[name].defaults[flavor].items()
            if kind(default)]


SWITCHES = cases_of(lambda default: isinstance(default, bool))
NUMBERS = cases_of(lambda default: isinstance(default, (int, float, tuple))
                   and not isinstance(default, bool))


def test_the_switches_are_the_ones_the_rules_have():
    assert {key for _, _, key in SWITCHES} == {
        "nesterov", "amsgrad", "eps_hat", "lr_in_buffer", "decoupled_weight_decay", "centered",
        "eps_inside_sqrt", "eps_inside_max"}


@pytest.mark.parametrize("name,flavor,key", SWITCHES)
@pytest.mark.parametrize("value", ["False", 0])
def test_switches_must_be_true_or_false(name, flavor, key, value):
    # "False" is truthy: SGD(nesterov="False") used to switch Nesterov on.
    with pytest.raises(ValueError, match=rf"{key}={value!r} is an? {type(value).__name__}; "
                                         rf"valid: {key}=True or {key}=False"):
        optim.REGISTRY[name](flavor=flavor, **{key: value})


def test_numpy_bools_are_switches_too():
    opt = optim.REGISTRY["adam"](amsgrad=np.True_)
    assert "v_max" in opt.init(np.zeros(2))


@pytest.mark.parametrize("name,flavor,key", NUMBERS)
def test_numbers_given_as_strings_are_refused_with_a_hint(name, flavor, key):
    cls, default = optim.REGISTRY[name], optim.REGISTRY[name].defaults[flavor][key]
    given = tuple(map(str, default)) if isinstance(default, tuple) else str(default)
    if isinstance(default, tuple):                       # betas: each entry is checked
        key, default = f"{key}[0]", default[0]
    with pytest.raises(ValueError, match=rf"{cls.__name__}: {re.escape(key)}='{default}' is a "
                                         rf"str; give a number, e.g. {re.escape(key)}="
                                         rf"{float(default)!r} \(valid: "):
        cls(flavor=flavor, **{key.split("[")[0]: given})


def test_the_lr_string_message_reads_as_documented():
    with pytest.raises(ValueError) as error:
        optim.REGISTRY["adam"](lr="0.01")
    assert str(error.value) == ("Adam: lr='0.01' is a str; give a number, e.g. lr=0.01 "
                                "(valid: lr in [0, inf))")


@pytest.mark.parametrize("lr,match", [(-5, r"lr=-5 is out of range"),
                                      (math.nan, r"lr=nan is out of range"),
                                      ("0.1", r"lr='0.1' is a str")])
def test_update_refuses_a_bad_learning_rate(lr, match):
    # lr=-5 used to do gradient ascent: the constructor refuses it, so must update.
    opt = optim.REGISTRY["sgd"](lr=0.1)
    with pytest.raises(ValueError, match=rf"SGD: {match}.*valid: lr in \[0, inf\)"):
        opt.update(np.ones(2), np.ones(2), opt.init(np.ones(2)), lr=lr)
    with pytest.raises(ValueError, match=rf"SGD: {match}"):
        opt.update([np.ones(2)], [np.ones(2)], opt.init([np.ones(2)]), lr=lr)


def test_update_refuses_a_state_list_that_does_not_match_params():
    # zip() used to drop the parameters without a state: two in, one out.
    opt = optim.REGISTRY["adam"]()
    params = [np.ones(2), np.ones(3)]
    with pytest.raises(ValueError, match=r"Adam.update: state must be a list of 2 states \(from init\(params\)\) "
                                         r"to match params; got list of length 1"):
        opt.update(params, [np.ones(2), np.ones(3)], opt.init(params[:1]))
    with pytest.raises(ValueError, match=r"state must be a list of 2 .* got dict of length 3"):  # step, m, v
        opt.update(params, [np.ones(2), np.ones(3)], opt.init(params[0]))


@pytest.mark.parametrize("bad", [-0.01, math.nan, "0.01"])
def test_minimize_refuses_a_schedule_that_gives_a_bad_rate(bad):
    schedule = lambda k: 0.01 if k < 3 else bad
    with pytest.raises(ValueError, match=rf"schedule\(3\)={re.escape(repr(bad))} .*"
                                         r"valid: schedule\(3\) in \[0, inf\) \(a learning rate\)"):
        optim.minimize(optim.REGISTRY["sgd"](), Bowl(), [1.0, 1.0], 10, schedule=schedule)


@pytest.mark.parametrize("case", ["nan_gradient", "eps_zero_and_zero_gradient"])
def test_where_torch_gives_nan_we_give_the_same_nan(case):
    # Not validated on purpose: torch.optim.Adam does the same, and the course
    # matches the framework (a NaN gradient poisons m and v; eps=0 with g=0 is 0/0).
    g = np.array([np.nan, 1.0]) if case == "nan_gradient" else np.zeros(2)
    eps = 1e-8 if case == "nan_gradient" else 0.0
    ours = optim.REGISTRY["adam"](lr=0.1, eps=eps)
    with np.errstate(invalid="ignore"):                 # 0/0, as in torch
        p, _ = ours.update(np.ones(2), g, ours.init(np.ones(2)))
    weight = torch.ones(2, dtype=torch.float64, requires_grad=True)
    reference = torch.optim.Adam([weight], lr=0.1, eps=eps)
    weight.grad = torch.tensor(g)
    reference.step()
    np.testing.assert_array_equal(p, weight.detach().numpy())
    assert np.isnan(p[0])
