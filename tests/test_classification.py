"""lessons_lib.classification: measured epochs equal the closed form, metrics equal
scikit-learn's, and the sanity checks say what they claim."""
import math

import numpy as np
import pytest
import torch
from sklearn import metrics as sk

from lessons_lib import classification

X = np.array(classification.LECTURE_X)
Y = 2 * X[:, 0]
START = (-0.5, 0.5)


def test_measured_epochs_equal_the_closed_form_and_divergence_gives_none():
    lrs = [0.05, 0.1, 0.2]
    measured = classification.epochs_to_fit(lrs, X, Y, START, max_epochs=2000)
    assert measured[0.2] is None                              # 0.2 > 2 / λ_max ≈ 0.12
    assert classification.predicted_epochs(X, Y, START, 0.2) is None
    for lr in (0.05, 0.1):
        assert measured[lr] == classification.predicted_epochs(X, Y, START, lr)
    assert measured[0.05] > measured[0.1] > 0


def test_predicted_epochs_is_the_first_epoch_from_which_the_error_stays_small():
    k = classification.predicted_epochs(X, Y, START, 0.1, tol=1e-2)
    theta = np.array(START, dtype=float)
    errors = []
    for _ in range(k + 200):
        errors.append(np.abs(theta - [2.0, 0.0]).max())
        residual = theta[0] * X[:, 0] + theta[1] - Y
        theta = theta - 0.1 * 2 * np.array([np.mean(residual * X[:, 0]), np.mean(residual)])
    errors = np.array(errors)
    assert np.all(errors[k:] <= 1e-2) and errors[k - 1] > 1e-2


def test_lecture_lr_table_rows():
    rows = classification.lecture_lr_table([0.1, 1.0], START, max_epochs=1000)
    assert [r["lr"] for r in rows] == [0.1, 1.0]
    assert rows[0]["measured"] == rows[0]["closed form"] and rows[1]["measured"] is None
    assert rows[1]["η·λ_max"] > 2


@pytest.mark.parametrize("bad", [0, -1.0, float("nan")])
def test_bad_tolerances_and_rates_are_refused(bad):
    with pytest.raises(ValueError, match="tol"):
        classification.predicted_epochs(X, Y, START, 0.1, tol=bad)
    with pytest.raises(ValueError, match="lrs"):
        classification.epochs_to_fit([bad], X, Y, START)


def _scored(seed=0, n=300):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    return y, np.round(np.clip(0.25 * y + rng.random(n) * 0.75, 0, 1), 2)   # with ties


def test_scores_table_equals_scikit_learn():
    y, s = _scored()
    table = classification.scores_table(y, s, threshold=0.5)
    y_hat = (s >= 0.5).astype(int)
    assert table["accuracy"] == pytest.approx(sk.accuracy_score(y, y_hat))
    assert table["precision"] == pytest.approx(sk.precision_score(y, y_hat))
    assert table["recall"] == pytest.approx(sk.recall_score(y, y_hat))
    assert table["F1"] == pytest.approx(sk.f1_score(y, y_hat))
    assert table["ROC AUC"] == pytest.approx(sk.roc_auc_score(y, s))


def test_roc_curve_equals_scikit_learn_with_ties():
    y, s = _scored(1)
    fpr, tpr, thresholds = classification.roc_curve(y, s)
    sk_fpr, sk_tpr, sk_thr = sk.roc_curve(y, s, drop_intermediate=False)
    assert np.allclose(fpr, sk_fpr) and np.allclose(tpr, sk_tpr)
    assert np.allclose(thresholds[1:], sk_thr[1:]) and np.isinf(thresholds[0])
    with pytest.raises(ValueError, match="both classes"):
        classification.roc_curve(np.ones(3), np.arange(3.0))


def test_threshold_table_trades_recall_for_precision():
    y, s = _scored(2)
    rows = classification.threshold_table(y, s, [0.2, 0.5, 0.8])
    assert [r["recall"] for r in rows] == sorted((r["recall"] for r in rows), reverse=True)
    assert rows[-1]["precision"] > rows[0]["precision"]
    assert rows[0]["predicted yes"] > rows[-1]["predicted yes"]


def test_threshold_for_recall_is_the_highest_that_reaches_it():
    y, s = _scored(3)
    for target in (0.3, 0.7, 0.95, 1.0):
        t = classification.threshold_for_recall(y, s, target)
        assert sk.recall_score(y, (s >= t).astype(int)) >= target
        higher = np.unique(s)[np.unique(s) > t]
        if higher.size:
            assert sk.recall_score(y, (s >= higher.min()).astype(int)) < target


def test_sigmoid_is_finite_for_large_logits():
    z = np.array([-800.0, 0.0, 800.0])
    assert np.allclose(classification.sigmoid(z), [0.0, 0.5, 1.0])


def _mlp(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(20, 32), torch.nn.ReLU(), torch.nn.Linear(32, 5))


def test_loss_at_init_is_about_log_classes_and_overfitting_one_batch_works():
    torch.manual_seed(0)
    x, y = torch.randn(64, 20), torch.randint(0, 5, (64,))
    ce = torch.nn.CrossEntropyLoss()
    model = _mlp()
    assert abs(classification.loss_at_init(model, x, y, ce) - math.log(5)) < 0.2
    assert model.training
    losses = classification.overfit_one_batch(model, x[:16], y[:16], loss=ce, steps=150,
                                              optimizer=torch.optim.Adam(model.parameters(), 1e-2))
    assert losses.shape == (150,) and losses[-1] < 0.01 * losses[0]


def test_overfit_one_batch_stalls_without_zero_grad_style_bugs_showing():
    """A frozen model (no parameters given to the optimizer) cannot overfit."""
    torch.manual_seed(0)
    x, y = torch.randn(16, 20), torch.randint(0, 5, (16,))
    model = _mlp()
    dummy = torch.nn.Parameter(torch.zeros(1))
    losses = classification.overfit_one_batch(model, x, y, loss=torch.nn.CrossEntropyLoss(),
                                              steps=20, optimizer=torch.optim.SGD([dummy], 0.1))
    assert np.allclose(losses, losses[0])


def test_update_to_weight_ratio_scales_with_the_learning_rate():
    torch.manual_seed(0)
    x, y = torch.randn(64, 20), torch.randint(0, 5, (64,))
    ratios = []
    for lr in (1e-3, 1e-2):
        model = _mlp()
        r = classification.update_to_weight_ratios(model, x, y, loss=torch.nn.CrossEntropyLoss(),
                                                   optimizer=torch.optim.SGD(model.parameters(), lr))
        assert set(r) == {"0.weight", "2.weight"}
        ratios.append(r["0.weight"])
    assert ratios[1] / ratios[0] == pytest.approx(10, rel=0.05)


def test_decay_groups_leave_biases_and_norms_alone():
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                                torch.nn.Linear(4, 1))
    decay, no_decay = classification.decay_groups(model, 0.1, lr=0.5)
    assert [p.ndim for p in decay["params"]] == [2, 2]
    assert len(no_decay["params"]) == 4 and all(p.ndim == 1 for p in no_decay["params"])
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert decay["lr"] == no_decay["lr"] == 0.5
    torch.optim.SGD([decay, no_decay], lr=0.1)      # torch accepts them
