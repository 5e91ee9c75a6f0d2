"""Lesson 09 · Keras in practice.

1. keras_port: Keras's own optimizer configured to compute what
   `torch.optim.AdamW(params, lr=0.01, betas=(0.9, 0.99), weight_decay=0.1)` computes,
   proven on the same gradients.
2. epoch_schedule: a function for `keras.callbacks.LearningRateScheduler` that gives
   every epoch the rate a staircase `ExponentialDecay(0.1, decay_steps=50,
   decay_rate=0.5, staircase=True)` gives its updates, with 25 updates per epoch.
"""
import numpy as np

from .. import exercises, keras_practice
from ..exercises import Feedback
from ..optim import compare
from . import Exercise, WrongAnswer

# -- 1. keras_port -------------------------------------------------------------------

TORCH_SETUP = dict(lr=0.01, betas=(0.9, 0.99), weight_decay=0.1)
PORT_TOLERANCE = 1e-6      # Keras holds its hyperparameters in float32: ~1e-7 is round-off
_PROBLEM = dict(seed=3, steps=30)


def _torch_adamw(params):
    import torch
    return torch.optim.AdamW(params, **TORCH_SETUP)


def _config(optimizer):
    config = optimizer.get_config()
    return {key: config.get(key) for key in
            ("learning_rate", "beta_1", "beta_2", "epsilon", "weight_decay")}


def _why(config):
    """The first setting that explains a gap, in the words of the slip hints."""
    lr, wd = TORCH_SETUP["lr"], TORCH_SETUP["weight_decay"]
    got_lr, got_wd = config["learning_rate"], config["weight_decay"]
    if isinstance(got_lr, (int, float)) and not np.isclose(got_lr, lr, rtol=1e-6):
        return ("its learning_rate is not torch's lr (Keras's default is 0.001 for Adam "
                "and AdamW): set it explicitly.")
    if got_wd is None or got_wd == 0:
        return ("it has no weight decay: torch's AdamW decays the weights, so set Keras's "
                "weight_decay too (every Keras optimizer's weight_decay is decoupled).")
    if np.isclose(got_wd, 0.004):
        return ("its weight_decay is Keras's default 0.004, not torch's: Keras's AdamW "
                "does not share torch's default.")
    if np.isclose(got_wd, lr * wd):
        return ("you multiplied the decay by the learning rate yourself: Keras's "
                "weight_decay is λ, like torch's, and both multiply it by η in the step.")
    if not np.isclose(got_wd, wd, rtol=1e-6):
        return "its weight_decay is not torch's weight_decay."
    if config["beta_1"] is not None and not np.isclose(config["beta_2"], 0.99, rtol=1e-6):
        return ("its beta_2 is not torch's second beta: torch's betas=(β₁, β₂) are Keras's "
                "beta_1 and beta_2, two separate arguments.")
    if config["beta_1"] is not None and not np.isclose(config["beta_1"], 0.9, rtol=1e-6):
        return "its beta_1 is not torch's first beta."
    return None


def check_keras_port(keras_port):
    return exercises._safely(_check_keras_port, keras_port)


def _check_keras_port(keras_port):
    import keras
    if not callable(keras_port):
        return exercises._not_a_function(keras_port, "keras_port")
    made, problem = exercises._call(keras_port, (), "keras_port")
    if problem is not None:     # a Feedback (falsy: it says no)
        return problem
    if not isinstance(made, keras.optimizers.Optimizer):
        return Feedback(False, f"`keras_port()` returned {exercises._describe(made, False)}: "
                               "return a Keras optimizer object, e.g. one from "
                               "`keras.optimizers`.")
    from ..optim.keras_adapter import KerasOptimizer
    if isinstance(made, KerasOptimizer):
        return Feedback(False, "that is our rule inside Keras (`to_keras`): this exercise asks "
                               "for Keras's own class, configured by its arguments.")
    kind = type(made).__name__
    if kind not in ("Adam", "AdamW"):
        return Feedback(False, f"Keras's {kind} is another algorithm: torch's AdamW is Adam's "
                               "update with decoupled weight decay.")
    gap = keras_practice.port_gap(_torch_adamw, made, compare.Problem(**_PROBLEM))
    if np.isfinite(gap) and gap <= PORT_TOLERANCE:
        return Feedback(True, f"`keras_port()` follows torch's AdamW on 30 steps of the same "
                              f"gradients: worst relative difference {gap:.1e} (float32 "
                              "round-off of the hyperparameters).")
    message = (f"`keras_port()`'s {kind} leaves torch's path: worst relative difference "
               f"{gap:.1e} over 30 steps (round-off would be below {PORT_TOLERANCE:.0e}).")
    why = _why(_config(made))
    return Feedback(False, message + (f" Look at the settings: {why}" if why else
                                      " Hint: compare each torch argument with its Keras "
                                      "name and default."))


