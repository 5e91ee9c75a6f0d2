"""lessons_lib.metrics against scikit-learn on many random problems, plus every error."""
import numpy as np
import pytest
import sklearn.metrics as skm
from scipy.stats import rankdata

from lessons_lib import metrics

BINARY = {
    "precision": (metrics.precision, lambda t, p: skm.precision_score(t, p, zero_division=0)),
    "recall": (metrics.recall, lambda t, p: skm.recall_score(t, p, zero_division=0)),
    "f1": (metrics.f1, lambda t, p: skm.f1_score(t, p, zero_division=0)),
    "accuracy": (metrics.accuracy, skm.accuracy_score),
}


def random_problems(count=300, seed=0):
    """Binary problems of every size from 1 up, balanced to very imbalanced, some with constant columns."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        n = int(rng.integers(1, 60))
        positive_rate = rng.choice([0.0, 0.02, 0.1, 0.5, 0.9, 1.0]) if i % 3 else rng.random()
        y_true = (rng.random(n) < positive_rate).astype(int)
        kind = i % 4
        if kind == 0:
            y_pred = np.zeros(n, int)                          # all-same predictions
        elif kind == 1:
            y_pred = np.ones(n, int)
        elif kind == 2:
            y_pred = (rng.random(n) < 0.5).astype(int)
        else:
            y_pred = np.where(rng.random(n) < 0.8, y_true, 1 - y_true)  # a decent classifier
        yield y_true, y_pred


@pytest.mark.parametrize("name", BINARY)
def test_binary_metrics_equal_sklearn(name):
    ours, theirs = BINARY[name]
    for y_true, y_pred in random_problems():
        assert ours(y_true, y_pred) == pytest.approx(theirs(y_true, y_pred), abs=1e-12), (y_true, y_pred)


def test_zero_division_gives_zero():
    nothing_predicted = ([1, 0, 1], [0, 0, 0])
    assert metrics.precision(*nothing_predicted) == 0.0
    assert metrics.f1(*nothing_predicted) == 0.0
    no_positives = ([0, 0, 0], [0, 0, 0])
    assert metrics.recall(*no_positives) == 0.0
    assert metrics.f1(*no_positives) == 0.0
    assert metrics.accuracy(*no_positives) == 1.0


def test_formulas_on_a_hand_example():
    # TP = 2 (positions 0, 3), FP = 1 (position 1), FN = 1 (position 2), TN = 1 (position 4)
    y_true, y_pred = [1, 0, 1, 1, 0], [1, 1, 0, 1, 0]
    assert metrics.precision(y_true, y_pred) == pytest.approx(2 / 3)
    assert metrics.recall(y_true, y_pred) == pytest.approx(2 / 3)
    assert metrics.f1(y_true, y_pred) == pytest.approx(2 / 3)
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(3 / 5)
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred), [[1, 1], [1, 2]])


def test_accuracy_and_confusion_matrix_multiclass_equal_sklearn():
    rng = np.random.default_rng(1)
    for _ in range(100):
        n = int(rng.integers(2, 80))
        y_true, y_pred = rng.integers(0, 5, n), rng.integers(0, 5, n)
        assert metrics.accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred))
        np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred),
                                      skm.confusion_matrix(y_true, y_pred))


def test_binary_confusion_matrix_equals_sklearn():
    for y_true, y_pred in random_problems(100, seed=2):
        for labels in ([0, 1], [1, 0]):
            np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred, labels=labels),
                                          skm.confusion_matrix(y_true, y_pred, labels=labels))


def test_confusion_matrix_labels_default_to_those_found():
    np.testing.assert_array_equal(metrics.confusion_matrix([0, 0], [0, 0]), [[2]])
    np.testing.assert_array_equal(metrics.confusion_matrix(["b", "a"], ["b", "b"]), [[0, 1], [0, 1]])


def test_confusion_matrix_refuses_labels_that_miss_values():
    with pytest.raises(ValueError, match=r"labels must list every label .* got labels \[0, 1\], missing \[2\]"):
        metrics.confusion_matrix([0, 1, 2], [0, 1, 1], labels=[0, 1])


def test_average_ranks_equal_scipy():
    rng = np.random.default_rng(3)
    for _ in range(50):
        values = rng.integers(0, 6, int(rng.integers(1, 40))).astype(float)
        np.testing.assert_allclose(metrics._average_ranks(values), rankdata(values))


@pytest.mark.parametrize("score_kind", ["continuous", "few_ties", "many_ties", "constant"])
def test_roc_auc_equals_sklearn(score_kind):
    rng = np.random.default_rng(4)
    checked = 0
    for y_true, y_pred in random_problems(400, seed=5):
        if y_true.min() == y_true.max():
            continue
        n = len(y_true)
        scores = {"continuous": rng.normal(size=n) + y_true,
                  "few_ties": np.round(rng.random(n) + 0.3 * y_true, 1),
                  "many_ties": y_pred + rng.integers(0, 2, n),
                  "constant": np.full(n, 0.7)}[score_kind]
        assert metrics.roc_auc(y_true, scores) == pytest.approx(skm.roc_auc_score(y_true, scores), abs=1e-12)
        checked += 1
    assert checked > 100


def test_roc_auc_hand_examples():
    assert metrics.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == pytest.approx(0.75)
    assert metrics.roc_auc([0, 1], [0.5, 0.5]) == 0.5       # a tie counts one half
    assert metrics.roc_auc([1, 0], [0.9, 0.1]) == 1.0
    assert metrics.roc_auc([1, 0], [0.1, 0.9]) == 0.0


def test_accepts_lists_bools_columns_and_tensors():
    torch = pytest.importorskip("torch")
    y_true = np.array([1, 0, 1, 1, 0])
    y_pred = np.array([1, 1, 0, 1, 0])
    expected = metrics.f1(y_true, y_pred)
    assert metrics.f1(y_true.tolist(), y_pred.astype(bool)) == expected
    assert metrics.f1(y_true[:, None], y_pred[:, None]) == expected
    assert metrics.f1(torch.tensor(y_true), torch.tensor(y_pred, dtype=torch.float32)) == expected


ALL = [metrics.accuracy, metrics.precision, metrics.recall, metrics.f1, metrics.roc_auc,
       metrics.confusion_matrix]


@pytest.mark.parametrize("metric", ALL, ids=lambda f: f.__name__)
def test_mismatched_lengths_are_refused(metric):
    with pytest.raises(ValueError, match=r"y_true and (y_pred|scores) must have the same length; got 3 and 2"):
        metric([0, 1, 1], [0, 1])


@pytest.mark.parametrize("metric", ALL, ids=lambda f: f.__name__)
def test_empty_input_is_refused(metric):
    with pytest.raises(ValueError, match="y_true is empty"):
        metric([], [])


@pytest.mark.parametrize("metric", ALL, ids=lambda f: f.__name__)
def test_non_1d_input_is_refused(metric):
    with pytest.raises(ValueError, match=r"y_true must be 1-D .* got shape \(2, 2\)"):
        metric([[0, 1], [1, 0]], [0, 1])


@pytest.mark.parametrize("metric", [metrics.precision, metrics.recall, metrics.f1, metrics.roc_auc],
                         ids=lambda f: f.__name__)
def test_non_binary_y_true_is_refused(metric):
    with pytest.raises(ValueError, match=r"y_true must contain only the labels 0 and 1.*got values \[-1, 1\]"):
        metric([-1, 1, 1], [0, 1, 1])
    with pytest.raises(ValueError, match=r"y_true must contain only the labels 0 and 1.*\[0, 1, 2\]"):
        metric([0, 1, 2], [0, 1, 1])


@pytest.mark.parametrize("metric", [metrics.precision, metrics.recall, metrics.f1], ids=lambda f: f.__name__)
def test_non_binary_y_pred_is_refused(metric):
    with pytest.raises(ValueError, match=r"y_pred must contain only the labels 0 and 1.*got values \[0.0, 0.7\]"):
        metric([0, 1], [0.0, 0.7])


@pytest.mark.parametrize("label", [0, 1])
def test_roc_auc_one_class_is_refused(label):
    with pytest.raises(ValueError, match=rf"roc_auc needs both classes in y_true; got only label {label}"):
        metrics.roc_auc([label] * 4, [0.1, 0.2, 0.3, 0.4])


def test_roc_auc_non_finite_scores_are_refused():
    with pytest.raises(ValueError, match=r"scores must be finite numbers; got \[nan\]"):
        metrics.roc_auc([0, 1, 1], [0.1, np.nan, 0.3])


@pytest.mark.parametrize("metric", [metrics.accuracy, metrics.confusion_matrix], ids=lambda f: f.__name__)
def test_probabilities_are_refused_as_labels_by_the_multiclass_metrics_too(metric):
    # accuracy used to compare 0/1 with 0.2/0.7 and return 0.0 without a word.
    y_true, p = [0, 1, 1], [0.2, 0.7, 0.9]
    with pytest.raises(ValueError) as error:
        metric(y_true, p)
    assert str(error.value) == ("y_pred must contain only class labels (integers or strings); "
                                "got values [0.2, 0.7, 0.9]; these look like probabilities or "
                                "scores: threshold them first, e.g. (p > 0.5).astype(int)")
    with pytest.raises(ValueError, match=r"y_true must contain only class labels .* got values "
                                         r"\[0.5, 1.0\]; these look like probabilities"):
        metric([0.5, 1.0, 1.0], [0, 1, 1])
    with pytest.raises(ValueError, match=r"y_pred must contain only class labels .* got values "
                                         r"\[1.0, nan\]$"):
        metric(y_true, [np.nan, 1.0, 1.0])


def test_precision_gives_the_same_hint_for_probabilities():
    with pytest.raises(ValueError, match=r"y_pred must contain only the labels 0 and 1 "
                                         r"\(1 = positive\); got values \[0.2, 0.7\]; these look "
                                         r"like probabilities or scores"):
        metrics.precision([0, 1], [0.2, 0.7])


def test_accuracy_still_takes_any_labels():
    assert metrics.accuracy(["cat", "dog", "dog"], ["cat", "cat", "dog"]) == pytest.approx(2 / 3)
    assert metrics.accuracy([0, 1, 2], [0.0, 1.0, 2.0]) == 1.0   # whole floats are labels
    assert metrics.accuracy([0, 1], np.array([False, True])) == 1.0
