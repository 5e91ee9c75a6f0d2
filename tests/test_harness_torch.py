"""lessons_lib.harness.torch: the course's PyTorch training loop."""
import copy
import os
import time
import types

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


def test_divergence_restores_the_optimizer_state_of_the_epochs_start():
    """The momentum buffers go back too (the snapshot copies the optimizer's state dict)."""
    X, y = diabetes()
    model = nn.Linear(10, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 if step < 15 else 1e6)
    saved = []

    class Snapshot(Callback):
        def on_epoch_end(self, state, row):
            saved.append(copy.deepcopy(optimizer.state_dict()))

    with pytest.raises(DivergenceError):
        fit(model, loaders(X, y)[0], loss=nn.MSELoss(), optimizer=optimizer, epochs=3,
            scheduler=scheduler, callbacks=[Snapshot()], progress=False)
    now = optimizer.state_dict()
    assert now["param_groups"] == saved[0]["param_groups"]
    assert all(torch.equal(now["state"][i]["momentum_buffer"], s["momentum_buffer"])
               for i, s in saved[0]["state"].items())
    assert all(b["momentum_buffer"].abs().sum() > 0 for b in now["state"].values())


def test_step_hooks_of_any_callback_run_every_step_and_empty_ones_are_skipped():
    """Hooks a callback overrides run every step, also on a duck-typed callback
    (not a Callback subclass); a Callback's empty hooks are not called at all."""
    X, y = diabetes()
    calls = []

    class DuckTyped:  # every hook, no base class
        def on_train_begin(self, state): pass
        def on_epoch_begin(self, state): pass
        def on_before_step(self, state): calls.append("duck before step")
        def on_batch_end(self, state): calls.append("duck batch end")
        def on_epoch_end(self, state, row): return False
        def on_train_end(self, state): pass
        def state_dict(self): return {}
        def load_state_dict(self, state): pass

    class GradientsSeen(Callback):
        def on_before_step(self, state):
            calls.append(all(p.grad is not None for p in state.model.parameters()))

    model = nn.Linear(10, 1)
    fit(model, loaders(X, y)[0], loss=nn.MSELoss(), progress=False, epochs=1,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.01),
        callbacks=[DuckTyped(), GradientsSeen(), Callback()])
    assert calls == ["duck before step", True, "duck batch end"] * 14
    run = types.SimpleNamespace(callbacks=[Callback(), GradientsSeen()])
    assert harness_torch._hooks(run, "on_batch_end") == []
    assert len(harness_torch._hooks(run, "on_before_step")) == 1


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
    started = time.perf_counter()
    try:
        model, expected = kills.torch_run(None, epochs, callbacks=[Snapshot()])
    finally:
        torch.set_num_threads(threads)
    # The kills together must leave work to resume on a fast machine too: the runs
    # with saves are slower than this one without, so 8 delays of at most 1/9 of
    # it never add up to a whole run.
    longest = max(0.1, (time.perf_counter() - started) / 9)
    path = tmp_path / "run.pt"
    server = kills.ForkServer()
    saved_epochs = []
    try:
        for _ in kills.kill_at_random(server, path, epochs, kills=8, seed=0,
                                     delays=(0.05, longest)):
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


# -- reliability: the data as the cause of a divergence (issue 14, item 3) ----------------

@pytest.mark.parametrize("part", ["inputs", "targets"])
@pytest.mark.parametrize("check_every", [None, 1])
def test_divergence_from_nan_data_blames_the_data_and_names_its_batch(part, check_every):
    X, y = diabetes()
    (X if part == "inputs" else y)[200, 0] = float("nan")
    train = lambda: DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True,  # noqa: E731
                               generator=torch.Generator().manual_seed(5))
    step = next(i for i, (bx, by) in enumerate(train(), 1) if not (bx.isfinite().all()
                                                                     and by.isfinite().all()))
    model = nn.Linear(10, 1)
    with pytest.raises(DivergenceError) as caught:
        fit(model, train(), loss=nn.MSELoss(), optimizer=torch.optim.SGD(model.parameters(),
            lr=0.01), epochs=2, check_every=check_every, progress=False)
    assert caught.value.step == step and caught.value.epoch == 1
    message = str(caught.value)
    assert f"epoch 1, step {step} with learning rate 0.01: the {part} of batch {step} hold " \
           "1 NaN value." in message
    assert "The data, not the learning rate, is the cause" in message
    assert "too large" not in message


