"""Adam and its family: AMSGrad, AdamW, NAdam, Adamax."""
from .base import Optimizer

_ADAM_COMMON = dict(betas=(0.9, 0.999), weight_decay=0.0, amsgrad=False)


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015): momentum on g, RMSprop on g², both bias-corrected.

    ::

        m_t = β₁·m_{t-1} + (1 − β₁)·g_t
        v_t = β₂·v_{t-1} + (1 − β₂)·g_t²
        v̂_t = max(v̂_{t-1}, v_t)  if amsgrad  else  v_t      (max of the raw v)
        torch:  p_t = p_{t-1} − η/(1 − β₁ᵗ) · m_t / (√v̂_t / √(1 − β₂ᵗ) + ε)
        Keras:  p_t = p_{t-1} − η·√(1 − β₂ᵗ)/(1 − β₁ᵗ) · m_t / (√v̂_t + ε)   (eps_hat)

    The two differ only in where ε sits: Keras adds it to the *uncorrected*
    √v ("epsilon hat" in the paper's §2). Written in torch's form, Keras's ε is
    ε/√(1 − β₂ᵗ): about 32× larger at the first step with β₂ = 0.999. It matters
    when gradients are as small as ε.

    ==============  ======  =====
    hyperparameter  torch   keras
    ==============  ======  =====
    lr              1e-3    1e-3
    betas           (0.9, 0.999)
    eps             1e-8    1e-7
    eps_hat         False   True
    ==============  ======  =====
    """

    name = "adam"
    defaults = {
        "torch": dict(lr=1e-3, **_ADAM_COMMON, eps=1e-8, eps_hat=False,
                      decoupled_weight_decay=False),
        "keras": dict(lr=1e-3, **_ADAM_COMMON, eps=1e-7, eps_hat=True,
                      decoupled_weight_decay=True),
    }

    def init_state(self, p, xp):
        state = {"m": xp.zeros_like(p), "v": xp.zeros_like(p)}
        if self.amsgrad:
            state["v_max"] = xp.zeros_like(p)
        return state

    def rule(self, p, g, state, t, lr, xp):
        b1, b2 = self.betas
        new = {"m": b1 * state["m"] + (1 - b1) * g,
               "v": b2 * state["v"] + (1 - b2) * g * g}
        v = new["v"]
        if self.amsgrad:
            v = new["v_max"] = xp.maximum(state["v_max"], v)
        correction1, correction2 = 1 - b1 ** t, 1 - b2 ** t
        if self.eps_hat:
            step = lr * correction2 ** 0.5 / correction1 * new["m"] / (xp.sqrt(v) + self.eps)
        else:
            step = lr / correction1 * new["m"] / (xp.sqrt(v) / correction2 ** 0.5 + self.eps)
        return p - step, new

    def torch_equivalent(self):
        if self.eps_hat and self.eps:
            return None
        kwargs = dict(lr=self.lr, betas=tuple(self.betas), eps=self.eps,
                      weight_decay=self.weight_decay, amsgrad=self.amsgrad)
        return ("AdamW" if self._decoupled_decay() else "Adam"), kwargs

    def keras_equivalent(self):
        if (not self.eps_hat and self.eps) or self._coupled_decay():
            return None
        b1, b2 = self.betas
        kwargs = dict(learning_rate=float(self.lr), beta_1=b1, beta_2=b2, epsilon=self.eps,
                      amsgrad=self.amsgrad)
        if self._decoupled_decay():
            return "AdamW", dict(kwargs, weight_decay=self.weight_decay)
        return "Adam", kwargs


class AMSGrad(Adam):
    """Adam that never lets the denominator shrink (Reddi et al. 2018); see Adam."""

    name = "amsgrad"
    defaults = {f: {**d, "amsgrad": True} for f, d in Adam.defaults.items()}


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter 2019).

    ::

        p ← p − η·λ·p          then the Adam step on the raw gradient

    Adam with L2 (g ← g + λ·p) divides the decay by √v̂ too, so parameters
    with large gradients are barely regularised; AdamW decays every weight at
    the same rate. Default λ: 1e-2 (torch), 4e-3 (Keras).
    """

    name = "adamw"
    defaults = {
        "torch": {**Adam.defaults["torch"], "weight_decay": 1e-2, "decoupled_weight_decay": True},
        "keras": {**Adam.defaults["keras"], "weight_decay": 4e-3},
    }


class NAdam(Optimizer):
    r"""NAdam (Dozat 2016): Adam with Nesterov momentum and a warming momentum schedule.

    ::

        μ_t = β₁·(1 − ½·0.96^(t·ψ))                  ψ = momentum_decay
        Π_t = μ_1·μ_2·…·μ_t
        m_t = β₁·m_{t-1} + (1 − β₁)·g_t
        v_t = β₂·v_{t-1} + (1 − β₂)·g_t²
        p_t = p_{t-1} − η·[ (1 − μ_t)/(1 − Π_t)·g_t + μ_{t+1}/(1 − Π_t·μ_{t+1})·m_t ]
                          / (√(v_t/(1 − β₂ᵗ)) + ε)

    torch uses ψ = 0.004 (the schedule of the paper); Keras uses 0.96^t, i.e.
    ψ = 1, so its momentum reaches β₁ within a few dozen steps.

    ==============  ======  =====
    hyperparameter  torch   keras
    ==============  ======  =====
    lr              2e-3    1e-3
    eps             1e-8    1e-7
    momentum_decay  4e-3    1.0
    ==============  ======  =====
    """

    name = "nadam"
    _common = dict(betas=(0.9, 0.999), weight_decay=0.0)
    defaults = {
        "torch": dict(lr=2e-3, **_common, eps=1e-8, momentum_decay=4e-3,
                      decoupled_weight_decay=False),
        "keras": dict(lr=1e-3, **_common, eps=1e-7, momentum_decay=1.0,
                      decoupled_weight_decay=True),
    }

    def init_state(self, p, xp):
        return {"m": xp.zeros_like(p), "v": xp.zeros_like(p), "mu_product": xp.scalar_like(p, 1.0)}

    def rule(self, p, g, state, t, lr, xp):
        b1, b2 = self.betas
        mu = b1 * (1 - 0.5 * 0.96 ** (t * self.momentum_decay))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * self.momentum_decay))
        product = state["mu_product"] * mu
        m = b1 * state["m"] + (1 - b1) * g
        v = b2 * state["v"] + (1 - b2) * g * g
        denom = xp.sqrt(v / (1 - b2 ** t)) + self.eps
        p = p - lr * (1 - mu) / (1 - product) * g / denom \
              - lr * mu_next / (1 - product * mu_next) * m / denom
        return p, {"m": m, "v": v, "mu_product": product}

    def torch_equivalent(self):
        return "NAdam", dict(lr=self.lr, betas=tuple(self.betas), eps=self.eps,
                             weight_decay=self.weight_decay, momentum_decay=self.momentum_decay,
                             decoupled_weight_decay=self.decoupled_weight_decay)

    def keras_equivalent(self):
        if self.momentum_decay != 1.0 or self._coupled_decay():
            return None
        b1, b2 = self.betas
        return "Nadam", dict(learning_rate=float(self.lr), beta_1=b1, beta_2=b2,
                             epsilon=self.eps, weight_decay=self._decoupled_decay() or None)


