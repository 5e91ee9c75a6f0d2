"""Every backend of the torch adapter runs the same rule: "single" (one parameter
at a time), "foreach" (TensorList, all at once) and "compiled" (torch.compile)
agree with each other and with torch.optim to round-off, in float64."""
import math

import pytest
import torch

from lessons_lib import optim
from lessons_lib.optim import torch_adapter
from lessons_lib.optim.multi_tensor import XP, TensorList

NAMES = list(optim.REGISTRY)


def _train(make_optimizer, steps=12, groups=True, seed=0):
    """Three parameters in two groups (the second with its own lr and weight
    decay), a LambdaLR schedule, and one parameter without a gradient on some
    steps (so that its step count falls behind the others')."""
    g = torch.Generator().manual_seed(seed)
    params = [torch.randn(shape, generator=g, dtype=torch.float64).requires_grad_()
              for shape in [(3, 4), (5,), (2,)]]
    spec = ([{"params": params[:2]}, {"params": params[2:], "lr": 3e-3, "weight_decay": 0.05}]
            if groups else params)
    optimizer = make_optimizer(spec)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 1 / (1 + 0.1 * t))
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # NAdam's 0-d state: torch keeps it in the default
    try:
        for t in range(steps):
            for i, p in enumerate(params):
                skipped = groups and i == 1 and t % 3 == 1
                p.grad = None if skipped else torch.sin(3 * p.detach() + t + i)
            optimizer.step()
            scheduler.step()
    finally:
        torch.set_default_dtype(previous)
    return torch.cat([p.detach().flatten() for p in params])


def _rel(a, b):
    return ((a - b).norm() / b.norm()).item()


@pytest.mark.parametrize("name", NAMES)
def test_foreach_and_single_match_each_other_and_torch_optim(name):
    rule = optim.REGISTRY[name](weight_decay=0.01)
    single = _train(lambda p: rule.to_torch(p, backend="single"))
    foreach = _train(lambda p: rule.to_torch(p, backend="foreach"))
    reference = _train(rule.torch_reference)
    assert _rel(foreach, single) < 1e-14
    assert torch.equal(_train(rule.to_torch), single)  # auto: single for small CPU groups
    assert _rel(single, reference) < 1e-12
    assert _rel(single, _train(lambda p: rule.to_torch(p, backend="single"), groups=False)) > 1e-6


@pytest.mark.parametrize("name", NAMES)
def test_foreach_matches_single_in_the_keras_flavor(name):
    rule = optim.REGISTRY[name](flavor="keras", weight_decay=0.01)
    assert _rel(_train(lambda p: rule.to_torch(p, backend="foreach")),
                _train(lambda p: rule.to_torch(p, backend="single"))) < 1e-14


@pytest.mark.parametrize("name", NAMES)
def test_compiled_matches_single_and_torch_optim(name):
    rule = optim.REGISTRY[name](weight_decay=0.01)
    compiled = _train(lambda p: rule.to_torch(p, backend="compiled"), groups=False)
    single = _train(lambda p: rule.to_torch(p, backend="single"), groups=False)
    assert _rel(compiled, single) < 1e-12
    assert _rel(compiled, _train(rule.torch_reference, groups=False)) < 1e-12


def test_compiled_with_param_groups_and_missing_grads():
    rule = optim.REGISTRY["nadam"](weight_decay=0.01)  # with a 0-d state, NAdam's μ product
    assert _rel(_train(lambda p: rule.to_torch(p, backend="compiled")),
                _train(rule.torch_reference)) < 1e-12


def test_compiled_state_dict_round_trip_resumes_exactly():
    def params():
        return [torch.arange(6.0, dtype=torch.float64).reshape(2, 3).requires_grad_()]

    def steps(optimizer, p, ts):
        for t in ts:
            p[0].grad = torch.cos(p[0].detach() + t)
            optimizer.step()

    rule = optim.REGISTRY["adam"]()
    straight = params()
    steps(rule.to_torch(straight, backend="compiled"), straight, range(6))
    first = params()
    opt = rule.to_torch(first, backend="compiled")
    steps(opt, first, range(3))
    resumed = rule.to_torch(first, backend="compiled")
    resumed.load_state_dict(opt.state_dict())
    steps(resumed, first, range(3, 6))
    assert torch.equal(first[0], straight[0])


