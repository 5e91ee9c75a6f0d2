"""Run one of our rules as a real `torch.optim.Optimizer`.

The rule is the same everywhere; three backends run it ("auto" picks one):

    "single"    one call per parameter: the rule exactly as on the slide
    "foreach"   one call per group over all its parameters at once (TensorList:
                each operator is one torch._foreach_* op)
    "compiled"  the single path compiled by inductor (torch.compile's compiler),
                new values written in place: the rule becomes one fused loop per
                tensor (fewer passes over memory than torch.optim's own step),
                after a compile of seconds
    "auto"      the default, per group and step (`auto_backend`): "foreach" for
                CUDA tensors (one kernel launch per operator instead of one per
                parameter); on a CPU "compiled" for a group of at least
                AUTO_COMPILE_ELEMENTS elements where inductor finds a C++
                compiler (else, and if the compile fails, "single"), "single"
                for smaller groups (their temporaries are small and a step is
                too short to pay for seconds of compiling)

All three compute the same numbers to round-off (tests/test_optim_backends.py).
"""
import functools

import torch

from .. import ops
from .multi_tensor import XP as FOREACH_XP, TensorList

BACKENDS = ("auto", "single", "foreach", "compiled")
# 2**19 elements: a group's temporaries in the single path are MBs in float32,
# past the L2 cache and freed back to the system by glibc, so every operator
# also pays page faults on fresh memory: at 1M parameters "single" measured
# 2-22x torch.optim's step, "compiled" 0.15-1.2x (README, Performance)
AUTO_COMPILE_ELEMENTS = 2 ** 19
AUTO_MAX_ARTIFACTS = 4  # "auto" compiles at most this many versions, then runs "single"


def auto_backend(device_type, elements, can_compile):
    """The backend "auto" runs for `elements` numbers on a `device_type` device."""
    if device_type == "cuda":
        return "foreach"
    if device_type == "cpu" and elements >= AUTO_COMPILE_ELEMENTS and can_compile:
        return "compiled"
    return "single"


@functools.cache
def can_compile():
    """Whether inductor can build CPU code here: torch.compile supports this
    Python and inductor finds a C++ compiler (it runs `g++ --version`, once)."""
    try:
        from torch._inductor.cpp_builder import get_cpp_compiler
        if not torch._dynamo.is_dynamo_supported():
            return False
        get_cpp_compiler()
        return True
    except Exception:  # noqa: BLE001 - any failure means: do not compile
        return False


class TorchOptimizer(torch.optim.Optimizer):
    """A torch optimizer whose update is `rule.step`, nothing else.

    Param groups may override any hyperparameter (and schedulers change
    `group["lr"]`), so each group gets a copy of the rule with its own values.
    The step counter is a Python int: no tensor, so no device sync.
    """

    def __init__(self, params, rule, backend="auto"):
        if backend not in BACKENDS:
            raise ValueError(f"{type(rule).__name__}.to_torch(): backend={backend!r} is not "
                             f"known; valid: {', '.join(map(repr, BACKENDS))}")
        self.rule, self.backend = rule, backend
        super().__init__(params, dict(rule.hparams))
        self._rules = {}
        self._hparam_names = tuple(k for k in rule.hparams if k != "lr")
        self._compiled = None  # built on first use: "compiled", or "auto" on a large group

    def _rule_for(self, group):
        # called every step: the key is a plain tuple of the values (repr for
        # unhashable ones), and the rule is built once per distinct set
        names = self._hparam_names
        try:
            key = tuple(group[k] for k in names)
            rule = self._rules.get(key)
        except TypeError:
            key = repr([group[k] for k in names])
            rule = self._rules.get(key)
        if rule is None:
            rule = self._rules[key] = self.rule.with_hparams(**{k: group[k] for k in names})
        return rule

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            rule = self._rule_for(group)
            batches = {}  # parameters that can share one call: same step, device, dtype
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                if grad.is_sparse:
                    raise ValueError(f"{type(rule).__name__}.to_torch() does not support sparse "
                                     "gradients; use dense embeddings (sparse=False)")
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state.update(rule.init_state(p, ops.get("torch")))
                state["step"] += 1
                params, states = batches.setdefault((state["step"], p.device, p.dtype), ([], []))
                params.append(p), states.append(state)
            for (t, device, _), (params, states) in batches.items():
                self._backend_step(device, params)(rule, params, states, t, group["lr"])
        return loss

    def _backend_step(self, device, params):
        backend = self.backend
        if backend == "auto":
            elements = sum(p.numel() for p in params)
            backend = auto_backend(device.type, elements,
                                   elements >= AUTO_COMPILE_ELEMENTS and can_compile())
        if backend != "compiled":
            return _BACKEND_STEP[backend]
        if self._compiled is None:  # "auto" falls back to "single" if the compile fails
            self._compiled = _Compiled(fallback=_single_step if self.backend == "auto" else None)
        return self._compiled


def _slots(state):
    return {k: v for k, v in state.items() if k != "step"}


def _single_step(rule, params, states, t, lr):
    xp = ops.get("torch")
    for p, state in zip(params, states):
        new_p, slots = rule.step(p, p.grad, _slots(state), t, lr, xp)
        p.copy_(new_p)
        state.update(slots)


