"""Optimizers written once, run on NumPy, inside torch.optim and inside Keras.

    from lessons_lib import optim
    opt = optim.REGISTRY["adam"](lr=0.01)            # torch.optim's names and defaults
    opt = optim.REGISTRY["adam"](flavor="keras")     # Keras's defaults and conventions
    path = optim.minimize(opt, landscape, x0, steps) # (steps+1, dim) NumPy trajectory
    opt.to_torch(params), opt.torch_reference(params)
    opt.to_keras(), opt.keras_reference()
"""
from ..checks import Registry
from . import compare
from .adam import Adam, AdamW, Adamax, AMSGrad, NAdam
from .adaptive import Adadelta, Adagrad, RMSprop
from .base import FLAVORS, Optimizer
from .minimize import DivergenceError, minimize, race, steps_to_tolerance, tune
from .sgd import SGD, Momentum, Nesterov

REGISTRY = Registry("optimizer", {cls.name: cls for cls in (
    SGD, Momentum, Nesterov, Adagrad, RMSprop, Adadelta, Adam, AMSGrad, AdamW, NAdam, Adamax)})


def get(name, **hparams):
    """REGISTRY[name](**hparams), with an error that lists the valid names."""
    if name not in REGISTRY:
        raise ValueError(REGISTRY.unknown(name))
    return REGISTRY[name](**hparams)


__all__ = ["REGISTRY", "get", "minimize", "race", "steps_to_tolerance", "tune", "DivergenceError", "Optimizer", "FLAVORS",
           *(cls.__name__ for cls in REGISTRY.values())]