def test_auto_picks_foreach_on_cuda_compiled_for_large_cpu_groups_else_single():
    large = torch_adapter.AUTO_COMPILE_ELEMENTS
    picks = {(device, elements, compiles): torch_adapter.auto_backend(device, elements, compiles)
             for device in ("cuda", "cpu", "mps") for elements in (10, large - 1, large)
             for compiles in (True, False)}
    assert {k for k, v in picks.items() if v == "foreach"} == {k for k in picks if k[0] == "cuda"}
    assert {k for k, v in picks.items() if v == "compiled"} == {("cpu", large, True)}


def test_auto_on_a_small_group_runs_single_without_compiling():
    rule = optim.REGISTRY["adam"]()
    params = [torch.randn(4, 3, requires_grad=True)]
    opt = rule.to_torch(params)
    params[0].grad = torch.ones(4, 3)
    opt.step()
    assert opt._compiled is None


def test_auto_compiles_a_large_cpu_group_and_matches_torch_optim(monkeypatch):
    monkeypatch.setattr(torch_adapter, "AUTO_COMPILE_ELEMENTS", 10)  # 3x4 + 5 + 2 parameters
    rule = optim.REGISTRY["adam"](weight_decay=0.01)
    made = []
    auto = _train(lambda p: made.append(rule.to_torch(p)) or made[-1], groups=False)
    assert len(made[0]._compiled.artifacts) == 1 and made[0]._compiled.failure is None
    assert _rel(auto, _train(rule.torch_reference, groups=False)) < 1e-12


def test_auto_falls_back_to_single_without_a_compiler(monkeypatch):
    monkeypatch.setattr(torch_adapter, "AUTO_COMPILE_ELEMENTS", 10)
    monkeypatch.setattr(torch_adapter, "can_compile", lambda: False)
    rule = optim.REGISTRY["nadam"](weight_decay=0.01)
    made = []
    auto = _train(lambda p: made.append(rule.to_torch(p)) or made[-1])
    assert made[0]._compiled is None
    assert torch.equal(auto, _train(lambda p: rule.to_torch(p, backend="single")))


def test_auto_falls_back_to_single_when_the_compile_fails_but_compiled_raises(monkeypatch):
    def failing_compile(graph, inputs, options=None):
        raise torch._inductor.exc.InvalidCxxCompiler()

    monkeypatch.setattr(torch_adapter, "AUTO_COMPILE_ELEMENTS", 10)
    monkeypatch.setattr(torch._inductor, "compile", failing_compile)
    rule = optim.REGISTRY["rmsprop"](weight_decay=0.01)
    made = []
    auto = _train(lambda p: made.append(rule.to_torch(p)) or made[-1])
    assert isinstance(made[0]._compiled.failure, torch._inductor.exc.InvalidCxxCompiler)
    assert torch.equal(auto, _train(lambda p: rule.to_torch(p, backend="single")))
    with pytest.raises(torch._inductor.exc.InvalidCxxCompiler):
        _train(lambda p: rule.to_torch(p, backend="compiled"))


def test_compiled_recompiles_when_a_layout_or_dtype_changes():
    """The compiled code is called without dynamo's guards: our key must see a
    parameter turned non-contiguous (new strides) and one turned float64."""
    def run(backend):
        params = [torch.arange(12.0).reshape(3, 4).requires_grad_(),
                  torch.ones(5, requires_grad=True)]
        opt = optim.REGISTRY["momentum"](lr=0.1).to_torch(params, backend=backend)
        for t in range(6):
            if t == 2:
                params[0].data = params[0].data.t().contiguous().t()  # same values, strides (1, 3)
            if t == 4:
                params[1].data = params[1].data.double()
                opt.state[params[1]]["buffer"] = opt.state[params[1]]["buffer"].double()
            for p in params:
                p.grad = torch.cos(p.detach() + t)
            opt.step()
        return opt, [p.detach().clone() for p in params]

    compiled, got = run("compiled")
    # both parameters, then new strides; then float32 and float64 run apart (two batches)
    assert len(compiled._compiled.artifacts) == 4
    assert got[0].stride() == (1, 3) and got[1].dtype == torch.float64
    for ours, single in zip(got, run("single")[1]):
        assert torch.allclose(ours, single, rtol=1e-6, atol=0)


