"""Lesson 00 · Setup and a tour of the course.

0. predicted_steps: a prediction, written before measuring: steps of GD (η = 0.1) on
   f = x² from x = 1 until |x| < 10⁻³; the check compares it with (1 − 2η)^t and the run.
1. saddle_gradient: ∇f of the saddle f(x, y) = x² − y² at a point.
2. steps_needed: steps of sgd and momentum (lr = 0.02) to within 1e-6 on ill_conditioned.
"""
import numpy as np

from .. import exercises, landscapes, optim
from . import Exercise, WrongAnswer


class Uphill(optim.SGD):
    """Gradient "descent" that adds the gradient: it climbs (lesson 01 reuses it)."""

    def rule(self, p, g, state, t, lr, xp):
        return p + lr * g, state


class ReturnsTheStep(optim.SGD):
    """Returns the change −η·g instead of the new weights (lesson 01 reuses it)."""

    def rule(self, p, g, state, t, lr, xp):
        return -lr * g, state


# -- Exercise 0: predict, then measure ---------------------------------------------

quadratic = landscapes.REGISTRY["quadratic"]          # f(x) = x², f'(x) = 2x
ETA, TOL = 0.1, 1e-3


def measured_steps(lr=ETA, tol=TOL):
    """Steps of GD on f = x² from x = 1 until |x| < tol, counted by the library."""
    path = optim.minimize(optim.REGISTRY["sgd"](lr=lr), quadratic, [1.0], 200)
    return optim.steps_to_tolerance(path, quadratic, tol**2)     # f = x² ≤ tol²


def closed_form_steps(lr=ETA, tol=TOL):
    """x_t = (1 − 2η)^t < tol first holds at the whole t just above ln tol / ln(1 − 2η)."""
    return int(np.floor(np.log(tol) / np.log(1 - 2 * lr)) + 1)


WHY = ("each step multiplies x by 1 − 2η = 0.8 (x − η·2x), so x_t = 0.8^t, "
       "and |x_t| < 10⁻³ first holds at t = ⌈ln 10⁻³ / ln 0.8⌉")
MIXED_BASES = "you mixed log bases (log₁₀ on top, ln below): use the same log in both."


def check_predicted_steps(predicted_steps):
    expected = closed_form_steps()
    mixed = np.log10(TOL) / np.log(1 - 2 * ETA)
    feedback = exercises.check_value(
        predicted_steps, expected, name="predicted_steps", rtol=0, atol=1e-9,
        mistakes=[(closed_form_steps(lr=ETA / 2),
                   "you shrank x by 1 − η per step: f' = 2x, so each step multiplies x "
                   "by 1 − 2η."),
                  (float(np.ceil(mixed)), MIXED_BASES),
                  (float(np.floor(mixed)), MIXED_BASES),
                  (expected - 1, "off by one: after that many steps |x| is still just above "
                                 "10⁻³; round ln 10⁻³ / ln 0.8 up, not down.")],
        hint="write x after one step as a multiple of x, then after t steps.")
    if feedback:
        return exercises.Feedback(True, f"{feedback.message} The library measured "
                                        f"{measured_steps()} steps too: {WHY}.")
    if isinstance(predicted_steps, (int, float, np.number)) and \
            np.isfinite(predicted_steps) and predicted_steps != round(predicted_steps):
        why = (MIXED_BASES if abs(predicted_steps - mixed) < 0.5 else
               "round ln 10⁻³ / ln 0.8 up to the first whole step.")
        return exercises.Feedback(False, f"predicted_steps = {predicted_steps:g} is not a "
                                         f"whole number, and a count of steps is: {why}")
    return feedback


# -- Exercise 1 -------------------------------------------------------------------

saddle = landscapes.REGISTRY["saddle"]
SADDLE_POINTS = [np.array(p) for p in [(1.0, 2.0), (-0.5, 0.3), (2.0, -1.5)]]