def test_inf_input_with_a_finite_loss_is_named_not_the_next_step():
    """sigmoid(-inf) = 0: batch 3's loss is finite, but its gradient 0 * inf = NaN
    poisons the weights, so the first NaN loss is batch 4's. The cause is batch 3."""
    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(8, 4, generator=g), torch.rand(8, 1, generator=g))
               for _ in range(6)]
    batches[2][0][0, 0] = -float("inf")
    model = nn.Sequential(nn.Linear(4, 1), nn.Sigmoid())
    with torch.no_grad():
        model[0].weight.fill_(0.5)
    with pytest.raises(DivergenceError) as caught:
        fit(model, batches, loss=nn.MSELoss(), optimizer=torch.optim.SGD(model.parameters(),
            lr=0.1), epochs=1, progress=False)
    assert caught.value.step == 3
    assert "step 3 with learning rate 0.1: the inputs of batch 3 hold 1 infinite value" \
        in str(caught.value)


@pytest.mark.parametrize("changes_lr", ["per-batch scheduler", "on_batch_end callback", "nothing"])
def test_the_divergence_names_the_learning_rate_of_its_own_step(changes_lr):
    """fit records each step's learning rate only where something can change it during
    the epoch; the message must name the diverging step's rate either way."""
    batches = [(torch.full((8, 2), float(i + 1)), torch.ones(8, 1)) for i in range(6)]
    batches[3][0][0, 0] = float("nan")                 # step 4 diverges
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

    class Doubling(Callback):
        def on_batch_end(self, state):
            state.optimizer.param_groups[0]["lr"] *= 2

    options = {"per-batch scheduler": dict(scheduler=torch.optim.lr_scheduler.LambdaLR(
                   optimizer, lambda t: 2.0 ** t)),
               "on_batch_end callback": dict(callbacks=[Doubling()]), "nothing": {}}[changes_lr]
    with pytest.raises(DivergenceError) as caught:
        fit(model, batches, loss=nn.MSELoss(), optimizer=optimizer, epochs=1, progress=False,
            **options)
    expected = 0.01 if changes_lr == "nothing" else 0.08   # three doublings before step 4
    assert caught.value.step == 4 and caught.value.lr == pytest.approx(expected)
    assert f"step 4 with learning rate {expected:g}" in str(caught.value)


# -- reliability: a checkpoint of another run is refused (issue 14, item 4) ---------------

def sweep_run(path, epochs=1, *, lr=0.05, momentum=0.9, weight_decay=0.0, optimizer="sgd",
              gamma=0.5, hidden=16, activation=nn.ReLU, batch_size=32, y_scale=1.0,
              val_rows=100, course_schedule=None):
    """A run of a learning-rate sweep; each keyword is one thing a rerun may change."""
    X, y = diabetes()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, hidden), activation(), nn.Linear(hidden, 1))
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                              weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    scheduler = (course_schedule if course_schedule is not None
                 else torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=gamma))
    train = DataLoader(TensorDataset(X, y * y_scale), batch_size=batch_size, shuffle=True,
                       generator=torch.Generator().manual_seed(0))
    val = DataLoader(TensorDataset(X[:val_rows], y[:val_rows]), batch_size=50)
    history = fit(model, train, loss=nn.MSELoss(), optimizer=opt, epochs=epochs, val=val,
                  scheduler=scheduler, scheduler_interval="epoch", seed=0, checkpoint=path,
                  progress=False)
    return model, history


def cosine(min_lr):
    from lessons_lib import schedules
    return schedules.REGISTRY["cosine"](lr=0.05, total_steps=5, min_lr=min_lr)


SWEEP_CHANGES = {
    "lr": ({"lr": 0.01}, "lr is 0.05 there but 0.01 here"),
    "momentum": ({"momentum": 0.5}, "momentum is 0.9 there but 0.5 here"),
    "weight_decay": ({"weight_decay": 1e-4}, "weight_decay is 0.0 there but 0.0001 here"),
    "optimizer": ({"optimizer": "adam", "momentum": 0.0},
                  "optimizer is 'SGD' there but 'Adam' here"),
    "scheduler": ({"gamma": 0.1}, "scheduler gamma is 0.5 there but 0.1 here"),
    "architecture": ({"activation": nn.Tanh},
                     "model is '(1): ReLU()' there but '(1): Tanh()' here"),
    "shapes": ({"hidden": 8}, "parameter shapes is {'0.weight': [16, 10]"),
    "batches": ({"batch_size": 16}, "train batches is 14 there but 28 here"),
    "data": ({"y_scale": 2.0}, "train fingerprint is"),
    "val": ({"val_rows": 60}, "val shapes is [[100, 10], [100, 1]] there but [[60, 10], [60, 1]]"),
}