def test_auto_stops_compiling_when_the_hyperparameters_change_every_step(monkeypatch):
    """A momentum changed every step (one-cycle's cycle_momentum) makes a new rule, and
    each rule its own compiled code: "auto" compiles AUTO_MAX_ARTIFACTS, then runs single."""
    monkeypatch.setattr(torch_adapter, "AUTO_COMPILE_ELEMENTS", 10)

    def run(backend):
        params = [torch.linspace(-1, 1, 12).requires_grad_()]
        opt = optim.REGISTRY["momentum"](lr=0.1).to_torch(params, backend=backend)
        for t in range(8):
            opt.param_groups[0]["momentum"] = 0.9 - 0.01 * t
            params[0].grad = torch.cos(params[0].detach() + t)
            opt.step()
        return opt, params[0].detach()

    auto, got = run("auto")
    assert len(auto._compiled.artifacts) == torch_adapter.AUTO_MAX_ARTIFACTS
    assert "more than 4 compiled versions" in str(auto._compiled.failure)
    assert torch.allclose(got, run("single")[1], rtol=1e-6, atol=1e-7)


def test_unknown_backend_is_named():
    valid = r"'auto', 'single', 'foreach', 'compiled'"
    with pytest.raises(ValueError, match=r"backend='fused'.*" + valid):
        optim.REGISTRY["sgd"]().to_torch([torch.zeros(1, requires_grad=True)], backend="fused")


def test_tensor_list_arithmetic_is_elementwise_over_the_list():
    a = TensorList([torch.tensor([1.0, 4.0]), torch.tensor([9.0])])
    b = TensorList([torch.tensor([2.0, 2.0]), torch.tensor([3.0])])
    cases = {"a + b": (a + b, [[3, 6], [12]]), "1 - a": (1 - a, [[0, -3], [-8]]),
             "2 / a": (2 / a, [[2, 0.5], [2 / 9]]), "a ** 0.5": (a ** 0.5, [[1, 2], [3]]),
             "2 ** b": (2 ** b, [[4, 4], [8]]), "-a * b": (-a * b, [[-2, -8], [-27]]),
             "sqrt": (XP.sqrt(a), [[1, 2], [3]]), "max": (XP.maximum(a, b), [[2, 4], [9]])}
    for label, (got, want) in cases.items():
        for tensor, values in zip(got, want):
            assert torch.allclose(tensor, torch.tensor(values, dtype=tensor.dtype)), label


def test_tensor_list_rejects_arrays_it_cannot_spread_over_the_list():
    with pytest.raises(TypeError, match="TensorList or a number; got ndarray"):
        TensorList([torch.zeros(2)]) * __import__("numpy").zeros(2)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("backend", ["foreach", "compiled"])
def test_backends_on_cuda_match_cpu(backend):
    rule = optim.REGISTRY["adam"](weight_decay=0.01)
    params = [torch.randn(64, 32, dtype=torch.float64) for _ in range(3)]
    results = {}
    for device in ("cpu", "cuda"):
        ps = [p.to(device).requires_grad_() for p in params]
        opt = rule.to_torch(ps, backend=backend)
        for t in range(5):
            for p in ps:
                p.grad = torch.sin(p.detach() + t)
            opt.step()
        results[device] = torch.cat([p.detach().cpu().flatten() for p in ps])
    assert _rel(results["cuda"], results["cpu"]) < 1e-12
    assert math.isfinite(results["cuda"].sum().item())
