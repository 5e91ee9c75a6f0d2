"""Our Keras harness `fit` against a plain `model.compile` + `model.fit`.

The same model (a fresh copy each run, same seed), data, optimizer, epochs and
batch size; each run includes Keras's tracing and compiling, as a lesson does.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from .timing import side_by_side  # noqa: E402

EPOCHS = 3
# samples, features, hidden, classes, batch size
SIZES = {"full": (8192, 32, 64, 10, 64), "tiny": (256, 8, 16, 3, 64)}


def _problem(size):
    import keras
    import numpy as np
    n, features, hidden, classes, batch = SIZES[size]
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, features)).astype("float32")
    y = rng.integers(0, classes, n)

    def model():
        keras.utils.set_random_seed(0)
        return keras.Sequential([keras.Input((features,)), keras.layers.Dense(hidden, "relu"),
                                 keras.layers.Dense(hidden, "relu"), keras.layers.Dense(classes)])

    def optimizer():
        return keras.optimizers.SGD(0.01, momentum=0.9)

    return X, y, batch, model, optimizer


def run(size="full", repeats=None):
    import keras

    from lessons_lib.harness.keras import fit
    X, y, batch, model, optimizer = _problem(size)
    epochs = EPOCHS if size == "full" else 1
    repeats = repeats or (5 if size == "full" else 2)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def ours():
        fit(model(), (X, y), loss=loss, optimizer=optimizer(), epochs=epochs, batch_size=batch,
            progress=False)

    def plain():
        m = model()
        m.compile(optimizer=optimizer(), loss=loss)
        m.fit(X, y, batch_size=batch, epochs=epochs, verbose=0)

    ours(), plain()  # warm up: imports, first traces
    result = side_by_side(ours, plain, repeats=repeats)
    return {"keras_harness_overhead": result["ratio"],
            "keras_harness": {**result, "steps": epochs * -(-len(X) // batch), "batch_size": batch}}


def describe(figures):
    r = figures["keras_harness"]
    mark = "✓" if r["ratio"] <= 1.05 else "✗"
    return (f"our Keras fit / plain model.fit, {r['steps']} steps of batch {r['batch_size']} "
            f"(compile included); goal <= 1.05\n  {r['ratio']:.3f} {mark} "
            f"[{r['spread'][0]:.3f}, {r['spread'][1]:.3f}] over {r['repeats']} repeats   "
            f"({r['ours_ms'] / 1e3:.2f} s vs {r['reference_ms'] / 1e3:.2f} s)")
