"""lessons_lib.harness.torch: the course's PyTorch training loop."""
import copy
import os

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from sklearn.datasets import load_diabetes
from sklearn.metrics import accuracy_score, mean_absolute_error
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lessons_lib.harness.torch as harness_torch
from lessons_lib.harness import CheckpointError, DivergenceError, History
from lessons_lib.harness.callbacks import Callback, EarlyStopping, GradNormMonitor, LRLogger
from lessons_lib.harness.torch import fit

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


# -- data and models --------------------------------------------------------------------

def diabetes():
    """sklearn's diabetes regression set, standardized (ships with sklearn: offline)."""
    X, y = load_diabetes(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    y = (y - y.mean()) / y.std()
    return (torch.tensor(X, dtype=torch.float32),
            torch.tensor(y, dtype=torch.float32).reshape(-1, 1))


def loaders(X, y, batch_size=32, generator=None, shuffle=True):
    train = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=shuffle,
                       generator=generator)
    val = DataLoader(TensorDataset(X[:100], y[:100]), batch_size=50)
    return train, val


def mlp(n_in=10, hidden=16, n_out=1, dropout=0.2, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(dropout),
                         nn.Linear(hidden, n_out))


def blobs(n=240, classes=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    centers = torch.randn(classes, 4, generator=g) * 2
    return centers[y] + torch.randn(n, 4, generator=g), y


def params_equal(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))


def without_seconds(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history.rows]


# -- the loop is the textbook loop ------------------------------------------------------

def test_module_named_torch_imports_the_real_torch():
    assert harness_torch.torch is torch
    assert harness_torch.__name__ == "lessons_lib.harness.torch"


OPTIMIZERS = {
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    "adam": lambda p: torch.optim.Adam(p, lr=0.01),
}
SCHEDULERS = {
    "none": lambda opt: None,
    "onecycle": lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05,
                                                                 total_steps=3 * 14),
}


def hand_written_loop(model, train, val, loss_fn, optimizer, scheduler, epochs):
    """The textbook loop, reading the loss every step (what fit avoids)."""
    train_losses, val_losses = [], []
    for _ in range(epochs):
        model.train()
        total, count = 0.0, 0
        for x, y in train:
            pred = model(x)
            loss = loss_fn(pred, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total += loss.item() * len(y)
            count += len(y)
        train_losses.append(total / count)
        model.eval()
        with torch.no_grad():
            # Iterating a DataLoader draws its worker seed from the global RNG,
            # so validating is part of what both runs must do alike.
            val_losses.append(np.mean([loss_fn(model(x), y).item() for x, y in val]))
    return train_losses, val_losses


@pytest.mark.parametrize("scheduler_name", SCHEDULERS)
@pytest.mark.parametrize("optimizer_name", OPTIMIZERS)
def test_fit_equals_hand_written_loop_bitwise(optimizer_name, scheduler_name):
    X, y = diabetes()
    reference, ours = mlp(), mlp()
    ours.load_state_dict(reference.state_dict())
    results = []
    for model in (reference, ours):
        optimizer = OPTIMIZERS[optimizer_name](model.parameters())
        scheduler = SCHEDULERS[scheduler_name](optimizer)
        train, val = loaders(X, y, generator=torch.Generator().manual_seed(7))
        torch.manual_seed(123)  # the same dropout masks in both runs
        if model is reference:
            results.append(hand_written_loop(model, train, val, nn.MSELoss(), optimizer,
                                             scheduler, 3))
        else:
            history = fit(model, train, loss=nn.MSELoss(), optimizer=optimizer, epochs=3,
                          val=val, scheduler=scheduler, progress=False)
            results.append((history["train_loss"], history["val_loss"]))
    assert params_equal(reference, ours)
    np.testing.assert_allclose(results[1], results[0], rtol=1e-5)
    assert history["epoch"] == [1, 2, 3]
    assert all(set(row) == {"epoch", "train_loss", "val_loss", "lr", "seconds"}
               for row in history.rows)


def test_scheduler_interval_epoch_steps_once_per_epoch():
    X, y = diabetes()
    model = mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    lrs = LRLogger()
    history = fit(model, loaders(X, y)[0], loss=nn.MSELoss(), optimizer=optimizer, epochs=3,
                  scheduler=scheduler, scheduler_interval="epoch", callbacks=[lrs],
                  progress=False)
    np.testing.assert_allclose(history["lr"], [0.05, 0.025, 0.0125])
    steps = len(lrs.lrs) // 3
    np.testing.assert_allclose(lrs.lrs, [0.1] * steps + [0.05] * steps + [0.025] * steps)


class StubCourseOptimizer:
    """Stands in for a lessons_lib optimizer: only `.to_torch(params)` matters here."""

    def __init__(self, lr):
        self.lr = lr
        self.devices = None

    def to_torch(self, params):
        params = list(params)
        self.devices = {p.device.type for p in params}
        return torch.optim.SGD(params, lr=self.lr)


class StubCourseSchedule:
    """Stands in for a lessons_lib schedule: `.to_torch(optimizer)`, counted in updates."""

    def __call__(self, step):
        return 0.1 / (1 + step)

    def to_torch(self, optimizer):
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: self(step) / 0.1)


