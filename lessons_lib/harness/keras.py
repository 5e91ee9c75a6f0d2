"""The course's Keras training loop: `compile` + `model.fit`, returning the same
`History` as the torch harness (`train_loss`, `val_loss`, `lr`, `seconds`,
metrics named `accuracy` / `val_accuracy`)."""
from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import math
import os
import secrets
import stat
import time
import warnings

import keras
import numpy as np

from lessons_lib.devices import seed_everything
from lessons_lib.harness import (CheckpointError, DivergenceError, checkpoint_mismatch_message,
                                 divergence_message)
from lessons_lib.harness.callbacks import Callback, TrainState, uses_step_hooks
from lessons_lib.harness.history import History

CHECKPOINT_FILE = "checkpoint.npz"      # inside the checkpoint folder
CHECKPOINT_FORMAT = "lessons_lib.harness.keras/2"
TEMP_MARK = ".tmp-"                     # CHECKPOINT_FILE + TEMP_MARK + ...: a save in progress


def fit(model, train, *, loss, optimizer, epochs, val=None, callbacks=(), metrics=None,
        batch_size=None, progress=True, seed=None, checkpoint=None, mixed_precision="auto",
        strategy=None, **fit_kwargs) -> History:
    """Compile `model` and train it with `model.fit`; returns a `History`.

    train, val: an (x, y) tuple of arrays (then `batch_size` applies; Keras
        shuffles them every epoch), or a `tf.data.Dataset` of (x, y) batches.
    loss: a Keras loss, or its name ("mse", "sparse_categorical_crossentropy").
    optimizer: a Keras optimizer, its name ("adam"), or a lessons_lib optimizer
        (anything with `.to_keras()`).
    callbacks: Keras callbacks (passed through, e.g. keras.callbacks.EarlyStopping)
        and epoch-level `lessons_lib.harness.callbacks` such as EarlyStopping.
    metrics: names Keras knows ("accuracy") or {"name": fn(y_true, y_pred)}.
    progress: True prints one line per epoch, "batches" Keras's progress bar,
        False nothing.
    seed: seeds Python, NumPy and Keras/TensorFlow before training.
    checkpoint: a folder. After every epoch one file in it, `checkpoint.npz`,
        is replaced atomically (temp file, fsync, rename) by one holding the
        weights, the optimizer's variables (its step count included), History,
        the random-seed state of layers such as Dropout, and a fingerprint of
        the run. When the file exists, training resumes after its last epoch;
        with the same `seed=` the resumed run equals the uninterrupted one on
        the CPU (a tf.data pipeline with its own `.shuffle` must be seeded by
        you). A checkpoint whose optimizer (class or hyperparameters), loss,
        model, data, batch size or seed differ from this call's raises
        `CheckpointError` (more `epochs` than saved is fine: training goes on).
        It is kept after training, as in the torch harness: delete it to
        start over.
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

    Before any training, `fit` checks the data: no empty or non-finite
    validation data, targets whose shape fits the model's output for the
    loss, integer class labels in range for sparse cross-entropy.

    A NaN or infinite training loss, or weights that became NaN/inf (checked
    once per epoch, on the device), raise `DivergenceError` at the end of the
    epoch (the loss is read off the training thread: no per-step wait), after
    restoring the weights and optimizer state of the start of that epoch. When
    the training data hold NaN/inf values, the message says they are the cause.
    """
    _check_arguments(epochs=epochs, progress=progress, mixed_precision=mixed_precision,
                     batch_size=batch_size, train=train, val=val)
    optimizer = _resolve_optimizer(optimizer)
    loss_name = _resolve_loss(loss)
    folder = _checkpoint_folder(checkpoint) if checkpoint is not None else None
    if seed is not None:
        seed_everything(seed)
    if mixed_precision is True or (mixed_precision == "auto" and gpu_available()):
        use_mixed_precision(model)
    prediction = _first_prediction(model, train)  # builds the model too
    _check_targets(prediction, train, loss_name)
    with _strategy_scope(strategy, model):
        model.compile(optimizer=optimizer, loss=loss, metrics=_keras_metrics(metrics))

    ours = [cb for cb in callbacks if isinstance(cb, Callback)]
    history = History()
    harness = _Harness(ours, history, train)
    keras_callbacks = [harness] + [cb for cb in callbacks if not isinstance(cb, Callback)]
    first_epoch = 0
    if folder is not None:
        fingerprint = _fingerprint(model, loss, train, val, batch_size, seed)
        path = os.path.join(folder, CHECKPOINT_FILE)
        if os.path.exists(path):
            first_epoch, finished = _resume(path, model, history, fingerprint)
            if finished or first_epoch >= epochs:
                if first_epoch > epochs:
                    warnings.warn(f"checkpoint {path!r} already holds {first_epoch} epochs, "
                                  f"more than epochs={epochs}; nothing to train", stacklevel=2)
                return history
        # Last: it sees stop_training as every other callback left it.
        keras_callbacks.append(_Checkpoint(path, history, fingerprint))
    x, y = _split(train)
    if _is_dataset(train):
        # Keras would warn that its default shuffle=True does not apply to datasets.
        fit_kwargs.setdefault("shuffle", False)
    model.fit(x, y, batch_size=batch_size, epochs=epochs, initial_epoch=first_epoch,
              validation_data=_validation(val), callbacks=keras_callbacks,
              verbose={True: 2, "batches": 1, False: 0}[progress], **fit_kwargs)
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

