"""Lesson 13 · Hyperparameter tuning.

1. effective_step: the step size SGD with momentum takes in the long run, η / (1 − β).
2. log_uniform: map a uniform u in [0, 1] to a log-uniform draw between low and high.
3. n_fits (predict, then measure): how many fits a small GridSearchCV runs, refit included.
"""
import math

from .. import exercises
from . import Exercise, WrongAnswer

STEP_CASES = [(0.1, 0.9), (0.01, 0.0), (0.5, 0.5), (0.03, 0.99), (1.0, 0.2)]
LOG_CASES = [(1e-4, 1.0, 0.5), (1e-3, 10.0, 0.0), (1e-3, 10.0, 1.0), (1e-5, 1e-1, 0.25),
             (0.01, 1.0, 0.75)]
FIT_GRID = {"C": [0.1, 1, 10], "kernel": ["rbf", "linear"]}
FIT_CV = 4


def _step_reference(lr, momentum):
    return lr / (1 - momentum)


def _log_reference(low, high, u):
    return math.exp(math.log(low) + u * (math.log(high) - math.log(low)))


def _fits_reference():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import GridSearchCV
    from sklearn.svm import SVC
    x, y = load_digits(return_X_y=True)
    search = GridSearchCV(SVC(), FIT_GRID, cv=FIT_CV).fit(x[:200] / 16, y[:200])
    return len(search.cv_results_["params"]) * search.n_splits_ + int(search.refit)


def check_effective_step(effective_step):
    return exercises.check_function(
        effective_step, _step_reference, STEP_CASES,
        mistakes=[(lambda lr, m: lr * m,
                   "η·β is only the part the velocity carries over from one step; the steps "
                   "add up to a geometric series."),
                  (lambda lr, m: lr / (1 + m),
                   "the geometric series 1 + β + β² + … sums to 1 / (1 − β), not 1 / (1 + β)."),
                  (lambda lr, m: lr * (1 - m),
                   "that divides by the series instead of multiplying: with β = 0.9 the step "
                   "grows 10×, it does not shrink."),
                  (lambda lr, m: lr / m,
                   "divide by 1 − β, the share of the velocity that is new each step, not by β.")],
        hint="with a constant gradient g the velocity tends to g (1 + β + β² + …): "
             "sum the geometric series.")


def check_log_uniform(log_uniform):
    return exercises.check_function(
        log_uniform, _log_reference, LOG_CASES,
        mistakes=[(lambda lo, hi, u: lo + u * (hi - lo),
                   "that is uniform on a linear scale: most draws land in the top decade. "
                   "Interpolate the logarithms."),
                  (lambda lo, hi, u: 10 ** u,
                   "10 ** u ignores low and high: interpolate between log(low) and log(high)."),
                  (lambda lo, hi, u: math.log(lo) + u * (math.log(hi) - math.log(lo)),
                   "that is the logarithm of the draw: exponentiate it to get back a "
                   "learning rate."),
                  (lambda lo, hi, u: math.exp(u * (math.log(hi) - math.log(lo))),
                   "start from log(low): with u = 0 the draw must be low itself.")],
        hint="pick the exponent uniformly: log(draw) = log(low) + u·(log(high) − log(low)).")


def check_n_fits(n_fits):
    want = _fits_reference()
    return exercises.check_value(
        n_fits, want, name="n_fits",
        mistakes=[(want - 1, "GridSearchCV(refit=True), the default, fits the best "
                             "parameters once more on all the data: count that fit too."),
                  (want // FIT_CV, "that counts the candidates; each is fitted once per fold."),
                  ((want - 1) // FIT_CV + FIT_CV, "one fit per candidate and fold: multiply, not add."),
                  ((want - 1) // FIT_CV * 5 + 1, "cv=4 here, not the default 5 folds.")],
        hint="candidates × folds, plus the refit; `search.cv_results_` and "
             "`search.n_splits_` let you measure it.")


def _named(name, student):
    student.__name__ = name
    return student


EXERCISES = [
    Exercise(lesson="13", number=1, name="effective_step", kind="function",
             check=check_effective_step,
             wrong_answers=(
                 WrongAnswer("η·β", _named("effective_step", lambda lr, momentum:
                                           lr * momentum), says="geometric series"),
                 WrongAnswer("divided by 1 + β", _named("effective_step", lambda lr, momentum:
                                                        lr / (1 + momentum)), says="1 / (1 + β)"),
                 WrongAnswer("multiplied by 1 − β", _named(
                     "effective_step", lambda lr, momentum: lr * (1 - momentum)),
                     says="multiplying"),
                 WrongAnswer("divided by β", _named("effective_step", lambda lr, momentum:
                                                    lr / momentum), says="1 − β"),
             ),
             leaks=("lr / (1 - momentum)", "_step_reference")),
    Exercise(lesson="13", number=2, name="log_uniform", kind="function",
             check=check_log_uniform,
             wrong_answers=(
                 WrongAnswer("uniform on a linear scale", _named(
                     "log_uniform", lambda low, high, u: low + u * (high - low)),
                     says="linear scale"),
                 WrongAnswer("10 ** u", _named("log_uniform", lambda low, high, u: 10 ** u),
                             says="ignores low and high"),
                 WrongAnswer("forgot to exponentiate", _named(
                     "log_uniform", lambda low, high, u:
                     math.log(low) + u * (math.log(high) - math.log(low))),
                     says="exponentiate"),
                 WrongAnswer("left out log(low)", _named(
                     "log_uniform", lambda low, high, u:
                     math.exp(u * (math.log(high) - math.log(low)))), says="log(low)"),
             ),
             leaks=("math.log(low) + u", "np.log(low) + u", "(high / low) ** u",
                    "_log_reference")),
    Exercise(lesson="13", number=3, name="n_fits", kind="value", check=check_n_fits,
             wrong_answers=(
                 WrongAnswer("forgot the refit", 24, says="refit"),
                 WrongAnswer("counted the candidates", 6, says="candidates"),
                 WrongAnswer("added folds to candidates", 10, says="multiply"),
                 WrongAnswer("assumed 5 folds", 31, says="cv=4"),
                 WrongAnswer("a guess", 48),
             ),
             leaks=("n_splits_ + int(", "_fits_reference", "* 4 + 1", "6 * 4")),
]