def test_duck_typed_course_optimizer_and_schedule():
    X, y = diabetes()
    model = mlp()
    before = copy.deepcopy(model)
    stub = StubCourseOptimizer(lr=0.1)
    lrs = LRLogger()
    history = fit(model, loaders(X, y)[0], loss=nn.MSELoss(), optimizer=stub, epochs=2,
                  scheduler=StubCourseSchedule(), callbacks=[lrs], progress=False)
    assert stub.devices == {"cpu"}
    assert not params_equal(before, model)
    np.testing.assert_allclose(lrs.lrs, [0.1 / (1 + t) for t in range(len(lrs.lrs))])
    assert history[-1]["lr"] == pytest.approx(0.1 / (1 + len(lrs.lrs)))


# -- checkpoints ------------------------------------------------------------------------

def resumable_run(model, generator_seed, epochs, checkpoint):
    X, y = diabetes()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=4 * 14)
    generator = None if generator_seed is None else torch.Generator().manual_seed(generator_seed)
    train, val = loaders(X, y, generator=generator)
    stopper = EarlyStopping(patience=10, restore_best=False)
    return fit(model, train, loss=nn.MSELoss(), optimizer=optimizer, epochs=epochs, val=val,
               scheduler=scheduler, callbacks=[stopper], seed=0, checkpoint=checkpoint,
               progress=False)


@pytest.mark.parametrize("generator_seed", [None, 3], ids=["global_rng", "loader_generator"])
def test_resume_reproduces_uninterrupted_run_exactly(tmp_path, generator_seed):
    uninterrupted = mlp(seed=1)
    expected = resumable_run(uninterrupted, generator_seed, 4, None)

    path = tmp_path / "run.pt"
    first = resumable_run(mlp(seed=1), generator_seed, 2, path)
    assert len(first) == 2 and path.exists()
    restarted = mlp(seed=99)  # a fresh process would build the model anew
    resumed = resumable_run(restarted, generator_seed, 4, path)

    assert params_equal(restarted, uninterrupted)
    assert without_seconds(resumed) == without_seconds(expected)
    assert [name for name in os.listdir(tmp_path)] == ["run.pt"]  # no temp files left


def test_finished_checkpoint_is_not_trained_again(tmp_path):
    path = tmp_path / "run.pt"
    model = mlp()
    resumable_run(model, None, 2, path)
    weights = copy.deepcopy(model.state_dict())
    again = mlp(seed=5)
    history = resumable_run(again, None, 2, path)
    assert len(history) == 2
    assert all(torch.equal(weights[k], v) for k, v in again.state_dict().items())


def test_crash_while_saving_keeps_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "run.pt"
    resumable_run(mlp(), None, 1, path)
    saved_bytes = path.read_bytes()

    def crash_midway(obj, file, *args, **kwargs):
        file.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        resumable_run(mlp(), None, 3, path)
    monkeypatch.undo()
    assert path.read_bytes() == saved_bytes
    assert os.listdir(tmp_path) == ["run.pt"]
    assert torch.load(path, weights_only=True)["epoch"] == 1


def test_corrupt_checkpoint_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="broken.pt"):
        resumable_run(mlp(), None, 2, path)
    assert path.read_bytes() == b"this is not a checkpoint"


