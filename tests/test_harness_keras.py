"""lessons_lib.harness.keras: compile + model.fit with the course's History."""
import os
import re
import stat
import time

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import lessons_lib.harness.keras as harness_keras  # noqa: E402
from lessons_lib.harness import (CheckpointError, DivergenceError,  # noqa: E402
                                 EarlyStopping, GradNormMonitor, History)
from lessons_lib.harness.keras import fit  # noqa: E402

pytestmark = pytest.mark.keras


def regression(n=256, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8)).astype("float32")
    y = (X @ rng.normal(size=(8, 1))).astype("float32")
    return X, y


def dense(n_out=1, dropout=0.0, seed=1, activation=None):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                             keras.layers.Dropout(dropout),
                             keras.layers.Dense(n_out, activation=activation)])


def weights_equal(a, b):
    return all(np.array_equal(p, q) for p, q in zip(a.get_weights(), b.get_weights()))


class StubCourseOptimizer:
    """Stands in for a lessons_lib optimizer: only `.to_keras()` matters here."""

    def __init__(self, lr):
        self.lr = lr
        self.calls = 0

    def to_keras(self):
        self.calls += 1
        return keras.optimizers.SGD(learning_rate=self.lr)


def test_module_named_keras_imports_the_real_keras():
    assert harness_keras.keras is keras
    assert harness_keras.__name__ == "lessons_lib.harness.keras"


@pytest.mark.parametrize("data", ["arrays", "dataset"])
@pytest.mark.parametrize("optimizer", ["adam_object", "adam_name", "course_stub"])
def test_trains_with_each_kind_of_optimizer_and_data(optimizer, data):
    X, y = regression()
    make = {"adam_object": lambda: keras.optimizers.Adam(0.01), "adam_name": lambda: "adam",
            "course_stub": lambda: StubCourseOptimizer(0.01)}[optimizer]
    opt = make()
    if data == "arrays":
        train, val, kwargs = (X, y), (X[:64], y[:64]), {"batch_size": 32}
    else:
        train = tf.data.Dataset.from_tensor_slices((X, y)).shuffle(256, seed=0).batch(32)
        val, kwargs = tf.data.Dataset.from_tensor_slices((X[:64], y[:64])).batch(32), {}
    model = dense()
    history = fit(model, train, loss="mse", optimizer=opt, epochs=3, val=val, progress=False,
                  seed=0, **kwargs)
    assert isinstance(history, History) and history["epoch"] == [1, 2, 3]
    assert all(list(row) == ["epoch", "train_loss", "val_loss", "lr", "seconds"]
               for row in history.rows)
    assert history["train_loss"][-1] < history["train_loss"][0]
    expected_lr = {"adam_name": 0.001}.get(optimizer, 0.01)
    np.testing.assert_allclose(history["lr"], expected_lr, rtol=1e-6)
    assert history[-1]["val_loss"] == pytest.approx(model.evaluate(X[:64], y[:64], verbose=0),
                                                    rel=1e-5)
    if optimizer == "course_stub":
        assert opt.calls == 1 and isinstance(model.optimizer, keras.optimizers.SGD)


def test_lr_follows_a_schedule_and_metrics_are_renamed():
    X, y = regression()
    labels = (y[:, 0] > 0).astype("int32")
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=8, decay_rate=0.5)
    model = dense(n_out=2, activation="softmax")
    history = fit(model, (X, labels), loss="sparse_categorical_crossentropy",
                  optimizer=keras.optimizers.SGD(schedule), epochs=2, val=(X[:64], labels[:64]),
                  batch_size=32, metrics=["accuracy"], progress=False)
    # 8 updates per epoch: the learning rate in effect after epoch e is schedule(8 e).
    np.testing.assert_allclose(history["lr"], [0.05, 0.025], rtol=1e-6)
    assert set(history.columns) == {"epoch", "train_loss", "val_loss", "lr", "accuracy",
                                 "val_accuracy", "seconds"}
    from sklearn.metrics import accuracy_score

    predicted = model.predict(X[:64], verbose=0).argmax(1)
    assert history[-1]["val_accuracy"] == pytest.approx(accuracy_score(labels[:64], predicted))
    assert len(history.plot().axes) == 2


