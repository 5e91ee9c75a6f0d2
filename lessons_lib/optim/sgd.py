"""Stochastic gradient descent, with heavy-ball momentum and Nesterov's look-ahead."""
from .base import Optimizer, _check_range


class SGD(Optimizer):
    r"""Gradient descent with optional momentum (Polyak 1964) and Nesterov (1983).

    torch.optim convention (``lr_in_buffer=False``), the buffer holds gradients::

        b_1 = g_1,   b_t = μ·b_{t-1} + (1 − τ)·g_t        (τ = dampening)
        d_t = g_t + μ·b_t  if nesterov  else  b_t
        p_t = p_{t-1} − η·d_t

    Keras convention (``lr_in_buffer=True``), the buffer is a velocity::

        v_t = μ·v_{t-1} − η·g_t
        p_t = p_{t-1} + μ·v_t − η·g_t   if nesterov  else  p_{t-1} + v_t

    With a constant η the two are the same sequence (v_t = −η·b_t). Under a
    schedule they differ: torch rescales the whole accumulated buffer by
    today's η, Keras keeps each past gradient scaled by the η of its own step.
    Without momentum (μ = 0) both are p ← p − η·g.

    =================  ==========  ==========
    hyperparameter     torch       keras
    =================  ==========  ==========
    lr                 1e-3        0.01
    momentum           0           0
    dampening          0           0
    nesterov           False       False
    weight_decay       0 (L2)      0 (decoupled)
    =================  ==========  ==========
    """

    name = "sgd"
    _common = dict(momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0)
    defaults = {
        "torch": dict(lr=1e-3, **_common, lr_in_buffer=False, decoupled_weight_decay=False),
        "keras": dict(lr=0.01, **_common, lr_in_buffer=True, decoupled_weight_decay=True),
    }

    def validate(self):
        super().validate()
        _check_range(self, "dampening", self.dampening, 0, 1)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError(f"{type(self).__name__}: nesterov=True needs momentum in (0, 1) "
                             f"and dampening=0; got momentum={self.momentum!r}, "
                             f"dampening={self.dampening!r}")
        if self.lr_in_buffer and self.dampening != 0:
            raise ValueError(f"{type(self).__name__}: dampening={self.dampening!r} is a torch "
                             "convention; with lr_in_buffer=True (Keras) it must be 0")

    def init_state(self, p, xp):
        return {"buffer": xp.zeros_like(p)} if self.momentum else {}

    def rule(self, p, g, state, t, lr, xp):
        mu = self.momentum
        if not mu:
            return p - lr * g, state
        b = state["buffer"]
        if self.lr_in_buffer:
            v = mu * b - lr * g
            p = p + (mu * v - lr * g if self.nesterov else v)
            return p, {"buffer": v}
        b = xp.where(t == 1, g, mu * b + (1 - self.dampening) * g)
        d = g + mu * b if self.nesterov else b
        return p - lr * d, {"buffer": b}

    def torch_equivalent(self):
        # lr_in_buffer is only equal to torch's form for a constant lr: the
        # reference is built with one.
        if self.decoupled_weight_decay and self.weight_decay:
            return None
        return "SGD", dict(lr=self.lr, momentum=self.momentum, dampening=self.dampening,
                           nesterov=self.nesterov, weight_decay=self._coupled_decay())

    def keras_equivalent(self):
        if self.dampening or (not self.decoupled_weight_decay and self.weight_decay):
            return None
        return "SGD", dict(learning_rate=float(self.lr), momentum=float(self.momentum),
                           nesterov=self.nesterov, weight_decay=self._decoupled_decay() or None)


class Momentum(SGD):
    """SGD with heavy-ball momentum μ = 0.9 by default (see SGD)."""

    name = "momentum"
    defaults = {f: {**d, "momentum": 0.9} for f, d in SGD.defaults.items()}


class Nesterov(SGD):
    """SGD with Nesterov momentum, μ = 0.9 by default (see SGD)."""

    name = "nesterov"
    defaults = {f: {**d, "momentum": 0.9, "nesterov": True} for f, d in SGD.defaults.items()}
