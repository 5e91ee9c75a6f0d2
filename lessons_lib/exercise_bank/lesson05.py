"""Lesson 05 · Adaptive learning rates.

1. adagrad_step: one AdaGrad step in torch's form (η = 0.1, ε = 10⁻¹⁰, accumulator from 0).
2. rmsprop_step: one RMSprop step in torch's form (η = 0.01, α = 0.9, ε = 10⁻⁸).
3. first_update: Keras's first AdaGrad update Δw for g = 10⁻³ and η = 0.01.
4. torch_kwargs: torch.optim.RMSprop's keyword arguments that reproduce Keras's RMSprop()
   defaults, measured against Keras with compare.run_torch / run_keras (to 1e-6: ε sits
   outside the root in torch, inside in Keras, so exact agreement is impossible).
"""
import numpy as np

from .. import exercises, optim
from ..optim import compare
from . import Exercise, WrongAnswer

R = optim.REGISTRY


class _AdagradWithoutRoot(optim.Adagrad):
    """AdaGrad that divides by the sum itself."""

    def rule(self, p, g, state, t, lr, xp):
        s = state["sum"] + g * g
        return p - lr * g / (s + self.eps), {"sum": s}


class _RMSpropSeeded(optim.RMSprop):
    """RMSprop whose average starts at the first g² instead of 0."""

    def rule(self, p, g, state, t, lr, xp):
        if t == 1:
            state = {**state, "square_avg": g * g}
        return super().rule(p, g, state, t, lr, xp)


class _RMSpropWithoutRoot(optim.RMSprop):
    """RMSprop that divides by the average itself."""

    def rule(self, p, g, state, t, lr, xp):
        v = self.alpha * state["square_avg"] + (1 - self.alpha) * g * g
        return p - lr * g / (v + self.eps), {"square_avg": v}


NO_ROOT = ("you divided by the accumulated g² itself: take its square root, so that the "
           "step has the units of w.")


def check_adagrad_step(adagrad_step):
    return exercises.check_optimizer_step(
        adagrad_step, R["adagrad"](lr=0.1, eps=1e-10),
        mistakes=[(R["rmsprop"](lr=0.1, alpha=0.0, eps=1e-10),
                   "you divided by |g| of this step only: the accumulator must keep every "
                   "past g², stored in `state`."),
                  (_AdagradWithoutRoot(lr=0.1, eps=1e-10), NO_ROOT),
                  (R["adagrad"](lr=0.1, eps=1e-10, initial_accumulator_value=0.1),
                   "your accumulator started at 0.1, Keras's default: torch's starts at 0."),
                  (R["rmsprop"](lr=0.1, alpha=0.9, eps=1e-10),
                   "you kept a moving average like RMSprop: AdaGrad adds up the whole "
                   "history, so its steps only shrink.")],
        hint="AdaGrad's accumulator only grows: every past g² stays in it.")


def check_rmsprop_step(rmsprop_step):
    return exercises.check_optimizer_step(
        rmsprop_step, R["rmsprop"](lr=0.01, alpha=0.9, eps=1e-8),
        mistakes=[(R["rmsprop"](lr=0.01, alpha=0.1, eps=1e-8),
                   "α and 1 − α are swapped: the old average keeps the larger weight α = 0.9."),
                  (R["adagrad"](lr=0.01, eps=1e-8),
                   "you summed g² like AdaGrad: RMSprop keeps a moving average, so old "
                   "gradients fade away."),
                  (_RMSpropSeeded(lr=0.01, alpha=0.9, eps=1e-8),
                   "you seeded the average with the first g²: torch starts it at 0 (and "
                   "RMSprop has no bias correction), so its first steps are longer."),
                  (_RMSpropWithoutRoot(lr=0.01, alpha=0.9, eps=1e-8), NO_ROOT)],
        hint="the average of g² leaks: it keeps α of the old value and takes 1 − α of the new.")


def keras_first_update(g=1e-3, lr=0.01):
    """Keras's AdaGrad (s₀ = 0.1, ε inside the root): Δw of the first step."""
    keras_adagrad = R["adagrad"](flavor="keras", lr=lr)
    w, _ = keras_adagrad.update(np.zeros(1), np.array([g]), keras_adagrad.init(np.zeros(1)))
    return float(w[0])


def check_first_update(first_update):
    expected, g, lr = keras_first_update(), 1e-3, 0.01
    return exercises.check_value(
        first_update, expected, name="first_update",
        mistakes=[(-lr, "−η is torch's first step (accumulator from 0): Keras starts from s₀ = 0.1."),
                  (-lr * g / np.sqrt(g**2 + 1e-7),
                   "you left out Keras's starting value s₀ = 0.1 under the root."),
                  (-lr * g / np.sqrt(0.1 + 1e-7),
                   "the accumulator takes this step's g² before the division."),
                  (-lr * g / (0.1 + g**2 + 1e-7), "the denominator is a square root."),
                  (-expected, "Δw is a step downhill: its sign is the opposite of g's.")],
        hint="Keras adds g² to its accumulator, which starts at s₀, then divides by the "
             "root of it (ε under the root too).")


