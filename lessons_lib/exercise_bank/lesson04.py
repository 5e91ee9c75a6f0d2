"""Lesson 04 · Momentum and Nesterov.

1. momentum_step: one heavy-ball step in torch's form (η = 0.1, β = 0.9).
2. nesterov_step: one Nesterov step in torch's form (η = 0.1, β = 0.9).
3. max_lr: the largest η at which the heavy ball with β = 0.5 converges on the ravine.
"""
from .. import exercises, landscapes, optim
from . import Exercise, WrongAnswer

R = optim.REGISTRY
ravine = landscapes.REGISTRY["ill_conditioned"]      # ½(x² + 50 y²), the lesson's ravine


class _DampedNesterov(optim.Nesterov):
    """Nesterov whose buffer averages the gradients instead of summing them."""

    def rule(self, p, g, state, t, lr, xp):
        b = self.momentum * state["buffer"] + (1 - self.momentum) * g
        return p - lr * (g + self.momentum * b), {"buffer": b}


def check_momentum_step(momentum_step):
    return exercises.check_optimizer_step(
        momentum_step, R["momentum"](lr=0.1, momentum=0.9),
        mistakes=[(R["sgd"](lr=0.1),
                   "you stepped along today's gradient only: keep the buffer b in `state`, "
                   "so that it remembers the past steps."),
                  (R["momentum"](lr=0.1 * (1 - 0.9), momentum=0.9),
                   "you averaged the gradients into the buffer: torch's buffer is a leaky "
                   "sum, each new gradient enters it whole."),
                  (R["nesterov"](lr=0.1, momentum=0.9),
                   "this is Nesterov's look-ahead step: the heavy ball steps along the "
                   "buffer alone.")],
        hint="the buffer is a leaky sum of gradients, kept in `state`; the step follows it.")


def check_nesterov_step(nesterov_step):
    return exercises.check_optimizer_step(
        nesterov_step, R["nesterov"](lr=0.1, momentum=0.9),
        mistakes=[(R["momentum"](lr=0.1, momentum=0.9),
                   "this steps like the heavy ball: Nesterov looks ahead with today's "
                   "gradient and the buffer *after* this step's update."),
                  (_DampedNesterov(lr=0.1, momentum=0.9),
                   "you averaged the gradients into the buffer: torch's buffer is a leaky "
                   "sum, each new gradient enters it whole."),
                  (R["sgd"](lr=0.1),
                   "you stepped along today's gradient only: keep the buffer b in `state`.")],
        hint="update the buffer first, then look ahead: today's gradient plus β times "
             "the new buffer.")


def check_max_lr(max_lr):
    beta, L = 0.5, ravine.L
    return exercises.check_value(
        max_lr, 2 * (1 + beta) / L, name="max_lr",
        mistakes=[(2 / L, "2/L is plain gradient descent's limit: momentum raises it."),
                  (1 / L, "1/L is the safe textbook step, not the limit."),
                  (2 * (1 + 0.9) / L, "that is the limit for the lesson's β = 0.9; "
                                      "this exercise uses β = 0.5."),
                  (2 / ((1 - beta) * L), "1/(1 − β) is the top speed on a steady slope, "
                                         "not the factor that moves the stability limit.")],
        hint="gradient descent's limit is 2/L; momentum raises it by a factor that grows "
             "with β (this lesson's slide on the stability limit).")


# -- typical wrong answers, written as a student would --------------------------

def _named(name, student):
    student.__name__ = name        # the feedback names the student's own function
    return student


def _heavy_ball(name, lr=0.1, beta=0.9, damp=1.0, nesterov=False, sign=-1):
    def step(w, g, state, t):
        state["b"] = beta * state.get("b", 0.0) + damp * g
        return w + sign * lr * ((g + beta * state["b"]) if nesterov else state["b"])
    return _named(name, step)


def _forgets_the_buffer(w, g, state, t):
    b = 0.9 * state.get("b", 0.0) + g          # never stored back into state
    return w - 0.1 * b


def _steps_before_updating(w, g, state, t):
    step = 0.1 * state.get("b", 0.0)           # the buffer of the previous step
    state["b"] = 0.9 * state.get("b", 0.0) + g
    return w - step


def _stale_look_ahead(w, g, state, t):
    direction = g + 0.9 * state.get("b", 0.0)  # the buffer before this step's update
    state["b"] = 0.9 * state.get("b", 0.0) + g
    return w - 0.1 * direction


EXERCISES = [
    Exercise(lesson="04", number=1, name="momentum_step", kind="step",
             check=check_momentum_step,
             wrong_answers=(
                 WrongAnswer("forgot to store the buffer in state", _named("momentum_step", _forgets_the_buffer),
                             says="today's gradient only"),
                 WrongAnswer("(1 − β) damping: an average, not torch's sum",
                             _heavy_ball("momentum_step", damp=1 - 0.9), says="averaged"),
                 WrongAnswer("Nesterov's direction instead of the heavy ball's",
                             _heavy_ball("momentum_step", nesterov=True), says="Nesterov"),
                 WrongAnswer("stepped uphill", _heavy_ball("momentum_step", sign=+1)),
                 WrongAnswer("stepped with the buffer before updating it",
                             _named("momentum_step", _steps_before_updating)),
             ),
             leaks=("state[\"b\"] = 0.9 * state.get(\"b\", 0.0) + g\n    return w - 0.1 * state[\"b\"]",)),
    Exercise(lesson="04", number=2, name="nesterov_step", kind="step",
             check=check_nesterov_step,
             wrong_answers=(
                 WrongAnswer("the heavy ball, no look-ahead", _heavy_ball("nesterov_step"),
                             says="heavy ball"),
                 WrongAnswer("looked ahead with the buffer before this step's update",
                             _named("nesterov_step", _stale_look_ahead), says="heavy ball"),
                 WrongAnswer("(1 − β) damping in the buffer",
                             _heavy_ball("nesterov_step", damp=1 - 0.9, nesterov=True), says="averaged"),
                 WrongAnswer("stepped uphill", _heavy_ball("nesterov_step", nesterov=True, sign=+1)),
             ),
             leaks=("w - 0.1 * (g + 0.9 * state[\"b\"])",)),
    Exercise(lesson="04", number=3, name="max_lr", kind="value", check=check_max_lr,
             wrong_answers=(
                 WrongAnswer("gradient descent's limit", 2 / ravine.L, says="gradient descent"),
                 WrongAnswer("the safe step 1/L", 1 / ravine.L, says="safe"),
                 WrongAnswer("copied the lesson's β = 0.9", 2 * 1.9 / ravine.L, says="β = 0.9"),
                 WrongAnswer("used the top-speed factor 1/(1 − β)", 4 / ravine.L,
                             says="top speed"),
                 WrongAnswer("forgot the factor 2", 1.5 / ravine.L),
             ),
             leaks=("2 * (1 + 0.5) / ravine.L", "3 / ravine.L", "3.0 / ravine.L",
                    "2 * 1.5 / ravine.L")),
]
