"""Our Keras harness `fit` against a plain `model.compile` + `model.fit`.

The same model (a fresh copy each run, same seed), data, optimizer, epochs and
batch size; the two alternate, several repeats. Two figures:

- the epoch time once traced (the headline): in each run a callback times every
  epoch after the first, and the ratio is of the medians of those epochs. This
  is what the harness adds per epoch.
- the whole run, Keras's tracing and compiling included, as a lesson pays it.
  Tracing takes about as long as the epochs here and varies by tens of percent
  from run to run on a shared CPU, so this ratio strays far more.

Plain `model.fit` also runs a second time in each repeat, as an A/A control:
its epoch ratio against the first is what noise alone gives on this machine.
"""
import os
import statistics
import time

from .timing import against_reference, rotating

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

EPOCHS = 5
REPEATS = 21  # one repeat is ~2.6 s; with 7, single repeats strayed 0.6-1.5 and the median ±0.15
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


def _epoch_timer():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._started)

    return EpochTimer()


def run(size="full", repeats=None):
    import keras

    from lessons_lib.harness.keras import fit
    X, y, batch, model, optimizer = _problem(size)
    epochs = EPOCHS if size == "full" else 2
    repeats = repeats or (REPEATS if size == "full" else 2)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def ours(timer):
        fit(model(), (X, y), loss=loss, optimizer=optimizer(), epochs=epochs, batch_size=batch,
            progress=False, callbacks=[timer])

    def plain(timer):
        m = model()
        m.compile(optimizer=optimizer(), loss=loss)
        m.fit(X, y, batch_size=batch, epochs=epochs, verbose=0, callbacks=[timer])

    ours(_epoch_timer()), plain(_epoch_timer())  # warm up: imports, first traces

    def timed(train):
        def once():
            timer = _epoch_timer()
            train(timer)
            return statistics.median(timer.seconds[1:])  # the epochs once traced
        return once
    runs = rotating({"ours": timed(ours), "reference": timed(plain), "control": timed(plain)},
                    repeats=repeats)
    epoch = against_reference(runs, "ours", lambda run: run[1])
    whole = against_reference(runs, "ours", lambda run: run[0])
    control = against_reference(runs, "control", lambda run: run[1])
    steps = -(-len(X) // batch)
    return {"keras_harness_overhead": epoch["ratio"],
            "keras_harness": {**epoch, "whole_run": whole, "control": control, "epochs": epochs,
                              "steps_per_epoch": steps, "batch_size": batch}}


def describe(figures):
    r = figures["keras_harness"]
    w, c = r["whole_run"], r["control"]
    mark = "✓" if r["ratio"] <= 1.05 else "✗"
    return (f"our Keras fit / plain model.fit, {r['epochs']} epochs of {r['steps_per_epoch']} "
            f"steps of batch {r['batch_size']}; goal <= 1.05\n"
            f"  epoch once traced {r['ratio']:.3f} {mark} [{r['spread'][0]:.3f}, "
            f"{r['spread'][1]:.3f}] over {r['repeats']} repeats   ({r['ours_ms']:.1f} ms vs "
            f"{r['reference_ms']:.1f} ms)\n"
            f"  A/A control, plain / plain again, epoch {c['ratio']:.3f} [{c['spread'][0]:.3f}, "
            f"{c['spread'][1]:.3f}]: what noise alone gives on this machine\n"
            f"  whole run, tracing included {w['ratio']:.3f} [{w['spread'][0]:.3f}, "
            f"{w['spread'][1]:.3f}]   ({w['ours_ms'] / 1e3:.2f} s vs "
            f"{w['reference_ms'] / 1e3:.2f} s)")