# -- checks before training ---------------------------------------------------------------

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
        if data is None and name == "val":
            continue
        if _is_dataset(data):
            _check_dataset_not_empty(name, data)
            continue
        if not (isinstance(data, (tuple, list)) and len(data) == 2):
            raise ValueError(f"{name} must be an (x, y) tuple of arrays or a tf.data.Dataset "
                             f"of (x, y) batches; got {type(data).__name__}")
        _check_arrays(name, *data)
    if _is_dataset(train) and batch_size is not None:
        raise ValueError(f"batch_size={batch_size!r} given but train is a dataset of batches "
                         "already: batch the dataset instead")


def _check_dataset_not_empty(name, data):
    size = len(data) if isinstance(data, keras.utils.PyDataset) else int(data.cardinality())
    if size == 0:  # (-1/-2: infinite/unknown, which Keras reports itself)
        raise ValueError(f"{name} is a dataset with no batches; it needs at least one (x, y) batch")


def _check_arrays(name, x, y):
    lengths = [_length(x), _length(y)]
    if 0 in lengths:
        raise ValueError(f"{name} is empty: x holds {lengths[0]} samples and y {lengths[1]}; "
                         "it needs at least one (x, y) sample")
    if None not in lengths and lengths[0] != lengths[1]:
        raise ValueError(f"{name}'s x holds {lengths[0]} samples but its y {lengths[1]}; "
                         "they must be the same samples")
    if name == "val":
        problem = _nonfinite_summary(name, _nonfinite_counts(x, y))
        if problem:
            raise ValueError(f"{problem}: Keras would report val_loss=nan (or inf) without "
                             "stopping. Drop or impute them (np.isfinite finds them)")


def _length(a):
    return len(a) if hasattr(a, "__len__") and not isinstance(a, dict) else None


def _count_nonfinite(a, chunk=1 << 16):
    """(NaN count, inf count) of array `a` (zeros for integers or non-arrays),
    a chunk of rows at a time so that no second copy of large data is made."""
    a = np.asarray(a) if not isinstance(a, np.ndarray) and _length(a) is not None else a
    if not isinstance(a, np.ndarray) or not np.issubdtype(a.dtype, np.inexact):
        return 0, 0
    nan = inf = 0
    for start in range(0, max(len(a), 1), chunk):
        part = a[start:start + chunk]
        nan += int(np.count_nonzero(np.isnan(part)))
        inf += int(np.count_nonzero(np.isinf(part)))
    return nan, inf


def _nonfinite_counts(x, y):
    return {"inputs": _count_nonfinite(x), "targets": _count_nonfinite(y)}


def _dataset_nonfinite_counts(data):
    """As `_nonfinite_counts`, in one pass over a dataset (only after a divergence)."""
    totals = {"inputs": (0, 0), "targets": (0, 0)}
    for batch in data:
        for what, part in zip(totals, batch):
            counts = _count_nonfinite(keras.ops.convert_to_numpy(part))
            totals[what] = tuple(a + b for a, b in zip(totals[what], counts))
    return totals


