"""Lesson 06 · Adam and its variants.

1. adam_step: one Adam step in torch's form (η = 0.1, β = (0.9, 0.999), ε = 10⁻⁸).
2. adamw_step: one AdamW step (η = 0.1, λ = 0.1).
3. uncorrected_first_step: |first step| / η of Adam without bias correction, for any β₁, β₂.
"""
import numpy as np

from .. import exercises, optim
from . import Exercise, WrongAnswer


class UncorrectedAdam(optim.Adam):
    """Adam without bias correction: at t = 10⁶, 1 − βᵗ is exactly 1 in float64."""

    def rule(self, p, g, state, t, lr, xp):
        return super().rule(p, g, state, 10**6, lr, xp)


class _AdamWithoutRoot(optim.Adam):
    """Adam that divides by v̂ itself."""

    def rule(self, p, g, state, t, lr, xp):
        b1, b2 = self.betas
        m, v = b1 * state["m"] + (1 - b1) * g, b2 * state["v"] + (1 - b2) * g * g
        step = lr * (m / (1 - b1**t)) / (v / (1 - b2**t) + self.eps)
        return p - step, {"m": m, "v": v}


class _AdamSums(optim.Adam):
    """Adam whose m and v add each g and g² whole, then get bias-corrected."""

    def rule(self, p, g, state, t, lr, xp):
        b1, b2 = self.betas
        m, v = b1 * state["m"] + g, b2 * state["v"] + g * g
        step = lr * (m / (1 - b1**t)) / (xp.sqrt(v / (1 - b2**t)) + self.eps)
        return p - step, {"m": m, "v": v}


class _DecayAfterTheStep(optim.AdamW):
    """AdamW that shrinks the new weights, after the Adam step."""

    def step(self, p, g, state, t, lr, xp):
        p, state = self.rule(p, g, state, t, lr, xp)
        return p - lr * self.weight_decay * p, state


def check_adam_step(adam_step):
    return exercises.check_optimizer_step(
        adam_step, optim.get("adam", lr=0.1),
        mistakes=[(UncorrectedAdam(lr=0.1),
                   "no bias correction: m and v start at 0, so both must be divided by "
                   "the weight the zeros still carry."),
                  (_AdamWithoutRoot(lr=0.1),
                   "you divided by v̂ itself: the denominator is its square root, the "
                   "typical size of g."),
                  (_AdamSums(lr=0.1),
                   "m and v are averages: each new g (and g²) enters with weight 1 − β, "
                   "not whole.")],
        hint="m and v are bias-corrected averages of g and g²; the step is η times "
             "their ratio, with ε keeping the division safe.")


def check_adamw_step(adamw_step):
    return exercises.check_optimizer_step(
        adamw_step, optim.get("adamw", lr=0.1, weight_decay=0.1),
        mistakes=[(optim.get("adam", lr=0.1, weight_decay=0.1),
                   "this is Adam + L2: you added λ·w to the gradient, so the decay is "
                   "divided by √v̂. AdamW shrinks w itself, outside the adaptive step."),
                  (optim.get("adamw", lr=0.1, weight_decay=1.0),
                   "your decay forgot the learning rate: decoupled decay still scales "
                   "with η."),
                  (_DecayAfterTheStep(lr=0.1, weight_decay=0.1),
                   "you shrank the weights after the Adam step: AdamW shrinks the weights "
                   "the gradient was computed at, before the step."),
                  (optim.get("adam", lr=0.1),
                   "this is plain Adam: where is the weight decay?")],
        hint="the decay shrinks w by a fixed fraction each step, independently of the "
             "adaptive step and of the gradient.")


def measured_first_step(beta1, beta2):
    """The reference: one step of UncorrectedAdam with ε = 0, as a multiple of η."""
    adam = UncorrectedAdam(lr=1.0, betas=(beta1, beta2), eps=0.0)
    w, _ = adam.update(np.zeros(1), np.ones(1), adam.init(np.zeros(1)))
    return float(abs(w[0]))


FIRST_STEP_CASES = [(0.9, 0.999), (0.9, 0.99), (0.5, 0.9), (0.99, 0.9999)]


def check_uncorrected_first_step(uncorrected_first_step):
    return exercises.check_function(
        uncorrected_first_step, measured_first_step, FIRST_STEP_CASES,
        mistakes=[(lambda b1, b2: (1 - b1) / (1 - b2),
                   "the denominator is √v, not v: take the square root."),
                  (lambda b1, b2: 1.0,
                   "1 is the step WITH bias correction; without it m₁ and v₁ keep the "
                   "share of g that the first update gives them."),
                  (lambda b1, b2: np.sqrt(1 - b2) / (1 - b1),
                   "upside down: m₁ is in the numerator, √v₁ in the denominator."),
                  (lambda b1, b2: b1 / np.sqrt(b2),
                   "a new gradient enters each average with weight 1 − β; β is the "
                   "weight of the old value (zero at the start).")],
        hint="write m₁ and v₁ after one update from zero; the step is their ratio, "
             "with the square root where Adam takes it.")


