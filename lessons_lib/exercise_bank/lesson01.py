"""Lesson 01 · Optimization as learning.

1. mse_gradient: (∂L/∂w, ∂L/∂b) of the mean squared error of a line, from 1-D x and y.
2. slow_factor: a prediction, written before measuring: the factor by which GD with α = 1/L
   shrinks the error per step once the steep direction is gone, 1 − 1/κ.
3. lr_max_new: the stability threshold 2/L of gradient descent on the MSE for the inputs X_NEW.
"""
import numpy as np

from .. import data, exercises, linear, optim
from . import Exercise, WrongAnswer, switched_off

# -- Exercise 1 -------------------------------------------------------------------

_x, _y = (a.ravel() for a in data.toy_regression(dtype=np.float64))
_rng = np.random.default_rng(2)
_x7 = _rng.normal(size=7)
_y7 = 3 * _x7 - 1 + _rng.normal(size=7)
GRADIENT_CASES = [(0.5, 1.0, _x, _y), (-1.0, 2.0, _x, _y), (1.5, -0.5, _x7, _y7)]
WRITE_IT = ("linear.mse_grad is the library's answer, switched off for this check: "
            "write the gradient yourself, from the residuals.")


def check_mse_gradient(mse_gradient):
    with switched_off(linear, "mse_grad", WRITE_IT) as library_gradient:
        def exact(w, b, x, y):
            return library_gradient([w, b], x, y)

        return exercises.check_function(
            mse_gradient, exact, GRADIENT_CASES,
            mistakes=[(lambda *a: exact(*a) / 2, "differentiating the square brings down "
                                                 "a factor 2: keep it."),
                      (lambda w, b, x, y: len(x) * exact(w, b, x, y),
                       "L is a mean over the n points: average the terms, do not add them up."),
                      (lambda *a: -exact(*a), "the residual is prediction minus target; "
                                              "the other way round flips the sign."),
                      (lambda *a: np.full(2, exact(*a)[1]),
                       "by the chain rule each residual is weighted by its x_i in ∂L/∂w "
                       "(the inner derivative), and by 1 in ∂L/∂b.")],
            hint="differentiate (w·x_i + b − y_i)² with the chain rule, then average.")


# -- Exercise 2: predict, then measure ---------------------------------------------

bowl = linear.mse_landscape(_x, _y)          # the lesson's surface


def measured_slow_factor(steps=60):
    """‖θ_t − θ*‖ / ‖θ_{t−1} − θ*‖ at the end of GD with α = 1/L, from (0, 0)."""
    L = bowl.eigenvalues[-1]
    path = optim.minimize(optim.REGISTRY["sgd"](lr=1 / L), bowl, [0.0, 0.0], steps)
    errors = np.linalg.norm(path - bowl.theta_star, axis=1)
    return errors[-1] / errors[-2]


def check_slow_factor(slow_factor):
    mu, L = bowl.eigenvalues[0], bowl.eigenvalues[-1]
    kappa = L / mu
    feedback = exercises.check_value(
        slow_factor, 1 - mu / L, name="slow_factor", rtol=1e-6,
        mistakes=[(1 / kappa, "1/κ is the part of the error a step removes; the factor is "
                              "what stays, 1 − 1/κ."),
                  (1 - 2 / kappa, "that is the factor of α = 2/L; this run uses α = 1/L."),
                  (0.0, "0 = 1 − αL is the steep direction's factor, gone after one step; "
                        "the slow, flat direction keeps 1 − αμ."),
                  (1 - mu, "you left out α: along an eigenvector of curvature μ a step "
                           "multiplies the error by 1 − αμ, with α = 1/L."),
                  (1 - 1 / np.sqrt(kappa), "√κ belongs to momentum (lesson 04); plain "
                                           "GD's factor has κ itself.")],
        hint="along an eigenvector of H with curvature λ, one step multiplies the error "
             "by 1 − αλ; which λ decides the end of the run?")
    if feedback:
        return exercises.Feedback(True, f"{feedback.message} The run measured "
                                        f"{measured_slow_factor():.6f}: after one step of "
                                        "α = 1/L the steep direction is gone (1 − αL = 0), "
                                        "and the flat one shrinks by 1 − 1/κ per step.")
    return feedback


# -- Exercise 3 -------------------------------------------------------------------

X_NEW = np.array([0.5, 1.0, 3.0, 4.5, 6.0])


