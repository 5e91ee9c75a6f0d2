"""The Keras run that test_harness_keras's kill test SIGKILLs (in forked children,
see kill_helpers) and compares with an uninterrupted one. Importing this module
must run no TensorFlow op: the zygote that forks the children imports it."""
import keras
import numpy as np

from lessons_lib.harness.keras import fit

KILL_EPOCHS = 14


def train_for_kill_test(folder=None, epochs=KILL_EPOCHS, callbacks=()):
    """A run whose checkpoint saves take a while (7 MB: weights and Adam's two
    moments), so that kills land inside them. Also run in forked children."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(64, 32)).astype("float32")
    y = np.tanh(X[:, :1] * X[:, 1:2]).astype("float32")
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((32,)), keras.layers.Dense(768, activation="relu"),
                              keras.layers.Dropout(0.2),
                              keras.layers.Dense(768, activation="relu"),
                              keras.layers.Dense(1)])
    history = fit(model, (X, y), loss="mse", optimizer=keras.optimizers.Adam(1e-3),
                  epochs=epochs, val=(X[:16], y[:16]), batch_size=32, progress=False, seed=0,
                  checkpoint=folder, callbacks=callbacks)
    return model, history
