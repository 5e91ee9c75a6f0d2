"""Per-parameter step sizes: AdaGrad, RMSprop and Adadelta."""
from .base import Optimizer, _check_range


def _rms(x, eps, eps_inside_sqrt, xp):
    """√(x + ε) (Keras) or √x + ε (torch): the one line students trip on."""
    return xp.sqrt(x + eps) if eps_inside_sqrt else xp.sqrt(x) + eps


class Adagrad(Optimizer):
    r"""AdaGrad (Duchi, Hazan & Singer 2011): divide by the root of all past squared gradients.

    ::

        s_t = s_{t-1} + g_t²                         s_0 = initial_accumulator_value
        η_t = η / (1 + (t − 1)·lr_decay)
        p_t = p_{t-1} − η_t · g_t / (√s_t + ε)       torch
        p_t = p_{t-1} − η_t · g_t / √(s_t + ε)       Keras (eps_inside_sqrt=True)

    Steps only shrink: s_t never decreases.

    ==========================  ======  =====
    hyperparameter              torch   keras
    ==========================  ======  =====
    lr                          1e-2    1e-3
    initial_accumulator_value   0       0.1
    eps                         1e-10   1e-7
    eps_inside_sqrt             False   True
    ==========================  ======  =====
    """

    name = "adagrad"
    defaults = {
        "torch": dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                      eps=1e-10, eps_inside_sqrt=False, decoupled_weight_decay=False),
        "keras": dict(lr=1e-3, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.1,
                      eps=1e-7, eps_inside_sqrt=True, decoupled_weight_decay=True),
    }

    def init_state(self, p, xp):
        return {"sum": xp.full_like(p, self.initial_accumulator_value)}

    def rule(self, p, g, state, t, lr, xp):
        s = state["sum"] + g * g
        lr_t = lr / (1 + (t - 1) * self.lr_decay)
        return p - lr_t * g / _rms(s, self.eps, self.eps_inside_sqrt, xp), {"sum": s}

    def torch_equivalent(self):
        if (self.eps_inside_sqrt and self.eps) or self._decoupled_decay():
            return None
        return "Adagrad", dict(lr=self.lr, lr_decay=self.lr_decay, eps=self.eps,
                               weight_decay=self._coupled_decay(),
                               initial_accumulator_value=self.initial_accumulator_value)

    def keras_equivalent(self):
        if (not self.eps_inside_sqrt and self.eps) or self.lr_decay or self._coupled_decay():
            return None
        return "Adagrad", dict(learning_rate=float(self.lr), epsilon=self.eps,
                               initial_accumulator_value=self.initial_accumulator_value,
                               weight_decay=self._decoupled_decay() or None)


