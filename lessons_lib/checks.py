"""Argument checks shared by optimizers and schedules: every error names the
owner, the parameter, the bad value and the valid range."""
import math
import numbers


def check_range(owner, name, value, low, high=math.inf, *, low_open=False, high_open=False):
    """ValueError unless low ≤ value ≤ high (open ends where asked); NaN is never valid."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    ok = (number > low if low_open else number >= low) and \
         (number < high if high_open else number <= high)
    if not ok:
        left = "(" if low_open else "["
        right = ")" if high_open or high == math.inf else "]"
        top = "inf" if high == math.inf else f"{high:g}"
        raise ValueError(f"{type(owner).__name__}: {name}={value!r} is out of range; "
                         f"valid: {name} in {left}{low:g}, {top}{right}")


def check_int(owner, name, value, low, high=math.inf):
    """ValueError unless value is an integer (not a bool) in [low, high]."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) \
            or not low <= value <= high:
        top = "inf" if high == math.inf else f"{high}"
        raise ValueError(f"{type(owner).__name__}: {name}={value!r} is out of range; "
                         f"valid: {name} an integer in [{low}, {top}]")