def test_named_metric_functions():
    X, y = regression()
    history = fit(dense(), (X, y), loss="mse", optimizer="adam", epochs=1, val=(X, y),
                  batch_size=64, progress=False,
                  metrics={"mae": lambda t, p: keras.ops.mean(keras.ops.abs(t - p))})
    assert {"mae", "val_mae"} <= set(history[-1])


def resumable(model, epochs, checkpoint):
    X, y = regression()
    return fit(model, (X, y), loss="mse", optimizer=keras.optimizers.Adam(0.01), epochs=epochs,
               val=(X[:64], y[:64]), batch_size=32, progress=False, seed=0,
               checkpoint=checkpoint)


def test_checkpoint_resume_is_exact_with_shuffling_and_dropout(tmp_path):
    uninterrupted = dense(dropout=0.3)
    expected = resumable(uninterrupted, 4, None)

    first = resumable(dense(dropout=0.3), 2, tmp_path / "backup")
    assert len(first) == 2
    restarted = dense(dropout=0.3, seed=9)  # built anew, as after a crash
    resumed = resumable(restarted, 4, tmp_path / "backup")

    # Exact on the CPU: the checkpoint brings back weights, optimizer state
    # (its step count too), the epoch, History rows and Dropout's seed state.
    assert weights_equal(restarted, uninterrupted)
    drop_seconds = lambda h: [{k: v for k, v in r.items() if k != "seconds"} for r in h.rows]
    assert drop_seconds(resumed) == drop_seconds(expected)
    # Finished: the backup is kept and a rerun trains nothing more.
    assert len(resumable(dense(dropout=0.3), 4, tmp_path / "backup")) == 4


def test_resume_without_seed_state_differs():
    """The dropout seed state is what makes the resume above exact."""
    X, y = regression()
    model = dense(dropout=0.3)
    before = [keras.ops.convert_to_numpy(v).tolist()
              for v in harness_keras._seed_variables(model)]
    fit(model, (X, y), loss="mse", optimizer="adam", epochs=1, batch_size=32, progress=False)
    after = [keras.ops.convert_to_numpy(v).tolist() for v in harness_keras._seed_variables(model)]
    assert before and before != after


def test_our_early_stopping_and_keras_early_stopping():
    X, y = regression()
    # Validation targets are negated: the better the fit, the worse val_loss.
    model = dense()
    snapshots = {}

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots[epoch + 1] = self.model.get_weights()

    stopper = EarlyStopping(patience=2)
    history = fit(model, (X, y), loss="mse", optimizer=keras.optimizers.SGD(0.05), epochs=20,
                  val=(X, -y), batch_size=32, callbacks=[stopper, Snapshot()], progress=False)
    assert len(history) == 3 and stopper.best_epoch == 1
    assert all(np.array_equal(p, q) for p, q in zip(model.get_weights(), snapshots[1]))

    history = fit(dense(), (X, y), loss="mse", optimizer=keras.optimizers.SGD(0.05), epochs=20,
                  val=(X, -y), batch_size=32, progress=False,
                  callbacks=[keras.callbacks.EarlyStopping(patience=1)])
    assert len(history) == 2


def test_divergence_raises_and_restores_the_epoch_start():
    X, y = regression()
    model = dense()
    initial = model.get_weights()
    with pytest.raises(DivergenceError) as caught:
        fit(model, (X, y), loss="mse", optimizer=keras.optimizers.SGD(1e4), epochs=3,
            batch_size=32, progress=False)
    error = caught.value
    message = str(error)
    assert error.epoch == 1 and f"epoch 1, step {error.step}" in message
    assert "10000" in message and "lr <= 1000" in message
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert all(np.array_equal(p, q) for p, q in zip(model.get_weights(), initial))


def test_mixed_precision_switches_layers_and_scales_the_loss():
    X, y = regression()
    labels = (y[:, 0] > 0).astype("int32")
    model = dense(n_out=2, activation="softmax")
    harness_keras.use_mixed_precision(model)  # what mixed_precision="auto" does on a GPU
    history = fit(model, (X, labels), loss="sparse_categorical_crossentropy", optimizer="adam",
                  epochs=1, batch_size=64, progress=False, mixed_precision=False)
    hidden = model.layers[0]
    assert hidden.compute_dtype == "float16" and hidden.variable_dtype == "float32"
    assert model(X[:2]).dtype == "float32"  # the output layer stays in float32
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert np.isfinite(history["train_loss"]).all()


