"""Lesson 02 · Gradient descent.

1. gd_step: one gradient-descent step with learning rate 0.1.
2. critical_steps: (1/L, 2/(λmin + λmax), 2/L) of a symmetric positive-definite matrix A.
3. steps_for_x_squared: the steps gradient descent needs on x² until f ≤ tol, from the formula.
"""
import numpy as np

from .. import exercises, landscapes, optim, studies
from . import Exercise, WrongAnswer, switched_off
from .lesson00 import ReturnsTheStep, Uphill

# -- Exercise 1 -------------------------------------------------------------------


def check_gd_step(gd_step):
    return exercises.check_optimizer_step(
        gd_step, optim.REGISTRY["sgd"](lr=0.1),
        mistakes=[(optim.REGISTRY["sgd"](lr=1.0), "you stepped by the raw gradient: "
                                                  "scale it by the learning rate η = 0.1."),
                  (Uphill(lr=0.1), "you added the gradient, so each step goes uphill: "
                                   "step against it."),
                  (ReturnsTheStep(lr=0.1), "you returned the change alone: return the new "
                                           "weights, where the step lands.")],
        hint="the step moves w against the gradient, scaled by η = 0.1.")


# -- Exercise 2 -------------------------------------------------------------------

STEPS_CASES = [np.diag([1.0, 50.0]), np.array([[3.0, 1.0], [1.0, 3.0]]),
               np.diag([0.5, 2.0, 8.0])]
WRITE_IT = ("studies.critical_learning_rates is the library's answer, switched off for "
            "this check: compute the three steps yourself, from the eigenvalues of A.")


def _from(spectrum):
    """The three steps computed from `spectrum(A)`, a (wrong) choice of λmin and λmax."""
    def steps(A):
        low, high = spectrum(A)
        return 1 / high, 2 / (low + high), 2 / high
    return steps


def check_critical_steps(critical_steps):
    with switched_off(studies, "critical_learning_rates", WRITE_IT) as critical:
        def exact(A):
            return tuple(critical(landscapes.Quadratic(A)).values())

        return exercises.check_function(
            critical_steps, exact, STEPS_CASES,
            mistakes=[(_from(lambda A: (np.diag(A).min(), np.diag(A).max())),
                       "the diagonal entries are the eigenvalues only when A is diagonal."),
                      (_from(lambda A: _extremes(A)[::-1]),
                       "np.linalg.eigvalsh sorts ascending: L, the largest eigenvalue, "
                       "comes last."),
                      (lambda A: (exact(A)[0], exact(A)[1] / 2, exact(A)[2]),
                       "the fastest step makes the flattest and the steepest directions shrink "
                       "equally fast, |1 − ηλmin| = |1 − ηλmax|: solve that for η."),
                      (lambda A: exact(A)[::-1], "the order is (1/L, the fastest step, 2/L).")],
            hint="all three come from the smallest and the largest eigenvalue of A.")


def _extremes(A):
    lam = np.linalg.eigvalsh(A)
    return lam[0], lam[-1]


# -- Exercise 3 -------------------------------------------------------------------

POWER_CASES = [(0.01, 2.5, 1e-6), (0.1, 2.5, 1e-6), (0.3, 1.0, 1e-4), (0.75, 3.0, 1e-8),
               (0.9, 2.5, 1e-6)]
x_squared = landscapes.REGISTRY["quadratic"]


def _solved(lr, x0, tol, *, start=None, power=2, round_up=np.ceil):
    """t solved from factor^(power·t) · start ≤ tol, the factor |1 − 2η|."""
    start = x0**2 if start is None else start
    return int(round_up(np.log(tol / start) / (power * np.log(abs(1 - 2 * lr)))))


def check_steps_for_x_squared(steps_for_x_squared):
    return exercises.check_function(
        steps_for_x_squared, lambda lr, x0, tol: studies.predicted_steps(
            x_squared, [x0], lr, tol), POWER_CASES, rtol=0, atol=0,
        mistakes=[(lambda *a: _solved(*a, power=1), "f squares x_t, so f shrinks by the square "
                                                    "of the factor each step."),
                  (lambda lr, x0, tol: _solved(lr, x0, tol, start=x0, power=1),
                   "the tolerance is on f(x_t) = x_t², not on x_t itself."),
                  (lambda *a: _solved(*a, round_up=np.floor),
                   "t must be a whole number of steps that is enough: round up, not down."),
                  (lambda lr, x0, tol: _solved(lr, x0, tol, start=1.0),
                   "the start matters: f(x_0) = x0², not 1.")],
        hint="take the log of both sides; log|1 − 2η| is negative, which flips the ≤.")