@pytest.mark.parametrize("change", ["model", "optimizer"])
def test_checkpoint_of_another_setup_is_refused_and_left_alone(tmp_path, change):
    path = tmp_path / "other.pt"
    resumable_run(mlp(hidden=16), None, 1, path)
    saved_bytes = path.read_bytes()
    X, y = diabetes()
    model = mlp(hidden=8 if change == "model" else 16)
    optimizer = (torch.optim.Adam(model.parameters(), lr=0.01) if change == "model"
                 else torch.optim.SGD(model.parameters(), lr=0.01))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=56)
    with pytest.raises(CheckpointError, match=f"other.pt.*{change}"):
        fit(model, loaders(X, y)[0], loss=nn.MSELoss(), optimizer=optimizer, epochs=2,
            scheduler=scheduler, callbacks=[EarlyStopping(patience=10, restore_best=False)],
            checkpoint=path, progress=False)
    assert path.read_bytes() == saved_bytes


# -- divergence -------------------------------------------------------------------------

@pytest.mark.parametrize("check_every", [None, 1])
def test_divergence_raises_and_leaves_weights_finite(check_every):
    X, y = diabetes()
    model = nn.Linear(10, 1)
    initial = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e4)
    steps = LRLogger()
    with pytest.raises(DivergenceError) as caught:
        fit(model, loaders(X, y)[0], loss=nn.MSELoss(), optimizer=optimizer, epochs=3,
            progress=False, check_every=check_every, callbacks=[steps])
    error = caught.value
    # By default the epoch runs to its end; check_every=1 stops at the bad step.
    assert len(steps.lrs) == (14 if check_every is None else error.step)
    assert isinstance(error, FloatingPointError)
    message = str(error)
    assert f"epoch {error.epoch}" in message and f"step {error.step}" in message
    assert "10000" in message and "lr <= 1000" in message
    assert error.epoch == 1 and 1 < error.step <= 14
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert params_equal(model, initial)  # rolled back to the start of epoch 1
    assert len(error.history) == 0


def test_nonfinite_weights_with_finite_losses_are_caught():
    X, y = diabetes()
    model = nn.Linear(10, 1)
    initial = copy.deepcopy(model)

    class Sabotage(Callback):
        def on_batch_end(self, state):
            if state.step == 14:  # after the epoch's last update; its loss was finite
                with torch.no_grad():
                    state.model.bias.fill_(float("nan"))

    with pytest.raises(DivergenceError, match="epoch 1, step 14"):
        fit(model, loaders(X, y)[0], loss=nn.MSELoss(),
            optimizer=torch.optim.SGD(model.parameters(), lr=0.01), epochs=2,
            callbacks=[Sabotage()], progress=False)
    assert params_equal(model, initial)


def test_divergence_in_a_later_epoch_restores_that_epochs_start():
    X, y = diabetes()
    model = nn.Linear(10, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 if step < 15 else 1e6)
    snapshots = []

    class Snapshot(Callback):
        def on_epoch_end(self, state, row):
            snapshots.append(copy.deepcopy(state.model.state_dict()))

    with pytest.raises(DivergenceError) as caught:
        fit(model, loaders(X, y)[0], loss=nn.MSELoss(), optimizer=optimizer, epochs=3,
            scheduler=scheduler, callbacks=[Snapshot()], progress=False)
    assert caught.value.epoch == 2 and caught.value.lr == pytest.approx(1e4)
    assert len(caught.value.history) == 1
    assert all(torch.equal(snapshots[0][k], v) for k, v in model.state_dict().items())
    assert scheduler.last_epoch == 14 and optimizer.param_groups[0]["lr"] == pytest.approx(0.01)


# -- callbacks --------------------------------------------------------------------------

def test_clip_grad_norm_bounds_the_gradient_norm():
    X, y = diabetes()
    norms = {}
    for clip in (None, 0.5):
        monitor = GradNormMonitor()
        model = mlp(dropout=0.0)
        fit(model, loaders(X, y * 10)[0], loss=nn.MSELoss(),
            optimizer=torch.optim.SGD(model.parameters(), lr=1e-3), epochs=2,
            clip_grad_norm=clip, callbacks=[monitor], progress=False)
        assert len(monitor.norms) == 2 * 14 and len(monitor.epoch_max) == 2
        norms[clip] = max(monitor.norms)
    assert norms[None] > 0.5  # the clipping below is not vacuous
    assert norms[0.5] <= 0.5 * (1 + 1e-5)


