"""Shared pieces of the optimizer tests: the runners (from the library's compare
module, which lesson 06 uses live) and random, valid hyperparameters."""
from lessons_lib.optim.compare import (Problem, relative_error, run_keras, run_numpy,
                                       run_torch)

# the runners are re-exported for test_optim
__all__ = ["Problem", "relative_error", "run_keras", "run_numpy", "run_torch", "sample_hparams"]


def sample_hparams(name, flavor, rng):
    """Random, valid hyperparameters for `name`; options keep the flavor's conventions.

    test_optim rounds them to float32 (`compare.float32_exact`): Keras keeps its
    learning rate in a float32 variable and `ops.cast(python_float, "float64")`
    goes through float32, so only float32 values reach its built-ins unchanged.
    """
    u = rng.uniform
    lr = float(10 ** u(-3, -1.3))
    wd = float(u(0, 0.1))
    betas = (float(u(0.5, 0.95)), float(u(0.9, 0.9999)))
    eps = float(10 ** u(-8, -6))
    h = dict(lr=lr, weight_decay=wd)
    if name in ("sgd", "momentum", "nesterov"):
        if name != "sgd":
            h["momentum"] = float(u(0.5, 0.95))
        if name == "momentum" and flavor == "torch":
            h["dampening"] = float(u(0, 0.5))
    elif name == "adagrad":
        h.update(eps=eps, initial_accumulator_value=float(u(0, 0.5)))
        if flavor == "torch":
            h["lr_decay"] = float(u(0, 0.01))
    elif name == "rmsprop":
        h.update(alpha=float(u(0.8, 0.999)), eps=eps, centered=bool(rng.integers(2)),
                 momentum=float(u(0.3, 0.9)) if rng.integers(2) else 0.0)
    elif name == "adadelta":
        h.update(rho=float(u(0.8, 0.99)), eps=eps, lr=float(u(0.1, 1.0)))
    elif name in ("adam", "amsgrad", "adamw"):
        h.update(betas=betas, eps=eps)
        if name != "amsgrad":
            h["amsgrad"] = bool(rng.integers(2))
    elif name == "nadam":
        h.update(betas=betas, eps=eps)
        if flavor == "torch":
            h["momentum_decay"] = float(u(0.001, 0.01))
    elif name == "adamax":
        h.update(betas=betas, eps=eps)
    return h