@pytest.mark.parametrize("change", SWEEP_CHANGES)
def test_checkpoint_of_a_run_with_other_settings_is_refused(tmp_path, change):
    path = tmp_path / "sweep.pt"
    sweep_run(path)
    saved_bytes = path.read_bytes()
    changes, expected = SWEEP_CHANGES[change]
    with pytest.raises(CheckpointError) as caught:
        sweep_run(path, epochs=3, **changes)
    message = str(caught.value)
    assert message.startswith(f"checkpoint {str(path)!r} was written by a different run (")
    assert expected in message
    assert "Pass a new checkpoint path, or delete this one to start over." in message
    assert path.read_bytes() == saved_bytes


def test_checkpoint_with_another_course_schedule_is_refused(tmp_path):
    path = tmp_path / "sweep.pt"
    sweep_run(path, course_schedule=cosine(0.0))
    with pytest.raises(CheckpointError, match=r"schedule is 'Cosine\(lr=0\.05, total_steps=5, "
                       r"min_lr=0\.0\)' there but 'Cosine\(lr=0\.05, total_steps=5, "
                       r"min_lr=0\.001\)' here"):
        sweep_run(path, epochs=2, course_schedule=cosine(0.001))


def test_same_settings_and_more_epochs_continue_the_checkpoint(tmp_path):
    path = tmp_path / "sweep.pt"
    sweep_run(path, epochs=2)
    resumed, history = sweep_run(path, epochs=4)
    straight, expected = sweep_run(None, epochs=4)
    assert params_equal(resumed, straight)
    assert without_seconds(history) == without_seconds(expected)
    np.testing.assert_allclose(history["lr"], [0.025, 0.0125, 0.00625, 0.003125])


# -- reliability: bad data and mistakes caught before the first update (items 5, 6, 10) ----

