"""The course's Keras training loop: `compile` + `model.fit`, returning the same
`History` as the torch harness (`train_loss`, `val_loss`, `lr`, `seconds`,
metrics named `accuracy` / `val_accuracy`)."""
from __future__ import annotations

import contextlib
import json
import math
import os
import time

import keras
import numpy as np

from lessons_lib.devices import seed_everything
from lessons_lib.harness import DivergenceError, divergence_message
from lessons_lib.harness.callbacks import Callback, TrainState, uses_step_hooks
from lessons_lib.harness.history import History

EXTRAS_FILE = "lessons_lib_extras.json"  # rows and seeds, next to BackupAndRestore's files


def fit(model, train, *, loss, optimizer, epochs, val=None, callbacks=(), metrics=None,
        batch_size=None, progress=True, seed=None, checkpoint=None, mixed_precision="auto",
        strategy=None, **fit_kwargs) -> History:
    """Compile `model` and train it with `model.fit`; returns a `History`.

    train, val: an (x, y) tuple of arrays (then `batch_size` applies; Keras
        shuffles them every epoch), or a `tf.data.Dataset` of (x, y) batches.
    optimizer: a Keras optimizer, its name ("adam"), or a lessons_lib optimizer
        (anything with `.to_keras()`).
    callbacks: Keras callbacks (passed through, e.g. keras.callbacks.EarlyStopping)
        and epoch-level `lessons_lib.harness.callbacks` such as EarlyStopping.
    metrics: names Keras knows ("accuracy") or {"name": fn(y_true, y_pred)}.
    progress: True prints one line per epoch, "batches" Keras's progress bar,
        False nothing.
    seed: seeds Python, NumPy and Keras/TensorFlow before training.
    checkpoint: a directory for `keras.callbacks.BackupAndRestore`: saved after
        every epoch; when it holds a backup, training resumes after its last
        epoch. It is kept after training (as in the torch harness: delete it to
        start over). Keras saves weights, optimizer state and the epoch; the
        harness adds the History rows and the random-seed state of layers such
        as Dropout, so that with the same `seed=` a resumed run reproduces the
        uninterrupted one exactly on the CPU (a tf.data pipeline with its own
        `.shuffle` must be seeded by you).
    mixed_precision: "auto" switches a float32 model to "mixed_float16" (float16
        compute, float32 weights, loss scaling) when a GPU is present, keeping
        the output layer in float32; False never does; True requires a GPU.
    strategy: a `tf.distribute` strategy (e.g. `tf_distribute.mirrored()`:
        MirroredStrategy over the visible GPUs, or over logical CPU devices).
        Create the model inside `with strategy.scope():`; fit compiles it there.
        `batch_size` is then the global batch: each of the N replicas computes
        the gradient of its 1/N and the replicas' gradients are summed
        (all-reduce), so the update is the one of the whole batch.
    fit_kwargs: passed to `model.fit` (shuffle, class_weight, ...).

    A NaN or infinite training loss raises `DivergenceError` at the end of the
    epoch (checked off the training thread: no per-step wait), after restoring
    the weights and optimizer state of the start of that epoch.
    """
    _check_arguments(epochs=epochs, progress=progress, mixed_precision=mixed_precision,
                     batch_size=batch_size, train=train, val=val)
    if seed is not None:
        seed_everything(seed)
    keras_kinds = (keras.optimizers.Optimizer, str)
    if not isinstance(optimizer, keras_kinds) and hasattr(optimizer, "to_keras"):
        optimizer = optimizer.to_keras()  # a lessons_lib optimizer
    if not isinstance(optimizer, keras_kinds):
        raise ValueError("optimizer must be a keras optimizer, its name or a lessons_lib optimizer "
                         f"(with .to_keras()); got optimizer={optimizer!r}")
    if mixed_precision is True or (mixed_precision == "auto" and gpu_available()):
        use_mixed_precision(model)
    with _strategy_scope(strategy, model):
        model.compile(optimizer=optimizer, loss=loss, metrics=_keras_metrics(metrics))

    ours = [cb for cb in callbacks if isinstance(cb, Callback)]
    history = History()
    keras_callbacks = [_Harness(ours, history)]
    keras_callbacks += [cb for cb in callbacks if not isinstance(cb, Callback)]
    if checkpoint is not None:
        checkpoint = os.fspath(checkpoint)
        _build(model, train)  # BackupAndRestore needs the weights to exist
        history.rows, seeds = _load_extras(checkpoint)
        if seeds is not None:
            _restore_seeds(model, seeds)
        keras_callbacks += [keras.callbacks.BackupAndRestore(checkpoint, delete_checkpoint=False),
                            _SaveExtras(checkpoint, history)]
    x, y = _split(train)
    if _is_dataset(train):
        # Keras would warn that its default shuffle=True does not apply to datasets.
        fit_kwargs.setdefault("shuffle", False)
    model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_data=_validation(val),
              callbacks=keras_callbacks, verbose={True: 2, "batches": 1, False: 0}[progress],
              **fit_kwargs)
    return history