def test_early_stopping_stops_and_restores_best_weights():
    X, y = diabetes()
    # Validation targets are the negated training targets: the better the
    # fit, the worse val_loss, so the first epoch is the best.
    train = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True)
    val = DataLoader(TensorDataset(X, -y), batch_size=128)
    snapshots = {}

    class Snapshot(Callback):
        def on_epoch_end(self, state, row):
            snapshots[row["epoch"]] = copy.deepcopy(state.model.state_dict())

    model = nn.Linear(10, 1)
    stopper = EarlyStopping(monitor="val_loss", patience=2)
    history = fit(model, train, loss=nn.MSELoss(),
                  optimizer=torch.optim.SGD(model.parameters(), lr=0.05), epochs=20, val=val,
                  callbacks=[Snapshot(), stopper], progress=False)
    assert len(history) == 3 and stopper.stopped_epoch == 3 and stopper.best_epoch == 1
    assert history.best("val_loss")["epoch"] == 1
    assert all(torch.equal(snapshots[1][k], v) for k, v in model.state_dict().items())
    assert not torch.equal(snapshots[3]["weight"], model.weight)


def test_early_stopping_needs_its_monitor():
    X, y = diabetes()
    model = nn.Linear(10, 1)
    with pytest.raises(ValueError, match="val_loss"):
        fit(model, loaders(X, y)[0], loss=nn.MSELoss(),
            optimizer=torch.optim.SGD(model.parameters(), lr=0.01), epochs=2,
            callbacks=[EarlyStopping()], progress=False)


def test_reduce_lr_on_plateau_is_stepped_with_the_validation_loss():
    X, y = diabetes()
    train = DataLoader(TensorDataset(X, y), batch_size=32)
    val = DataLoader(TensorDataset(X, -y), batch_size=128)  # gets worse every epoch
    model = nn.Linear(10, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.04)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
    history = fit(model, train, loss=nn.MSELoss(), optimizer=optimizer, epochs=3, val=val,
                  scheduler=plateau, progress=False)
    np.testing.assert_allclose(history["lr"], [0.04, 0.02, 0.01])
    # Without validation data it watches the (decreasing) training loss.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.04)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
    history = fit(model, train, loss=nn.MSELoss(), optimizer=optimizer, epochs=3,
                  scheduler=plateau, progress=False)
    assert history["lr"] == [0.04] * 3


# -- metrics and History ----------------------------------------------------------------

def predict(model, X):
    model.eval()
    with torch.no_grad():
        return model(X)


@pytest.mark.parametrize("kind", ["multiclass", "logit", "probability"])
def test_accuracy_matches_sklearn(kind):
    X, y = blobs(classes=2 if kind != "multiclass" else 3)
    if kind == "multiclass":
        model, loss, target = nn.Linear(4, 3), nn.CrossEntropyLoss(), y
    elif kind == "logit":
        model, loss, target = nn.Linear(4, 1), nn.BCEWithLogitsLoss(), y.float()[:, None]
    else:
        model = nn.Sequential(nn.Linear(4, 1), nn.Sigmoid())
        loss, target = nn.BCELoss(), y.float()[:, None]

    def labels(pred):
        if kind == "multiclass":
            return pred.argmax(1).numpy()
        return (pred[:, 0] > (0.5 if kind == "probability" else 0.0)).long().numpy()

    train = DataLoader(TensorDataset(X, target), batch_size=40, shuffle=True)
    val = DataLoader(TensorDataset(X[:100], target[:100]), batch_size=30)
    # lr=0 keeps the model fixed, so the training accuracy is also checkable.
    frozen = fit(model, train, loss=loss, optimizer=torch.optim.SGD(model.parameters(), lr=0.0),
                 epochs=1, val=val, metrics=["accuracy"], progress=False)[-1]
    assert frozen["accuracy"] == pytest.approx(accuracy_score(y, labels(predict(model, X))))
    trained = fit(model, train, loss=loss, optimizer=torch.optim.SGD(model.parameters(), lr=0.5),
                  epochs=2, val=val, metrics={"accuracy": "accuracy"}, progress=False)[-1]
    assert trained["val_accuracy"] == pytest.approx(
        accuracy_score(y[:100], labels(predict(model, X[:100]))))
    assert trained["val_accuracy"] != frozen["val_accuracy"]


def test_custom_metric_function():
    X, y = diabetes()
    model = nn.Linear(10, 1)
    train, val = loaders(X, y)
    row = fit(model, train, loss=nn.MSELoss(),
              optimizer=torch.optim.SGD(model.parameters(), lr=0.01), epochs=1, val=val, metrics={"mae": lambda t, p: (t - p).abs().mean()},
              progress=False)[-1]
    assert row["val_mae"] == pytest.approx(
        mean_absolute_error(y[:100].numpy(), predict(model, X[:100]).numpy()), rel=1e-5)
    assert "mae" in row