def _nonfinite_summary(name, counts):
    """"train's inputs hold 3 NaN values" (None when every value is finite)."""
    parts = []
    for what, (nan, inf) in counts.items():
        found = [f"{n} {kind} value{'s' * (n != 1)}"
                 for n, kind in ((nan, "NaN"), (inf, "infinite")) if n]
        if found:
            parts.append(f"{name}'s {what} hold {' and '.join(found)}")
    return "; ".join(parts) or None


def _unknown_name(kind, name, valid, module):
    close = difflib.get_close_matches(name.lower(), valid, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return ValueError(f"{kind}={name!r} is not a name Keras knows; {hint}"
                      f"valid names: {', '.join(valid)} (or pass a keras.{module} object)")


def _optimizer_names():
    names = []
    for name in dir(keras.optimizers):
        kind = getattr(keras.optimizers, name)
        if (isinstance(kind, type) and issubclass(kind, keras.optimizers.Optimizer)
                and name not in ("Optimizer", "LossScaleOptimizer", "MultiOptimizer")):
            names.append(name.lower())
    return sorted(names)


def _resolve_optimizer(optimizer):
    """A keras.optimizers.Optimizer from a Keras optimizer, its name or a lessons_lib one."""
    if isinstance(optimizer, str):
        names = _optimizer_names()
        if optimizer.lower() not in names:
            raise _unknown_name("optimizer", optimizer, names, "optimizers")
        return keras.optimizers.get(optimizer.lower())
    if not isinstance(optimizer, keras.optimizers.Optimizer) and hasattr(optimizer, "to_keras"):
        optimizer = optimizer.to_keras()  # a lessons_lib optimizer
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise ValueError("optimizer must be a keras optimizer, its name or a lessons_lib optimizer "
                         f"(with .to_keras()); got optimizer={optimizer!r}")
    return optimizer


LOSS_ALIASES = ("mse", "mae", "mape", "msle", "kld", "bce")


def _loss_names():
    functions = [name for name in dir(keras.losses) if name[0].islower()
                 and name not in ("get", "serialize", "deserialize")
                 and callable(getattr(keras.losses, name))]
    return sorted(functions + list(LOSS_ALIASES))


def _resolve_loss(loss):
    """The loss's function name ("mean_squared_error"), which the target checks key on;
    None for a custom loss."""
    if isinstance(loss, str):
        try:
            loss = keras.losses.get(loss)
        except ValueError:
            raise _unknown_name("loss", loss, _loss_names(), "losses") from None
    if not callable(loss):
        raise ValueError(f"loss must be a Keras loss, its name or a function "
                         f"(y_true, y_pred) -> loss; got loss={loss!r}")
    function = getattr(loss, "fn", loss)  # keras.losses.MeanSquaredError() wraps a function
    name = getattr(function, "__name__", None)
    return name if name in _loss_names() else None


# Losses that compare prediction and target element by element: equal shapes
# (up to a trailing axis of 1, which Keras squeezes). Keras broadcasts others silently.
ELEMENTWISE_LOSSES = {
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error", "huber", "log_cosh", "poisson", "kl_divergence",
    "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
    "categorical_focal_crossentropy", "hinge", "squared_hinge", "categorical_hinge",
    "cosine_similarity"}
LABELS_IN_0_1 = {"binary_crossentropy", "binary_focal_crossentropy"}


def _first_prediction(model, train):
    """The model's output for two samples of `train` (this builds the model), or
    None when the data or the output are not a single array."""
    if _is_dataset(train):
        spec = getattr(train, "element_spec", None)
        x_spec = spec[0] if isinstance(spec, tuple) else None
        shape = getattr(x_spec, "shape", None)
        numeric = shape is not None and (x_spec.dtype.is_floating or x_spec.dtype.is_integer)
        if numeric and shape.rank and None not in shape[1:]:
            x = np.zeros((2, *shape[1:]), dtype=x_spec.dtype.as_numpy_dtype)
        elif model.built:
            return None
        else:  # variable-sized inputs: the first batch tells the model its sizes
            x = next(iter(train))[0]
    else:
        x = train[0]
        if isinstance(x, dict):  # several named inputs: build only
            if not model.built:
                model({name: value[:2] for name, value in x.items()})
            return None
        if _length(x) is None:
            return None
        x = x[:2]
    prediction = model(x)
    return keras.ops.convert_to_numpy(prediction) if keras.ops.is_tensor(prediction) else None


def _target_shape(train):
    if _is_dataset(train):
        spec = getattr(train, "element_spec", None)
        shape = getattr(spec[1], "shape", None) if isinstance(spec, tuple) else None
        return tuple(shape) if shape is not None and shape.rank is not None else None
    return np.shape(train[1]) if _length(train[1]) is not None else None


def _check_targets(prediction, train, loss_name):
    """Targets whose shape or values do not fit the loss: an error before training."""
    target_shape = _target_shape(train)
    if prediction is None or target_shape is None or loss_name is None:
        return
    per_sample, targets = tuple(prediction.shape[1:]), tuple(target_shape[1:])
    shown = (f"targets of shape {_shape_text(targets)} but the model predicts shape "
             f"{_shape_text(per_sample)}")

    def fits(a, b):  # None: a dataset's unknown size
        return len(a) == len(b) and all(p is None or q is None or p == q for p, q in zip(a, b))

    if loss_name == "sparse_categorical_crossentropy":
        classes = per_sample[-1] if per_sample else 1
        if not (fits(targets, per_sample[:-1]) or fits(targets, per_sample[:-1] + (1,))):
            hint = (" (one-hot targets: use loss='categorical_crossentropy')"
                    if fits(targets, per_sample) else "")
            raise ValueError(f"train has {shown}; loss={loss_name!r} needs one class index per "
                             f"sample: targets of shape (n,) or (n, 1), and a model with one "
                             f"output per class{hint}")
        if not _is_dataset(train):
            _check_class_labels(np.asarray(train[1]), classes, loss_name)
        return
    if loss_name not in ELEMENTWISE_LOSSES:
        return
    squeeze = lambda shape: shape[:-1] if shape and shape[-1] == 1 else shape
    if not fits(squeeze(targets), squeeze(per_sample)):
        hint = (" (class indices: use loss='sparse_categorical_crossentropy')"
                if loss_name.startswith("categorical") and squeeze(targets) == () else "")
        raise ValueError(f"train has {shown}; loss={loss_name!r} compares them element by "
                         f"element and Keras would broadcast them silently. Valid: targets "
                         f"of shape {_shape_text(per_sample)}, or a model with output shape "
                         f"{_shape_text(targets)}{hint}")
    if loss_name in LABELS_IN_0_1 and not _is_dataset(train):
        labels = np.asarray(train[1])
        outside = int(np.count_nonzero((labels < 0) | (labels > 1)))
        if outside:
            raise ValueError(f"train's targets hold {outside} values outside [0, 1] (range "
                             f"{np.nanmin(labels):g} to {np.nanmax(labels):g}); loss={loss_name!r} "
                             "needs labels (or probabilities) in [0, 1]")


def _shape_text(per_sample):
    """(3,) -> "(n, 3)": a shape with the batch axis named n."""
    return "(" + ", ".join(["n"] + ["?" if d is None else str(d) for d in per_sample]) + ")"


def _check_class_labels(labels, classes, loss_name):
    if np.issubdtype(labels.dtype, np.inexact):
        labels = labels[np.isfinite(labels)]  # NaN/inf labels: the divergence check names them
        fractional = int(np.count_nonzero(labels != np.round(labels)))
        if fractional:
            raise ValueError(f"train's targets hold {fractional} fractional values (e.g. "
                             f"{labels[labels != np.round(labels)].flat[0]:g}); loss={loss_name!r} "
                             f"needs integer class indices in [0, {classes})")
    outside = int(np.count_nonzero((labels < 0) | (labels >= classes)))
    if outside:
        raise ValueError(f"train's targets hold {outside} class indices outside [0, {classes}) "
                         f"(range {labels.min():g} to {labels.max():g}) but the model has "
                         f"{classes} outputs; loss={loss_name!r} needs integer class indices "
                         f"in [0, {classes})")


# -- checkpoints ----------------------------------------------------------------------------

def _checkpoint_folder(checkpoint):
    """The checkpoint folder, made and checked for writing before any training;
    temp files left by a save that was killed are removed."""
    folder = os.path.abspath(os.fspath(checkpoint))
    if os.path.exists(folder) and not os.path.isdir(folder):
        hint = (f" (to resume from this file, pass its folder {os.path.dirname(folder)!r})"
                if os.path.basename(folder) == CHECKPOINT_FILE else "")
        raise ValueError(f"checkpoint must be a folder (the harness keeps {CHECKPOINT_FILE} "
                         f"in it); got checkpoint={os.fspath(checkpoint)!r}, an existing file. "
                         f"Pass the path of a folder{hint}")
    try:
        os.makedirs(folder, exist_ok=True)
        probe = os.path.join(folder, f"{CHECKPOINT_FILE}{TEMP_MARK}probe-{secrets.token_hex(4)}")
        os.close(os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        os.remove(probe)
    except OSError as error:
        raise ValueError(f"checkpoint={os.fspath(checkpoint)!r} is not a folder this process "
                         f"can write to ({type(error).__name__}: {error.strerror}); pass a "
                         "writable folder") from None
    _remove_stale_temp_files(folder)
    return folder


def _remove_stale_temp_files(folder, keep=None):
    for name in os.listdir(folder):
        if name.startswith(CHECKPOINT_FILE + TEMP_MARK) and name != keep:
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(folder, name))


def _save_atomically(path, arrays):
    """Write `arrays` as one .npz to a temp file in the same folder, fsync it, and
    rename it over `path`: a crash at any moment leaves the old or the new
    checkpoint whole. The file keeps the old one's permissions (else 0o644 & ~umask)."""
    folder = os.path.dirname(path)
    temp = f"{path}{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"
    _remove_stale_temp_files(folder)
    try:
        with open(os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644), "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        if os.path.exists(path):
            os.chmod(temp, stat.S_IMODE(os.stat(path).st_mode))
        os.replace(temp, path)  # atomic on POSIX and Windows
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp)
        raise