def _strategy_scope(strategy, model):
    """The scope the model was created in (a no-op context without a strategy)."""
    if strategy is None:
        return contextlib.nullcontext()
    if not hasattr(strategy, "scope") or not hasattr(strategy, "num_replicas_in_sync"):
        raise ValueError("strategy must be a tf.distribute strategy (e.g. "
                         f"tf.distribute.MirroredStrategy()) or None; got strategy={strategy!r}")
    if getattr(model, "_distribute_strategy", None) is not strategy:
        raise ValueError("the model was not created under this strategy: build it inside "
                         "`with strategy.scope():` so that its variables are mirrored on "
                         f"every replica (strategy={type(strategy).__name__})")
    return strategy.scope()


def _check_arguments(*, epochs, progress, mixed_precision, batch_size, train, val):
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs <= 0:
        raise ValueError(f"epochs must be a positive int; got epochs={epochs!r}")
    if not (progress is True or progress is False or progress == "batches"):
        raise ValueError(f"progress must be True, False or 'batches'; got progress={progress!r}")
    if not (mixed_precision is True or mixed_precision is False or mixed_precision == "auto"):
        raise ValueError(f"mixed_precision must be 'auto', True or False; "
                         f"got mixed_precision={mixed_precision!r}")
    if mixed_precision is True and not gpu_available():
        raise ValueError("mixed_precision=True needs a GPU and none is visible to Keras here; "
                         "use mixed_precision='auto' or False")
    for name, data in (("train", train), ("val", val)):
        if (data is None and name == "val") or _is_dataset(data):
            continue
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise ValueError(f"{name} must be an (x, y) tuple of arrays or a tf.data.Dataset "
                             f"of (x, y) batches; got {type(data).__name__}")
    if _is_dataset(train) and batch_size is not None:
        raise ValueError(f"batch_size={batch_size!r} given but train is a dataset of batches "
                         "already: batch the dataset instead")


def _is_dataset(data):
    return hasattr(data, "element_spec") or isinstance(data, keras.utils.PyDataset)


def _split(data):
    return (data, None) if _is_dataset(data) else tuple(data)


def _validation(val):
    return val if val is None or _is_dataset(val) else tuple(val)


def _keras_metrics(metrics):
    """Keras's own metric names pass through; {"name": fn} becomes a named mean metric."""
    if metrics is None:
        return None
    if isinstance(metrics, str):
        return [metrics]
    if isinstance(metrics, dict):
        return [keras.metrics.MeanMetricWrapper(fn, name=name) if callable(fn) else fn
                for name, fn in metrics.items()]
    return list(metrics)


