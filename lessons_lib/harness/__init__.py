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


def divergence_message(epoch, step, lr, restored):
    """The DivergenceError text both harnesses use."""
    hint = f"; try lr <= {lr / 10:g}" if lr else ""
    return (f"the loss became NaN or infinite at epoch {epoch}, step {step} "
            f"with learning rate {lr:g}: the learning rate is probably too large{hint}. "
            f"{restored}")


# "torch" and "keras" are left out so that `import *` does not load both frameworks.
__all__ = ["History", "Callback", "EarlyStopping", "GradNormMonitor",
           "LRLogger", "TrainState", "DivergenceError", "CheckpointError"]


def __getattr__(name):
    if name in ("torch", "keras"):
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