class LazyDataset(torch.utils.data.Dataset):
    """Rows read one at a time (not a TensorDataset): checked only as fit reads them."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


@pytest.mark.parametrize("kind", ["tensors", "lazy"])
def test_nan_validation_data_is_flagged_naming_val(kind):
    X, y = diabetes()
    X_val = X[:100].clone()
    X_val[[3, 70], 1] = float("nan")
    dataset = TensorDataset(X_val, y[:100]) if kind == "tensors" else LazyDataset(X_val, y[:100])
    model = nn.Linear(10, 1)
    initial = copy.deepcopy(model)
    expected = ("val holds non-finite values (the inputs of val hold 2 NaN values)"
                if kind == "tensors" else
                "val holds non-finite values (the inputs of val's batch 1 hold 1 NaN value)")
    with pytest.raises(ValueError) as caught:
        fit(model, loaders(X, y)[0], loss=nn.MSELoss(), epochs=3, progress=False,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.01),
            val=DataLoader(dataset, batch_size=50))
    assert str(caught.value).startswith(expected)
    assert "every val_loss would be nan" in str(caught.value)
    if kind == "tensors":
        assert params_equal(model, initial)  # before training
    # Finite validation data with a NaN-free model trains as before.
    fit(model, loaders(X, y)[0], loss=nn.MSELoss(), epochs=1, progress=False,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.01),
        val=DataLoader(LazyDataset(X[:100], y[:100]), batch_size=50))


def classes(n=64, k=3):
    g = torch.Generator().manual_seed(0)
    return torch.randn(n, 4, generator=g), torch.randint(0, k, (n,), generator=g)


def first_batch_case(case):
    """(model, train, fit keywords) of one student mistake."""
    X, y = diabetes()
    Xc, yc = classes()
    ce = {"loss": nn.CrossEntropyLoss()}
    batches = lambda x, t: DataLoader(TensorDataset(x, t), batch_size=16)  # noqa: E731
    return {
        "column_target": (nn.Linear(10, 1), batches(X, y[:, 0]), {}),
        "column_target_val": (nn.Linear(10, 1), batches(X, y),
                              {"val": DataLoader(LazyDataset(X[:64], y[:64, 0]), batch_size=32)}),
        "float_labels": (nn.Linear(4, 3), batches(Xc, yc.float()), ce),
        "column_labels": (nn.Linear(4, 3), batches(Xc, yc[:, None]), ce),
        "int32_labels": (nn.Linear(4, 3), batches(Xc, yc.int()), ce),
        "class_out_of_range": (nn.Linear(4, 2), batches(Xc, yc), ce),
        "val_class_out_of_range": (nn.Linear(4, 3), batches(Xc, yc),
                                   {**ce, "val": batches(Xc, yc + 1)}),
        "one_output_cross_entropy": (nn.Sequential(nn.Linear(4, 1), nn.Flatten(0)),
                                     batches(Xc, yc), ce),
        "bce_integer_targets": (nn.Linear(4, 1), batches(Xc, yc[:, None]),
                                {"loss": nn.BCEWithLogitsLoss()}),
        "bce_targets_out_of_range": (nn.Linear(4, 1), batches(Xc, yc[:, None].float()),
                                     {"loss": nn.BCEWithLogitsLoss()}),
        "feature_count": (nn.Linear(8, 1), batches(X, y), {}),
        "float64_inputs": (nn.Linear(10, 1), batches(X.double(), y), {}),
        "channels_last": (nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(144, 1)),
                          batches(torch.randn(32, 8, 8, 3), torch.randn(32, 1)), {}),
        "numpy_batches": (nn.Linear(10, 1), [(X[:16].numpy(), y[:16].numpy())], {}),
        "loss_without_mean": (nn.Linear(10, 1), batches(X, y),
                              {"loss": lambda pred, target: (pred - target) ** 2}),
    }[case]


FIRST_BATCH = {
    "column_target": r"loss=MSELoss\(\) compares prediction and target element by element, so "
                     r"their shapes must be equal; the model predicts shape \(16, 1\) but "
                     r"train's targets are torch.float32 of shape \(16,\)\. torch would "
                     r"broadcast them and train on wrong numbers\. Give the targets the "
                     r"prediction's shape: y\.reshape\(-1, 1\) \(y\[:, None\] for one output\)",
    "column_target_val": r"the model predicts shape \(32, 1\) but val's targets are "
                         r"torch.float32 of shape \(32,\)",
    "float_labels": r"loss=CrossEntropyLoss\(\) needs integer class labels \(torch.long\) of "
                    r"shape \(16,\) with values 0\.\.2, or class probabilities of the "
                    r"prediction's shape \(16, 3\); train's targets are torch.float32 of shape "
                    r"\(16,\): use y\.long\(\)",
    "column_labels": r"train's targets are torch.int64 of shape \(16, 1\): use y\.reshape\(-1\)",
    "int32_labels": r"train's targets are torch.int32 of shape \(16,\): use y\.long\(\)",
    "class_out_of_range": r"train holds the class label 2, but the model predicts 2 classes, so "
                          r"labels must be in 0\.\.1: give the last layer one output per class "
                          r"\(out_features=3 for labels 0\.\.2\) or fix the labels",
    "val_class_out_of_range": r"val holds the class label 3, but the model predicts 3 classes",
    "one_output_cross_entropy": r"needs a prediction of shape \(batch, classes\); the model "
                                r"predicts shape \(16,\)\. With one output per sample use "
                                r"BCEWithLogitsLoss",
    "bce_integer_targets": r"loss=BCEWithLogitsLoss\(\) needs floating-point targets; train's "
                           r"targets are torch.int64 of shape \(16, 1\): convert them with "
                           r"y\.float\(\)",
    "bce_targets_out_of_range": r"needs targets in \[0, 1\] .*; train's targets range from 0 "
                                r"to 2",
    "feature_count": r"the model cannot take train's inputs: model\(x\) failed for x of shape "
                     r"\(16, 10\) \(torch.float32\): the model's first layer Linear\("
                     r"in_features=8, out_features=1, bias=True\) expects 8 features per "
                     r"sample, x has 10",
    "float64_inputs": r"x is torch.float64 but the model's weights are torch.float32; convert "
                      r"x with x\.to\(torch.float32\)",
    "channels_last": r"expects 3 channels \(x of shape \(batch, 3, \.\.\.\)\), x has 8 in "
                     r"dimension 1",
    "numpy_batches": r"train gives NumPy arrays \(x is a float32 ndarray of shape \(16, 10\)\); "
                     r"the torch harness trains on torch tensors\. Convert once, before fit: "
                     r"DataLoader\(TensorDataset\(torch\.as_tensor",
    "loss_without_mean": r"loss must return one number per batch \(its mean\); loss=<lambda> "
                         r"returned \(16, 1\) on train's first batch",
}


@pytest.mark.parametrize("case", FIRST_BATCH)
def test_first_batch_mistakes_raise_a_clear_error_before_any_update(case):
    model, train, options = first_batch_case(case)
    initial = copy.deepcopy(model)
    with pytest.raises(ValueError, match=FIRST_BATCH[case]) as caught:
        fit(model, train, loss=options.pop("loss", nn.MSELoss()), epochs=2, progress=False,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1), **options)
    # Raised by the harness itself, not from torch's internals 7-11 frames deep.
    assert str(caught.traceback[-1].path).endswith(os.path.join("harness", "torch.py"))
    if "val" not in case:
        assert params_equal(model, initial)  # raised before the first update


def test_cross_entropy_accepts_class_probabilities_and_ignored_labels():
    Xc, yc = classes()
    soft = torch.nn.functional.one_hot(yc, 3).float() * 0.8 + 0.2 / 3
    masked = yc.clone()
    masked[::5] = -100  # CrossEntropyLoss's default ignore_index
    for target in (soft, masked):
        model = nn.Linear(4, 3)
        history = fit(model, DataLoader(TensorDataset(Xc, target), batch_size=16),
                      loss=nn.CrossEntropyLoss(), epochs=1, progress=False,
                      optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
        assert np.isfinite(history["train_loss"]).all()


ARGUMENT_MISTAKES = {
    "loss_class": ({"loss": nn.MSELoss}, r"loss must be a loss object or function; got the "
                   r"class nn\.MSELoss itself: write loss=nn\.MSELoss\(\) \(with parentheses\)"),
    "reduction_none": ({"loss": nn.MSELoss(reduction="none")},
                       r"loss must return one number per batch; got MSELoss\(reduction='none'\)"
                       r", one loss per sample: use reduction='mean' \(the default\)"),
    "callback_class": ({"callbacks": [EarlyStopping]}, r"callbacks must hold callback objects; "
                       r"got the class EarlyStopping itself: write EarlyStopping\(\.\.\.\)"),
    "callback_function": ({"callbacks": [print]}, r"callbacks must hold harness\.callbacks\."
                          r"Callback objects; got <built-in function print> .*subclass "
                          r"Callback and override on_epoch_end"),
    "callback_not_in_a_list": ({"callbacks": LRLogger()}, r"callbacks must be a list"),
    "clip_string": ({"clip_grad_norm": "1.0"}, r"clip_grad_norm must be a positive number or "
                    r"None; got clip_grad_norm='1.0' \(str\), e\.g\. clip_grad_norm=1\.0"),
}


@pytest.mark.parametrize("case", ARGUMENT_MISTAKES)
def test_argument_mistakes_name_the_argument_and_the_fix(case):
    X, y = diabetes()
    model = nn.Linear(10, 1)
    arguments = dict(loss=nn.MSELoss(), optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                     epochs=1, progress=False)
    changes, pattern = ARGUMENT_MISTAKES[case]
    arguments.update(changes)
    with pytest.raises(ValueError, match=pattern):
        fit(model, loaders(X, y)[0], **arguments)


# -- reliability: schedules shorter than the run, checkpoint files (items 9, 10) ----------

def schedule_case(kind, optimizer):
    from lessons_lib import schedules
    return {
        "cosine": lambda: schedules.REGISTRY["cosine"](lr=0.1, total_steps=20),
        "one_cycle_lr": lambda: torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1,
                                                                      total_steps=20),
        "polynomial_lr": lambda: torch.optim.lr_scheduler.PolynomialLR(optimizer, total_iters=20),
    }[kind]()


@pytest.mark.parametrize("kind, expected", [
    ("cosine", r"scheduler Cosine\(lr=0\.1, total_steps=20, min_lr=0\.0\) has total_steps=20, "
               r"but this run takes 42 scheduler steps \(epochs=3 × 14 batches of train\): its "
               r"last 22 would run at the schedule's final learning rate 0\. Build the schedule "
               r"with total_steps=42 \(epochs \* len\(train\)\), or train fewer epochs"),
    ("one_cycle_lr", r"scheduler OneCycleLR has total_steps=20, but this run takes 42 scheduler "
                     r"steps .*: its last 22 would run past its end, where torch stops with an "
                     r"error"),
    ("polynomial_lr", r"scheduler PolynomialLR has total_iters=20, .* would run at learning "
                      r"rate 0\. Build the schedule with total_iters=42"),
])
def test_schedule_shorter_than_the_run_is_refused_before_training(kind, expected):
    X, y = diabetes()
    model = nn.Linear(10, 1)
    initial = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=expected):
        fit(model, loaders(X, y)[0], loss=nn.MSELoss(), optimizer=optimizer, epochs=3,
            scheduler=schedule_case(kind, optimizer), progress=False)
    assert params_equal(model, initial)


def test_schedules_that_fit_the_run_or_end_at_their_peak_are_accepted():
    from lessons_lib import schedules
    X, y = diabetes()
    for scheduler, interval in [
            (schedules.REGISTRY["cosine"](lr=0.1, total_steps=42), "batch"),
            (schedules.REGISTRY["cosine"](lr=0.1, total_steps=3), "epoch"),
            (schedules.REGISTRY["warmup_cosine"](lr=0.1, total_steps=10, warmup_steps=5,
                                                 min_lr=0.1), "batch"),  # then flat
            (schedules.REGISTRY["constant"](lr=0.1, total_steps=5), "batch")]:
        model = nn.Linear(10, 1)
        history = fit(model, loaders(X, y)[0], loss=nn.MSELoss(), epochs=3, progress=False,
                      optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                      scheduler=scheduler, scheduler_interval=interval)
        assert len(history) == 3
    with pytest.raises(ValueError, match=r"takes 4 scheduler steps \(epochs=4, one scheduler "
                       r"step per epoch\)"):
        fit(model, loaders(X, y)[0], loss=nn.MSELoss(), epochs=4, progress=False,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1), scheduler_interval="epoch",
            scheduler=schedules.REGISTRY["cosine"](lr=0.1, total_steps=3))


def test_killed_saves_leave_no_temp_files_behind(tmp_path):
    """A SIGKILL mid-save leaves `run.pt.tmpXXXXXXXX` (mkstemp's name); the next fit
    with that checkpoint removes it, and only it."""
    stale = tmp_path / "run.pt.tmpk9_2xa7q"
    stale.write_bytes(b"x" * 1000)
    others = [tmp_path / "other.pt.tmpk9_2xa7q", tmp_path / "run.pt.tmp-notes.txt"]
    for path in others:
        path.write_bytes(b"keep")
    resumable_run(mlp(), None, 1, tmp_path / "run.pt")
    assert sorted(os.listdir(tmp_path)) == sorted(["run.pt"] + [p.name for p in others])


def test_a_save_keeps_the_checkpoints_file_mode(tmp_path):
    path = tmp_path / "run.pt"
    old_umask = os.umask(0o022)
    try:
        resumable_run(mlp(), None, 1, path)
        assert path.stat().st_mode & 0o777 == 0o644  # a new file: 0o666 less the umask
        path.chmod(0o640)
        resumable_run(mlp(), None, 2, path)
        assert torch.load(path, weights_only=True)["epoch"] == 2  # it did save again
        assert path.stat().st_mode & 0o777 == 0o640
    finally:
        os.umask(old_umask)


@pytest.mark.parametrize("where", ["folder_is_a_file", "folder_refuses_files"])
def test_unwritable_checkpoint_folder_is_refused_before_training(tmp_path, monkeypatch, where):
    X, y = diabetes()
    model = nn.Linear(10, 1)
    initial = copy.deepcopy(model)
    if where == "folder_is_a_file":
        (tmp_path / "runs").write_text("a file, not a folder")
        reason = "File exists|Not a directory"
    else:
        (tmp_path / "runs").mkdir()

        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(harness_torch.tempfile, "mkstemp", refuse)  # a read-only folder
        reason = "Permission denied"
    path = tmp_path / "runs" / "run.pt"
    with pytest.raises(ValueError, match=rf"checkpoint='{path}' cannot be written: its folder "
                       rf"'{tmp_path / 'runs'}' does not take new files \(({reason})\)\. Pass a "
                       "checkpoint path in a writable folder"):
        fit(model, loaders(X, y)[0], loss=nn.MSELoss(), epochs=2, checkpoint=path,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1), progress=False)
    assert params_equal(model, initial)


def test_checkpoint_of_an_older_format_is_refused_naming_both_formats(tmp_path):
    path = tmp_path / "old.pt"
    resumable_run(mlp(), None, 1, path)
    saved = torch.load(path, weights_only=True)
    saved["format"] = "lessons_lib.harness.torch/1"
    torch.save(saved, path)
    with pytest.raises(CheckpointError, match=r"format is 'lessons_lib\.harness\.torch/1' there "
                       r"but 'lessons_lib\.harness\.torch/2' here"):
        resumable_run(mlp(), None, 2, path)