class RMSprop(Optimizer):
    r"""RMSprop (Hinton 2012): AdaGrad with a leaky average, so steps can grow again.

    ::

        v_t = α·v_{t-1} + (1 − α)·g_t²
        ḡ_t = α·ḡ_{t-1} + (1 − α)·g_t                (centered only)
        r_t = rms(v_t − ḡ_t²)  if centered  else  rms(v_t)
              rms(x) = √x + ε (torch) or √(x + ε) (Keras, eps_inside_sqrt)
        without momentum:   p_t = p_{t-1} − η·g_t / r_t
        torch momentum:     b_t = μ·b_{t-1} + g_t / r_t;     p_t = p_{t-1} − η·b_t
        Keras momentum:     b_t = μ·b_{t-1} + η·g_t / r_t;   p_t = p_{t-1} − b_t

    ===============  ======  =====
    hyperparameter   torch   keras
    ===============  ======  =====
    lr               1e-2    1e-3
    alpha (ρ)        0.99    0.9
    eps              1e-8    1e-7
    eps_inside_sqrt  False   True
    lr_in_buffer     False   True
    ===============  ======  =====
    """

    name = "rmsprop"
    _common = dict(momentum=0.0, centered=False, weight_decay=0.0)
    defaults = {
        "torch": dict(lr=1e-2, alpha=0.99, eps=1e-8, **_common, eps_inside_sqrt=False,
                      lr_in_buffer=False, decoupled_weight_decay=False),
        "keras": dict(lr=1e-3, alpha=0.9, eps=1e-7, **_common, eps_inside_sqrt=True,
                      lr_in_buffer=True, decoupled_weight_decay=True),
    }

    def validate(self):
        super().validate()
        _check_range(self, "alpha", self.alpha, 0, 1)

    def init_state(self, p, xp):
        state = {"square_avg": xp.zeros_like(p)}
        if self.centered:
            state["grad_avg"] = xp.zeros_like(p)
        if self.momentum:
            state["buffer"] = xp.zeros_like(p)
        return state

    def rule(self, p, g, state, t, lr, xp):
        a = self.alpha
        new = {"square_avg": a * state["square_avg"] + (1 - a) * g * g}
        spread = new["square_avg"]
        if self.centered:
            new["grad_avg"] = a * state["grad_avg"] + (1 - a) * g
            spread = spread - new["grad_avg"] * new["grad_avg"]
        r = _rms(spread, self.eps, self.eps_inside_sqrt, xp)
        if not self.momentum:
            return p - lr * g / r, new
        if self.lr_in_buffer:
            new["buffer"] = self.momentum * state["buffer"] + lr * g / r
            return p - new["buffer"], new
        new["buffer"] = self.momentum * state["buffer"] + g / r
        return p - lr * new["buffer"], new

    def torch_equivalent(self):
        # lr_in_buffer matches torch for a constant lr, as in SGD.
        if (self.eps_inside_sqrt and self.eps) or self._decoupled_decay():
            return None
        return "RMSprop", dict(lr=self.lr, alpha=self.alpha, eps=self.eps,
                               momentum=self.momentum, centered=self.centered,
                               weight_decay=self._coupled_decay())

    def keras_equivalent(self):
        if (not self.eps_inside_sqrt and self.eps) or self._coupled_decay():
            return None
        return "RMSprop", dict(learning_rate=float(self.lr), rho=self.alpha, epsilon=self.eps,
                               momentum=float(self.momentum), centered=self.centered,
                               weight_decay=self._decoupled_decay() or None)


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler 2012): RMSprop whose step carries the units of the parameter.

    ::

        v_t = ρ·v_{t-1} + (1 − ρ)·g_t²
        Δ_t = √(u_{t-1} + ε) / √(v_t + ε) · g_t        (ratio of RMS values)
        u_t = ρ·u_{t-1} + (1 − ρ)·Δ_t²
        p_t = p_{t-1} − η·Δ_t

    torch and Keras compute the same thing; only the defaults differ
    (torch: η = 1, ρ = 0.9, ε = 1e-6; Keras: η = 1e-3, ρ = 0.95, ε = 1e-7).
    """

    name = "adadelta"
    defaults = {
        "torch": dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, decoupled_weight_decay=False),
        "keras": dict(lr=1e-3, rho=0.95, eps=1e-7, weight_decay=0.0, decoupled_weight_decay=True),
    }

    def validate(self):
        super().validate()
        _check_range(self, "rho", self.rho, 0, 1)

    def init_state(self, p, xp):
        return {"square_avg": xp.zeros_like(p), "acc_delta": xp.zeros_like(p)}

    def rule(self, p, g, state, t, lr, xp):
        rho, eps = self.rho, self.eps
        v = rho * state["square_avg"] + (1 - rho) * g * g
        delta = xp.sqrt(state["acc_delta"] + eps) / xp.sqrt(v + eps) * g
        u = rho * state["acc_delta"] + (1 - rho) * delta * delta
        return p - lr * delta, {"square_avg": v, "acc_delta": u}

    def torch_equivalent(self):
        if self._decoupled_decay():
            return None
        return "Adadelta", dict(lr=self.lr, rho=self.rho, eps=self.eps,
                                weight_decay=self._coupled_decay())

    def keras_equivalent(self):
        if self._coupled_decay():
            return None
        return "Adadelta", dict(learning_rate=float(self.lr), rho=self.rho, epsilon=self.eps,
                                weight_decay=self._decoupled_decay() or None)