def test_history_plot_best_and_len():
    X, y = blobs()
    model = nn.Linear(4, 3)
    history = fit(model, DataLoader(TensorDataset(X, y), batch_size=40), loss=nn.CrossEntropyLoss(),
                  optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=3,
                  val=DataLoader(TensorDataset(X, y), batch_size=80), metrics="accuracy",
                  progress=False)
    assert isinstance(history, History) and len(history) == 3
    figure = history.plot(title="blobs")
    assert isinstance(figure, Figure) and len(figure.axes) == 2
    assert figure.axes[0].get_yscale() == "log"
    assert history.best("val_accuracy")["val_accuracy"] == max(history["val_accuracy"])
    assert history.best("val_loss")["val_loss"] == min(history["val_loss"])
    assert len(History([{"epoch": 1, "train_loss": 1.0}]).plot().axes) == 1


def test_history_columns_best_and_errors():
    history = History([{"epoch": 1, "train_loss": 2.0, "val_loss": float("nan"), "accuracy": 0.5},
                       {"epoch": 2, "train_loss": 1.0, "val_loss": 3.0, "accuracy": 0.7},
                       {"epoch": 3, "train_loss": 0.5, "val_loss": 4.0, "accuracy": 0.6}])
    assert history.columns == ["epoch", "train_loss", "val_loss", "accuracy"]
    assert history.best("val_loss")["epoch"] == 2  # NaN never wins
    assert history.best("accuracy")["epoch"] == 2  # larger is better for accuracy
    assert history.best("train_loss")["epoch"] == 3
    assert history[1]["epoch"] == 2 and len(repr(history).splitlines()) == 4
    with pytest.raises(KeyError, match="val_accuracy"):
        history["val_accuracy"]
    with pytest.raises(ValueError, match="no finite"):
        History([{"epoch": 1, "val_loss": float("nan")}]).best()
    assert history.plot().axes[0].get_yscale() == "log"


@pytest.mark.parametrize("arguments, pattern", [
    ({"patience": -1}, "patience"), ({"min_delta": -0.1}, "min_delta"), ({"mode": "up"}, "mode")])
def test_early_stopping_rejects_bad_arguments(arguments, pattern):
    with pytest.raises(ValueError, match=pattern):
        EarlyStopping(**arguments)


def test_progress_bars_run(capsys):
    X, y = diabetes()
    model = nn.Linear(10, 1)
    for progress in (True, "batches"):
        fit(model, loaders(X, y)[0], loss=nn.MSELoss(),
            optimizer=torch.optim.SGD(model.parameters(), lr=0.01), epochs=2, progress=progress)
    assert "epoch" in capsys.readouterr().err


def test_amp_true_on_cpu_uses_bfloat16_autocast():
    X, y = diabetes()
    dtypes = {}
    for amp in ("auto", True):
        model = nn.Linear(10, 1)
        model.register_forward_hook(lambda m, i, out: dtypes.__setitem__(amp, out.dtype))
        history = fit(model, loaders(X, y)[0], loss=nn.MSELoss(),
                      optimizer=torch.optim.SGD(model.parameters(), lr=0.01), epochs=1,
                      amp=amp, device="cpu", progress=False)
        assert np.isfinite(history["train_loss"]).all()
    assert dtypes == {"auto": torch.float32, True: torch.bfloat16}


# -- bad arguments ----------------------------------------------------------------------