class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba 2015, §7): Adam with the ∞-norm in place of √v.

    ::

        m_t = β₁·m_{t-1} + (1 − β₁)·g_t
        u_t = max(β₂·u_{t-1}, |g_t| + ε)                   torch (eps_inside_max)
        u_t = max(β₂·u_{t-1}, |g_t|),  then use u_t + ε     Keras
        p_t = p_{t-1} − η/(1 − β₁ᵗ) · m_t / u_t

    ==============  ======  =====
    hyperparameter  torch   keras
    ==============  ======  =====
    lr              2e-3    1e-3
    eps             1e-8    1e-7
    eps_inside_max  True    False
    ==============  ======  =====
    """

    name = "adamax"
    _common = dict(betas=(0.9, 0.999), weight_decay=0.0)
    defaults = {
        "torch": dict(lr=2e-3, **_common, eps=1e-8, eps_inside_max=True,
                      decoupled_weight_decay=False),
        "keras": dict(lr=1e-3, **_common, eps=1e-7, eps_inside_max=False,
                      decoupled_weight_decay=True),
    }

    def init_state(self, p, xp):
        return {"m": xp.zeros_like(p), "u": xp.zeros_like(p)}

    def rule(self, p, g, state, t, lr, xp):
        b1, b2 = self.betas
        m = b1 * state["m"] + (1 - b1) * g
        if self.eps_inside_max:
            u = xp.maximum(b2 * state["u"], xp.abs(g) + self.eps)
            denom = u
        else:
            u = xp.maximum(b2 * state["u"], xp.abs(g))
            denom = u + self.eps
        return p - lr / (1 - b1 ** t) * m / denom, {"m": m, "u": u}

    def torch_equivalent(self):
        if (not self.eps_inside_max and self.eps) or self._decoupled_decay():
            return None
        return "Adamax", dict(lr=self.lr, betas=tuple(self.betas), eps=self.eps,
                              weight_decay=self._coupled_decay())

    def keras_equivalent(self):
        if (self.eps_inside_max and self.eps) or self._coupled_decay():
            return None
        b1, b2 = self.betas
        return "Adamax", dict(learning_rate=float(self.lr), beta_1=b1, beta_2=b2,
                              epsilon=self.eps, weight_decay=self._decoupled_decay() or None)