def _optimizer_parts(optimizer):
    """(the optimizer doing the updates, loss-scaling variables: [] without them)."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    own = {id(v) for v in inner.variables}
    return inner, [v for v in optimizer.variables if id(v) not in own]


def _without_names(config):
    """A Keras config without "name" entries, which carry per-process counters."""
    if isinstance(config, dict):
        return {k: _without_names(v) for k, v in config.items() if k != "name"}
    if isinstance(config, (list, tuple)):
        return [_without_names(v) for v in config]
    return config


def _tidy(value):
    """Floats to 7 significant digits (float32's), so that Adam(0.01)'s learning
    rate reads 0.01, not 0.009999999776482582; tuples to lists, as JSON has them."""
    if isinstance(value, float):
        return float(f"{value:.7g}")
    if isinstance(value, dict):
        return {k: _tidy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tidy(v) for v in value]
    return value


def _digest(value):
    text = json.dumps(value, sort_keys=True, default=repr)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def _model_summary(model):
    """"Dense(8x16, 16) > Dropout > Dense(16x1, 1)": layers and their weight shapes."""
    layers = [layer for layer in _all_layers(model) if not getattr(layer, "layers", None)]
    return " > ".join(
        type(layer).__name__ + (f"({', '.join('x'.join(map(str, w.shape)) for w in layer.weights)})"
                                if layer.weights else "")
        for layer in layers)


def _model_settings(model):
    try:
        return _digest(_without_names(model.get_config()))
    except Exception:  # a subclassed model without get_config: its layers' classes
        return _digest([type(layer).__name__ for layer in _all_layers(model)])


def _data_fingerprint(data):
    """Shapes, dtypes and a hash of up to 256 evenly spaced samples; a
    dataset: its element spec and number of batches (reading it would cost a pass)."""
    if data is None:
        return None
    if _is_dataset(data):
        size = len(data) if isinstance(data, keras.utils.PyDataset) else int(data.cardinality())
        return f"dataset {getattr(data, 'element_spec', type(data).__name__)}, {size} batches"
    parts = []
    for a in data:
        if isinstance(a, dict) or _length(a) is None:
            parts.append(type(a).__name__)
            continue
        a = np.asarray(a)
        rows = np.unique(np.linspace(0, len(a) - 1, min(len(a), 256)).astype(int))
        sample = hashlib.sha1(np.ascontiguousarray(a[rows]).tobytes()).hexdigest()[:12]
        parts.append(f"{a.dtype}{list(a.shape)} #{sample}")
    return ", ".join(parts)


def _fingerprint(model, loss, train, val, batch_size, seed):
    """What makes a run this run, as compared on resume. The optimizer's
    configuration is read now, before training changes its learning-rate
    variable (ReduceLROnPlateau, ...)."""
    inner, _ = _optimizer_parts(model.optimizer)
    loss_config = loss if isinstance(loss, str) else (
        _without_names(loss.get_config()) if hasattr(loss, "get_config")
        else getattr(loss, "__name__", type(loss).__name__))
    return _tidy({"optimizer": type(inner).__name__,
            **{f"optimizer {key}": value
               for key, value in _without_names(inner.get_config()).items()},
            "loss": loss_config, "model": _model_summary(model),
            "model settings": _model_settings(model),
            "train": _data_fingerprint(train), "val": _data_fingerprint(val),
            "batch_size": batch_size, "seed": seed})


def _checkpoint_arrays(model, history, fingerprint, epoch, finished):
    inner, scaling = _optimizer_parts(model.optimizer)
    meta = {"format": CHECKPOINT_FORMAT, "epoch": epoch, "finished": finished,
            "rows": history.rows, "fingerprint": fingerprint}
    arrays = {"meta": np.array(json.dumps(meta, default=float))}
    groups = {"weight": model.weights, "optimizer": inner.variables, "scaling": scaling,
              "seed": _seed_variables(model)}
    for group, variables in groups.items():
        for i, variable in enumerate(variables):
            arrays[f"{group}_{i}"] = keras.ops.convert_to_numpy(variable)
    return arrays


def read_checkpoint(path):
    """The checkpoint file `path` as {"meta": {...}, "weight": [...], "optimizer": [...],
    "scaling": [...], "seed": [...]}; CheckpointError when it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as data:
            saved = {"meta": json.loads(str(data["meta"]))}
            for group in ("weight", "optimizer", "scaling", "seed"):
                count = sum(name.startswith(group + "_") for name in data.files)
                saved[group] = [data[f"{group}_{i}"] for i in range(count)]
    except Exception as error:
        raise CheckpointError(f"cannot resume from checkpoint {path!r}: it is not readable "
                              f"({type(error).__name__}: {error}). The file was left unchanged; "
                              "delete it or pass another checkpoint= to start over.") from error
    if saved["meta"].get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"cannot resume from checkpoint {path!r}: it is not a "
                              f"{CHECKPOINT_FORMAT} checkpoint. The file was left unchanged; "
                              "delete it or pass another checkpoint= to start over.")
    return saved


