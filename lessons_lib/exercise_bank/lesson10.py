"""Lesson 10 · Regularization and deep networks.

1. he_std: the standard deviation of He (Kaiming) normal initialization for a layer.
2. clip_gradients: gradients rescaled to a global L2 norm of at most max_norm, as torch clips.
3. kept (predict, then measure): how many diabetes features Lasso(alpha=0.01) keeps.
"""
import math

import numpy as np

from .. import exercises
from . import Exercise, WrongAnswer

HE_CASES = [(64,), (10,), (784,), (3,), (1000,)]
CLIP_CASES = [
    ([np.array([3.0, 4.0])], 1.0),
    ([np.array([3.0, 4.0]), np.array([12.0])], 5.0),
    ([np.array([0.1, 0.2]), np.array([[0.1], [0.3]])], 1.0),
    ([np.array([1.0, -2.0, 2.0]), np.array([[0.5, -0.5], [1.0, 2.0]])], 1.5),
]
KEPT_ALPHA = 0.01


def _he_reference(fan_in):
    """torch's own: gain(ReLU) / √fan_in, as `kaiming_normal_` draws it."""
    from torch import nn
    return nn.init.calculate_gain("relu") / math.sqrt(fan_in)


def _clip_reference(grads, max_norm):
    """torch's own `clip_grad_norm_`, on copies of the gradients."""
    import torch
    params = []
    for g in grads:
        p = torch.nn.Parameter(torch.zeros(np.shape(g), dtype=torch.float64))
        p.grad = torch.tensor(np.asarray(g, dtype=float))
        params.append(p)
    torch.nn.utils.clip_grad_norm_(params, max_norm)
    return [p.grad.numpy() for p in params]


def _lasso_kept(alpha):
    from sklearn.linear_model import Lasso

    from .. import data
    split = data.diabetes()
    return int(np.sum(Lasso(alpha=alpha).fit(split.x_train, split.y_train).coef_ != 0))


def check_he_std(he_std):
    return exercises.check_function(
        he_std, _he_reference, HE_CASES,
        mistakes=[(lambda n: 1 / math.sqrt(n),
                   "that is the LeCun/Xavier size for a layer with fan_in = fan_out: ReLU "
                   "zeroes half of its inputs, so He doubles the variance."),
                  (lambda n: 2 / n,
                   "that is the variance; the function returns the standard deviation."),
                  (lambda n: math.sqrt(2) / n,
                   "take the square root of the whole ratio, not of its numerator only."),
                  (lambda n: 0.01,
                   "a fixed 0.01 ignores the layer's width: the size must shrink as fan_in grows.")],
        hint="the variance of each weight is what keeps Var(h) the same from layer to layer "
             "for ReLU; the function returns its square root.")


def check_clip_gradients(clip_gradients):
    return exercises.check_function(
        clip_gradients, _clip_reference, CLIP_CASES, rtol=1e-5, atol=1e-9,
        mistakes=[(_per_tensor,
                   "you clipped each tensor on its own: the norm is the global one, over all "
                   "the gradients together, and one factor scales them all."),
                  (_always,
                   "gradients that are already small enough must stay as they are: the "
                   "factor is never above 1."),
                  (_sum_of_norms,
                   "the global norm is the square root of the sum of all squared entries, "
                   "not the sum of the tensors' norms."),
                  (_unit,
                   "the clipped norm is max_norm, not 1: multiply by max_norm as well.")],
        hint="compute one norm over every entry of every gradient; if it exceeds "
             "max_norm, scale all the gradients by the same factor.")


def check_kept(kept):
    return exercises.check_value(
        kept, _lasso_kept(KEPT_ALPHA), name="kept",
        mistakes=[(10 - _lasso_kept(KEPT_ALPHA),
                   "that counts the exact zeros; the question asks for the features kept."),
                  (_lasso_kept(0.05),
                   "that is the count at the table's alpha = 0.05; this exercise uses 0.01."),
                  (10, "every feature: that is what Ridge keeps, or you counted coefficients "
                       "instead of non-zero ones."),
                  (8, "a small weight is still a weight: count coefficients that are exactly "
                      "non-zero, not those above a threshold.")],
        hint="fit on the training split and count the coefficients that are not exactly 0.")