# -- typical wrong answers, written as a student would -----------------------------

def _named(name, student):
    student.__name__ = name        # the feedback names the student's own function
    return student


EXERCISES = [
    Exercise(lesson="02", number=1, name="gd_step", kind="step", check=check_gd_step,
             wrong_answers=(
                 WrongAnswer("forgot the learning rate",
                             _named("gd_step", lambda w, g, s, t: w - g), says="raw gradient"),
                 WrongAnswer("added the gradient",
                             _named("gd_step", lambda w, g, s, t: w + 0.1 * g), says="uphill"),
                 WrongAnswer("returned the change, not the new w",
                             _named("gd_step", lambda w, g, s, t: -0.1 * g), says="change alone"),
                 WrongAnswer("learning rate 0.01", _named("gd_step", lambda w, g, s, t: w - 0.01 * g)),
             ),
             leaks=("return w - 0.1 * g", "w − η·g with η = 0.1")),
    Exercise(lesson="02", number=2, name="critical_steps", kind="function",
             check=check_critical_steps,
             wrong_answers=(
                 WrongAnswer("read the eigenvalues off the diagonal", _named("critical_steps",
                     lambda A: (1 / A.diagonal().max(), 2 / (A.diagonal().min() + A.diagonal().max()),
                                2 / A.diagonal().max())), says="diagonal"),
                 WrongAnswer("took lam[0] as the largest", _named("critical_steps",
                     lambda A: (1 / _extremes(A)[0], 2 / sum(_extremes(A)),
                                2 / _extremes(A)[0])), says="sorts ascending"),
                 WrongAnswer("the fastest step without its 2", _named("critical_steps",
                     lambda A: (1 / _extremes(A)[1], 1 / sum(_extremes(A)),
                                2 / _extremes(A)[1])), says="equally fast"),
                 WrongAnswer("the tuple in the wrong order", _named("critical_steps",
                     lambda A: (2 / _extremes(A)[1], 2 / sum(_extremes(A)),
                                1 / _extremes(A)[1])), says="the order"),
                 WrongAnswer("called the library", _named("critical_steps",
                     lambda A: tuple(studies.critical_learning_rates(
                         landscapes.Quadratic(A)).values())), says="yourself"),
             ),
             leaks=("1 / lam[-1], 2 / (lam[0] + lam[-1]), 2 / lam[-1]",
                    "critical_learning_rates(landscapes.Quadratic(A))", "steps_from_diagonal")),
    Exercise(lesson="02", number=3, name="steps_for_x_squared", kind="function",
             check=check_steps_for_x_squared,
             wrong_answers=(
                 WrongAnswer("the factor not squared", _named("steps_for_x_squared",
                     lambda lr, x0, tol: int(np.ceil(np.log(tol / x0**2) / np.log(abs(1 - 2 * lr))))),
                     says="square of the factor"),
                 WrongAnswer("the tolerance on x_t, not f", _named("steps_for_x_squared",
                     lambda lr, x0, tol: int(np.ceil(np.log(tol / x0) / np.log(abs(1 - 2 * lr))))),
                     says="not on x_t"),
                 WrongAnswer("int() rounds down", _named("steps_for_x_squared",
                     lambda lr, x0, tol: int(np.log(tol / x0**2) / (2 * np.log(abs(1 - 2 * lr))))),
                     says="round up"),
                 WrongAnswer("forgot x0²", _named("steps_for_x_squared",
                     lambda lr, x0, tol: int(np.ceil(np.log(tol) / (2 * np.log(abs(1 - 2 * lr)))))),
                     says="the start matters"),
             ),
             leaks=("/ (2 * np.log(abs(1 - 2 * lr)))", "studies.predicted_steps(",
                    "power_without_square")),
]
