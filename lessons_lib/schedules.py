"""Learning-rate schedules as pure functions of the step, and the LR range test.

A schedule is a callable `sched(step) -> lr` where step 0 is the first update.
Each formula is written once, in `formula(t, xp)`, against an array namespace
`xp` from `lessons_lib.ops`, so the same lines run

* on NumPy/Python scalars, for `sched(step)` and the torch adapter, and
* on `keras.ops` tensors inside a compiled `model.fit` (the step is then a
  symbolic tensor: formulas branch with `xp.where`, never with Python `if`).

    sched.to_torch(optimizer)       a torch LRScheduler running our formula
    sched.to_keras()                a Keras LearningRateSchedule running our formula
    sched.torch_reference(optimizer)  the built-in torch scheduler giving the
                                      same rates, or None where torch has none
    sched.keras_reference()           the same for keras.optimizers.schedules

Conventions shared by every schedule: `lr` is the peak learning rate
(η₀ below), `total_steps` is T, the number of updates the run makes (steps
0 … T−1). Where torch and Keras differ in a detail, the formula is chosen so
that the built-in references match it exactly; each docstring says where a
reference stops agreeing (some references compute past T what we do not).

torch schedulers are stepped once per batch: after k calls to
`scheduler.step()` the optimizer's lr is `sched(k)`. Keras calls the schedule
with `optimizer.iterations`, which is 0 for the first update, so it matches
step 0 here. torch's built-ins update some rates recursively (the "chainable"
form), so they agree with our closed forms to round-off, not bit for bit; Keras
computes in float32.
"""
import copy
import functools
import inspect
import math
import numbers
import operator
from dataclasses import dataclass

import numpy as np

from . import ops
from .checks import Registry
from .checks import check_bool as _check_bool
from .checks import check_int as _check_int
from .checks import check_range as _check_range


# -- validation ---------------------------------------------------------------------
def _as_step(step):
    """The step as a Python int >= 0, or a ValueError saying what a step is."""
    try:
        t = operator.index(step)
    except TypeError:
        raise ValueError(f"step={step!r} is not valid; valid: step an integer >= 0 "
                         "(0 = the first update)") from None
    if t < 0:
        raise ValueError(f"step={t} is out of range; valid: step an integer >= 0 "
                         "(0 = the first update)")
    return t


def _set_base_lr(optimizer, lr):
    """Make `lr` the base learning rate that a torch built-in scheduler starts from.

    Built-ins scale the optimizer's own lr; ours is absolute, so the reference
    starts from the same number whatever lr the optimizer was created with.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
        group["initial_lr"] = lr


# -- the shared shape ----------------------------------------------------------------
class Schedule:
    """Base class: a subclass sets `name`, stores its parameters under the names
    its `__init__` takes (that is its config), and writes `formula`."""

    name = ""

    def __init__(self, lr, total_steps):
        _check_range(self, "lr", lr, 0, low_open=True)
        _check_int(self, "total_steps", total_steps, 1)
        self.lr = float(lr)
        self.total_steps = int(total_steps)

    def formula(self, t, xp):
        """η_t for a float step t (a NumPy scalar or a Keras tensor)."""
        raise NotImplementedError

    def __call__(self, step):
        return float(self.formula(np.float64(_as_step(step)), ops.NUMPY))

    def get_config(self):
        """The constructor arguments (defaults resolved): `type(s)(**s.get_config())` is `s`."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {p: getattr(self, p) for p in names}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    # -- frameworks ------------------------------------------------------------
    def to_torch(self, optimizer):
        """A torch `LRScheduler` running this formula; step it once per batch.

        After k calls to `step()` every param group's lr is `self(k)`: the rate
        is absolute, whatever lr the optimizer was created with.
        """
        return _torch_scheduler_class()(optimizer, self)

    def to_keras(self):
        """A Keras `LearningRateSchedule` running this formula (graph-safe)."""
        return _keras_schedule_class()(self)

    def torch_reference(self, optimizer):
        """The built-in torch scheduler yielding the same rates, or None."""
        return None

    def keras_reference(self):
        """The built-in `keras.optimizers.schedules` class yielding the same rates, or None."""
        return None


