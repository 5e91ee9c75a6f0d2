"""Lesson 03 · SGD and mini-batches.

1. minibatch_gradient: the gradient of the mean squared error on a mini-batch (xb, yb).
2. sgd_epoch: θ after one epoch of mini-batch SGD over data.batches(x, y, batch_size, rng=seed).
3. predicted_spread: E‖g_B − g‖² for B of n rows drawn without replacement, per-row variance σ².
"""
from functools import cache

import numpy as np

from .. import data, exercises, linear, studies
from . import Exercise, WrongAnswer, switched_off


@cache
def diabetes():
    """The lesson's training set: x (353, 10) and y, standardised."""
    split = data.diabetes()
    return split.x_train, split.y_train


# -- Exercise 1 -------------------------------------------------------------------

@cache
def gradient_cases():
    x, y = diabetes()
    rng = np.random.default_rng(1)
    return [(rng.normal(size=11), x[rows], y[rows])
            for rows in (rng.choice(len(x), B, replace=False) for B in (1, 5, 32))]


def check_minibatch_gradient(minibatch_gradient):
    why = ("linear.mse_grad is the library's answer, switched off for this check: "
           "write the batch gradient yourself, from the residuals.")
    n = len(diabetes()[0])
    with switched_off(linear, "mse_grad", why) as exact:
        return exercises.check_function(
            minibatch_gradient, exact, gradient_cases(),
            mistakes=[(lambda theta, xb, yb: len(yb) * exact(theta, xb, yb),
                       "the loss is a mean over the batch: divide by the batch size."),
                      (lambda *a: exact(*a) / 2, "differentiating r² brings down a factor 2."),
                      (lambda *a: -exact(*a), "the residual is prediction minus target; "
                                              "the other way round flips the sign."),
                      (lambda theta, xb, yb: len(yb) / n * exact(theta, xb, yb),
                       "average over the rows of this batch, not over the whole training "
                       "set.")],
            hint="the residuals of the batch, then each feature column (and the ones "
                 "column) weighted by them, averaged over the batch.")


# -- Exercise 2 -------------------------------------------------------------------

@cache
def epoch_cases():
    x, y = diabetes()
    start = np.random.default_rng(3).normal(size=11)
    return [(np.zeros(11), x, y, 0.01, 32, 0), (start, x, y, 0.005, 1, 3),
            (np.zeros(11), x, y, 0.05, 100, 1)]


def _epoch(theta, x, y, lr, batch_size, seed, *, shuffle=True, stale=False, first_only=False):
    """One epoch of mini-batch SGD, or one of its typical slips."""
    start = theta
    for xb, yb in data.batches(x, y, batch_size, rng=seed, shuffle=shuffle):
        theta = theta - lr * linear.mse_grad(start if stale else theta, xb, yb)
        if first_only:
            break
    return theta


def check_sgd_epoch(sgd_epoch):
    why = ("studies.least_squares_sgd is the library's answer, switched off for this "
           "check: write the loop over the batches yourself.")
    with switched_off(studies, "least_squares_sgd", why) as run:
        def exact(theta, x, y, lr, batch_size, seed):
            return run(x, y, batch_size=batch_size, lr=lr, epochs=1, seed=seed,
                       theta0=theta).params

        return exercises.check_function(
            sgd_epoch, exact, epoch_cases(),
            mistakes=[(lambda *a: _epoch(*a, shuffle=False),
                       "an epoch visits the rows in a fresh random order: let data.batches "
                       "shuffle them, seeded with `seed`."),
                      (lambda *a: _epoch(*a, first_only=True),
                       "one epoch makes one update per mini-batch, through all the batches; "
                       "you stopped after the first."),
                      (lambda *a: _epoch(*a, stale=True),
                       "each update starts where the last one ended: take the gradient at "
                       "the current θ, not at the θ the epoch started from."),
                      (lambda theta, x, y, lr, batch_size, seed: _epoch(
                          theta, x, y, lr, batch_size, 0),
                       "use the `seed` you are given, so the order is the checker's.")],
            hint="loop over the mini-batches of data.batches, one gradient step per batch.")


# -- Exercise 3 -------------------------------------------------------------------

SPREAD_CASES = [(42.0, 1, 353), (42.0, 32, 353), (10.0, 100, 353), (10.0, 353, 353),
                (3.0, 7, 50)]


def _spread(sigma2, B, n):
    return sigma2 / B * (n - B) / (n - 1)


