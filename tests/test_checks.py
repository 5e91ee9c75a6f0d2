"""The shared argument checks and the registries built on them."""
import math

import numpy as np
import pytest

from lessons_lib import landscapes, optim, schedules
from lessons_lib.checks import Registry, UnknownName, check_bool, check_int, check_range


@pytest.mark.parametrize("value, message", [
    ("0.01", r"^lr='0.01' is a str; give a number, e.g. lr=0.01 \(valid: lr in \[0, inf\)\)$"),
    ("1e-3", r"^lr='1e-3' is a str; give a number, e.g. lr=0.001 "),
    ("-1", r"^lr='-1' is out of range; valid: lr in \[0, inf\), a number, not a str$"),
    ("fast", r"^lr='fast' is out of range; valid: lr in \[0, inf\), a number, not a str$"),
    (True, r"^lr=True is out of range; valid: lr in \[0, inf\), a number, not a bool$"),
    (np.False_, r"^lr=np.False_ is out of range; .* not a bool$"),
    (None, r"^lr=None is out of range; .* not a NoneType$"),
    (1j, r"^lr=1j is out of range; .* not a complex$"),
    ([0.1], r"^lr=\[0.1\] is out of range; .* not a list$"),
    (np.array([0.1]), r"^lr=array\(\[0.1\]\) is out of range; .* not a ndarray$"),
    (math.nan, r"^lr=nan is out of range; valid: lr in \[0, inf\)$"),
    (math.inf, r"^lr=inf is out of range; valid: lr in \[0, inf\)$"),
    (-0.5, r"^lr=-0.5 is out of range; valid: lr in \[0, inf\)$"),
])
def test_check_range_names_what_is_wrong_with_a_value(value, message):
    with pytest.raises(ValueError, match=message):
        check_range(None, "lr", value, 0)


@pytest.mark.parametrize("value", [0.1, 0, np.float32(0.25), np.int64(2), np.array(0.5)])
def test_check_range_accepts_real_numbers_of_any_kind(value):
    assert check_range(None, "lr", value, 0) == float(value)


def test_check_range_names_its_owner_and_why():
    class Schedule:
        pass
    with pytest.raises(ValueError, match=r"^Schedule: p=2.0 is out of range; valid: p in "
                                         r"\(0, 1\) \(a fraction\)$"):
        check_range(Schedule(), "p", 2.0, 0, 1, low_open=True, high_open=True, why="(a fraction)")


@pytest.mark.parametrize("value, message", [
    ("100", r"^total_steps='100' is a str; give an integer, e.g. total_steps=100 "
            r"\(valid: total_steps an integer >= 1\)$"),
    ("2.5", r"^total_steps='2.5' is a str; give an integer \(valid"),
    (True, r"^total_steps=True is out of range; valid: total_steps an integer >= 1$"),
    (2.0, r"^total_steps=2.0 is out of range; valid: total_steps an integer >= 1$"),
    (0, r"^total_steps=0 is out of range; valid: total_steps an integer >= 1$"),
])
def test_check_int_names_what_is_wrong_with_a_value(value, message):
    with pytest.raises(ValueError, match=message):
        check_int(None, "total_steps", value, 1)


@pytest.mark.parametrize("value", ["False", "True", 0, 1, None, 0.0])
def test_check_bool_refuses_everything_but_true_and_false(value):
    article = "an" if type(value).__name__ == "int" else "a"
    with pytest.raises(ValueError, match=rf"^flag={value!r} is {article} {type(value).__name__}; "
                                         r"valid: flag=True or flag=False$"):
        check_bool(None, "flag", value)


@pytest.mark.parametrize("value", [True, False, np.True_, np.False_])
def test_check_bool_accepts_python_and_numpy_bools(value):
    assert check_bool(None, "flag", value) is bool(value)


# -- registries ---------------------------------------------------------------------------
REGISTRIES = [(optim.REGISTRY, "optimizer", "adamm", "adam"),
              (schedules.REGISTRY, "schedule", "cosin", "cosine"),
              (landscapes.REGISTRY, "landscape", "rosenbrok", "rosenbrock")]


@pytest.mark.parametrize("registry, kind, typo, meant", REGISTRIES, ids=lambda x: getattr(x, "kind", ""))
def test_every_registry_lists_the_valid_names_and_the_closest_one(registry, kind, typo, meant):
    assert isinstance(registry, Registry)
    with pytest.raises(KeyError) as error:
        registry[typo]
    assert isinstance(error.value, UnknownName)
    assert str(error.value) == (f"unknown {kind} {typo!r}; valid: {', '.join(registry)}; "
                                f"did you mean {meant!r}?")
    assert registry[meant] is dict.__getitem__(registry, meant)   # found names unchanged
    assert typo not in registry and registry.get(typo) is None    # dict behaviour kept


def test_a_registry_without_a_close_name_just_lists_the_valid_ones():
    registry = Registry("thing", {"alpha": 1, "beta": 2})
    with pytest.raises(KeyError, match=r"^unknown thing 'zzz'; valid: alpha, beta$"):
        registry["zzz"]


def test_get_raises_value_error_with_the_same_message():
    with pytest.raises(ValueError, match=r"^unknown optimizer 'adamm'; valid: sgd, .*; "
                                         r"did you mean 'adam'\?$"):
        optim.get("adamm")
    with pytest.raises(ValueError, match=r"^unknown schedule 'cosin'; .* did you mean 'cosine'\?$"):
        schedules.get("cosin")