def _threshold(x=X_NEW, factor=2 / len(X_NEW), ones=True, top=True, over=2.0):
    Z = np.column_stack([x, np.ones_like(x)]) if ones else x[:, None]
    curvatures = np.linalg.eigvalsh(factor * Z.T @ Z)
    return over / (curvatures[-1] if top else curvatures[0])


def check_lr_max_new(lr_max_new):
    return exercises.check_value(
        lr_max_new, linear.max_stable_lr(X_NEW), name="lr_max_new",
        mistakes=[(_threshold(over=1.0), "1/L is the step that removes the steepest error in "
                                         "one go; the threshold lies further out, where a step "
                                         "overshoots as far as it started."),
                  (_threshold(top=False), "the steepest direction decides: use the largest "
                                          "curvature, not the smallest."),
                  (_threshold(factor=1.0), "H is the Hessian of a mean of squares: keep the "
                                           "factor in front of ZᵀZ."),
                  (_threshold(ones=False), "Z needs the column of ones for b, "
                                           "so H is 2 × 2.")],
        hint="the largest curvature of the bowl, an eigenvalue of H, sets the threshold.")


# -- typical wrong answers, written as a student would -----------------------------

def _named(name, student):
    student.__name__ = name        # the feedback names the student's own function
    return student


def _residual(w, b, x, y):
    return w * x + b - y


EXERCISES = [
    Exercise(lesson="01", number=1, name="mse_gradient", kind="function",
             check=check_mse_gradient,
             wrong_answers=(
                 WrongAnswer("forgot the factor 2", _named("mse_gradient", lambda w, b, x, y: (
                     np.mean(_residual(w, b, x, y) * x), np.mean(_residual(w, b, x, y)))),
                     says="factor 2"),
                 WrongAnswer("summed instead of averaging", _named("mse_gradient", lambda w, b, x, y: (
                     2 * np.sum(_residual(w, b, x, y) * x), 2 * np.sum(_residual(w, b, x, y)))),
                     says="mean over the n points"),
                 WrongAnswer("residual as target − prediction", _named("mse_gradient", lambda w, b, x, y: (
                     2 * np.mean((y - w * x - b) * x), 2 * np.mean(y - w * x - b))),
                     says="flips the sign"),
                 WrongAnswer("forgot the inner derivative x_i", _named("mse_gradient", lambda w, b, x, y: (
                     2 * np.mean(_residual(w, b, x, y)), 2 * np.mean(_residual(w, b, x, y)))),
                     says="chain rule"),
                 WrongAnswer("called the library's gradient", _named("mse_gradient", lambda w, b, x, y:
                     linear.mse_grad([w, b], x, y)), says="write the gradient yourself"),
             ),
             leaks=("2 * np.mean(residual * x), 2 * np.mean(residual)",)),
    Exercise(lesson="01", number=2, name="slow_factor", kind="value",
             check=check_slow_factor,
             wrong_answers=(
                 WrongAnswer("1/κ, the part removed", 1 / bowl.condition_number,
                             says="what stays"),
                 WrongAnswer("the factor of α = 2/L", 1 - 2 / bowl.condition_number,
                             says="α = 2/L"),
                 WrongAnswer("the steep direction's factor", 0.0, says="steep direction"),
                 WrongAnswer("forgot α: 1 − μ", 1 - bowl.eigenvalues[0], says="left out α"),
                 WrongAnswer("momentum's √κ", 1 - 1 / np.sqrt(bowl.condition_number),
                             says="momentum"),
             ),
             leaks=("1 - 1 / surface.condition_number",
                    "1 - surface.eigenvalues[0] / surface.eigenvalues[-1]")),
    Exercise(lesson="01", number=3, name="lr_max_new", kind="value", check=check_lr_max_new,
             wrong_answers=(
                 WrongAnswer("1/L instead of 2/L", _threshold(over=1.0), says="in one go"),
                 WrongAnswer("the smallest eigenvalue", _threshold(top=False),
                             says="largest curvature"),
                 WrongAnswer("H = ZᵀZ without 2/n", _threshold(factor=1.0), says="factor"),
                 WrongAnswer("Z without the column of ones", _threshold(ones=False),
                             says="column of ones"),
                 WrongAnswer("the lesson's four points, not x_new", linear.max_stable_lr(_x)),
             ),
             leaks=("linear.max_stable_lr(", "2 / len(x_new) * Z_new.T @ Z_new",
                    "linear.mse_hessian(x_new)", "mse_landscape(x_new")),
]
