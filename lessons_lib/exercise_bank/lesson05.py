"""Lesson 05 · Adaptive learning rates.

1. adagrad_step: one AdaGrad step in torch's form (η = 0.1, ε = 10⁻¹⁰, accumulator from 0).
2. rmsprop_step: one RMSprop step in torch's form (η = 0.01, α = 0.9, ε = 10⁻⁸).
3. first_update: Keras's first AdaGrad update Δw for g = 10⁻³ and η = 0.01.
"""
import numpy as np

from .. import exercises, optim
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
]
