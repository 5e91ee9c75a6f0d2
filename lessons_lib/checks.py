"""Argument checks shared across the library: every error names the owner (when
there is one), the parameter, the bad value and what is valid."""
import difflib
import math
import numbers

import numpy as np


def _prefix(owner):
    return f"{type(owner).__name__}: " if owner is not None else ""


def _is_bool(value):
    return isinstance(value, (bool, np.bool_))


def _a(value):
    """'a str', 'an int': the article and the type's name."""
    kind = type(value).__name__
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def check_range(owner, name, value, low=-math.inf, high=math.inf, *, low_open=False,
                high_open=False, why=""):
    """float(value), or a ValueError unless value is a real number with low ≤ value ≤ high
    (open ends where asked).

    NaN, ±inf, bools, strings and other non-numbers are never valid; a string that
    holds a number gets a hint (lr='0.01' → "give a number, e.g. lr=0.01"). `owner`
    (an object, or None for a function) prefixes the message with its class name;
    `why` is appended to the valid range.
    """
    if type(value) in (float, int):             # the usual case, kept cheap: update() calls this
        number = float(value)
    elif isinstance(value, (str, bytes)) or _is_bool(value) or np.ndim(value) != 0:
        number = None
    else:
        number = _parse_float(value)
    if number is not None and _inside(number, low, high, low_open, high_open):
        return number

    left = "(" if low_open or low == -math.inf else "["
    right = ")" if high_open or high == math.inf else "]"
    valid = f"valid: {name} in {left}{low:g}, {high:g}{right}" + (f" {why}" if why else "")
    if number is not None:
        raise ValueError(f"{_prefix(owner)}{name}={value!r} is out of range; {valid}")
    parsed = _parse_float(value) if isinstance(value, (str, bytes)) else None
    if parsed is not None and _inside(parsed, low, high, low_open, high_open):
        raise ValueError(f"{_prefix(owner)}{name}={value!r} is {_a(value)}; "
                         f"give a number, e.g. {name}={parsed!r} ({valid})")
    raise ValueError(f"{_prefix(owner)}{name}={value!r} is out of range; {valid}, "
                     f"a number, not {_a(value)}")


def _inside(number, low, high, low_open, high_open):
    return math.isfinite(number) and (number > low if low_open else number >= low) and \
        (number < high if high_open else number <= high)


def _parse_float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def check_int(owner, name, value, low, high=math.inf, *, why=""):
    """int(value), or a ValueError unless value is an integer (not a bool) in [low, high].

    A string that holds one gets a hint; `why` is appended to the valid range.
    """
    valid = f"an integer >= {low}" if high == math.inf else f"an integer in [{low}, {high}]"
    valid += f" {why}" if why else ""
    if isinstance(value, (str, bytes)):
        number = _parse_float(value)
        example = (f", e.g. {name}={int(number)}" if number is not None and number.is_integer()
                   and low <= number <= high else "")
        raise ValueError(f"{_prefix(owner)}{name}={value!r} is {_a(value)}; "
                         f"give an integer{example} (valid: {name} {valid})")
    if not isinstance(value, numbers.Integral) or _is_bool(value) \
            or not low <= value <= high:
        raise ValueError(f"{_prefix(owner)}{name}={value!r} is out of range; valid: {name} {valid}")
    return int(value)


def check_bool(owner, name, value):
    """value, or a ValueError unless it is True or False (a string like "False" is truthy)."""
    if not _is_bool(value):
        raise ValueError(f"{_prefix(owner)}{name}={value!r} is {_a(value)}; "
                         f"valid: {name}=True or {name}=False")
    return bool(value)


class UnknownName(KeyError):
    """A KeyError whose message prints as written (KeyError would show its repr)."""

    def __str__(self):
        return str(self.args[0])


class Registry(dict):
    """A dict of named things (`kind` says what they are) whose missing names are
    refused with the valid names and the closest match:

        >>> REGISTRY["adamm"]
        UnknownName: unknown optimizer 'adamm'; valid: sgd, ..., adamax; did you mean 'adam'?
    """

    def __init__(self, kind, items=()):
        super().__init__(items)
        self.kind = kind

    def unknown(self, name):
        """The message for a name that is not here."""
        close = difflib.get_close_matches(str(name), [str(k) for k in self], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"unknown {self.kind} {name!r}; valid: {', '.join(map(str, self))}{hint}"

    def __missing__(self, name):
        raise UnknownName(self.unknown(name))
