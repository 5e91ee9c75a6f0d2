"""Lesson 08 · PyTorch in practice.

1. epochs_at_005: predict the epochs SGD at lr = 0.05 needs on the lecture's
   y = 2x example; the check measures them with torch.optim.SGD.
2. threshold_for_recall: the highest threshold that still finds a given share
   of the positives.
3. bce_with_logits: the mean binary cross-entropy computed from logits, as
   nn.BCEWithLogitsLoss does.
"""
import functools

import numpy as np

from .. import classification, exercises, linear, studies
from . import Exercise, WrongAnswer

LR, TOL = 0.05, 1e-3
SLIP_LR = 0.01   # the lecture's η: its count is one of the wrong answers
_X = np.array(classification.LECTURE_X)
_Y = 2 * _X[:, 0]


@functools.lru_cache(maxsize=None)
def lecture_start():
    """(w, b) of the lecture's nn.Linear(1, 1) after torch.manual_seed(0)."""
    import torch
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    return float(model.weight.item()), float(model.bias.item())


@functools.lru_cache(maxsize=None)
def measured_epochs():
    """{lr: epochs} that torch.optim.SGD needs at LR (the answer) and at SLIP_LR (a
    wrong answer) from the lecture's start, both trained side by side in one run."""
    return classification.epochs_to_fit([LR, SLIP_LR], _X, _Y, lecture_start(), tol=TOL,
                                        max_epochs=5000)


def _only_direction(top):
    """Epochs if only the steepest (top) or flattest direction of the bowl existed."""
    lam, Q = np.linalg.eigh(linear.mse_hessian(_X))
    e0 = Q.T @ (np.array(lecture_start()) - np.array([2.0, 0.0]))
    i = -1 if top else 0
    return int(np.ceil(np.log(TOL / abs(e0[i])) / np.log(abs(1 - LR * lam[i]))))


def _loss_tolerance():
    f = linear.mse_landscape(_X, _Y)
    return studies.predicted_steps(f, np.array(lecture_start()), LR, TOL)


def check_epochs_at_005(epochs_at_005):
    return exercises.check_value(
        epochs_at_005, measured_epochs()[LR], name="epochs_at_005", rtol=0.03,
        mistakes=[(_only_direction(top=True),
                   "that is how fast the steep direction settles; the flat direction of the "
                   "bowl is the slow one and decides."),
                  (100, "100 is how long the lecture ran, not how long it needs."),
                  (_loss_tolerance(),
                   "that counts epochs until the loss is within 1e-3; the question asks for "
                   "w and b within 1e-3 of (2, 0)."),
                  (measured_epochs()[SLIP_LR],
                   "that is the count at lr = 0.01; at 0.05 each epoch shrinks the error "
                   "5 times as much in the slow direction.")],
        hint="the error along each eigenvector of H shrinks by |1 − ηλ| per epoch; "
             "find the epoch where the slowest one falls below the tolerance.")


SCORES = np.array([0.95, 0.9, 0.8, 0.8, 0.7, 0.6, 0.55, 0.4, 0.3, 0.2, 0.1, 0.05])
LABELS = np.array([1, 1, 0, 1, 1, 0, 1, 0, 1, 0, 0, 0])
_rng = np.random.default_rng(8)
_LABELS2 = (_rng.random(40) < 0.4).astype(int)
_SCORES2 = np.round(np.clip(0.3 * _LABELS2 + _rng.random(40) * 0.7, 0, 1), 2)
RECALL_CASES = [(LABELS, SCORES, 0.5), (LABELS, SCORES, 0.8), (LABELS, SCORES, 1.0),
                (_LABELS2, _SCORES2, 0.9), (_LABELS2, _SCORES2, 0.3)]


def _recall_reference(y_true, scores, target):
    return classification.threshold_for_recall(y_true, scores, target)


def _lowest_threshold(y_true, scores, target):
    """The last threshold scanning upwards that still reaches the recall: the same one."""
    return float(np.min(scores))


def _strict(y_true, scores, target):
    y_true = np.asarray(y_true).astype(bool)
    for t in np.unique(scores)[::-1]:
        if np.sum(y_true & (scores > t)) >= target * np.sum(y_true):
            return float(t)
    return float(np.min(scores))


def _over_all_samples(y_true, scores, target):
    y_true = np.asarray(y_true).astype(bool)
    for t in np.unique(scores)[::-1]:
        if np.sum(y_true & (scores >= t)) >= target * len(y_true):
            return float(t)
    return float(np.min(scores))


def _precision_instead(y_true, scores, target):
    y_true = np.asarray(y_true).astype(bool)
    best = float(np.min(scores))
    for t in np.unique(scores)[::-1]:
        chosen = scores >= t
        if np.sum(y_true & chosen) >= target * np.sum(chosen):
            best = float(t)
    return best


