"""Lesson 07 · Learning-rate schedules.

1. inverse_time_lr: the learning rate of update `step` under 1/t decay.
2. cosine_lr: the learning rate of update `step` under cosine annealing to 0, held at 0 after.
3. updates_per_run: how many updates a run makes (what total_steps must be), drop_last or not.
"""
import numpy as np

from .. import exercises, schedules
from . import Exercise, WrongAnswer

INVERSE_CASES = [(0, 0.1, 0.01), (1, 0.1, 0.01), (10, 0.5, 0.2), (1000, 0.1, 0.09)]
COSINE_CASES = [(0, 0.1, 100), (25, 0.1, 100), (50, 0.3, 100), (100, 0.1, 100), (150, 0.1, 100)]
UPDATE_CASES = [(1437, 32, 8), (1437, 32, 8, True), (1000, 100, 3), (10, 32, 5)]


def inverse_time_reference(step, lr0, k):
    return schedules.get("inverse_time", lr=lr0, k=k)(step)


def cosine_reference(step, lr0, total_steps):
    return schedules.get("cosine", lr=lr0, total_steps=total_steps)(step)


def loader_updates(n_samples, batch_size, epochs, drop_last=False):
    """The reference: ask a real DataLoader how many batches an epoch has."""
    from torch.utils.data import DataLoader
    loader = DataLoader(range(n_samples), batch_size=batch_size, drop_last=drop_last)
    return epochs * len(loader)


def check_inverse_time_lr(inverse_time_lr):
    return exercises.check_function(
        inverse_time_lr, inverse_time_reference, INVERSE_CASES,
        mistakes=[(lambda s, lr0, k: lr0 / (1 + k * (s + 1)),
                   "off by one: step 0 is the first update and uses lr0 itself."),
                  (lambda s, lr0, k: lr0 * np.exp(-k * s),
                   "that is exponential decay: 1/t decay shrinks far more slowly, with a "
                   "long tail."),
                  (lambda s, lr0, k: lr0 / (1 + k) ** s,
                   "you compounded the decay step after step: that is exponential decay. "
                   "1/t decay divides once, by a term that grows linearly in t."),
                  (lambda s, lr0, k: lr0 * (1 - k * s),
                   "that is a linear decay: it reaches 0 and turns negative. 1/t decay only "
                   "approaches 0.")],
        hint="at step 0 the rate is lr0; at step 1/k it is lr0/2.")