# -- typical wrong answers, written as a student would --------------------------

def _named(name, student):
    student.__name__ = name
    return student


def _global_norm(grads):
    return math.sqrt(sum(float(np.sum(np.square(g))) for g in grads))


def _per_tensor(grads, max_norm):
    return [g * min(1.0, max_norm / np.linalg.norm(g)) for g in grads]


def _always(grads, max_norm):
    return [g * max_norm / _global_norm(grads) for g in grads]


def _sum_of_norms(grads, max_norm):
    total = sum(np.linalg.norm(g) for g in grads)
    return [g * min(1.0, max_norm / total) for g in grads]


def _unit(grads, max_norm):
    return [g * min(1.0, 1 / _global_norm(grads)) for g in grads]


def _in_place_no_return(grads, max_norm):
    for g in grads:
        g *= min(1.0, max_norm / _global_norm(grads))


EXERCISES = [
    Exercise(lesson="10", number=1, name="he_std", kind="function", check=check_he_std,
             wrong_answers=(
                 WrongAnswer("Xavier's size, no factor 2", _named(
                     "he_std", lambda fan_in: 1 / math.sqrt(fan_in)), says="doubles"),
                 WrongAnswer("the variance, not the std", _named(
                     "he_std", lambda fan_in: 2 / fan_in), says="variance"),
                 WrongAnswer("√2 / fan_in", _named(
                     "he_std", lambda fan_in: math.sqrt(2) / fan_in), says="whole ratio"),
                 WrongAnswer("the old fixed 0.01", _named("he_std", lambda fan_in: 0.01),
                             says="width"),
                 WrongAnswer("fan_in in the numerator", _named(
                     "he_std", lambda fan_in: math.sqrt(2 * fan_in))),
             ),
             leaks=("math.sqrt(2 / fan_in)", "np.sqrt(2 / fan_in)", "(2 / fan_in) ** 0.5",
                    "calculate_gain(\"relu\") / math.sqrt(fan_in)", "_he_reference")),
    Exercise(lesson="10", number=2, name="clip_gradients", kind="function",
             check=check_clip_gradients,
             wrong_answers=(
                 WrongAnswer("clipped each tensor separately",
                             _named("clip_gradients", _per_tensor), says="global"),
                 WrongAnswer("always rescaled to max_norm",
                             _named("clip_gradients", _always), says="never above 1"),
                 WrongAnswer("summed the per-tensor norms",
                             _named("clip_gradients", _sum_of_norms), says="squared entries"),
                 WrongAnswer("clipped to norm 1", _named("clip_gradients", _unit),
                             says="max_norm"),
                 WrongAnswer("scaled in place and returned nothing",
                             _named("clip_gradients", _in_place_no_return), says="None"),
             ),
             leaks=("min(1.0, max_norm / total)", "max_norm / _global_norm(grads)",
                    "clip_grad_norm_(params, max_norm)", "_clip_reference")),
    Exercise(lesson="10", number=3, name="kept", kind="value", check=check_kept,
             wrong_answers=(
                 WrongAnswer("counted the zeros", 1, says="exact zeros"),
                 WrongAnswer("the table's alpha", 6, says="alpha = 0.05"),
                 WrongAnswer("counted every coefficient", 10, says="Ridge"),
                 WrongAnswer("a threshold |w| > 0.01", 8, says="threshold"),
                 WrongAnswer("predicted many zeros, never measured", 3),
             ),
             leaks=("Lasso(alpha=0.01)", "Lasso(alpha=KEPT_ALPHA)", "coef_ != 0",
                    "np.count_nonzero(", "_lasso_kept")),
]