def check_threshold_for_recall(threshold_for_recall):
    return exercises.check_function(
        threshold_for_recall, _recall_reference, RECALL_CASES,
        mistakes=[(_lowest_threshold, "the lowest score always reaches any recall: the question "
                                      "is the highest threshold that still does."),
                  (_strict, "a score equal to the threshold counts as positive: `>=`, "
                            "not `>`."),
                  (_over_all_samples, "recall is a share of the true positives, not of all "
                                      "samples."),
                  (_precision_instead, "you tested the precision (a share of the predicted "
                                       "positives); recall is a share of the true positives.")],
        hint="try the scores as thresholds from the highest down; stop at the first that "
             "finds enough of the positives.")


_rng = np.random.default_rng(80)
BCE_CASES = [(np.array([0.0, 0.0]), np.array([1.0, 0.0])),
             (np.array([2.0, -1.0, 0.5]), np.array([1.0, 0.0, 0.0])),
             (_rng.normal(0, 3, 8), (_rng.random(8) < 0.5).astype(float)),
             (np.array([40.0, -40.0, 35.0]), np.array([0.0, 1.0, 1.0]))]


def _bce_reference(logits, y):
    import torch
    return float(torch.nn.BCEWithLogitsLoss()(torch.as_tensor(logits, dtype=torch.float64),
                                              torch.as_tensor(y, dtype=torch.float64)))


def _bce_from(p_of, reduce=np.mean, sign=-1.0):
    def wrong(z, y):
        p = p_of(np.asarray(z, dtype=float))
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(sign * reduce(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return wrong


def _stable(reduce=np.mean, sign=1.0):
    def wrong(z, y):
        z = np.asarray(z, dtype=float)
        return float(sign * reduce(np.logaddexp(0, z) - y * z))
    return wrong


def check_bce_with_logits(bce_with_logits):
    return exercises.check_function(
        bce_with_logits, _bce_reference, BCE_CASES, rtol=1e-6,
        mistakes=[(_stable(reduce=np.sum), "the loss is the mean over the batch, not the sum."),
                  (_stable(sign=-1.0),
                   "the sign: the log of a probability is negative, the loss is its "
                   "negative mean.")],
        hint="with p = σ(z): −mean(y log p + (1 − y) log(1 − p)); work with log(1 + e^z), "
             "not with p, so large logits stay finite.")


# -- typical wrong answers, written as a student would ------------------------

def _named(name, student):
    student.__name__ = name
    return student


EXERCISES = [
    Exercise(lesson="08", number=1, name="epochs_at_005", kind="value",
             check=check_epochs_at_005,
             wrong_answers=(
                 WrongAnswer("the steep direction's count", _only_direction(top=True),
                             says="steep direction"),
                 WrongAnswer("the lecture's 100 epochs", 100, says="how long the lecture ran"),
                 WrongAnswer("the loss within 1e-3 instead of w and b", _loss_tolerance(),
                             says="until the loss"),
                 WrongAnswer("the count at lr = 0.01", measured_epochs()[SLIP_LR],
                             says="lr = 0.01"),
                 WrongAnswer("a tutorial's table, read between 0.01 and 0.1", 200),
             ),
             leaks=("predicted_epochs(", "epochs_to_fit(", "lecture_lr_table([0.05",
                    "lecture_lr_table([LR", "measured_epochs(")),
    Exercise(lesson="08", number=2, name="threshold_for_recall", kind="function",
             check=check_threshold_for_recall,
             wrong_answers=(
                 WrongAnswer("the lowest score", _named("threshold_for_recall",
                                                        _lowest_threshold), says="lowest score"),
                 WrongAnswer("> instead of >=", _named("threshold_for_recall", _strict),
                             says="`>=`"),
                 WrongAnswer("recall over all samples", _named("threshold_for_recall",
                                                               _over_all_samples),
                             says="not of all samples"),
                 WrongAnswer("precision instead of recall", _named("threshold_for_recall",
                                                                   _precision_instead),
                             says="precision"),
             ),
             leaks=("classification.threshold_for_recall", "_recall_reference",
                    "np.sum(y_true & (scores >= t)) >= target * np.sum(y_true)")),
    Exercise(lesson="08", number=3, name="bce_with_logits", kind="function",
             check=check_bce_with_logits,
             wrong_answers=(
                 WrongAnswer("summed, not averaged", _named("bce_with_logits", _stable(reduce=np.sum)),
                             says="mean over the batch"),
                 WrongAnswer("no minus sign", _named("bce_with_logits", _stable(sign=-1.0)),
                             says="the sign"),
                 WrongAnswer("through σ: log(0) for large logits",
                             _named("bce_with_logits",
                                    _bce_from(lambda z: np.exp(z) / (1 + np.exp(z)))),
                             says="blew up"),
                 WrongAnswer("forgot the sigmoid: log of a logit",
                             _named("bce_with_logits", _bce_from(lambda z: z))),
             ),
             leaks=("np.logaddexp(0, z) - y * z", "np.logaddexp(0.0, z) - y * z",
                    "_bce_reference")),
]
