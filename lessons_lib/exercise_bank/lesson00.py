"""Lesson 00 · Setup and a tour of the course.

0. my_step: the tour's example, one gradient-descent step with learning rate 0.1.
1. saddle_gradient: ∇f of the saddle f(x, y) = x² − y² at a point.
2. steps_needed: steps of sgd and momentum (lr = 0.02) to within 1e-6 on ill_conditioned.
"""
import numpy as np

from .. import exercises, landscapes, optim
from . import Exercise, WrongAnswer


class Uphill(optim.SGD):
    """Gradient "descent" that adds the gradient: it climbs."""

    def rule(self, p, g, state, t, lr, xp):
        return p + lr * g, state


class ReturnsTheStep(optim.SGD):
    """Returns the change −η·g instead of the new weights."""

    def rule(self, p, g, state, t, lr, xp):
        return -lr * g, state


def check_my_step(my_step):
    return exercises.check_optimizer_step(
        my_step, optim.REGISTRY["sgd"](lr=0.1),
        mistakes=[(Uphill(lr=0.1), "you added the gradient, so each step goes uphill: "
                                   "the gradient points up the slope, step against it."),
                  (optim.REGISTRY["sgd"](lr=1.0), "you stepped by the raw gradient: "
                                                  "scale it by the learning rate 0.1."),
                  (ReturnsTheStep(lr=0.1), "you returned the change alone: "
                                           "return the new parameters, where the step lands.")],
        hint="one step moves w against the gradient, scaled by the learning rate 0.1.")


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
    Exercise(lesson="00", number=0, name="my_step", kind="step", check=check_my_step,
             wrong_answers=(
                 WrongAnswer("added the gradient", _named("my_step", lambda w, g, s, t: w + 0.1 * g),
                             says="uphill"),
                 WrongAnswer("forgot the learning rate", _named("my_step", lambda w, g, s, t: w - g),
                             says="raw gradient"),
                 WrongAnswer("returned the change, not the new w",
                             _named("my_step", lambda w, g, s, t: -0.1 * g), says="change alone"),
                 WrongAnswer("learning rate 0.01", _named("my_step", lambda w, g, s, t: w - 0.01 * g)),
             ),
             leaks=("return w - 0.1 * g",)),
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