def _resume(path, model, history, fingerprint):
    """Load the checkpoint at `path` into `model` and `history`, after checking that
    it was written by this run; returns (epochs done, whether training had stopped)."""
    saved = read_checkpoint(path)
    was = saved["meta"]["fingerprint"]
    differences = [(what, was.get(what), now) for what, now in fingerprint.items()
                   if json.loads(json.dumps(now, default=repr)) != was.get(what)]
    differences += [(what, saved, None) for what, saved in was.items() if what not in fingerprint]
    if differences and differences[0][0] == "optimizer":  # another class: its settings differ too
        differences = [d for d in differences if not d[0].startswith("optimizer ")]
    if differences:
        raise CheckpointError(checkpoint_mismatch_message(path, differences))
    optimizer = model.optimizer
    optimizer.build(model.trainable_variables)  # its slot variables, to load into
    inner, scaling = _optimizer_parts(optimizer)
    for group, variables in (("weight", model.weights), ("optimizer", inner.variables),
                             ("seed", _seed_variables(model))):
        if [tuple(v.shape) for v in variables] != [a.shape for a in saved[group]]:
            raise CheckpointError(checkpoint_mismatch_message(
                path, [(f"{group} shapes", [list(a.shape) for a in saved[group]],
                        [list(v.shape) for v in variables])]))
    for group, variables in (("weight", model.weights), ("optimizer", inner.variables),
                             ("seed", _seed_variables(model)), ("scaling", scaling)):
        if group == "scaling" and len(variables) != len(saved[group]):
            continue  # saved with(out) loss scaling, resumed on another device: start it anew
        for variable, value in zip(variables, saved[group]):
            variable.assign(value)
    history.rows = [dict(row) for row in saved["meta"]["rows"]]
    return saved["meta"]["epoch"], saved["meta"]["finished"]