def check_saddle_gradient(saddle_gradient):
    flip = np.array([1.0, -1.0])
    return exercises.check_function(
        saddle_gradient, saddle.grad, SADDLE_POINTS,
        mistakes=[(lambda p: saddle.grad(p) / 2, "differentiating a square brings down "
                                                 "a factor 2."),
                  (lambda p: saddle.grad(p) * flip, "keep the minus sign of −y²: "
                                                    "f falls along y."),
                  (lambda p: -saddle.grad(p), "the gradient points uphill, where f grows; "
                                              "you have the downhill direction."),
                  (lambda p: saddle.grad(p)[::-1], "the first entry is ∂f/∂x, "
                                                   "the second ∂f/∂y: the order is swapped.")],
        hint="differentiate x² − y² once by x (y fixed), once by y (x fixed).")


# -- Exercise 2 -------------------------------------------------------------------

ill = landscapes.REGISTRY["ill_conditioned"]


def _steps(lr=0.02, start=(-8.0, 3.0), tol=1e-6, names=("sgd", "momentum")):
    return [optim.steps_to_tolerance(
                optim.minimize(optim.REGISTRY[name](lr=lr), ill, list(start), 1000), ill, tol)
            for name in names]


def check_steps_needed(steps_needed):
    return exercises.check_value(
        steps_needed, _steps(), name="steps_needed", rtol=0,
        mistakes=[(_steps(names=("momentum", "sgd")), "the order is [sgd, momentum]."),
                  (_steps(start=(-8.0, 2.0)), "start both runs at (−8, 3)."),
                  (_steps(tol=1e-3), "count the steps to within 1e-6, not 1e-3."),
                  (_steps(lr=0.01), "both runs use the learning rate 0.02.")],
        hint="one optim.minimize run per optimizer, same start, 1000 steps; "
             "then count each path's steps with optim.steps_to_tolerance.")


# -- typical wrong answers, written as a student would -----------------------------

def _named(name, student):
    student.__name__ = name        # the feedback names the student's own function
    return student


EXERCISES = [
    Exercise(lesson="00", number=0, name="predicted_steps", kind="value",
             check=check_predicted_steps,
             wrong_answers=(
                 WrongAnswer("η instead of 2η: x shrinks by 0.9", 66, says="1 − 2η"),
                 WrongAnswer("log₁₀ 10⁻³ / ln 0.8, rounded up", 14, says="log bases"),
                 WrongAnswer("did not round: ln 10⁻³ / ln 0.8", 30.96, says="whole number"),
                 WrongAnswer("rounded down", 30, says="off by one"),
                 WrongAnswer("the length of the run, not the steps needed", 200),
             ),
             leaks=("predicted_steps = 31", "np.log(1e-3) / np.log(0.8)")),
    Exercise(lesson="00", number=1, name="saddle_gradient", kind="function",
             check=check_saddle_gradient,
             wrong_answers=(
                 WrongAnswer("forgot the factor 2",
                             _named("saddle_gradient", lambda p: np.array([p[0], -p[1]])),
                             says="factor 2"),
                 WrongAnswer("lost the minus sign of −y²",
                             _named("saddle_gradient", lambda p: 2 * np.asarray(p)),
                             says="minus sign"),
                 WrongAnswer("the minus on the wrong entry",
                             _named("saddle_gradient", lambda p: np.array([-2 * p[0], 2 * p[1]])),
                             says="downhill"),
                 WrongAnswer("entries swapped",
                             _named("saddle_gradient", lambda p: np.array([-2 * p[1], 2 * p[0]])),
                             says="order"),
             ),
             leaks=("np.array([2 * x, -2 * y])", "np.array([2 * p[0], -2 * p[1]])",
                    'REGISTRY["saddle"]')),
    Exercise(lesson="00", number=2, name="steps_needed", kind="value", check=check_steps_needed,
             wrong_answers=(
                 WrongAnswer("momentum first", _steps(names=("momentum", "sgd")), says="order"),
                 WrongAnswer("lesson 02's start (−8, 2)", _steps(start=(-8.0, 2.0)),
                             says="(−8, 3)"),
                 WrongAnswer("tolerance 1e-3", _steps(tol=1e-3), says="1e-6"),
                 WrongAnswer("learning rate 0.01", _steps(lr=0.01), says="0.02"),
                 WrongAnswer("the number of steps run, not the steps needed", [1000, 1000]),
             ),
             leaks=("optim.minimize(optim.REGISTRY[name](lr=0.02), f, [-8.0, 3.0], 1000)",
                    "steps_to_tolerance(runs[name]", "expected_steps")),
]