# -- the schedules --------------------------------------------------------------------
class Constant(Schedule):
    """η_t = η₀ for every t.

    torch: ConstantLR with factor 1. Keras has no constant schedule class (a
    float is its constant); ExponentialDecay with decay_rate 1 yields η₀ exactly.
    """

    name = "constant"

    def __init__(self, lr=0.1, total_steps=100):
        super().__init__(lr, total_steps)

    def formula(self, t, xp):
        return self.lr

    def torch_reference(self, optimizer):
        from torch.optim.lr_scheduler import ConstantLR
        _set_base_lr(optimizer, self.lr)
        return ConstantLR(optimizer, factor=1.0, total_iters=self.total_steps)

    def keras_reference(self):
        from keras.optimizers.schedules import ExponentialDecay
        return ExponentialDecay(self.lr, decay_steps=1, decay_rate=1.0)


class StepDecay(Schedule):
    """η_t = η₀ · γ^⌊t / s⌋: multiply by γ every s steps (s = step_size).

    Default s = ⌈T/3⌉, so a run has three plateaus η₀, γη₀, γ²η₀; γ = 0.1.
    Past T the formula simply continues (it never reaches 0).
    torch: StepLR. Keras: ExponentialDecay(staircase=True).
    """

    name = "step"

    def __init__(self, lr=0.1, total_steps=100, step_size=None, gamma=0.1):
        super().__init__(lr, total_steps)
        if step_size is None:
            step_size = -(-self.total_steps // 3)
        _check_int(self, "step_size", step_size, 1)
        _check_range(self, "gamma", gamma, 0, 1, low_open=True)
        self.step_size, self.gamma = int(step_size), float(gamma)

    def formula(self, t, xp):
        return self.lr * xp.power(self.gamma, xp.floor(t / self.step_size))

    def torch_reference(self, optimizer):
        from torch.optim.lr_scheduler import StepLR
        _set_base_lr(optimizer, self.lr)
        return StepLR(optimizer, step_size=self.step_size, gamma=self.gamma)

    def keras_reference(self):
        from keras.optimizers.schedules import ExponentialDecay
        return ExponentialDecay(self.lr, decay_steps=self.step_size, decay_rate=self.gamma,
                                staircase=True)


class MultiStep(Schedule):
    """η_t = η₀ · γ^(number of milestones m with m ≤ t).

    Default milestones at 50% and 75% of T, γ = 0.1; after the last milestone
    the rate holds. torch: MultiStepLR. Keras: PiecewiseConstantDecay, whose
    value changes one step *after* a boundary, hence boundaries m − 1.
    """

    name = "multistep"

    def __init__(self, lr=0.1, total_steps=100, milestones=None, gamma=0.1):
        super().__init__(lr, total_steps)
        if milestones is None:
            milestones = sorted({max(1, self.total_steps // 2), max(1, 3 * self.total_steps // 4)})
        milestones = tuple(milestones)
        ok = len(milestones) > 0 and all(
            isinstance(m, numbers.Integral) and 1 <= m <= self.total_steps for m in milestones)
        if not ok or any(a >= b for a, b in zip(milestones, milestones[1:])):
            raise ValueError(f"MultiStep: milestones={list(milestones)!r} is out of range; valid: "
                             f"a non-empty strictly increasing list of integers in "
                             f"[1, total_steps = {self.total_steps}]")
        _check_range(self, "gamma", gamma, 0, 1, low_open=True)
        self.milestones, self.gamma = tuple(int(m) for m in milestones), float(gamma)

    def formula(self, t, xp):
        passed = sum(xp.where(t >= m, 1.0, 0.0) for m in self.milestones)
        return self.lr * xp.power(self.gamma, passed)

    def torch_reference(self, optimizer):
        from torch.optim.lr_scheduler import MultiStepLR
        _set_base_lr(optimizer, self.lr)
        return MultiStepLR(optimizer, milestones=list(self.milestones), gamma=self.gamma)

    def keras_reference(self):
        from keras.optimizers.schedules import PiecewiseConstantDecay
        values = [self.lr * self.gamma ** i for i in range(len(self.milestones) + 1)]
        return PiecewiseConstantDecay([m - 1 for m in self.milestones], values)


class Exponential(Schedule):
    """η_t = η₀ · γ^t, computed as η₀ · exp(t · ln γ).

    Default γ = 0.01^(1/T): the rate falls 100-fold over the run. Past T the
    formula continues. torch: ExponentialLR(γ). Keras: ExponentialDecay with
    decay_steps = T and decay_rate = γ^T (the per-step γ rounded to float32 and
    raised to t would drift by ~t·1e-7; γ^T raised to t/T does not).
    """

    name = "exponential"

    def __init__(self, lr=0.1, total_steps=100, gamma=None):
        super().__init__(lr, total_steps)
        if gamma is None:
            gamma = 0.01 ** (1 / self.total_steps)
        _check_range(self, "gamma", gamma, 0, 1, low_open=True)
        self.gamma = float(gamma)

    def formula(self, t, xp):
        # exp(t ln γ) rather than γ**t: same math, and in float32 (Keras) ln γ
        # carries the rounding once instead of compounding it t times.
        return self.lr * xp.exp(t * math.log(self.gamma))

    def torch_reference(self, optimizer):
        from torch.optim.lr_scheduler import ExponentialLR
        _set_base_lr(optimizer, self.lr)
        return ExponentialLR(optimizer, gamma=self.gamma)

    def keras_reference(self):
        from keras.optimizers.schedules import ExponentialDecay
        return ExponentialDecay(self.lr, decay_steps=self.total_steps,
                                decay_rate=self.gamma ** self.total_steps)


class InverseTime(Schedule):
    """η_t = η₀ / (1 + k·t), the classic 1/t decay of stochastic approximation.

    Default k = 9/T: the rate at the end of the run is η₀/10. Past T it keeps
    decaying. torch has no built-in for it (only LambdaLR): torch_reference is
    None. Keras: InverseTimeDecay(decay_steps=1, decay_rate=k).
    """

    name = "inverse_time"

    def __init__(self, lr=0.1, total_steps=100, k=None):
        super().__init__(lr, total_steps)
        if k is None:
            k = 9 / self.total_steps
        _check_range(self, "k", k, 0, low_open=True)
        self.k = float(k)

    def formula(self, t, xp):
        return self.lr / (1 + self.k * t)

    def keras_reference(self):
        from keras.optimizers.schedules import InverseTimeDecay
        return InverseTimeDecay(self.lr, decay_steps=1, decay_rate=self.k)


class Polynomial(Schedule):
    """η_t = η_end + (η₀ − η_end) · (1 − min(t, T)/T)^p.

    Defaults p = 1 (linear decay, both frameworks' default), η_end = 0; from
    T on the rate holds η_end. torch: PolynomialLR, which always decays to 0,
    so torch_reference is None when end_lr > 0. Keras: PolynomialDecay.
    """

    name = "polynomial"

    def __init__(self, lr=0.1, total_steps=100, power=1.0, end_lr=0.0):
        super().__init__(lr, total_steps)
        _check_range(self, "power", power, 0, low_open=True)
        _check_range(self, "end_lr", end_lr, 0, self.lr)
        self.power, self.end_lr = float(power), float(end_lr)

    def formula(self, t, xp):
        remaining = 1 - xp.minimum(t, self.total_steps) / self.total_steps
        return (self.lr - self.end_lr) * xp.power(remaining, self.power) + self.end_lr

    def torch_reference(self, optimizer):
        if self.end_lr != 0:
            return None
        from torch.optim.lr_scheduler import PolynomialLR
        _set_base_lr(optimizer, self.lr)
        return PolynomialLR(optimizer, total_iters=self.total_steps, power=self.power)

    def keras_reference(self):
        from keras.optimizers.schedules import PolynomialDecay
        return PolynomialDecay(self.lr, decay_steps=self.total_steps,
                               end_learning_rate=self.end_lr, power=self.power)


class Cosine(Schedule):
    """η_t = η_min + ½(η₀ − η_min)(1 + cos(π · min(t, T)/T)).

    Default η_min = 0. From T on the rate holds η_min. torch:
    CosineAnnealingLR(T_max=T, eta_min), which agrees for t ≤ T and then rises
    again (it is periodic); Keras: CosineDecay with alpha = η_min/η₀ (it holds).
    """

    name = "cosine"

    def __init__(self, lr=0.1, total_steps=100, min_lr=0.0):
        super().__init__(lr, total_steps)
        _check_range(self, "min_lr", min_lr, 0, self.lr)
        self.min_lr = float(min_lr)

    def formula(self, t, xp):
        progress = xp.minimum(t, self.total_steps) / self.total_steps
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (1 + xp.cos(math.pi * progress))

    def torch_reference(self, optimizer):
        from torch.optim.lr_scheduler import CosineAnnealingLR
        _set_base_lr(optimizer, self.lr)
        return CosineAnnealingLR(optimizer, T_max=self.total_steps, eta_min=self.min_lr)

    def keras_reference(self):
        from keras.optimizers.schedules import CosineDecay
        return CosineDecay(self.lr, decay_steps=self.total_steps, alpha=self.min_lr / self.lr)


class WarmupCosine(Schedule):
    """Linear warmup over W steps, then cosine decay to η_min at T:

        η_t = η_start + (η₀ − η_start) · t/W                       for t < W
        η_t = η_min + ½(η₀ − η_min)(1 + cos(π · min(t − W, T − W)/(T − W)))   for t ≥ W

    Defaults W = ⌊T/10⌋, η_min = 0, η_start = η₀/(W + 1), which makes the
    warmup η_t = η₀(t + 1)/(W + 1): a ramp from 0 whose first update already
    moves. From T on the rate holds η_min.
    torch: SequentialLR(LinearLR(start_factor=η_start/η₀, total_iters=W),
    CosineAnnealingLR(T_max=T−W, eta_min), milestones=[W]); it agrees for
    t ≤ T (then the cosine rises again), and is None when η_start = 0 (LinearLR
    needs a start factor > 0). Keras: CosineDecay(η_start, T − W,
    warmup_target=η₀, warmup_steps=W, alpha=η_min/η₀).
    """

    name = "warmup_cosine"

    def __init__(self, lr=0.1, total_steps=100, warmup_steps=None, min_lr=0.0,
                 warmup_start_lr=None):
        super().__init__(lr, total_steps)
        if warmup_steps is None:
            warmup_steps = self.total_steps // 10
        # The cosine phase needs at least one step: W = T would divide by T − W = 0.
        _check_int(self, "warmup_steps", warmup_steps, 0, self.total_steps - 1)
        if warmup_start_lr is None:
            warmup_start_lr = self.lr / (warmup_steps + 1)
        _check_range(self, "min_lr", min_lr, 0, self.lr)
        _check_range(self, "warmup_start_lr", warmup_start_lr, 0, self.lr)
        self.warmup_steps = int(warmup_steps)
        self.min_lr, self.warmup_start_lr = float(min_lr), float(warmup_start_lr)

    def formula(self, t, xp):
        w, decay_steps = self.warmup_steps, self.total_steps - self.warmup_steps
        progress = xp.minimum(xp.maximum(t - w, 0.0), decay_steps) / decay_steps
        cosine = self.min_lr + 0.5 * (self.lr - self.min_lr) * (1 + xp.cos(math.pi * progress))
        if w == 0:  # a constructor constant, not the step: safe in a graph
            return cosine
        warmup = self.warmup_start_lr + (self.lr - self.warmup_start_lr) * (t / w)
        return xp.where(t < w, warmup, cosine)

    def torch_reference(self, optimizer):
        from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR
        w = self.warmup_steps
        if w > 0 and self.warmup_start_lr == 0:
            return None
        _set_base_lr(optimizer, self.lr)
        cosine = CosineAnnealingLR(optimizer, T_max=self.total_steps - w, eta_min=self.min_lr)
        if w == 0:
            return cosine
        warmup = LinearLR(optimizer, start_factor=self.warmup_start_lr / self.lr,
                          end_factor=1.0, total_iters=w)
        return SequentialLR(optimizer, [warmup, cosine], milestones=[w])

    def keras_reference(self):
        from keras.optimizers.schedules import CosineDecay
        return CosineDecay(self.warmup_start_lr, decay_steps=self.total_steps - self.warmup_steps,
                           alpha=self.min_lr / self.lr, warmup_target=self.lr,
                           warmup_steps=self.warmup_steps)


class CosineRestarts(Schedule):
    """Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017).

    Cycle i lasts Tᵢ = P·mⁱ updates (P = period, m = mult) and starts at
    Sᵢ = P(mⁱ − 1)/(m − 1) (Sᵢ = iP when m = 1); inside it

        η_t = η_min + ½(η₀ − η_min)(1 + cos(π (t − Sᵢ)/Tᵢ))

    and at every restart the rate jumps back to η₀. The cycle holding t is
    i = ⌊t/P⌋ (m = 1) or ⌊log_m(1 + t(m − 1)/P)⌋. It keeps cycling past T.
    Defaults P = ⌈T/4⌉ (four cycles when m = 1), m = 1, η_min = 0. torch:
    CosineAnnealingWarmRestarts(T_0=P, T_mult=m, eta_min); Keras:
    CosineDecayRestarts(first_decay_steps=P, t_mul=m, m_mul=1, alpha=η_min/η₀).
    """

    name = "cosine_restarts"

    def __init__(self, lr=0.1, total_steps=100, period=None, mult=1, min_lr=0.0):
        super().__init__(lr, total_steps)
        if period is None:
            period = -(-self.total_steps // 4)
        self.period = _check_int(self, "period", period, 1)
        self.mult = _check_int(self, "mult", mult, 1)
        self.min_lr = _check_range(self, "min_lr", min_lr, 0, self.lr)

    def _start(self, cycle, xp):
        """Sᵢ, the first step of cycle i."""
        if self.mult == 1:
            return cycle * self.period
        return self.period * (xp.power(float(self.mult), cycle) - 1) / (self.mult - 1)

    def formula(self, t, xp):
        P, m = self.period, self.mult
        if m == 1:
            cycle = xp.floor(t / P)
        else:
            cycle = xp.floor(xp.log(1 + t * (m - 1) / P) / math.log(m))
            # the logarithm can land a hair below an integer at a restart: step over it
            cycle = xp.where(t >= self._start(cycle + 1, xp), cycle + 1, cycle)
        start = self._start(cycle, xp)
        length = self._start(cycle + 1, xp) - start
        return self.min_lr + 0.5 * (self.lr - self.min_lr) * (
            1 + xp.cos(math.pi * (t - start) / length))

    def torch_reference(self, optimizer):
        from torch.optim.lr_scheduler import CosineAnnealingWarmRestarts
        _set_base_lr(optimizer, self.lr)
        return CosineAnnealingWarmRestarts(optimizer, T_0=self.period, T_mult=self.mult,
                                           eta_min=self.min_lr)

    def keras_reference(self):
        from keras.optimizers.schedules import CosineDecayRestarts
        return CosineDecayRestarts(self.lr, first_decay_steps=self.period, t_mul=self.mult,
                                   m_mul=1.0, alpha=self.min_lr / self.lr)


class Cyclical(Schedule):
    """Triangular cyclical learning rate (Smith 2015), period 2s (s = step_size):

        c = ⌊1 + t/(2s)⌋,   x = |t/s − 2c + 1|,   η_t = η_min + (η₀ − η_min) · max(0, 1 − x)

    It starts at η_min, reaches η₀ at t = s, 3s, … and keeps cycling past T.
    Defaults s = ⌈T/4⌉ (two cycles per run), η_min = η₀/10. torch:
    CyclicLR(mode="triangular", step_size_up=s, cycle_momentum=False).
    Keras has no cyclical schedule: keras_reference is None.
    """

    name = "cyclical"

    def __init__(self, lr=0.1, total_steps=100, step_size=None, min_lr=None):
        super().__init__(lr, total_steps)
        if step_size is None:
            step_size = -(-self.total_steps // 4)
        if min_lr is None:
            min_lr = self.lr / 10
        _check_int(self, "step_size", step_size, 1)
        _check_range(self, "min_lr", min_lr, 0, self.lr)
        self.step_size, self.min_lr = int(step_size), float(min_lr)

    def formula(self, t, xp):
        s = self.step_size
        cycle = xp.floor(1 + t / (2 * s))
        x = xp.abs(t / s - 2 * cycle + 1)
        return self.min_lr + (self.lr - self.min_lr) * xp.maximum(0.0, 1 - x)

    def torch_reference(self, optimizer):
        from torch.optim.lr_scheduler import CyclicLR
        # CyclicLR starts from the optimizer's lr, which must be the cycle's bottom.
        _set_base_lr(optimizer, self.min_lr)
        return CyclicLR(optimizer, base_lr=self.min_lr, max_lr=self.lr,
                        step_size_up=self.step_size, mode="triangular", cycle_momentum=False)


class OneCycle(Schedule):
    """The 1cycle policy (Smith & Topin 2017), in torch's OneCycleLR form.

    η_init = η₀/div_factor, η_final = η_init/final_div_factor, e₁ = p·T − 1
    (p = pct_start) and anneal(a, b, f) = b + ½(a − b)(1 + cos πf) ("cos") or
    a + (b − a)f ("linear"). Two phases (the default, as fastai and torch):

        η_t = anneal(η_init, η₀, t/e₁)                      for t ≤ e₁
        η_t = anneal(η₀, η_final, (t − e₁)/(T − 1 − e₁))     for t > e₁

    three_phase=True (the paper's shape) goes back down to η_init at
    e₂ = 2p·T − 2 and then anneals to η_final at T − 1. The rate reaches
    η_final at the last step, T − 1, and holds it afterwards (torch's
    OneCycleLR refuses to step past T). Defaults p = 0.3, div_factor = 25,
    final_div_factor = 1e4, "cos". torch: OneCycleLR(cycle_momentum=False).
    Keras has none: keras_reference is None.

    One-cycle also moves the momentum against the rate: `momentum(step)` is β_t,
    the same phases with anneal(β_max, β_base, ·) while η rises and
    anneal(β_base, β_max, ·) while it falls (defaults 0.95 and 0.85), as torch's
    OneCycleLR(cycle_momentum=True) sets SGD's momentum (or Adam's β₁).
    """

    name = "one_cycle"
    ANNEAL = ("cos", "linear")

    def __init__(self, lr=0.1, total_steps=100, pct_start=0.3, div_factor=25.0,
                 final_div_factor=1e4, anneal_strategy="cos", three_phase=False,
                 base_momentum=0.85, max_momentum=0.95):
        # Every phase needs a positive length: e₁ > 0, and the last phase must
        # start before T − 1 (e₁ < T − 1, or e₂ < T − 1 with three phases), so
        # pct_start lies in (1/T, 1) (or (1/T, (T + 1)/2T)): empty unless T ≥ 2.
        _check_int(self, "total_steps", total_steps, 2,
                   why="(the warm-up and the annealing phase each need a step)")
        super().__init__(lr, total_steps)
        _check_bool(self, "three_phase", three_phase)
        T = self.total_steps
        high = (T + 1) / (2 * T) if three_phase else 1.0
        _check_range(self, "pct_start", pct_start, 1 / T, high, low_open=True, high_open=True,
                     why=f"(with total_steps={T}, each phase needs at least one step)")
        _check_range(self, "div_factor", div_factor, 1)
        _check_range(self, "final_div_factor", final_div_factor, 1)
        if anneal_strategy not in self.ANNEAL:
            raise ValueError(f"OneCycle: anneal_strategy={anneal_strategy!r} is not known; "
                             f"valid: {', '.join(map(repr, self.ANNEAL))}")
        self.pct_start, self.div_factor = float(pct_start), float(div_factor)
        self.final_div_factor = float(final_div_factor)
        self.anneal_strategy, self.three_phase = anneal_strategy, bool(three_phase)
        self.max_momentum = _check_range(self, "max_momentum", max_momentum, 0, 1, high_open=True)
        self.base_momentum = _check_range(self, "base_momentum", base_momentum, 0,
                                          self.max_momentum)

    def _anneal(self, start, end, fraction, xp):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (xp.cos(math.pi * fraction) + 1)
        return (end - start) * fraction + start

    def _phases(self, t, low, high, last, xp):
        """low → high over the first phase, then high → last (→ low → last with three)."""
        T = self.total_steps
        t = xp.minimum(t, T - 1)  # hold the last value after the last step
        e1 = self.pct_start * T - 1
        up = self._anneal(low, high, t / e1, xp)
        if not self.three_phase:
            return xp.where(t <= e1, up, self._anneal(high, last, (t - e1) / (T - 1 - e1), xp))
        e2 = 2 * self.pct_start * T - 2
        down = self._anneal(high, low, (t - e1) / (e2 - e1), xp)
        tail = self._anneal(low, last, (t - e2) / (T - 1 - e2), xp)
        return xp.where(t <= e1, up, xp.where(t <= e2, down, tail))

    def formula(self, t, xp):
        initial = self.lr / self.div_factor
        return self._phases(t, initial, self.lr, initial / self.final_div_factor, xp)

    def momentum(self, step):
        """β of update `step`: high while η is low, low while η peaks."""
        t = np.float64(_as_step(step))
        beta = self._phases(t, self.max_momentum, self.base_momentum, self.max_momentum, ops.NUMPY)
        return float(beta)

    def torch_reference(self, optimizer):
        from torch.optim.lr_scheduler import OneCycleLR
        return OneCycleLR(optimizer, max_lr=self.lr, total_steps=self.total_steps,
                          pct_start=self.pct_start, anneal_strategy=self.anneal_strategy,
                          cycle_momentum=False, div_factor=self.div_factor,
                          final_div_factor=self.final_div_factor, three_phase=self.three_phase)


REGISTRY = Registry("schedule", {cls.name: cls for cls in (
    Constant, StepDecay, MultiStep, Exponential, InverseTime, Polynomial, Cosine, WarmupCosine,
    CosineRestarts, Cyclical, OneCycle)})


def get(name, **kwargs):
    """`REGISTRY[name](**kwargs)`, with a ValueError listing the valid names."""
    if name not in REGISTRY:
        raise ValueError(REGISTRY.unknown(name))
    return REGISTRY[name](**kwargs)


# -- framework adapters (built on first use: importing torch or Keras is slow) -------------
@functools.cache
def _torch_scheduler_class():
    from torch.optim.lr_scheduler import LRScheduler

    class TorchSchedule(LRScheduler):
        """A torch LRScheduler that sets every param group's lr to `schedule(last_epoch)`.

        Closed form, not chainable: the rate depends only on the step count,
        so resuming from `state_dict()` continues at exactly the right rate.
        """

        def __init__(self, optimizer, schedule, last_epoch=-1):
            self.schedule = schedule
            super().__init__(optimizer, last_epoch)

        def get_lr(self):
            return [self.schedule(self.last_epoch)] * len(self.optimizer.param_groups)

        def state_dict(self):
            # The schedule object stays out, so the state is plain numbers and
            # torch.load(..., weights_only=True) accepts a checkpoint holding it.
            state = super().state_dict()
            state.pop("schedule")
            return state

    return TorchSchedule


@functools.cache
def _keras_schedule_class():
    import keras

    @keras.saving.register_keras_serializable(package="lessons_lib")
    class KerasSchedule(keras.optimizers.schedules.LearningRateSchedule):
        """A Keras LearningRateSchedule evaluating `schedule.formula` with keras.ops (float32)."""

        def __init__(self, schedule):
            super().__init__()
            self.schedule = schedule

        def __call__(self, step):
            t = keras.ops.cast(step, "float32")
            lr = self.schedule.formula(t, ops.get("keras"))
            return keras.ops.convert_to_tensor(lr, dtype="float32")

        def get_config(self):
            return {"schedule": self.schedule.name, "config": self.schedule.get_config()}

        @classmethod
        def from_config(cls, config):
            return cls(get(config["schedule"], **config["config"]))

    return KerasSchedule


# -- the learning-rate range test ---------------------------------------------------------
@dataclass
class RangeTestResult:
    """What `lr_range_test` measured: the learning rates tried, the smoothed
    loss at each, and the suggested learning rate."""

    lrs: np.ndarray
    losses: np.ndarray
    suggestion: float


def lr_range_test(model, loss_fn, batches, *, optimizer=None, start_lr=1e-7, end_lr=10.0,
                  steps=100, smooth=0.05, diverge_factor=4.0):
    """The learning-rate range test (Smith 2015; fastai's `lr_find`) for a torch model.

    Trains for up to `steps` batches while the learning rate grows
    exponentially, η_i = start_lr · (end_lr/start_lr)^(i/(steps − 1)), recording
    the loss smoothed by a bias-corrected exponential moving average
    (weight `smooth` on the newest loss). It stops early once the smoothed loss
    exceeds `diverge_factor` × its best value (or the loss is not finite).
    `batches` is any re-iterable of (x, y) pairs (a DataLoader); it is cycled
    when shorter than `steps`. `optimizer` is a torch optimizer over the model's
    parameters or a callable `params -> optimizer` (default: plain SGD).

    Afterwards the model's parameters and buffers, its train/eval mode and the
    optimizer's state (including its learning rates) are restored.

    suggestion: the learning rate at the minimum of the smoothed loss, divided
    by 10 (fastai's "lr_min / 10"). At the minimum the rate is already at the
    edge of stability (and the moving average lags behind it), so a tenth of it
    is safely inside. The steepest-descent point, the other common choice, is
    fragile on short tests: the loss is noisy where it is flat.

    Each step reads the loss back to the host (`.item()`): one device sync per
    step, unavoidable because whether to stop depends on that value. Nothing
    else synchronises.
    """
    import torch

    start_lr = _check_range(None, "start_lr", start_lr, 0, low_open=True)
    end_lr = _check_range(None, "end_lr", end_lr, start_lr, low_open=True,
                          why=f"(above start_lr={start_lr:g})")
    steps = _check_int(None, "steps", steps, 2)
    smooth = _check_range(None, "smooth", smooth, 0, 1, low_open=True)
    diverge_factor = _check_range(None, "diverge_factor", diverge_factor, 1, low_open=True)

    if optimizer is None:
        optimizer = torch.optim.SGD(model.parameters(), lr=start_lr)
    elif not isinstance(optimizer, torch.optim.Optimizer):
        optimizer = optimizer(model.parameters())
    device = next(model.parameters()).device
    saved_model = copy.deepcopy(model.state_dict())
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    was_training = model.training

    lrs, losses = [], []
    average, best = 0.0, math.inf
    ratio = end_lr / start_lr
    try:
        model.train()
        for i, (x, y) in zip(range(steps), _cycle(batches)):
            lr = start_lr * ratio ** (i / (steps - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x.to(device, non_blocking=True)), y.to(device, non_blocking=True))
            loss.backward()
            optimizer.step()
            value = loss.item()  # the one sync per step: the stop test needs it
            if not math.isfinite(value):
                break
            average = (1 - smooth) * average + smooth * value
            smoothed = average / (1 - (1 - smooth) ** (i + 1))
            lrs.append(lr)
            losses.append(smoothed)
            best = min(best, smoothed)
            if smoothed > diverge_factor * best:
                break
    finally:
        model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        model.train(was_training)

    if not lrs:
        raise ValueError("lr_range_test: the loss was not finite at start_lr="
                         f"{start_lr!r}; try a smaller start_lr")
    lrs, losses = np.array(lrs), np.array(losses)
    return RangeTestResult(lrs, losses, float(lrs[np.argmin(losses)] / 10))


def _cycle(batches):
    """Yield from `batches` again and again (stops if a pass yields nothing)."""
    while True:
        empty = True
        for batch in batches:
            empty = False
            yield batch
        if empty:
            return