# -- Exercise 4: configure torch's RMSprop as Keras's ------------------------------

KERAS_DEFAULTS = {"lr": 1e-3, "alpha": 0.9, "eps": 1e-7}   # learning_rate, rho, epsilon
TOLERANCE = 1e-6          # Keras keeps its learning rate in float32: about 5e-8 apart
KERAS_NAMES = {"learning_rate": "lr", "rho": "alpha", "epsilon": "eps"}


def keras_gap(torch_kwargs, problem):
    """compare.relative_error of torch.optim.RMSprop(**torch_kwargs) against Keras's
    RMSprop() with its defaults, both stepped on the same `compare.Problem`."""
    import keras
    import torch
    reference = compare.run_keras(keras.optimizers.RMSprop(), problem)
    ours = compare.run_torch(lambda params: torch.optim.RMSprop(params, **torch_kwargs), problem)
    return compare.relative_error(ours, reference)


def _run_slip(kwargs):
    if kwargs.get("alpha") == 0.99 or "alpha" not in kwargs:
        return "alpha = 0.99 is torch's default: Keras's ρ is 0.9."
    if kwargs.get("lr") == 1e-2 or "lr" not in kwargs:
        return "lr = 0.01 is torch's default: Keras's learning_rate is 0.001."
    if kwargs.get("alpha") == 0.1:
        return "alpha is the weight of the old average, ρ = 0.9 in Keras, not 1 − ρ."
    if kwargs.get("momentum") or kwargs.get("centered"):
        return "Keras's default RMSprop has no momentum and is not centered."
    return "compare lr, alpha and eps with Keras's learning_rate, rho and epsilon."


def _check_torch_like_keras(torch_kwargs):
    name = "torch_kwargs"
    if torch_kwargs is None or torch_kwargs is Ellipsis:
        return exercises.Feedback(False, f"{name} is not filled in yet.")
    if not isinstance(torch_kwargs, dict):
        return exercises.Feedback(False, f"{name} is {exercises._describe(torch_kwargs)}: "
                                         "expected a dict of keyword arguments for "
                                         "torch.optim.RMSprop, e.g. {'lr': ...}.")
    keras_names = sorted(set(torch_kwargs) & set(KERAS_NAMES))
    if keras_names:
        return exercises.Feedback(False, f"{', '.join(keras_names)}: those are Keras's names; "
                                         "torch calls them lr, alpha and eps.")
    try:
        gap = keras_gap(torch_kwargs, compare.Problem())
    except Exception as error:    # e.g. an unknown keyword or a negative lr
        return exercises.Feedback(False, f"torch.optim.RMSprop(params, **{name}) raised "
                                         f"{type(error).__name__}: {error}")
    if not gap <= TOLERANCE:
        return exercises.Feedback(False, f"torch and Keras differ by {gap:.2g} over 50 steps "
                                         f"(tolerance {TOLERANCE:g}): {_run_slip(torch_kwargs)}")
    eps = torch_kwargs.get("eps", 1e-8)
    if not np.isclose(eps, KERAS_DEFAULTS["eps"], rtol=1e-9, atol=0):
        return exercises.Feedback(False, f"the runs agree ({gap:.1e}) only because ε is "
                                         f"negligible next to gradients of size 1, but eps = "
                                         f"{eps:g} is not Keras's epsilon = 1e-7.")
    tiny_gap = keras_gap(torch_kwargs, compare.Problem(scale=1e-6))
    return exercises.Feedback(True, f"{name} is right: torch follows Keras's RMSprop() to "
                                    f"{gap:.1e} over 50 steps (Keras keeps lr in float32). "
                                    "Exact agreement is out of reach: torch divides by "
                                    "√v + ε, Keras by √(v + ε); with gradients of size 10⁻⁶, "
                                    f"where ε matters, the two runs differ by {tiny_gap:.3g}.")


def check_torch_like_keras(torch_kwargs):
    try:
        return _check_torch_like_keras(torch_kwargs)
    except Exception as error:   # never crash a lesson: report the checker's own failure
        return exercises.Feedback(False, f"the check itself failed ({type(error).__name__}: "
                                         f"{error}); please report it.")

# -- typical wrong answers, written as a student would --------------------------

def _named(name, student):
    student.__name__ = name
    return student


