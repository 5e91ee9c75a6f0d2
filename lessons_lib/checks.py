"""Argument checks shared across the library: every error names the owner (when
there is one), the parameter, the bad value and the valid range."""
import math
import numbers


def _prefix(owner):
    return f"{type(owner).__name__}: " if owner is not None else ""


def check_range(owner, name, value, low=-math.inf, high=math.inf, *, low_open=False,
                high_open=False):
    """float(value), or a ValueError unless low ≤ value ≤ high (open ends where asked).

    NaN, ±inf and non-numbers are never valid; `owner` (an object, or None for a
    function) prefixes the message with its class name.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    ok = math.isfinite(number) and (number > low if low_open else number >= low) and \
        (number < high if high_open else number <= high)
    if not ok or isinstance(value, bool):
        left = "(" if low_open or low == -math.inf else "["
        right = ")" if high_open or high == math.inf else "]"
        raise ValueError(f"{_prefix(owner)}{name}={value!r} is out of range; "
                         f"valid: {name} in {left}{low:g}, {high:g}{right}")
    return number


def check_int(owner, name, value, low, high=math.inf):
    """int(value), or a ValueError unless value is an integer (not a bool) in [low, high]."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) \
            or not low <= value <= high:
        valid = f"an integer >= {low}" if high == math.inf else f"an integer in [{low}, {high}]"
        raise ValueError(f"{_prefix(owner)}{name}={value!r} is out of range; valid: {name} {valid}")
    return int(value)