def test_progress_prints_epochs(capsys):
    X, y = regression(n=64)
    fit(dense(), (X, y), loss="mse", optimizer="adam", epochs=2, batch_size=32, progress=True)
    assert "Epoch 2/2" in capsys.readouterr().out


def test_bad_arguments_raise_value_error_naming_them():
    X, y = regression(n=64)
    dataset = tf.data.Dataset.from_tensor_slices((X, y)).batch(32)
    cases = [
        (dict(train=(X, y), epochs=0), "epochs=0"),
        (dict(train=dataset, epochs=1, batch_size=32), "batch_size=32"),
        (dict(train=X, epochs=1), "train must be"),
        (dict(train=(X, y), epochs=1, optimizer=0.1), "optimizer=0.1"),
        (dict(train=(X, y), epochs=1, progress="loud"), "progress='loud'"),
        (dict(train=(X, y), epochs=1, mixed_precision="fp16"), "mixed_precision='fp16'"),
        (dict(train=(X, y), epochs=1, callbacks=[GradNormMonitor()]), "GradNormMonitor"),
    ]
    if not harness_keras.gpu_available():
        cases.append((dict(train=(X, y), epochs=1, mixed_precision=True), "needs a GPU"))
    for arguments, pattern in cases:
        arguments = {"loss": "mse", "optimizer": "sgd", "progress": False, **arguments}
        with pytest.raises(ValueError, match=pattern):
            fit(dense(), **arguments)


def test_checkpoint_directory_files(tmp_path):
    resumable(dense(), 1, tmp_path / "backup")
    assert sorted(os.listdir(tmp_path / "backup")) == ["checkpoint.npz"]


@pytest.mark.parametrize("name", ["momentum", "rmsprop", "adam", "nadam"])
def test_course_optimizer_inside_fit_equals_the_keras_builtin(name):
    """The real course optimizer (keras flavor) through the harness: the same
    weights as Keras's own optimizer configured to the same math."""
    from lessons_lib import optim
    X, y = regression()
    ours = optim.REGISTRY[name](flavor="keras", lr=0.0078125)   # exact in float32

    def train(optimizer):
        model = dense()
        history = fit(model, (X, y), loss="mse", optimizer=optimizer, epochs=3, val=(X[:64], y[:64]),
                      batch_size=32, progress=False, seed=0, shuffle=False)
        return model, history
    model, history = train(ours)
    reference, _ = train(ours.keras_reference())
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert {"train_loss", "val_loss"} <= set(history.rows[-1])
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)   # float32 model, weights O(1)


# -- checkpoints: one atomic file, crash-safe, refused when written by another run ---------

def without_seconds(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history.rows]


def assert_weights_close(got, expected):
    """Equal up to float32 round-off: another process may sum in another order
    (one Adam step at lr 1e-3 moves weights by ~1e-3, a wrong epoch far more)."""
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def assert_rows_close(got, expected):
    strip = lambda rows: [{k: v for k, v in row.items() if k != "seconds"} for row in rows]
    assert [list(row) for row in strip(got)] == [list(row) for row in strip(expected)]
    for a, b in zip(strip(got), strip(expected)):
        assert a == pytest.approx(b, rel=1e-5, abs=1e-7)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="kills forked processes (POSIX only)")