BAD = {
    "scheduler_interval": ({"scheduler_interval": "step"}, "scheduler_interval.*'step'"),
    "epochs_zero": ({"epochs": 0}, "epochs=0"),
    "epochs_float": ({"epochs": 2.5}, "epochs=2.5"),
    "device": ({"device": "tpu"}, "device.*'tpu'"),
    "amp": ({"amp": "yes"}, "amp='yes'"),
    "clip": ({"clip_grad_norm": -1}, "clip_grad_norm=-1"),
    "check_every": ({"check_every": 0}, "check_every=0"),
    "metric": ({"metrics": ["precision@5"]}, "precision@5"),
    "optimizer": ({"optimizer": "adam"}, "optimizer='adam'"),
    "scheduler": ({"scheduler": 0.1}, "scheduler=0.1"),
    "progress": ({"progress": "yes"}, "progress='yes'"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_arguments_raise_value_error_naming_them(case):
    X, y = diabetes()
    model = nn.Linear(10, 1)
    arguments = dict(loss=nn.MSELoss(), optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                     epochs=1, progress=False)
    changes, pattern = BAD[case]
    arguments.update(changes)
    with pytest.raises(ValueError, match=pattern):
        fit(model, loaders(X, y)[0], **arguments)


def test_bad_data_and_foreign_optimizer():
    X, y = diabetes()
    model = nn.Linear(10, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="re-iterable"):
        fit(model, iter(loaders(X, y)[0]), loss=nn.MSELoss(), optimizer=optimizer, epochs=1)
    with pytest.raises(ValueError, match=r"\(x, y\) pair"):
        fit(model, [(X, y, y)], loss=nn.MSELoss(), optimizer=optimizer, epochs=1, progress=False)
    other = nn.Linear(10, 1)
    with pytest.raises(ValueError, match="not this model's"):
        fit(other, loaders(X, y)[0], loss=nn.MSELoss(), optimizer=optimizer, epochs=1)


# -- no host-device sync per step -------------------------------------------------------

SYNCING = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__")


def count_host_reads(monkeypatch, run):
    """Calls of every Tensor method that copies a value to the host during `run()`."""
    counter = {"n": 0}
    for name in SYNCING:
        original = getattr(torch.Tensor, name)

        def counting(self, *args, _original=original, **kwargs):
            counter["n"] += 1
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, counting)
    run()
    monkeypatch.undo()
    return counter["n"]


def test_host_reads_grow_with_epochs_not_steps(monkeypatch):
    X, y = blobs(n=320)

    def run(batch_size, epochs):
        model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        train = DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=True)
        val = DataLoader(TensorDataset(X, y), batch_size=batch_size)
        fit(model, train, loss=nn.CrossEntropyLoss(), optimizer=optimizer, epochs=epochs,
            val=val, metrics=["accuracy"], clip_grad_norm=1.0,
            scheduler=torch.optim.lr_scheduler.StepLR(optimizer, 10),
            callbacks=[LRLogger(), GradNormMonitor(), EarlyStopping(patience=9)], progress=False)

    few_steps = count_host_reads(monkeypatch, lambda: run(batch_size=80, epochs=2))
    many_steps = count_host_reads(monkeypatch, lambda: run(batch_size=10, epochs=2))
    more_epochs = count_host_reads(monkeypatch, lambda: run(batch_size=10, epochs=4))
    assert many_steps == few_steps  # 8x the steps, not one read more
    per_epoch = (more_epochs - many_steps) / 2
    assert 1 <= per_epoch <= 10  # a handful per epoch (DataLoader seeds, the epoch's read)


def test_sync_counter_would_catch_a_per_step_read(monkeypatch):
    """The counter above is not blind: a per-step `.item()` is seen."""
    X, y = blobs(n=320)

    class ReadsEveryStep(Callback):
        def on_batch_end(self, state):
            state.batch_loss.item()

    def run(batch_size):
        model = nn.Linear(4, 3)
        fit(model, DataLoader(TensorDataset(X, y), batch_size=batch_size),
            loss=nn.CrossEntropyLoss(), optimizer=torch.optim.SGD(model.parameters(), lr=0.05), epochs=1,
            callbacks=[ReadsEveryStep()], progress=False)

    assert (count_host_reads(monkeypatch, lambda: run(10))
            - count_host_reads(monkeypatch, lambda: run(80))) == 32 - 4


# -- GPU --------------------------------------------------------------------------------

