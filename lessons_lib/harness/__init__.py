"""Training loops for the course: `harness.torch.fit` and `harness.keras.fit`.

Both return the same `History` and share the callbacks of `harness.callbacks`.
The framework modules are imported on first use, so `import lessons_lib.harness`
pulls in neither torch nor TensorFlow.
"""
from __future__ import annotations

import importlib

from .callbacks import Callback, EarlyStopping, GradNormMonitor, LRLogger, TrainState
from .history import History


class DivergenceError(FloatingPointError):
    """The loss (or the weights) became NaN or infinite.

    `epoch` and `step` (1-based, the step within the epoch) say where, `lr` is the
    learning rate of that step, `history` holds the epochs completed before it.
    """

    def __init__(self, message, *, epoch, step, lr, history):
        super().__init__(message)
        self.epoch, self.step, self.lr, self.history = epoch, step, lr, history


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed from: unreadable, or written for a
    different model, optimizer, scheduler or callbacks. The file is left as it is."""


def divergence_message(epoch, step, lr, restored, *, data_problem=None):
    """The DivergenceError text both harnesses use.

    data_problem: None when the data were finite (the learning rate is then
    the likely cause), else what is wrong with the data of that step, e.g.
    "the inputs of this batch hold 3 NaN values": the data, not the learning
    rate, is then the cause, and the message says so.
    """
    where = f"at epoch {epoch}, step {step} with learning rate {lr:g}"
    if data_problem:
        return (f"the loss or the weights became NaN or infinite {where}: {data_problem}. "
                "The data, not the learning rate, is the cause: drop or impute the "
                f"non-finite values (np.isfinite finds them) before training. {restored}")
    hint = f"; try lr <= {lr / 10:g}" if lr else ""
    return (f"the loss became NaN or infinite {where}: the learning rate is probably "
            f"too large{hint}. {restored}")


def checkpoint_mismatch_message(path, differences):
    """The CheckpointError text for a checkpoint written by a different run.

    differences: [(what, value in the checkpoint, value now)], e.g.
    [("lr", 0.1, 0.01), ("optimizer", "Adam", "SGD")].
    """
    listed = "; ".join(f"{what} is {saved!r} there but {now!r} here"
                       for what, saved, now in differences)
    return (f"checkpoint {str(path)!r} was written by a different run ({listed}), so "
            "resuming from it would not train what you asked for. Pass a new checkpoint "
            "path, or delete this one to start over.")


# "torch" and "keras" are left out so that `import *` does not load both frameworks.
__all__ = ["History", "Callback", "EarlyStopping", "GradNormMonitor",
           "LRLogger", "TrainState", "DivergenceError", "CheckpointError",
           "divergence_message", "checkpoint_mismatch_message"]


def __getattr__(name):
    if name in ("torch", "keras"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