def check_predicted_spread(predicted_spread):
    return exercises.check_function(
        predicted_spread, _spread, SPREAD_CASES,
        mistakes=[(lambda s, B, n: s / B, "a batch is drawn without replacement, which "
                                          "shrinks the spread further: at B = n it is 0."),
                  (lambda s, B, n: s / B * (n - B) / n, "check B = 1: one row's gradient "
                                                        "spreads by exactly σ²."),
                  (lambda s, B, n: s * B * (n - B) / (n - 1), "averaging B rows divides "
                                                              "the spread, it does not "
                                                              "multiply it."),
                  (lambda *a: np.sqrt(_spread(*a)), "the spread is the expected *squared* "
                                                    "distance: no square root.")],
        hint="a mean of B rows has 1/B of one row's variance, and drawing without "
             "replacement shrinks it further, to 0 at B = n.")


# -- typical wrong answers, written as a student would -----------------------------

def _named(name, student):
    student.__name__ = name        # the feedback names the student's own function
    return student


def _gradient(theta, xb, yb, scale=2.0, mean_over=None, sign=1):
    Z = linear.design_matrix(xb)
    return scale / (mean_over or len(yb)) * Z.T @ (sign * (Z @ theta - yb))


def _student_epoch(**slip):
    return _named("sgd_epoch", lambda *a: _epoch(*a, **slip))


EXERCISES = [
    Exercise(lesson="03", number=1, name="minibatch_gradient", kind="function",
             check=check_minibatch_gradient,
             wrong_answers=(
                 WrongAnswer("summed over the batch instead of averaging",
                             _named("minibatch_gradient", lambda t, xb, yb: len(yb) * _gradient(
                                 t, xb, yb)), says="mean over the batch"),
                 WrongAnswer("forgot the factor 2", _named("minibatch_gradient",
                     lambda t, xb, yb: _gradient(t, xb, yb, scale=1.0)), says="factor 2"),
                 WrongAnswer("residual as target − prediction", _named("minibatch_gradient",
                     lambda t, xb, yb: _gradient(t, xb, yb, sign=-1)), says="flips the sign"),
                 WrongAnswer("divided by the training set's n", _named("minibatch_gradient",
                     lambda t, xb, yb: _gradient(t, xb, yb, mean_over=353)),
                     says="whole training set"),
                 WrongAnswer("called the library's gradient", _named("minibatch_gradient",
                     lambda t, xb, yb: linear.mse_grad(t, xb, yb)),
                     says="write the batch gradient yourself"),
             ),
             leaks=("2 / len(yb) * Z.T @ (Z @ theta - yb)", "grad_sum_not_mean",
                    "grad_without_two", "(2/B)·Zᵀr")),
    Exercise(lesson="03", number=2, name="sgd_epoch", kind="function", check=check_sgd_epoch,
             wrong_answers=(
                 WrongAnswer("never shuffled", _student_epoch(shuffle=False), says="random order"),
                 WrongAnswer("returned inside the loop, after one batch",
                             _student_epoch(first_only=True), says="through all the batches"),
                 WrongAnswer("every gradient at the epoch's starting θ", _student_epoch(stale=True),
                             says="current θ"),
                 WrongAnswer("ignored the seed", _named("sgd_epoch",
                     lambda theta, x, y, lr, batch_size, seed: _epoch(theta, x, y, lr, batch_size, 0)),
                     says="`seed`"),
                 WrongAnswer("called the library's SGD run", _named("sgd_epoch",
                     lambda theta, x, y, lr, batch_size, seed: studies.least_squares_sgd(
                         x, y, batch_size=batch_size, lr=lr, epochs=1, seed=seed,
                         theta0=theta).params), says="write the loop"),
             ),
             leaks=("data.batches(x, y, batch_size, rng=seed)", "epoch_unshuffled",
                    "epoch_reference", "epochs=1, seed=seed, theta0=theta")),
    Exercise(lesson="03", number=3, name="predicted_spread", kind="function",
             check=check_predicted_spread,
             wrong_answers=(
                 WrongAnswer("with replacement: σ²/B", _named("predicted_spread",
                     lambda sigma2, B, n: sigma2 / B), says="without replacement"),
                 WrongAnswer("(n − B)/n instead of (n − B)/(n − 1)", _named("predicted_spread",
                     lambda sigma2, B, n: sigma2 / B * (n - B) / n), says="B = 1"),
                 WrongAnswer("multiplied by B", _named("predicted_spread",
                     lambda sigma2, B, n: sigma2 * B * (n - B) / (n - 1)), says="divides"),
                 WrongAnswer("the typical error, a square root", _named("predicted_spread",
                     lambda sigma2, B, n: np.sqrt(sigma2 / B * (n - B) / (n - 1))),
                     says="square root"),
             ),
             leaks=("sigma2 / B * (n - B) / (n - 1)", "spread_reference",
                    "spread_with_replacement", "times the factor (n − B)/(n − 1)")),
]