@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("amp", [False, "auto"])
def test_gpu_placement_amp_and_no_sync_in_step_loop(monkeypatch, amp):
    seen = {}
    original_read = harness_torch._read_once

    def read_outside_debug_mode(tensors):
        torch.cuda.set_sync_debug_mode("default")
        return original_read(tensors)

    # float16 (GPUs before compute capability 8) needs a GradScaler, whose
    # overflow check reads a flag every step: only bf16 and fp32 are sync-free.
    sync_free = amp is False or torch.cuda.get_device_capability()[0] >= 8

    class SyncsAreErrors(Callback):
        def on_epoch_begin(self, state):
            if sync_free:
                torch.cuda.set_sync_debug_mode("error")

    monkeypatch.setattr(harness_torch, "_read_once", read_outside_debug_mode)
    X, y = blobs(n=640)
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 3))
    model.register_forward_hook(
        lambda m, inputs, out: seen.update(input=inputs[0].device.type, dtype=out.dtype))
    train = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True, pin_memory=True)
    val = DataLoader(TensorDataset(X, y), batch_size=64, pin_memory=True)
    try:
        history = fit(model, train, loss=nn.CrossEntropyLoss(),
                      optimizer=torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                      epochs=2, val=val, metrics=["accuracy"], clip_grad_norm=1.0, amp=amp,
                      callbacks=[SyncsAreErrors(), GradNormMonitor()], progress=False)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert seen["input"] == "cuda"
    assert all(p.device.type == "cuda" for p in model.parameters())
    expected = torch.float32 if amp is False else (
        torch.bfloat16 if torch.cuda.get_device_capability()[0] >= 8 else torch.float16)
    assert seen["dtype"] == expected
    assert history[-1]["val_accuracy"] > 0.5



def test_course_optimizer_and_schedule_inside_fit_resume_exactly(tmp_path):
    """The real course pieces (optim.REGISTRY, schedules.REGISTRY) through fit:
    they train, and 2 epochs + resume for 2 equal 4 uninterrupted epochs."""
    from lessons_lib import optim, schedules
    X, y = diabetes()
    steps = 4 * len(loaders(X, y)[0])

    def run(epochs, path=None, model=None):
        model = model or mlp()
        train, val = loaders(X, y, generator=torch.Generator().manual_seed(3))
        history = fit(model, train, loss=nn.MSELoss(), val=val, epochs=epochs,
                      optimizer=optim.REGISTRY["nadam"](lr=0.01),
                      scheduler=schedules.REGISTRY["warmup_cosine"](lr=0.01, total_steps=steps),
                      progress=False, seed=0, checkpoint=path)
        return model, history
    straight, history = run(4)
    assert history["train_loss"][-1] < 0.7 * history["train_loss"][0]
    path = tmp_path / "run.pt"
    run(2, path)
    resumed, resumed_history = run(4, path)
    assert params_equal(straight, resumed)
    assert without_seconds(resumed_history) == without_seconds(history)


# -- reliability: SIGKILL at random moments (issue 14) ------------------------------------

def test_sigkill_at_random_moments_never_breaks_the_checkpoint(tmp_path):
    """A process training with checkpoint= is SIGKILLed 8 times at seeded random
    moments (many land mid-save: the saves dominate each epoch). After each kill the
    file is a whole checkpoint of some epoch: exactly that epoch's weights and History
    of the uninterrupted run. Resumed to the end, it equals that run bitwise, and
    the temp files of killed saves are gone."""
    import kill_torch_helpers as kills

    epochs, weights = 200, {}

    class Snapshot(Callback):
        def on_epoch_end(self, state, row):
            weights[row["epoch"]] = copy.deepcopy(state.model.state_dict())

    threads = torch.get_num_threads()
    try:
        model, expected = kills.torch_run(None, epochs, callbacks=[Snapshot()])
    finally:
        torch.set_num_threads(threads)
    path = tmp_path / "run.pt"
    server = kills.ForkServer()
    saved_epochs = []
    try:
        for _ in kills.kill_at_random(server, path, epochs, kills=8, seed=0):
            if not path.exists():
                continue  # killed before its first save
            saved = torch.load(path, weights_only=True)  # never half-written
            epoch = saved["epoch"]
            assert all(torch.equal(weights[epoch][k], v) for k, v in saved["model"].items())
            assert [{k: v for k, v in row.items() if k != "seconds"}
                    for row in saved["history"]] == without_seconds(expected)[:epoch]
            saved_epochs.append(epoch)
        assert saved_epochs == sorted(saved_epochs) and len(set(saved_epochs)) >= 3
        assert saved_epochs[-1] < epochs  # the kills interrupted the run: the resume has work
        kills.run_to_end(server, path, epochs)
    finally:
        server.close()
    final = torch.load(path, weights_only=True)
    assert final["epoch"] == epochs
    assert all(torch.equal(model.state_dict()[k], v) for k, v in final["model"].items())
    assert [{k: v for k, v in row.items() if k != "seconds"} for row in final["history"]] \
        == without_seconds(expected)
    assert os.listdir(tmp_path) == ["run.pt"]
