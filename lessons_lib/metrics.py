"""Classification metrics written out from their definitions (NumPy only).

Binary metrics take labels 0/1 with 1 the positive class. Where a ratio would
divide by zero (no predicted positives for precision, no actual positives for
recall, neither for F1) the metric is 0, as scikit-learn's `zero_division=0`.
Inputs may be lists, arrays or CPU tensors of shape (n,) or (n, 1).
"""
import numpy as np


def _as_1d(name, values):
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (shape (n,) or (n, 1)); got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty; it needs at least one value")
    return array


def _pair(y_true, other, other_name):
    y_true, other = _as_1d("y_true", y_true), _as_1d(other_name, other)
    if len(y_true) != len(other):
        raise ValueError(f"y_true and {other_name} must have the same length; "
                         f"got {len(y_true)} and {len(other)}")
    return y_true, other


def _check_labels(name, labels, allowed=None):
    """`labels`, or a ValueError: non-integer numbers (probabilities, scores, NaN) are
    never labels, and where `allowed` is given only those values are."""
    values = np.unique(labels)
    numeric = np.issubdtype(values.dtype, np.number)
    finite = not numeric or bool(np.isfinite(values).all())
    scores = numeric and finite and not np.all(values == np.floor(values))
    if not finite or scores or (allowed is not None and not np.isin(values, allowed).all()):
        valid = "class labels (integers or strings)" if allowed is None else \
            f"the labels {' and '.join(map(str, allowed))} (1 = positive)"
        hint = ("; these look like probabilities or scores: threshold them first, "
                "e.g. (p > 0.5).astype(int)") if scores else ""
        raise ValueError(f"{name} must contain only {valid}; got values "
                         f"{values[:10].tolist()}{hint}")
    return labels


def _check_binary(name, labels):
    return _check_labels(name, labels, allowed=(0, 1)).astype(bool)


def _labels(y_true, y_pred):
    """The pair as 1-D arrays of the same length, both holding labels (not scores)."""
    y_true, y_pred = _pair(y_true, y_pred, "y_pred")
    return _check_labels("y_true", y_true), _check_labels("y_pred", y_pred)


def _counts(y_true, y_pred):
    """(TP, FP, FN, TN) of binary labels."""
    y_true, y_pred = _pair(y_true, y_pred, "y_pred")
    t, p = _check_binary("y_true", y_true), _check_binary("y_pred", y_pred)
    return (int(np.sum(t & p)), int(np.sum(~t & p)), int(np.sum(t & ~p)), int(np.sum(~t & ~p)))


def _ratio(numerator, denominator):
    return numerator / denominator if denominator else 0.0


def accuracy(y_true, y_pred):
    """Fraction of correct predictions: mean(y_true == y_pred). Any labels, not only
    binary, but labels: probabilities or scores are refused (threshold them first)."""
    y_true, y_pred = _labels(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def precision(y_true, y_pred):
    """Of the predicted positives, the fraction truly positive: TP / (TP + FP).

    0 when nothing is predicted positive (TP + FP = 0).
    """
    tp, fp, _, _ = _counts(y_true, y_pred)
    return _ratio(tp, tp + fp)


def recall(y_true, y_pred):
    """Of the true positives, the fraction found: TP / (TP + FN); 0 if there are no positives."""
    tp, _, fn, _ = _counts(y_true, y_pred)
    return _ratio(tp, tp + fn)


def f1(y_true, y_pred):
    """Harmonic mean of precision and recall: 2PR / (P + R) = 2TP / (2TP + FP + FN); 0 if TP + FP + FN = 0."""
    tp, fp, fn, _ = _counts(y_true, y_pred)
    return _ratio(2 * tp, 2 * tp + fp + fn)


def confusion_matrix(y_true, y_pred, labels=None):
    """Counts C[i, j] of samples with true label labels[i] and predicted label labels[j] (int64).

    `labels` defaults to the sorted labels found in either input; pass (0, 1) to
    always get the binary [[TN, FP], [FN, TP]] layout of scikit-learn.
    """
    y_true, y_pred = _labels(y_true, y_pred)
    both = np.concatenate([y_true, y_pred])
    labels = np.unique(both) if labels is None else np.asarray(labels)
    unknown = np.setdiff1d(both, labels)
    if unknown.size:
        raise ValueError(f"labels must list every label in y_true and y_pred; "
                         f"got labels {labels.tolist()}, missing {unknown[:10].tolist()}")
    codes = (both[:, None] == labels[None, :]).argmax(axis=1)  # each value's position in labels
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(matrix, (codes[:len(y_true)], codes[len(y_true):]), 1)
    return matrix


def _average_ranks(values):
    """Ranks 1..n of `values`; tied values share the mean of the ranks they span."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    # Each run of equal values starts where the sorted value changes.
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]  # exclusive
    run_ranks = (starts + 1 + ends) / 2.0   # mean of the ranks starts+1 .. ends
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(run_ranks, ends - starts)
    return ranks


def roc_auc(y_true, scores):
    """Area under the ROC curve: the probability that a random positive scores above a random negative.

    Mann-Whitney: AUC = (R+ - n+(n+ + 1)/2) / (n+ n-), with R+ the sum of the
    positives' ranks among all scores; tied scores get their average rank,
    i.e. count 1/2 per positive-negative tie. Needs both classes in y_true.
    """
    y_true, scores = _pair(y_true, scores, "scores")
    positive = _check_binary("y_true", y_true)
    scores = scores.astype(float)
    if not np.isfinite(scores).all():
        raise ValueError(f"scores must be finite numbers; got {scores[~np.isfinite(scores)][:5].tolist()}")
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"roc_auc needs both classes in y_true; got only label {int(positive[0])} "
                         f"({len(positive)} samples)")
    rank_sum = _average_ranks(scores)[positive].sum()
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