# -- 2. epoch_schedule -------------------------------------------------------------------

STEPS_PER_EPOCH, DECAY_STEPS = 25, 50


def _staircase(step):
    """The rate Keras's staircase ExponentialDecay gives update `step` (0-based)."""
    return 0.1 * 0.5 ** np.floor(step / DECAY_STEPS)


def scheduler_reference(epoch, lr):
    return float(_staircase(epoch * STEPS_PER_EPOCH))


# (epoch, the current rate LearningRateScheduler passes in: last epoch's rate)
SCHEDULE_CASES = [(0, 0.1)] + [(e, scheduler_reference(e - 1, None)) for e in range(1, 9)]


def check_epoch_schedule(epoch_schedule):
    return exercises.check_function(
        epoch_schedule, scheduler_reference, SCHEDULE_CASES, rtol=1e-6,
        mistakes=[(lambda e, lr: 0.1 * 0.5 ** (e / 2),
                   "staircase=True drops the rate in whole steps: the exponent is a whole "
                   "number of decay periods."),
                  (lambda e, lr: 0.1 * 0.5 ** (e // 50),
                   "decay_steps counts updates (batches), not epochs: 50 updates are two "
                   "epochs of 25."),
                  (lambda e, lr: lr * 0.5,
                   "`lr` is the rate already in use: halving it at every call compounds, and "
                   "already halves it before the first epoch."),
                  (lambda e, lr: 0.1 * 0.5 ** ((e + 1) // 2),
                   "off by one: Keras numbers epochs from 0, and epoch 0 starts at update 0."),
                  (lambda e, lr: 0.1 * 0.5 ** e,
                   "that halves the rate every epoch: one decay period is decay_steps updates, "
                   "more than one epoch here.")],
        hint="epoch e starts at update e × 25; give it the rate of that update.")


# -- typical wrong answers, written as a student would --------------------------

def _named(name, student):
    student.__name__ = name
    return student


def _port(cls="AdamW", **overrides):
    def keras_port():
        import keras
        kwargs = dict(learning_rate=0.01, beta_1=0.9, beta_2=0.99, weight_decay=0.1)
        kwargs.update(overrides)
        kwargs = {k: v for k, v in kwargs.items() if v is not ...}
        return getattr(keras.optimizers, cls)(**kwargs)
    return keras_port


def _ours():
    from .. import optim
    return optim.get("adamw", **TORCH_SETUP).to_keras()


def _schedule(formula):
    return _named("epoch_schedule", formula)


EXERCISES = [
    Exercise(lesson="09", number=1, name="keras_port", kind="function", check=check_keras_port,
             wrong_answers=(
                 WrongAnswer("Keras's default weight decay", _port(weight_decay=...),
                             says="default 0.004"),
                 WrongAnswer("Adam with no weight decay", _port("Adam", weight_decay=...),
                             says="no weight decay"),
                 WrongAnswer("the decay pre-multiplied by the learning rate",
                             _port(weight_decay=0.01 * 0.1), says="multiplied the decay"),
                 WrongAnswer("beta_2 left at Keras's default", _port(beta_2=...),
                             says="beta_2"),
                 WrongAnswer("the learning rate left at Keras's default",
                             _port(learning_rate=...), says="learning_rate"),
                 WrongAnswer("SGD instead of AdamW", _port("SGD", beta_1=..., beta_2=...),
                             says="another algorithm"),
                 WrongAnswer("our rule via to_keras", _ours, says="our rule"),
             ),
             leaks=("AdamW(learning_rate=0.01", "beta_2=0.99", "_torch_adamw")),
    Exercise(lesson="09", number=2, name="epoch_schedule", kind="function",
             check=check_epoch_schedule,
             wrong_answers=(
                 WrongAnswer("a smooth exponent: no staircase",
                             _schedule(lambda epoch, lr: 0.1 * 0.5 ** (epoch / 2)),
                             says="whole steps"),
                 WrongAnswer("decay_steps read as epochs",
                             _schedule(lambda epoch, lr: 0.1 * 0.5 ** (epoch // 50)),
                             says="counts updates"),
                 WrongAnswer("halves the current rate at every call",
                             _schedule(lambda epoch, lr: lr * 0.5), says="compounds"),
                 WrongAnswer("epochs counted from 1",
                             _schedule(lambda epoch, lr: 0.1 * 0.5 ** ((epoch + 1) // 2)),
                             says="off by one"),
                 WrongAnswer("halves every epoch",
                             _schedule(lambda epoch, lr: 0.1 * 0.5 ** epoch),
                             says="decay period"),
             ),
             leaks=("0.1 * 0.5 ** (epoch // 2)", "epoch * 25 // 50", "scheduler_reference",
                    "_staircase")),
]