def test_checkpoint_survives_sigkill_during_saves_and_resume_is_exact(tmp_path):
    from keras_kill_run import train_for_kill_test
    from kill_helpers import Zygote, kill_while_writing

    snapshots = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(self.model.get_weights())

    started = time.perf_counter()
    folder = tmp_path / "run"
    path = folder / harness_keras.CHECKPOINT_FILE
    rng = np.random.default_rng(14)
    outcomes = []
    with Zygote(preload=["keras_kill_run"]) as zygote:
        uninterrupted, expected = train_for_kill_test(callbacks=[Snapshot()])
        for kill in range(6):
            child = zygote.start("keras_kill_run:train_for_kill_test", folder=str(folder))
            temp_prefix = f"{harness_keras.CHECKPOINT_FILE}{harness_keras.TEMP_MARK}{child.pid}-"
            # Every other kill as soon as the temporary file shows: mid-write even where a
            # save takes only a few ms (a fast disk); the others at a random later moment.
            delay = float(rng.uniform(0, 0.02))
            assert kill_while_writing(child, folder, prefix=temp_prefix, skip=int(rng.integers(2)),
                                      delay=0.0 if kill % 2 == 0 else delay), "the child finished"
            left = [name for name in os.listdir(folder) if name.startswith(temp_prefix)]
            if not path.exists():  # killed in the first save: the old state is "none"
                outcomes.append((0, "mid-write" if left else "before the first save"))
                continue
            # Whole, old or new: the file reads, and it is exactly epoch e of the
            # uninterrupted run (weights, Adam's step count, History).
            saved = harness_keras.read_checkpoint(str(path))
            epoch = saved["meta"]["epoch"]
            assert_weights_close(saved["weight"], snapshots[epoch - 1])
            assert int(saved["optimizer"][0]) == 2 * epoch  # Adam's iterations, 2 per epoch
            assert_rows_close(saved["meta"]["rows"], expected.rows[:epoch])
            outcomes.append((epoch, "mid-write" if left else "after the rename"))
    # Resumed here (not killed), from wherever the last kill left it.
    resumed, history = train_for_kill_test(folder=str(folder))
    print(f"kills (checkpoint epoch, moment): {outcomes}; "
          f"{time.perf_counter() - started:.1f} s in all")
    assert any(moment == "mid-write" for _, moment in outcomes)
    assert sorted(os.listdir(folder)) == [harness_keras.CHECKPOINT_FILE]  # stale temps removed
    assert_weights_close(resumed.get_weights(), uninterrupted.get_weights())
    assert_rows_close(history.rows, expected.rows)


def test_checkpoint_is_one_file_and_an_interrupted_save_leaves_the_old_one_whole(
        tmp_path, monkeypatch):
    folder = tmp_path / "run"
    resumable(dense(), 1, folder)
    assert sorted(os.listdir(folder)) == [harness_keras.CHECKPOINT_FILE]
    before = (folder / harness_keras.CHECKPOINT_FILE).read_bytes()

    real_savez = np.savez

    def crash_halfway(file, **arrays):  # half the file is written, then the process "dies"
        real_savez(file, **dict(list(arrays.items())[:3]))
        raise KeyboardInterrupt

    monkeypatch.setattr(harness_keras.np, "savez", crash_halfway)
    with pytest.raises(KeyboardInterrupt):
        resumable(dense(), 2, folder)
    assert sorted(os.listdir(folder)) == [harness_keras.CHECKPOINT_FILE]
    assert (folder / harness_keras.CHECKPOINT_FILE).read_bytes() == before
    assert harness_keras.read_checkpoint(str(folder / "checkpoint.npz"))["meta"]["epoch"] == 1
    # A file damaged some other way (a full disk, a copy cut short): a clear error, kept.
    (folder / "checkpoint.npz").write_bytes(before[:1000])
    monkeypatch.undo()
    with pytest.raises(CheckpointError, match=r"checkpoint '.*checkpoint.npz': it is not "
                                              r"readable \(BadZipFile: .*\). The file was left"):
        resumable(dense(), 2, folder)
    assert (folder / "checkpoint.npz").read_bytes() == before[:1000]


