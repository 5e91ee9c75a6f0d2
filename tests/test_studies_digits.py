"""Optimizers raced on the digits MLP (lessons 06, 07): seeded runs, tuned races."""
import math

import pytest

from lessons_lib import studies


def test_digits_run_is_seeded_and_flags_divergence():
    a = studies.digits_run("adam", 0.01, seed=1, epochs=2)
    b = studies.digits_run("adam", 0.01, seed=1, epochs=2)
    assert a == b and not a["diverged"] and a["val_loss"][-1] < a["val_loss"][0]
    nan_lr = studies.digits_run("sgd", 0.1, seed=0, epochs=2, lr_at=lambda t: math.nan)
    assert nan_lr["diverged"] and nan_lr["val_loss"] == []


def test_digits_race_picks_the_best_mean_and_reports_its_spread():
    race = studies.digits_race(["sgd"], [0.001, 0.3], seeds=(0, 1), epochs=2)
    row = race["sgd"]
    assert row["lr"] == 0.3 and row["grid"][0.3] < row["grid"][0.001]
    final = row["curves"]["val_loss"][:, -1]
    assert row["curves"]["val_loss"].shape == (2, 2)
    assert math.isclose(row["val_mean"], final.mean()) and math.isclose(row["val_std"], final.std())
    with pytest.raises(ValueError, match="lrs"):
        studies.digits_race(["sgd"], [])