def check_cosine_lr(cosine_lr):
    return exercises.check_function(
        cosine_lr, cosine_reference, COSINE_CASES,
        mistakes=[(lambda s, lr0, T: lr0 * np.cos(np.pi * min(s, T) / T),
                   "a bare cosine runs from 1 down to −1: shift and halve it, so that the "
                   "rate runs from lr0 down to 0."),
                  (lambda s, lr0, T: 0.5 * lr0 * (1 + np.cos(np.pi * s / T)),
                   "past total_steps the cosine climbs back up: hold the rate at its end "
                   "value, 0."),
                  (lambda s, lr0, T: 0.5 * lr0 * (1 + np.cos(np.pi * min(s, T - 1) / (T - 1))),
                   "you counted total_steps − 1 updates: the rate reaches 0 exactly at "
                   "step total_steps."),
                  (lambda s, lr0, T: 0.5 * lr0 * (1 + np.cos(min(s, T) / T)),
                   "the angle must sweep half a turn (π radians) over the run, not 1 radian."),
                  (lambda s, lr0, T: 0.5 * lr0 * (1 + np.cos(np.pi * (min(s, T) // T))),
                   "the progress t/T is a fraction: `//` rounds it down to 0 until the end.")],
        hint="halfway through (t = T/2) the rate is lr0/2.")


def check_updates_per_run(updates_per_run):
    return exercises.check_function(
        updates_per_run, loader_updates, UPDATE_CASES,
        mistakes=[(lambda n, b, e, d=False: e * (n // b),
                   "the last, smaller batch is an update too (unless drop_last=True)."),
                  (lambda n, b, e, d=False: -(-n // b) if not d else n // b,
                   "total_steps counts the updates of the whole run, not of one epoch."),
                  (lambda n, b, e, d=False: e * -(-n // b),
                   "with drop_last=True the incomplete last batch is dropped: one update "
                   "fewer per epoch."),
                  (lambda n, b, e, d=False: e * n / b,
                   "a batch count is a whole number: the partial batch counts as one "
                   "update (or none, with drop_last).")],
        hint="count the batches of one epoch, partial batch included unless drop_last.")


# -- typical wrong answers, written as a student would --------------------------

def _named(name, student):
    student.__name__ = name
    return student


def _ceil_batches(n, b):
    return -(-n // b)


EXERCISES = [
    Exercise(lesson="07", number=1, name="inverse_time_lr", kind="function",
             check=check_inverse_time_lr,
             wrong_answers=(
                 WrongAnswer("off by one: step + 1", _named(
                     "inverse_time_lr", lambda step, lr0, k: lr0 / (1 + k * (step + 1))),
                     says="off by one"),
                 WrongAnswer("exponential decay", _named(
                     "inverse_time_lr", lambda step, lr0, k: lr0 * np.exp(-k * step)),
                     says="exponential"),
                 WrongAnswer("the decay compounded every step", _named(
                     "inverse_time_lr", lambda step, lr0, k: lr0 / (1 + k) ** step),
                     says="compounded"),
                 WrongAnswer("linear decay", _named(
                     "inverse_time_lr", lambda step, lr0, k: lr0 * (1 - k * step)),
                     says="linear"),
                 WrongAnswer("forgot the 1 (divides by zero at step 0)", _named(
                     "inverse_time_lr", lambda step, lr0, k: lr0 / (k * step))),
             ),
             leaks=("lr0 / (1 + k * step)", "lr0 / (1 + k * (s + 1))",
                    "inverse_reference")),
    Exercise(lesson="07", number=2, name="cosine_lr", kind="function", check=check_cosine_lr,
             wrong_answers=(
                 WrongAnswer("cos alone, not ½(1 + cos)", _named(
                     "cosine_lr", lambda step, lr0, T: lr0 * np.cos(np.pi * min(step, T) / T)),
                     says="shift and halve"),
                 WrongAnswer("not held at 0 after total_steps", _named(
                     "cosine_lr", lambda step, lr0, T: 0.5 * lr0 * (1 + np.cos(np.pi * step / T))),
                     says="climbs back up"),
                 WrongAnswer("off by one: total_steps − 1", _named(
                     "cosine_lr",
                     lambda step, lr0, T: 0.5 * lr0 * (1 + np.cos(np.pi * min(step, T - 1) / (T - 1)))),
                     says="total_steps − 1"),
                 WrongAnswer("no π: 1 radian instead of half a turn", _named(
                     "cosine_lr", lambda step, lr0, T: 0.5 * lr0 * (1 + np.cos(min(step, T) / T))),
                     says="half a turn"),
                 WrongAnswer("integer division for the progress", _named(
                     "cosine_lr",
                     lambda step, lr0, T: 0.5 * lr0 * (1 + np.cos(np.pi * (min(step, T) // T)))),
                     says="//"),
             ),
             leaks=("0.5 * lr0 * (1 + np.cos(np.pi * progress))",
                    "min(step, total_steps) / total_steps",
                    "0.5 * lr0 * (1 + np.cos(np.pi * s / T))",
                    "cosine_reference")),
    Exercise(lesson="07", number=3, name="updates_per_run", kind="function",
             check=check_updates_per_run,
             wrong_answers=(
                 WrongAnswer("floor division: lost the last batch", _named(
                     "updates_per_run", lambda n, b, epochs, drop_last=False: epochs * (n // b)),
                     says="last, smaller batch"),
                 WrongAnswer("one epoch's updates only", _named(
                     "updates_per_run",
                     lambda n, b, epochs, drop_last=False: n // b if drop_last else _ceil_batches(n, b)),
                     says="whole run"),
                 WrongAnswer("ignored drop_last", _named(
                     "updates_per_run",
                     lambda n, b, epochs, drop_last=False: epochs * _ceil_batches(n, b)),
                     says="drop_last=True"),
                 WrongAnswer("float division", _named(
                     "updates_per_run", lambda n, b, epochs, drop_last=False: epochs * n / b),
                     says="whole number"),
             ),
             leaks=("n_samples // batch_size if drop_last else -(-n_samples // batch_size)",
                    "e * (n // b)", "DataLoader(range(n_samples)", "loader_updates")),
]