def gpu_available() -> bool:
    """Whether Keras's backend sees a GPU."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    if backend == "jax":
        import jax

        return jax.default_backend() == "gpu"
    return False


def _all_layers(layer):
    for child in getattr(layer, "layers", []):
        yield child
        yield from _all_layers(child)


def use_mixed_precision(model):
    """Switch a built float32 model to "mixed_float16": its layers compute in
    float16 and keep float32 weights, except the output layer, which stays in
    float32 so the softmax and the loss do not lose precision. Compiling the
    model afterwards wraps its optimizer in a LossScaleOptimizer."""
    if model.dtype_policy.name != "float32":
        return  # the model chose its precision itself
    layers = list(_all_layers(model))
    for layer in [model] + layers[:-1]:
        layer.dtype_policy = "mixed_float16"


def _build(model, train):
    if model.built:
        return
    x = next(iter(train))[0] if _is_dataset(train) else train[0][:1]
    model(x)


def _current_lr(optimizer, iteration=None):
    """The learning rate at `iteration` (default: the optimizer's current one)."""
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # under loss scaling
    schedule = getattr(optimizer, "_learning_rate", None)  # a schedule, when there is one
    if iteration is not None and isinstance(schedule,
                                            keras.optimizers.schedules.LearningRateSchedule):
        return float(schedule(iteration))
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def _seed_variables(model):
    """Keras's random-seed state (Dropout's, ...), which save_weights leaves out."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def _load_extras(checkpoint):
    """History rows and seed state saved with the backup in `checkpoint`
    (([], None) without one), cut to the epochs the backup's weights hold."""
    metadata = os.path.join(checkpoint, "training_metadata.json")
    extras = os.path.join(checkpoint, EXTRAS_FILE)
    if not (os.path.exists(metadata) and os.path.exists(extras)):
        return [], None
    with open(metadata) as file:
        done = json.load(file)["epoch"]
    with open(extras) as file:
        saved = json.load(file)
    rows = [row for row in saved["rows"] if row["epoch"] <= done]
    return rows, saved["seeds"] if saved["epoch"] == done else None


class _SaveExtras(keras.callbacks.Callback):
    """After BackupAndRestore has saved the weights, save what it does not:
    our History rows and the seed state, so that dropout replays exactly."""

    def __init__(self, checkpoint, history):
        super().__init__()
        self.checkpoint, self.history = checkpoint, history

    def on_epoch_end(self, epoch, logs=None):
        seeds = [[v.path, keras.ops.convert_to_numpy(v).tolist()]
                 for v in _seed_variables(self.model)]
        path = os.path.join(self.checkpoint, EXTRAS_FILE)
        with open(path + ".tmp", "w") as file:
            json.dump({"epoch": epoch + 1, "rows": self.history.rows, "seeds": seeds}, file)
        os.replace(path + ".tmp", path)


def _restore_seeds(model, seeds):
    # Matched by position and shape: names carry per-process counters
    # ("seed_generator_3"), so they differ between two runs of the same code.
    variables = _seed_variables(model)
    shapes = [list(v.shape) for v in variables]
    if [list(np.shape(value)) for _, value in seeds] != shapes:
        return  # another model: BackupAndRestore's own loading will object
    for variable, (_, value) in zip(variables, seeds):
        variable.assign(np.asarray(value, dtype=variable.dtype))


class _Harness(keras.callbacks.Callback):
    """Runs first among the Keras callbacks: times epochs, checks for
    divergence, builds History rows and calls our (epoch-level) callbacks."""

    # Keras may run on_train_batch_end on a helper thread, so the training loop
    # does not wait for each batch's loss to reach the host.
    async_safe = True

    def __init__(self, ours, history):
        super().__init__()
        for callback in ours:
            if uses_step_hooks(callback):
                raise ValueError(f"{type(callback).__name__} uses per-step hooks, which only the "
                                 "torch harness has; use a keras.callbacks.Callback instead")
        self.ours, self.history = ours, history
        self.state = None

    def on_train_begin(self, logs=None):
        model = self.model
        self.state = TrainState(model, optimizer=model.optimizer, history=self.history,
                                get_weights=model.get_weights, set_weights=model.set_weights)
        for callback in self.ours:
            callback.on_train_begin(self.state)

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()
        self.first_bad = None
        optimizer = self.model.optimizer
        self.saved = (self.model.get_weights(),
                      [keras.ops.convert_to_numpy(v) for v in optimizer.variables],
                      int(keras.ops.convert_to_numpy(optimizer.iterations)))
        self.state.epoch = epoch + 1
        for callback in self.ours:
            callback.on_epoch_begin(self.state)

    def on_train_batch_end(self, batch, logs=None):
        # logs["loss"] is the epoch's running mean: once NaN/inf, it stays so.
        if self.first_bad is None and not math.isfinite((logs or {}).get("loss", 0.0)):
            self.first_bad = batch + 1
            self.model.stop_training = True  # no point in finishing the epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.first_bad is not None or not math.isfinite(logs["loss"]):
            self._diverged(epoch + 1)
        row = {"epoch": epoch + 1, "train_loss": logs["loss"]}
        if "val_loss" in logs:
            row["val_loss"] = logs["val_loss"]
        row["lr"] = _current_lr(self.model.optimizer)
        for key in sorted(logs):
            if key not in ("loss", "val_loss", "learning_rate"):
                row[key] = logs[key]
        row["seconds"] = time.perf_counter() - self.started
        self.history.append(row)
        if any([callback.on_epoch_end(self.state, row) for callback in self.ours]):
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        for callback in self.ours:
            callback.on_train_end(self.state)

    def _diverged(self, epoch):
        optimizer = self.model.optimizer
        weights, optimizer_values, start = self.saved
        step = self.first_bad or (int(keras.ops.convert_to_numpy(optimizer.iterations)) - start)
        lr = _current_lr(optimizer, start + step - 1)
        self.model.set_weights(weights)
        for variable, value in zip(optimizer.variables, optimizer_values):
            variable.assign(value)
        restored = f"Weights and optimizer state were restored to the start of epoch {epoch}."
        raise DivergenceError(divergence_message(epoch, step, lr, restored), epoch=epoch,
                              step=step, lr=lr, history=self.history)