def test_stale_temp_files_are_removed_and_permissions_kept(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    stale = folder / f"{harness_keras.CHECKPOINT_FILE}{harness_keras.TEMP_MARK}999-dead"
    stale.write_bytes(b"half a checkpoint")   # what a SIGKILL mid-save leaves
    other = folder / "notes.txt"
    other.write_text("mine")
    resumable(dense(), 1, folder)
    assert sorted(os.listdir(folder)) == [harness_keras.CHECKPOINT_FILE, "notes.txt"]
    path = folder / harness_keras.CHECKPOINT_FILE
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644 & ~umask
    path.chmod(0o640)
    resumable(dense(), 2, folder)   # one more epoch: the file is replaced
    assert harness_keras.read_checkpoint(str(path))["meta"]["epoch"] == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def sweep_run(folder, optimizer, model=None, data=None, epochs=2, **kwargs):
    X, y = data or regression()
    return fit(model or dense(), (X, y), loss="mse", optimizer=optimizer, epochs=epochs,
               batch_size=32, progress=False, seed=0, checkpoint=folder, **kwargs)


@pytest.mark.parametrize("change, expected", [
    (lambda: dict(optimizer=keras.optimizers.Adam(0.001)),
     "optimizer learning_rate is 0.01 there but 0.001 here"),
    (lambda: dict(optimizer=keras.optimizers.Adam(0.01, beta_1=0.8)),
     "optimizer beta_1 is 0.9 there but 0.8 here"),
    (lambda: dict(optimizer=keras.optimizers.SGD(0.01)),
     "(optimizer is 'Adam' there but 'SGD' here), so"),
    (lambda: dict(optimizer=keras.optimizers.Adam(
        keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=8, decay_rate=0.5))),
     "optimizer learning_rate is 0.01 there but {'module'"),
    (lambda: dict(model=keras.Sequential([keras.Input((8,)), keras.layers.Dense(32, activation="relu"),
                                  keras.layers.Dense(1)])),
     "model is 'Dense(8x16, 16) > Dropout > Dense(16x1, 1)' there but 'Dense(8x32, 32) > "
     "Dense(32x1, 1)' here"),
    (lambda: dict(model=dense(activation="tanh")), "model settings is"),
    (lambda: dict(data=regression(seed=1)), "train is 'float32[256, 8] #"),
    (lambda: dict(data=regression(n=128)), "train is 'float32[256, 8]"),
    (lambda: dict(batch_size=64), "batch_size is 32 there but 64 here"),
])
def test_a_checkpoint_of_another_run_is_refused(tmp_path, change, expected):
    """A learning-rate (or any) sweep that reuses one checkpoint path must not
    get the first run's result back."""
    folder = tmp_path / "run"
    first = sweep_run(folder, keras.optimizers.Adam(0.01))
    saved = (folder / harness_keras.CHECKPOINT_FILE).read_bytes()
    arguments = dict(optimizer=keras.optimizers.Adam(0.01), model=None, data=None, epochs=3)
    change = change()
    batch_size = change.pop("batch_size", 32)
    arguments.update(change)
    model = arguments["model"] or dense()
    initial = model.get_weights()
    with pytest.raises(CheckpointError) as caught:
        X, y = arguments["data"] or regression()
        fit(model, (X, y), loss="mse", optimizer=arguments["optimizer"], epochs=3,
            batch_size=batch_size, progress=False, seed=0, checkpoint=folder)
    message = str(caught.value)
    assert expected in message, message
    assert message.startswith(f"checkpoint {str(folder / 'checkpoint.npz')!r} was written by a "
                              "different run (")
    assert (folder / harness_keras.CHECKPOINT_FILE).read_bytes() == saved  # left as it was
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), initial))
    assert len(first) == 2


def test_the_same_run_with_more_epochs_continues_and_fewer_warns(tmp_path):
    folder = tmp_path / "run"
    sweep_run(folder, keras.optimizers.Adam(0.01), epochs=2)
    model = dense()
    history = sweep_run(folder, keras.optimizers.Adam(0.01), model=model, epochs=3)
    reference = dense()
    expected = sweep_run(None, keras.optimizers.Adam(0.01), model=reference, epochs=3)
    assert weights_equal(model, reference)
    assert without_seconds(history) == without_seconds(expected)
    with pytest.warns(UserWarning, match="already holds 3 epochs, more than epochs=2"):
        assert len(sweep_run(folder, keras.optimizers.Adam(0.01), epochs=2)) == 3


def relu_data_with_one_nan():
    X, y = regression()
    X[17, 3] = np.nan
    return X, y


@pytest.mark.parametrize("data", ["arrays", "dataset"])
def test_nan_inputs_are_named_as_the_cause_and_never_left_in_the_weights(data):
    X, y = relu_data_with_one_nan()
    train = (X, y) if data == "arrays" else tf.data.Dataset.from_tensor_slices((X, y)).batch(32)
    model = dense()
    initial = model.get_weights()
    with pytest.raises(DivergenceError) as caught:
        fit(model, train, loss="mse", optimizer=keras.optimizers.SGD(0.01), epochs=2,
            batch_size=32 if data == "arrays" else None, progress=False, seed=0)
    message = str(caught.value)
    assert "at epoch 1" in message and "train's inputs hold 1 NaN value" in message
    assert "The data, not the learning rate, is the cause" in message
    assert "try lr" not in message
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), initial))