def _foreach_step(rule, params, states, t, lr):
    keys = _slots(states[0])
    slots = {k: TensorList(s[k] for s in states) for k in keys}
    new_p, slots = rule.step(TensorList(params), TensorList(p.grad for p in params), slots, t,
                             lr, FOREACH_XP)
    torch._foreach_copy_(params, new_p.tensors)
    for key, values in slots.items():  # the new state tensors replace the old ones
        for state, value in zip(states, values):
            state[key] = value


def _in_place_step(rule, params, grads, slots, t, lr):
    """The single path, writing in place; returns the new 0-d state values.

    Those are assigned outside: copy_ into a 0-d float64 input is lost under
    torch.compile (torch 2.13, aot_eager and inductor alike), e.g. NAdam's μ product.
    """
    xp, scalars = ops.get("torch"), []
    for p, g, state in zip(params, grads, slots):
        new_p, new_state = rule.step(p, g, state, t, lr, xp)
        p.copy_(new_p)
        scalars.append({k: v for k, v in new_state.items() if v.ndim == 0})
        for key, value in new_state.items():
            if value.ndim:
                state[key].copy_(value)
    return scalars


COMPILE_OPTIONS = {"cpp_wrapper": True}


class _Compiled:
    """The in-place single path compiled by inductor, called without dynamo.

    All tensors of a group go through one call: `make_fx` traces the rule once
    into a graph over a flat list [params, grads, slots, t, lr] and inductor
    compiles it (each tensor's update fused into one loop). t and lr are 0-d
    float64 tensors, filled each step: a Python number would be baked in.

    The compiled code is called directly. torch.compile's dynamo costs ~20 µs
    a call in guards and wrappers (as long as plain SGD's whole update of 100k
    numbers); our check costs ~5 µs for 4 parameters: an artifact per (rule,
    slot names, dtype, device, shape and strides of every input), the
    properties the compiled loops assume (inductor's code also asserts shapes
    and strides before it writes anything). The rule's hyperparameters are
    constants in the code; each set of them has its own rule object
    (TorchOptimizer._rule_for), hence the rule in the key.

    With a `fallback` step (what "auto" passes), an error while compiling
    the first artifact is kept in `failure`, and this and every later step
    run the fallback instead. So does a run that keeps asking for new code:
    past AUTO_MAX_ARTIFACTS of them (a scheduler that changes the momentum every
    step, say) "auto" stops compiling, because each compile costs seconds.
    """

    def __init__(self, fallback=None):
        self.t, self.lr = torch.zeros((), dtype=torch.float64), torch.zeros((), dtype=torch.float64)
        self.fallback, self.failure, self.artifacts, self.last_lr = fallback, None, {}, None

    def __call__(self, rule, params, states, t, lr):
        if self.failure is not None:
            return self.fallback(rule, params, states, t, lr)
        names = tuple(k for k in states[0] if k != "step")
        args = [*params, *[p.grad for p in params], *[s[k] for s in states for k in names],
                self.t, self.lr]
        key = (rule, names, *[(a.dtype, a.device, a.shape, a.stride()) for a in args])
        found = self.artifacts.get(key)
        if found is None and self.fallback is not None \
                and len(self.artifacts) >= AUTO_MAX_ARTIFACTS:
            self.failure = RuntimeError(f"more than {AUTO_MAX_ARTIFACTS} compiled versions "
                                        "needed (hyperparameters or layouts keep changing)")
            return self.fallback(rule, params, states, t, lr)
        if found is None:
            try:
                found = self.artifacts[key] = _compile_in_place_step(rule, len(params), names,
                                                                     args)
            except Exception as error:  # noqa: BLE001 - only the first, only with a fallback
                if self.fallback is None or self.artifacts:
                    raise
                self.failure = error
                return self.fallback(rule, params, states, t, lr)
        compiled, outputs, uses_t = found
        if uses_t:  # plain SGD's rule does not read t; a fill costs ~1 µs
            self.t.fill_(t)
        if isinstance(lr, torch.Tensor) or lr != self.last_lr:  # a tensor may change in place
            self.lr.fill_(lr)
            self.last_lr = lr
        for (i, name), value in zip(outputs, compiled(*args)):
            states[i][name] = value


def _compile_in_place_step(rule, n, names, args):
    """(inductor's compiled `_in_place_step` over the flat `args`, where its
    outputs go: [(parameter index, slot name)] of the new 0-d state values,
    whether the code reads t)."""
    from torch._inductor import compile as inductor_compile
    from torch.fx.experimental.proxy_tensor import make_fx

    outputs = []

    def flat_step(*flat):
        slots = [dict(zip(names, flat[2 * n + i * len(names):2 * n + (i + 1) * len(names)]))
                 for i in range(n)]
        scalars = _in_place_step(rule, flat[:n], flat[n:2 * n], slots, flat[-2], flat[-1])
        outputs[:] = [(i, k) for i, values in enumerate(scalars) for k in values]
        return [v for values in scalars for v in values.values()]

    graph = make_fx(flat_step, tracing_mode="fake")(*args)
    uses_t = bool(graph.graph.find_nodes(op="placeholder")[-2].users)
    return inductor_compile(graph, args, options=COMPILE_OPTIONS), outputs, uses_t


_BACKEND_STEP = {"single": _single_step, "foreach": _foreach_step}
