"""Callbacks: small objects `fit` calls at fixed points of training.

Hooks, in the order they are called (each gets the `TrainState`):

    on_train_begin(state)
      on_epoch_begin(state)
        on_before_step(state)   gradients are ready (unscaled, clipped); torch only
        on_batch_end(state)     the update is done; torch only
      on_epoch_end(state, row) -> True to stop training
    on_train_end(state)

Per-step hooks run inside the training loop, so they must not read a device
value on the host (no `.item()`, no `float(tensor)`, no `if tensor:`): that would
make the CPU wait for the GPU at every step. Keep device tensors and read them
all at once in `on_epoch_end`, as `GradNormMonitor` does.

`EarlyStopping` only uses epoch hooks and works with both harnesses.
"""
from __future__ import annotations

import math

from .history import higher_is_better


class TrainState:
    """What callbacks see. `epoch` is 1-based; `step` counts updates so far;
    `batch_loss` is the last batch's loss as a device tensor, detached (torch only);
    `get_weights()` returns a copy of the model's weights that `set_weights`
    puts back (how is the harness's business)."""

    def __init__(self, model, *, get_weights, set_weights, optimizer=None, scheduler=None,
                 history=None):
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.history = history
        self.epoch = 0
        self.step = 0
        self.batch_loss = None
        self.get_weights = get_weights
        self.set_weights = set_weights


class Callback:
    """Base class: every hook does nothing. `state_dict`/`load_state_dict`
    carry what a callback must remember across a checkpoint resume."""

    def on_train_begin(self, state):
        pass

    def on_epoch_begin(self, state):
        pass

    def on_before_step(self, state):
        pass

    def on_batch_end(self, state):
        pass

    def on_epoch_end(self, state, row) -> bool:
        return False

    def on_train_end(self, state):
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


def uses_step_hooks(callback) -> bool:
    """Whether `callback` overrides a per-step hook (the Keras harness has none)."""
    return any(getattr(type(callback), hook) is not getattr(Callback, hook)
               for hook in ("on_before_step", "on_batch_end"))


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for
    `patience` epochs in a row.

    "Improved" means smaller for losses and larger for accuracy-like metrics
    (`mode="auto"`; or say "min"/"max"). With `restore_best=True` the model ends
    training with the weights of its best epoch (as Keras's
    `restore_best_weights=True`: also when training ran out of epochs first).
    """

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, restore_best=True,
                 mode="auto"):
        if not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience must be an int >= 0; got {patience!r}")
        if min_delta < 0:
            raise ValueError(f"min_delta must be >= 0; got {min_delta!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max'; got {mode!r}")
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.restore_best = restore_best
        self.maximize = higher_is_better(monitor) if mode == "auto" else mode == "max"
        self._reset()

    def _reset(self):
        self.best = None
        self.best_epoch = None
        self.best_weights = None
        self.wait = 0
        self.stopped_epoch = None

    def on_train_begin(self, state):
        self._reset()

    def _improves(self, value):
        if math.isnan(value):
            return False
        if self.best is None:
            return True
        if self.maximize:
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta

    def on_epoch_end(self, state, row):
        if self.monitor not in row:
            raise ValueError(f"EarlyStopping(monitor={self.monitor!r}) but the epoch's row "
                             f"has only {sorted(row)}; pass val= data or monitor one of those")
        value = row[self.monitor]
        if self._improves(value):
            self.best, self.best_epoch, self.wait = value, row["epoch"], 0
            if self.restore_best:
                self.best_weights = state.get_weights()
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = row["epoch"]
            return True
        return False

    def on_train_end(self, state):
        if self.restore_best and self.best_weights is not None:
            state.set_weights(self.best_weights)

    def state_dict(self):
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "best_weights": self.best_weights, "stopped_epoch": self.stopped_epoch}

    def load_state_dict(self, state):
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], state["wait"]
        self.best_weights, self.stopped_epoch = state["best_weights"], state["stopped_epoch"]


class LRLogger(Callback):
    """The learning rate of every update (torch harness), for plotting schedules.

    `lrs[i]` is the learning rate that update `i` (0-based, like the course's
    schedules) used, for the first parameter group (`group=` picks another).
    Learning rates are plain floats in torch.optim, so logging them costs no sync.
    """

    def __init__(self, group=0):
        self.group = group
        self.lrs = []

    def on_train_begin(self, state):
        self.lrs = []

    def on_before_step(self, state):
        lr = state.optimizer.param_groups[self.group]["lr"]
        # A tensor learning rate (torch allows one) is copied, and read later.
        self.lrs.append(lr.detach().clone() if hasattr(lr, "detach") else lr)

    def on_epoch_end(self, state, row):
        self.lrs = [float(lr) for lr in self.lrs]  # once per epoch
        return False

    def state_dict(self):
        return {"lrs": [float(lr) for lr in self.lrs]}

    def load_state_dict(self, state):
        self.lrs = list(state["lrs"])


class GradNormMonitor(Callback):
    """The global gradient norm of every update (torch harness), as the
    optimizer sees it: after unscaling (mixed precision) and clipping.

    Norms stay on the device during the epoch and are read in one transfer at
    its end; `norms[i]` is update `i`'s norm, `epoch_max[e-1]` epoch e's largest.
    """

    def __init__(self, norm_type=2.0):
        self.norm_type = norm_type
        self.norms = []
        self.epoch_max = []
        self._pending = []

    def on_train_begin(self, state):
        self.norms, self.epoch_max, self._pending = [], [], []

    def on_before_step(self, state):
        import torch

        grads = [p.grad.detach() for p in state.model.parameters() if p.grad is not None]
        if grads:
            per_tensor = torch.stack([torch.linalg.vector_norm(g, self.norm_type) for g in grads])
            self._pending.append(torch.linalg.vector_norm(per_tensor, self.norm_type))

    def on_epoch_end(self, state, row):
        if self._pending:
            import torch

            values = torch.stack(self._pending).tolist()  # the epoch's one read
            self.norms.extend(values)
            self.epoch_max.append(max(values))
            self._pending = []
        return False

    def state_dict(self):
        return {"norms": list(self.norms), "epoch_max": list(self.epoch_max)}

    def load_state_dict(self, state):
        self.norms, self.epoch_max = list(state["norms"]), list(state["epoch_max"])
