"""One rule, all parameters at once: a list of tensors with tensor arithmetic.

A rule is written for one array (`p - lr * g`). `TensorList` makes the same
code run over every parameter of a group in one call: each operator is one
`torch._foreach_*` op (one kernel launch per op for the whole group on a GPU,
one C++ loop instead of a Python loop on a CPU)::

    P, G = TensorList(params), TensorList(grads)
    new_P = rule(P, G, ...)            # P - lr * G  ->  _foreach_sub(P, _foreach_mul(G, lr))

`XP` is the matching array namespace (sqrt, abs, maximum, ...). The results are
new tensors, as in the single-tensor path; the adapter copies them in place.
"""
from numbers import Number
from types import SimpleNamespace

import torch


class TensorList:
    """Tensors of one group, added, multiplied, ... element by element, all at once."""

    __slots__ = ("tensors",)
    __array_priority__ = 1000  # so that `numpy_scalar * TensorList` reaches __rmul__

    def __init__(self, tensors):
        self.tensors = list(tensors)

    def __len__(self):
        return len(self.tensors)

    def __iter__(self):
        return iter(self.tensors)

    def __repr__(self):
        return f"TensorList({[tuple(t.shape) for t in self.tensors]})"

    # a ∘ b with b a TensorList or a number
    def __add__(self, other):
        return TensorList(torch._foreach_add(self.tensors, _operand(other)))

    def __sub__(self, other):
        return TensorList(torch._foreach_sub(self.tensors, _operand(other)))

    def __mul__(self, other):
        return TensorList(torch._foreach_mul(self.tensors, _operand(other)))

    def __truediv__(self, other):
        return TensorList(torch._foreach_div(self.tensors, _operand(other)))

    def __pow__(self, other):
        return TensorList(torch._foreach_pow(self.tensors, _operand(other)))

    # number ∘ TensorList
    __radd__ = __add__
    __rmul__ = __mul__

    def __rsub__(self, number):      # c − x = (−x) + c
        return TensorList(torch._foreach_add(torch._foreach_neg(self.tensors), number))

    def __rtruediv__(self, number):  # c / x = (1/x)·c
        return TensorList(torch._foreach_mul(torch._foreach_reciprocal(self.tensors), number))

    def __rpow__(self, number):
        return TensorList(torch._foreach_pow(number, self.tensors))

    def __neg__(self):
        return TensorList(torch._foreach_neg(self.tensors))

def _operand(x):
    if isinstance(x, TensorList):
        return x.tensors
    if isinstance(x, Number):
        return x
    raise TypeError(f"TensorList arithmetic takes a TensorList or a number; got {type(x).__name__}")

def _unary(op):
    return lambda x: TensorList(op(x.tensors))

def _binary(op):
    return lambda a, b: TensorList(op(a.tensors, _operand(b)))

def _where(condition, a, b):
    # The adapter's step counter is a Python int, so conditions on it are bools.
    if isinstance(condition, bool):
        return a if condition else b
    return TensorList(torch.where(c, x, y) for c, x, y in zip(condition, a, b))

XP = SimpleNamespace(name="torch_foreach", sqrt=_unary(torch._foreach_sqrt),
                     square=lambda x: x * x, abs=_unary(torch._foreach_abs),
                     exp=_unary(torch._foreach_exp), log=_unary(torch._foreach_log),
                     maximum=_binary(torch._foreach_maximum),
                     minimum=_binary(torch._foreach_minimum), where=_where)