class _Checkpoint(keras.callbacks.Callback):
    """Runs last: after each epoch, one atomic file with everything a resume needs."""

    def __init__(self, path, history, fingerprint):
        super().__init__()
        self.path, self.history, self.fingerprint = path, history, fingerprint

    def on_epoch_end(self, epoch, logs=None):
        arrays = _checkpoint_arrays(self.model, self.history, self.fingerprint, epoch + 1,
                                    finished=bool(self.model.stop_training))
        _save_atomically(self.path, arrays)


# -- helpers --------------------------------------------------------------------------------

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


def _current_lr(optimizer, iteration=None):
    """The learning rate at `iteration` (default: the optimizer's current one)."""
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)  # under loss scaling
    schedule = getattr(optimizer, "_learning_rate", None)  # a schedule, when there is one
    if iteration is not None and isinstance(schedule,
                                            keras.optimizers.schedules.LearningRateSchedule):
        return float(schedule(iteration))
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def _seed_variables(model):
    """Keras's random-seed state (Dropout's, ...), which model.weights leaves out.
    Matched by position: names carry per-process counters ("seed_generator_3")."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def _host_values(variables):
    """The variables' values as NumPy arrays. `v.numpy()` reads a variable in
    ~40 us on a CPU, `keras.ops.convert_to_numpy(v)` in ~150 us."""
    return [v.numpy() for v in variables]


def _all_finite(arrays):
    """Whether every value of `arrays` (NumPy) is finite. Checked on the host: 0.3 ms
    for a 7k-weight model with the read, where two eager device ops per variable
    and one read took 1.4 ms; the start of each epoch reads them all anyway."""
    return all(np.isfinite(a if a.dtype.kind == "f" else a.astype(np.float32)).all()
               for a in map(np.asarray, arrays) if a.dtype.kind not in "biu")  # bfloat16: "V"


class _Harness(keras.callbacks.Callback):
    """Runs first among the Keras callbacks: times epochs, checks for
    divergence, builds History rows and calls our (epoch-level) callbacks."""

    # Keras may run on_train_batch_end on a helper thread, so the training loop
    # does not wait for each batch's loss to reach the host.
    async_safe = True

    def __init__(self, ours, history, train):
        super().__init__()
        for callback in ours:
            if uses_step_hooks(callback):
                raise ValueError(f"{type(callback).__name__} uses per-step hooks, which only the "
                                 "torch harness has; use a keras.callbacks.Callback instead")
        self.ours, self.history, self.train = ours, history, train
        self.state = None
        # Counted once, before training (arrays only): names the data as the cause
        # if training diverges. A dataset is read only after a divergence.
        self.data_counts = None if _is_dataset(train) else _nonfinite_counts(*train)

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
        self.saved = (self.model.get_weights(), _host_values(optimizer.variables),
                      int(optimizer.iterations.numpy()))
        self.state.epoch = epoch + 1
        for callback in self.ours:
            callback.on_epoch_begin(self.state)

    def on_train_batch_end(self, batch, logs=None):
        # logs["loss"] is the epoch's running mean: once NaN/inf, it stays so.
        if self.first_bad is None and not math.isfinite((logs or {}).get("loss", 0.0)):
            self.first_bad = batch + 1
            self.model.stop_training = True  # no point in finishing the epoch

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if "loss" not in logs:
            raise ValueError("train yielded no batches; it needs at least one (x, y) batch")
        if (self.first_bad is not None or not math.isfinite(logs["loss"])
                or not _all_finite(self.model.get_weights())):
            self._diverged(epoch + 1)
        if not math.isfinite(logs.get("val_loss", 0.0)):
            raise ValueError(f"val_loss is {logs['val_loss']} at epoch {epoch + 1} while the "
                             "training loss and the weights are finite: val probably holds "
                             "NaN or infinite values; drop or impute them (np.isfinite finds "
                             "them)")
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
        counts = (self.data_counts if self.data_counts is not None
                  else _dataset_nonfinite_counts(self.train))
        restored = f"Weights and optimizer state were restored to the start of epoch {epoch}."
        message = divergence_message(epoch, step, lr, restored,
                                     data_problem=_nonfinite_summary("train", counts))
        raise DivergenceError(message, epoch=epoch, step=step, lr=lr, history=self.history)
