"""The handful of array operations the update rules and schedules use, per backend.

A rule is written once against a namespace `xp` (as optax writes against
jax.numpy) and runs on NumPy arrays, torch tensors or Keras tensors unchanged.
Arithmetic operators work on all three; only named functions live here.
"""
from types import SimpleNamespace

import numpy as np


def _numpy_ops():
    return SimpleNamespace(name="numpy", sqrt=np.sqrt, square=np.square, abs=np.abs,
                           maximum=np.maximum, minimum=np.minimum, where=np.where,
                           zeros_like=np.zeros_like, full_like=np.full_like,
                           cos=np.cos, exp=np.exp, floor=np.floor, power=np.power,
                           log=np.log, scalar_like=lambda p, v: np.asarray(v, dtype=p.dtype))


def _torch_ops():
    import torch

    def where(condition, a, b):
        # Step counters are Python ints in the torch adapter, so conditions on
        # them are plain bools; choosing in Python avoids a device round trip.
        if isinstance(condition, bool):
            return a if condition else b
        return torch.where(condition, a, b)

    return SimpleNamespace(name="torch", sqrt=torch.sqrt, square=torch.square, abs=torch.abs,
                           maximum=torch.maximum, minimum=torch.minimum, where=where,
                           zeros_like=torch.zeros_like, full_like=torch.full_like,
                           cos=torch.cos, exp=torch.exp, floor=torch.floor, power=torch.pow,
                           log=torch.log,
                           scalar_like=lambda p, v: torch.tensor(v, dtype=p.dtype, device=p.device))


def _keras_ops():
    from keras import ops

    return SimpleNamespace(name="keras", sqrt=ops.sqrt, square=ops.square, abs=ops.abs,
                           maximum=ops.maximum, minimum=ops.minimum, where=ops.where,
                           zeros_like=ops.zeros_like, full_like=ops.full_like,
                           cos=ops.cos, exp=ops.exp, floor=ops.floor, power=ops.power,
                           log=ops.log,
                           scalar_like=lambda p, v: ops.convert_to_tensor(v, dtype=p.dtype))


NUMPY = _numpy_ops()
_cache = {}


def get(name):
    """The namespace for "numpy", "torch" or "keras" (imported on first use)."""
    if name == "numpy":
        return NUMPY
    if name not in _cache:
        makers = {"torch": _torch_ops, "keras": _keras_ops}
        if name not in makers:
            raise ValueError(f"backend must be one of 'numpy', 'torch', 'keras'; got {name!r}")
        _cache[name] = makers[name]()
    return _cache[name]