def test_the_weights_check_sees_nan_and_inf_in_every_float_dtype_and_skips_integers():
    import ml_dtypes
    check = harness_keras._all_finite
    assert check([np.ones(3, "float32"), np.arange(3), np.array(True)])
    for dtype in ("float16", "float32", "float64", ml_dtypes.bfloat16):
        for bad in (np.nan, np.inf, -np.inf):
            assert not check([np.ones(2, "float32"), np.array([1.0, bad]).astype(dtype)]), \
                (dtype, bad)
    assert check([])


def test_nan_reaches_weights_while_the_loss_stays_finite_is_caught():
    """The reviewer's case: a ReLU keeps the loss finite while NaN reaches the
    kernel, so only the weights check can catch it. Built with an infinite input
    whose weights are all negative: relu(-inf) = 0 on every kernel (relu(NaN) is
    0 with oneDNN but NaN with Eigen), and the kernel's gradient inf * 0 is NaN.
    In the epoch's last batch, so that no later step computes with NaN weights."""
    X, y = regression()
    X[-1, 3] = np.inf

    def model():
        net = dense()
        kernel, bias = net.layers[0].get_weights()
        kernel[3] = -np.abs(kernel[3]) - 0.1
        net.layers[0].set_weights([kernel, bias])
        return net

    probe = model()
    probe.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    logs = probe.fit(X, y, batch_size=32, epochs=1, shuffle=False, verbose=0).history
    assert np.isfinite(logs["loss"][0])                            # Keras alone: no sign,
    assert np.isnan(probe.get_weights()[0]).sum() > 0              # but NaN weights
    with pytest.raises(DivergenceError, match="train's inputs hold 1 infinite value"):
        fit(model(), (X, y), loss="mse", optimizer=keras.optimizers.SGD(0.01), epochs=1,
            batch_size=32, progress=False, shuffle=False)


def test_non_finite_validation_data_is_an_error_before_training():
    X, y = regression()
    val_x, val_y = X[:64].copy(), y[:64].copy()
    val_x[0, :3] = np.nan
    val_y[5] = np.inf
    model = dense()
    initial = model.get_weights()
    with pytest.raises(ValueError, match=r"val's inputs hold 3 NaN values; val's targets hold "
                                         r"1 infinite value: Keras would report val_loss=nan"):
        fit(model, (X, y), loss="mse", optimizer="adam", epochs=2, val=(val_x, val_y),
            batch_size=32, progress=False)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), initial))
    dataset = tf.data.Dataset.from_tensor_slices((val_x, val_y)).batch(32)
    with pytest.raises(ValueError, match="val_loss is (nan|inf) at epoch 1 .* val probably holds"):
        fit(dense(), (X, y), loss="mse", optimizer="adam", epochs=2, val=dataset,
            batch_size=32, progress=False)


def shape_error(model, train, loss):
    initial = model.get_weights() if model.built else None
    with pytest.raises(ValueError) as caught:
        fit(model, train, loss=loss, optimizer="adam", epochs=1,
            batch_size=None if hasattr(train, "element_spec") else 32, progress=False)
    if initial is not None:
        assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), initial))
    return str(caught.value)


def test_targets_that_do_not_fit_the_output_are_errors_before_training():
    X, y = regression()
    message = shape_error(dense(n_out=3), (X, y), "mse")
    assert message == ("train has targets of shape (n, 1) but the model predicts shape (n, 3); "
                       "loss='mean_squared_error' compares them element by element and Keras "
                       "would broadcast them silently. Valid: targets of shape (n, 3), or a "
                       "model with output shape (n, 1)")
    dataset = tf.data.Dataset.from_tensor_slices((X, y)).batch(32)
    assert "targets of shape (n, 1) but the model predicts shape (n, 3)" in shape_error(
        dense(n_out=3), dataset, keras.losses.MeanSquaredError())
    # y of shape (n,) against (n, 1) predictions is fine: Keras squeezes the axis of 1.
    fit(dense(), (X, y[:, 0]), loss="mse", optimizer="adam", epochs=1, batch_size=64,
        progress=False)
    labels = (y[:, 0] > 0).astype("int32")
    one_hot = np.eye(3, dtype="float32")[labels]
    assert "use loss='categorical_crossentropy'" in shape_error(
        dense(n_out=3, activation="softmax"), (X, one_hot), "sparse_categorical_crossentropy")
    assert "use loss='sparse_categorical_crossentropy'" in shape_error(
        dense(n_out=3, activation="softmax"), (X, labels), "categorical_crossentropy")