# -- typical wrong answers, written as a student would --------------------------

def _adam(correct=True, root=True, average=True, shift=0, sign=-1, returns_state=False,
          lr=0.1, betas=(0.9, 0.999), eps=1e-8):
    def adam_step(w, g, state, t):
        b1, b2 = betas
        new1, new2 = ((1 - b1) * g, (1 - b2) * g * g) if average else (g, g * g)
        state["m"] = b1 * state.get("m", 0.0) + new1
        state["v"] = b2 * state.get("v", 0.0) + new2
        m, v = state["m"], state["v"]
        if correct:
            m, v = m / (1 - b1 ** (t - shift)), v / (1 - b2 ** (t - shift))
        w_new = w + sign * lr * m / ((np.sqrt(v) if root else v) + eps)
        return (w_new, state) if returns_state else w_new
    return adam_step


def _adamw(decay="before", lr=0.1, weight_decay=0.1, sign=-1):
    adam = _adam(lr=lr)

    def adamw_step(w, g, state, t):
        if decay == "L2":
            return adam(w, g + weight_decay * w, state, t)
        if decay == "no η":
            return adam(w - weight_decay * w, g, state, t)
        if decay == "after":
            w = adam(w, g, state, t)
            return w - lr * weight_decay * w
        return adam(w + sign * lr * weight_decay * w, g, state, t)
    return adamw_step


def _named(name, student):
    student.__name__ = name
    return student


def _first_step(formula):
    return _named("uncorrected_first_step", formula)


EXERCISES = [
    Exercise(lesson="06", number=1, name="adam_step", kind="step", check=check_adam_step,
             wrong_answers=(
                 WrongAnswer("no bias correction", _adam(correct=False),
                             says="bias correction"),
                 WrongAnswer("v instead of √v", _adam(root=False), says="square root"),
                 WrongAnswer("m and v without the (1 − β) factors", _adam(average=False),
                             says="averages"),
                 WrongAnswer("returned (w, state) as opt.update does", _adam(returns_state=True)),
                 WrongAnswer("bias correction with t − 1 (division by zero at t = 1)",
                             _adam(shift=1)),
                 WrongAnswer("stepped uphill", _adam(sign=+1)),
             ),
             leaks=('m_hat, v_hat = state["m"] / (1 - b1 ** t), state["v"] / (1 - b2 ** t)',
                    "lr * m_hat / (np.sqrt(v_hat) + eps)")),
    Exercise(lesson="06", number=2, name="adamw_step", kind="step", check=check_adamw_step,
             wrong_answers=(
                 WrongAnswer("Adam + L2: the decay added to the gradient",
                             _named("adamw_step", _adamw("L2")), says="L2"),
                 WrongAnswer("decay λ·w without η", _named("adamw_step", _adamw("no η")),
                             says="learning rate"),
                 WrongAnswer("decayed the new weights, after the Adam step",
                             _named("adamw_step", _adamw("after")), says="before the step"),
                 WrongAnswer("no decay at all", _named("adamw_step", _adam()),
                             says="weight decay"),
                 WrongAnswer("the decay grows the weights", _named("adamw_step", _adamw(sign=+1))),
             ),
             leaks=("w = w - lr * weight_decay * w",)),
    Exercise(lesson="06", number=3, name="uncorrected_first_step", kind="function",
             check=check_uncorrected_first_step,
             wrong_answers=(
                 WrongAnswer("v₁ instead of √v₁", _first_step(lambda b1, b2: (1 - b1) / (1 - b2)),
                             says="square root"),
                 WrongAnswer("the corrected step, 1", _first_step(lambda b1, b2: 1.0), says="WITH bias"),
                 WrongAnswer("the ratio upside down",
                             _first_step(lambda b1, b2: np.sqrt(1 - b2) / (1 - b1)),
                             says="upside down"),
                 WrongAnswer("β where 1 − β belongs", _first_step(lambda b1, b2: b1 / np.sqrt(b2)),
                             says="weight 1 − β"),
                 WrongAnswer("only the numerator's bias", _first_step(lambda b1, b2: 1 - b1)),
             ),
             leaks=("(1 - beta1) / np.sqrt(1 - beta2)", "measured_first_step",
                    "m₁ / √v₁")),
]