def _adagrad(s0=0.0, root=True, keep=True, sign=-1):
    def adagrad_step(w, g, state, t):
        s = state.get("s", s0) + g * g
        if keep:
            state["s"] = s
        return w + sign * 0.1 * g / ((np.sqrt(s) if root else s) + 1e-10)
    return adagrad_step


def _adagrad_averaged(w, g, state, t):
    state["s"] = 0.9 * state.get("s", 0.0) + 0.1 * g * g
    return w - 0.1 * g / (np.sqrt(state["s"]) + 1e-10)


def _rmsprop(alpha=0.9, decay=0.1, seeded=False, root=True):
    def rmsprop_step(w, g, state, t):
        v = state.get("v", g * g if seeded else 0.0)
        state["v"] = alpha * v + decay * g * g
        return w - 0.01 * g / ((np.sqrt(state["v"]) if root else state["v"]) + 1e-8)
    return rmsprop_step


EXERCISES = [
    Exercise(lesson="05", number=1, name="adagrad_step", kind="step",
             check=check_adagrad_step,
             wrong_answers=(
                 WrongAnswer("forgot to store the sum in state", _adagrad(keep=False),
                             says="this step only"),
                 WrongAnswer("no square root", _adagrad(root=False), says="square root"),
                 WrongAnswer("Keras's initial accumulator 0.1", _adagrad(s0=0.1), says="0.1"),
                 WrongAnswer("a moving average (RMSprop) instead of the sum",
                             _named("adagrad_step", _adagrad_averaged), says="moving average"),
                 WrongAnswer("stepped uphill", _adagrad(sign=+1)),
             ),
             leaks=('w - 0.1 * g / (np.sqrt(state["s"]) + 1e-10)',)),
    Exercise(lesson="05", number=2, name="rmsprop_step", kind="step",
             check=check_rmsprop_step,
             wrong_answers=(
                 WrongAnswer("α and 1 − α swapped", _rmsprop(alpha=0.1, decay=0.9),
                             says="swapped"),
                 WrongAnswer("summed g² like AdaGrad", _rmsprop(alpha=1.0, decay=1.0),
                             says="AdaGrad"),
                 WrongAnswer("started the average at the first g² (v₀ = g²)",
                             _rmsprop(seeded=True), says="seeded"),
                 WrongAnswer("no square root", _rmsprop(root=False), says="square root"),
             ),
             leaks=('0.9 * state.get("v", 0.0) + 0.1 * g * g',
                    'w - 0.01 * g / (np.sqrt(state["v"]) + 1e-8)')),
    Exercise(lesson="05", number=3, name="first_update", kind="value",
             check=check_first_update,
             wrong_answers=(
                 WrongAnswer("torch's first step −η", -0.01, says="torch"),
                 WrongAnswer("left out s₀", -0.01 * 1e-3 / np.sqrt(1e-3**2 + 1e-7),
                             says="s₀ = 0.1"),
                 WrongAnswer("divided before adding g²", -0.01 * 1e-3 / np.sqrt(0.1 + 1e-7),
                             says="before the division"),
                 WrongAnswer("no square root", -0.01 * 1e-3 / (0.1 + 1e-6 + 1e-7),
                             says="square root"),
                 WrongAnswer("the sign of g", 0.01 * 1e-3 / np.sqrt(0.1 + 1e-6 + 1e-7),
                             says="downhill"),
             ),
             leaks=("np.sqrt(0.1 + 1e-3**2 + 1e-7)", "√(s₀ + g² + ε)",
                    "keras_adagrad.update(")),
    Exercise(lesson="05", number=4, name="torch_kwargs", kind="value",
             check=check_torch_like_keras,
             wrong_answers=(
                 WrongAnswer("torch's α = 0.99", {"lr": 1e-3, "alpha": 0.99, "eps": 1e-7},
                             says="alpha = 0.99 is torch's default"),
                 WrongAnswer("torch's lr = 0.01", {"lr": 1e-2, "alpha": 0.9, "eps": 1e-7},
                             says="lr = 0.01 is torch's default"),
                 WrongAnswer("torch's ε = 1e-8", {"lr": 1e-3, "alpha": 0.9, "eps": 1e-8},
                             says="not Keras's epsilon"),
                 WrongAnswer("Keras's keyword names",
                             {"learning_rate": 1e-3, "rho": 0.9, "epsilon": 1e-7},
                             says="Keras's names"),
                 WrongAnswer("1 − ρ for alpha", {"lr": 1e-3, "alpha": 0.1, "eps": 1e-7},
                             says="not 1 − ρ"),
                 WrongAnswer("torch's defaults", {}, says="torch's default"),
             ),
             leaks=('"lr": 1e-3, "alpha": 0.9, "eps": 1e-7', "lr=1e-3, alpha=0.9, eps=1e-7")),
]