def test_labels_that_do_not_fit_the_loss_are_errors_before_training():
    X, y = regression()
    softmax3 = lambda: dense(n_out=3, activation="softmax")
    fractional = np.abs(y[:, 0]).astype("float32")   # regression targets by mistake
    message = shape_error(softmax3(), (X, fractional), "sparse_categorical_crossentropy")
    assert message.startswith("train's targets hold ") and "fractional values (e.g. " in message
    assert message.endswith("loss='sparse_categorical_crossentropy' needs integer class "
                            "indices in [0, 3)")
    too_big = np.arange(256) % 4
    assert shape_error(softmax3(), (X, too_big), keras.losses.SparseCategoricalCrossentropy()) == (
        "train's targets hold 64 class indices outside [0, 3) (range 0 to 3) but the model has "
        "3 outputs; loss='sparse_categorical_crossentropy' needs integer class indices in [0, 3)")
    assert "needs labels (or probabilities) in [0, 1]" in shape_error(
        dense(activation="sigmoid"), (X, (y > 0) * 2.0), "binary_crossentropy")
    # Integer-valued float labels are fine (Keras casts them).
    fit(softmax3(), (X, (np.arange(256) % 3).astype("float32")),
        loss="sparse_categorical_crossentropy", optimizer="adam", epochs=1, batch_size=64,
        progress=False)


def test_mistakes_found_before_any_training(tmp_path):
    X, y = regression()
    cases = [
        (dict(train=(X[:0], y[:0])), "train is empty: x holds 0 samples and y 0"),
        (dict(train=(X, y[:10])), "train's x holds 256 samples but its y 10"),
        (dict(train=tf.data.Dataset.from_tensor_slices((X[:0], y[:0])).batch(32),
              batch_size=None), "train is a dataset with no batches"),
        (dict(val=(X[:0], y[:0])), "val is empty"),
        (dict(optimizer="adamm"), "optimizer='adamm' is not a name Keras knows; did you mean "
                                  r"'adam'\? valid names: adadelta, adafactor, .*, sgd \(or pass a "
                                  r"keras.optimizers object\)"),
        (dict(loss="mean_sqared_error"), "loss='mean_sqared_error' is not a name Keras knows; "
                                         r"did you mean 'mean_squared_error'\?"),
        (dict(loss=3), "loss must be a Keras loss"),
    ]
    a_file = tmp_path / "weights.ckpt"
    a_file.write_text("not a folder")
    cases.append((dict(checkpoint=a_file), "checkpoint must be a folder .* an existing file. "
                                           "Pass the path of a folder$"))
    resumable(dense(), 1, tmp_path / "run")
    cases.append((dict(checkpoint=tmp_path / "run" / "checkpoint.npz"),
                  re.escape("an existing file. Pass the path of a folder (to resume from this "
                            f"file, pass its folder '{tmp_path / 'run'}')")))
    read_only = tmp_path / "read_only"
    read_only.mkdir()
    read_only.chmod(0o555)
    if os.access(read_only, os.W_OK):  # root writes anywhere: take a folder the kernel guards
        read_only = "/sys/kernel"
    if os.path.isdir(read_only):
        cases.append((dict(checkpoint=read_only), "is not a folder this process can write to "
                                                  r"\(PermissionError: Permission denied\)"))
    for arguments, pattern in cases:
        model = dense()
        initial = model.get_weights()
        arguments = {"train": (X, y), "loss": "mse", "optimizer": "adam", "epochs": 1,
                     "batch_size": 32, "progress": False, **arguments}
        with pytest.raises(ValueError, match=pattern):
            fit(model, **arguments)
        assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), initial))
        assert getattr(model, "optimizer", None) is None
    assert len(cases) == 10
