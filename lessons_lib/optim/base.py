"""The shape every optimizer in the course shares.

An optimizer is two small pure functions over plain state, written once against
an array namespace `xp` (NumPy, torch or keras.ops):

    init_state(p, xp)                  -> {"m": zeros, ...}
    rule(p, g, state, t, lr, xp)       -> (new p, new state)      t = 1, 2, ...

Everything else (weight decay, validation, the NumPy/torch/Keras adapters and
the built-in references) lives here, once, so each rule reads like its slide.

Hyperparameters use torch.optim's names. A *flavor* only chooses defaults:
"torch" gives torch.optim's, "keras" gives Keras's. Every place where the two
frameworks compute differently is an explicit option (`eps_hat`,
`lr_in_buffer`, `eps_inside_sqrt`, `decoupled_weight_decay`, ...), so a student
can switch one convention at a time and watch the difference.
"""
import math

import numpy as np

from .. import ops
from ..checks import check_bool as _check_bool
from ..checks import check_range as _check_range

FLAVORS = ("torch", "keras")


class Optimizer:
    """Base class: subclasses set `name`, `defaults` and write the rule.

    `defaults` maps each flavor to its hyperparameters. Weight decay is applied
    here, before the rule, in one of two ways:

        coupled (L2, torch's default):   g ← g + λ·p
        decoupled (AdamW, all of Keras): p ← p − η·λ·p
    """

    name = ""
    defaults = {"torch": {}, "keras": {}}

    def __init__(self, *, flavor="torch", **hparams):
        if flavor not in FLAVORS:
            raise ValueError(f"{type(self).__name__}: flavor={flavor!r} is not known; "
                             f"valid flavors: {', '.join(map(repr, FLAVORS))}")
        base = self.defaults[flavor]
        unknown = sorted(set(hparams) - set(base))
        if unknown:
            raise ValueError(f"{type(self).__name__}: unknown hyperparameter {unknown[0]!r}; "
                             f"valid: {', '.join(base)}")
        self.flavor = flavor
        self.hparams = {**base, **{k: v for k, v in hparams.items() if v is not None}}
        self.__dict__.update(self.hparams)
        self.validate()

    # -- the two functions a subclass writes --------------------------------
    def init_state(self, p, xp):
        """Fresh per-parameter state (arrays shaped like `p`, or 0-d)."""
        return {}

    def rule(self, p, g, state, t, lr, xp):
        """One update of the algorithm itself (weight decay already applied)."""
        raise NotImplementedError

    # -- shared machinery ----------------------------------------------------
    def step(self, p, g, state, t, lr, xp):
        """Weight decay, then the rule. Pure: returns new (p, state)."""
        wd = self.hparams.get("weight_decay", 0.0)
        if wd:
            if self.hparams.get("decoupled_weight_decay", False):
                p = p - p * wd * lr
            else:
                g = g + wd * p
        return self.rule(p, g, state, t, lr, xp)

    def with_hparams(self, **overrides):
        """A copy with some hyperparameters changed (same flavor)."""
        return type(self)(flavor=self.flavor, **{**self.hparams, **overrides})

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.hparams.items())
        return f"{type(self).__name__}({args}, flavor={self.flavor!r})"

    def validate(self):
        """Check every hyperparameter; subclasses extend with their own.

        Switches (a bool in the defaults) must be True or False: "False" is truthy.
        """
        for key, default in self.defaults[self.flavor].items():
            if isinstance(default, bool):
                _check_bool(self, key, self.hparams[key])
        _check_range(self, "lr", self.lr, 0, math.inf)
        for key in ("eps", "weight_decay", "lr_decay", "initial_accumulator_value",
                    "momentum_decay"):
            if key in self.hparams:
                _check_range(self, key, self.hparams[key], 0, math.inf)
        if "betas" in self.hparams:
            betas = self.betas
            if not (isinstance(betas, (tuple, list)) and len(betas) == 2):
                raise ValueError(f"{type(self).__name__}: betas={betas!r} must be a pair "
                                 "(beta1, beta2), each in [0, 1)")
            for i, beta in enumerate(betas):
                _check_range(self, f"betas[{i}]", beta, 0, 1, high_open=True)
        if "momentum" in self.hparams:
            _check_range(self, "momentum", self.momentum, 0, 1, high_open=True)

    # -- NumPy: the from-scratch lessons --------------------------------------
    def init(self, params):
        """State for NumPy parameters: a dict (or a list of dicts for a list of arrays)."""
        if isinstance(params, (list, tuple)):
            return [self.init(p) for p in params]
        p = np.asarray(params, dtype=float)
        return {"step": 0, **self.init_state(p, ops.NUMPY)}

    def update(self, params, grads, state, lr=None):
        """One step on NumPy arrays: returns (new params, new state).

        `lr` overrides the optimizer's learning rate for this step (a schedule); like
        the constructor's, it must be a number in [0, inf). A list of params needs a
        list of grads and a list of states (from `init`) of the same length.
        """
        if lr is not None:
            lr = _check_range(self, "lr", lr, 0, math.inf)
        if isinstance(params, (list, tuple)):
            for name, given, what in (("grads", grads, "arrays"),
                                      ("state", state, "states (from init(params))")):
                if not isinstance(given, (list, tuple)) or len(given) != len(params):
                    raise ValueError(f"{type(self).__name__}.update: {name} must be a list of "
                                     f"{len(params)} {what} to match "
                                     f"params; got {type(given).__name__} of length {_len(given)}")
            pairs = [self.update(p, g, s, lr) for p, g, s in zip(params, grads, state)]
            return [p for p, _ in pairs], [s for _, s in pairs]
        p, g = np.asarray(params, dtype=float), np.asarray(grads, dtype=float)
        if p.shape != g.shape:
            raise ValueError(f"grads has shape {g.shape} but params has shape {p.shape}; "
                             "they must match")
        t = state["step"] + 1
        slots = {k: v for k, v in state.items() if k != "step"}
        p, slots = self.step(p, g, slots, t, self.lr if lr is None else lr, ops.NUMPY)
        return p, {"step": t, **slots}

    # -- frameworks ----------------------------------------------------------
    def to_torch(self, params, backend="auto"):
        """A real `torch.optim.Optimizer` that runs this rule.

        `backend`: "single" (one parameter at a time), "foreach" (all parameters
        of a group at once), "compiled" (torch.compile, fastest per step after
        seconds of compiling) or "auto" (foreach on CUDA; on a CPU compiled for
        groups of >= 2**19 elements when a C++ compiler is there, else single);
        see torch_adapter.
        """
        from .torch_adapter import TorchOptimizer
        return TorchOptimizer(params, self, backend)

    def to_keras(self, learning_rate=None):
        """A real `keras.optimizers.Optimizer` that runs this rule.

        `learning_rate` may be a Keras schedule; default: this optimizer's lr.
        """
        from .keras_adapter import make_keras_optimizer
        return make_keras_optimizer(self, learning_rate)

    def torch_equivalent(self):
        """(torch.optim class name, kwargs) computing the same math, or None."""
        return None

    def keras_equivalent(self):
        """(keras.optimizers class name, kwargs) computing the same math, or None."""
        return None

    def torch_reference(self, params):
        """The built-in torch optimizer configured to this math, or None if torch has none."""
        found = self.torch_equivalent()
        if found is None:
            return None
        import torch
        cls, kwargs = found
        return getattr(torch.optim, cls)(params, **kwargs)

    def keras_reference(self, learning_rate=None):
        """The built-in Keras optimizer configured to this math, or None if Keras has none."""
        found = self.keras_equivalent()
        if found is None:
            return None
        import keras
        cls, kwargs = found
        if learning_rate is not None:
            kwargs["learning_rate"] = learning_rate
        return getattr(keras.optimizers, cls)(**kwargs)

    # helpers for the equivalences
    def _coupled_decay(self):
        return self.weight_decay if not self.decoupled_weight_decay else 0.0

    def _decoupled_decay(self):
        return self.weight_decay if self.decoupled_weight_decay else 0.0


def _len(x):
    try:
        return len(x)
    except TypeError:
        return "n/a"
