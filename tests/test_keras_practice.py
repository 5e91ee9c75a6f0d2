"""lessons_lib.keras_practice: the tape loop is fit, ports compute torch's math,
the two frameworks train one model alike, and the metrics table is scikit-learn's."""
import numpy as np
import pytest

import lessons_lib  # noqa: F401  (quiet TensorFlow before it is imported)
import keras
import torch

from lessons_lib import data, keras_practice, optim
from lessons_lib.optim import compare


def test_tape_fit_gives_fits_weights_with_mini_batches():
    x, y = data.toy_regression()
    start = [np.array([[0.3]], dtype="float32"), np.array([0.1], dtype="float32")]
    fitted = keras_practice.linear_model(1, start)
    fitted.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.5), loss="mse")
    reported = fitted.fit(x, y, epochs=3, batch_size=3, shuffle=False, verbose=0)
    taped = keras_practice.linear_model(1, start)
    losses = keras_practice.tape_fit(taped, x, y, loss=keras.losses.MeanSquaredError(),
                                     optimizer=keras.optimizers.SGD(0.01, momentum=0.5),
                                     epochs=3, batch_size=3)
    for a, b in zip(taped.get_weights(), fitted.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_allclose(losses, reported.history["loss"], rtol=1e-5)


def _dummy():
    return [torch.zeros(1, requires_grad=True)]


def test_torch_to_keras_prefers_the_built_in_and_falls_back_to_our_rule():
    port, how = keras_practice.torch_to_keras(torch.optim.SGD(_dummy(), lr=0.0625, momentum=0.875))
    assert how == "built-in" and type(port).__name__ == "SGD"
    port, how = keras_practice.torch_to_keras(torch.optim.SGD(_dummy(), lr=0.0625, momentum=0.875),
                                              constant_lr=False)
    assert how.startswith("ours") and hasattr(port, "rule")
    port, how = keras_practice.torch_to_keras(torch.optim.Adam(_dummy(), lr=0.01))
    assert how.startswith("ours")              # ε on √v̂: no Keras built-in
    with pytest.raises(ValueError, match="LBFGS"):
        keras_practice.torch_to_keras(torch.optim.LBFGS(_dummy()))


@pytest.mark.parametrize("make, lrs", [
    (lambda p: torch.optim.SGD(p, lr=0.0625, momentum=0.875), None),
    (lambda p: torch.optim.SGD(p, lr=0.0625, momentum=0.875), [0.0625] * 5 + [0.03125] * 5),
    (lambda p: torch.optim.Adam(p, lr=0.0078125, eps=1e-8), None),
    (lambda p: torch.optim.Adam(p, lr=0.0078125, weight_decay=0.125), None),
    (lambda p: torch.optim.RMSprop(p, lr=0.0078125), None),
])
def test_ports_follow_torchs_path_to_round_off(make, lrs):
    problem = compare.Problem(seed=1, steps=10, scale=1e-6 if lrs is None else 1.0)
    port, _ = keras_practice.torch_to_keras(make(_dummy()), constant_lr=lrs is None)
    assert keras_practice.port_gap(make, port, problem, lrs) < 1e-12


def test_port_gap_sees_the_learning_rate_inside_keras_momentum_buffer():
    make = lambda p: torch.optim.SGD(p, lr=0.0625, momentum=0.875)  # noqa: E731
    problem, lrs = compare.Problem(seed=0, steps=10), [0.0625] * 5 + [0.03125] * 5
    naive = keras.optimizers.SGD(learning_rate=0.0625, momentum=0.875)
    assert keras_practice.port_gap(make, naive, problem) < 1e-12
    naive = keras.optimizers.SGD(learning_rate=0.0625, momentum=0.875)
    assert keras_practice.port_gap(make, naive, problem, lrs) > 1e-3


def test_interrupt_at_raises_after_that_epoch():
    x, y = data.toy_regression()
    model = keras_practice.linear_model(1, [np.ones((1, 1)), np.zeros(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(keras_practice.SimulatedCrash, match="epoch 2"):
        model.fit(x, y, epochs=5, verbose=0, callbacks=[keras_practice.InterruptAt(2)])


def test_torch_and_keras_curves_agree_to_float32_round_off():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype("float32")
    y = x @ np.array([1.0, -2.0, 0.5], dtype="float32") + 0.1
    opt = optim.get("momentum", lr=0.0625, momentum=0.875)
    curves = keras_practice.torch_and_keras_curves(
        x, y, make_torch=opt.torch_reference, keras_optimizer=opt.keras_reference(),
        epochs=4, batch_size=16)
    np.testing.assert_allclose(curves["Keras"], curves["torch"], rtol=1e-5)
    assert curves["torch"][-1] < curves["torch"][0]


def test_metrics_table_matches_scikit_learn():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=200)
    scores = np.clip(0.3 * y + rng.uniform(size=200) * 0.7, 0, 1)
    rows = keras_practice.metrics_table(y, scores)
    assert [r["metric"] for r in rows] == ["accuracy", "precision", "recall", "F1", "ROC AUC"]
    assert all(r["difference"] <= 1e-12 for r in rows)
    assert 0.5 < rows[-1]["ours"] <= 1
