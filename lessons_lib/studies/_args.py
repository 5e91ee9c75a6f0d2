"""Argument checks shared by the studies (each names the parameter, the value and the valid range)."""
import math
import numbers

from ..checks import check_int, check_range


def _check_number(name, value, low=-math.inf, high=math.inf, **open_ends):
    return check_range(None, name, value, low, high, **open_ends)


def _check_int(name, value, low=1):
    return check_int(None, name, value, low)


def _check_sizes(name, values, high):
    values = list(values)
    if not values:
        raise ValueError(f"{name} must hold at least one batch size; got {values!r}")
    for b in values:
        if isinstance(b, bool) or not isinstance(b, numbers.Integral) or not 1 <= b <= high:
            raise ValueError(f"{name} contains {b!r}, which is out of range; valid: integers "
                             f"in [1, {high}] (1 = stochastic, {high} = the whole training set)")
    return [int(b) for b in values]


def _quadratic(f, function):
    if not hasattr(f, "eigenvalues") or not hasattr(f, "A"):
        raise ValueError(f"{function}: f must be a landscapes.Quadratic (its Hessian is needed); "
                         f"got {getattr(f, 'name', f)!r}")
    if f.eigenvalues[0] <= 0:
        raise ValueError(f"{function}: f must be positive definite (all Hessian eigenvalues > 0) "
                         f"to have a minimum; got eigenvalues {f.eigenvalues.tolist()}")
    return f
