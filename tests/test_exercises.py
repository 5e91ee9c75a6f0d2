"""The checkers accept right answers and explain typical wrong ones."""
import numpy as np

from lessons_lib import exercises, optim


def sgd_right(w, g, state, t):
    return w - 0.1 * g


def sgd_sign_flipped(w, g, state, t):
    return w + 0.1 * g


def momentum_right(w, g, state, t):
    state["b"] = g if t == 1 else 0.9 * state["b"] + g
    return w - 0.05 * state["b"]


def momentum_drifts_at_step_4(w, g, state, t):
    state["b"] = g if t == 1 else 0.9 * state["b"] + g
    return w - 0.05 * state["b"] * (1.01 if t >= 4 else 1.0)


def adam_right(w, g, state, t, bias_correction=True):
    b1, b2, eps, lr = 0.9, 0.999, 1e-8, 0.01
    state["m"] = b1 * state.get("m", 0) + (1 - b1) * g
    state["v"] = b2 * state.get("v", 0) + (1 - b2) * g * g
    m, v = state["m"], state["v"]
    if bias_correction:
        m, v = m / (1 - b1 ** t), v / (1 - b2 ** t)
    return w - lr * m / (np.sqrt(v) + eps)


def adam_no_correction(w, g, state, t):
    return adam_right(w, g, state, t, bias_correction=False)


def not_written(w, g, state, t):
    raise NotImplementedError


def crashes(w, g, state, t):
    return w - state["velocity"]


def test_right_update_passes():
    feedback = exercises.check_optimizer_step(sgd_right, optim.REGISTRY["sgd"](lr=0.1))
    assert feedback and "all 8 steps" in repr(feedback) and repr(feedback).startswith("✅")


def test_momentum_and_adam_right_answers_pass():
    assert exercises.check_optimizer_step(momentum_right, optim.REGISTRY["momentum"](lr=0.05))
    assert exercises.check_optimizer_step(adam_right, optim.REGISTRY["adam"](lr=0.01))


def test_sign_error_is_named():
    feedback = exercises.check_optimizer_step(sgd_sign_flipped, optim.REGISTRY["sgd"](lr=0.1))
    assert not feedback
    assert "step 1 of 8 (the very first step)" in feedback.message
    assert "wrong sign: you stepped uphill" in feedback.message


def test_says_at_which_step_and_by_how_much():
    feedback = exercises.check_optimizer_step(momentum_drifts_at_step_4,
                                              optim.REGISTRY["momentum"](lr=0.05))
    assert not feedback
    assert "step 4 of 8 (steps 1–3 matched)" in feedback.message
    assert "off by" in feedback.message and "%" in feedback.message


def test_known_mistake_gets_its_hint():
    adam = optim.REGISTRY["adam"](lr=0.01)
    no_correction = _AdamWithoutCorrection(lr=0.01)
    feedback = exercises.check_optimizer_step(
        adam_no_correction, adam, mistakes=[(no_correction, "divide m by 1 − β₁ᵗ")])
    assert not feedback and "known slip: divide m by 1 − β₁ᵗ" in feedback.message


class _AdamWithoutCorrection(optim.Optimizer):
    name = "adam_without_correction"
    defaults = {f: dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8) for f in ("torch", "keras")}

    def init_state(self, p, xp):
        return {"m": xp.zeros_like(p), "v": xp.zeros_like(p)}

    def rule(self, p, g, state, t, lr, xp):
        b1, b2 = self.betas
        m = b1 * state["m"] + (1 - b1) * g
        v = b2 * state["v"] + (1 - b2) * g * g
        return p - lr * m / (xp.sqrt(v) + self.eps), {"m": m, "v": v}


def test_unwritten_and_crashing_answers_give_feedback_not_tracebacks():
    sgd = optim.REGISTRY["sgd"](lr=0.1)
    assert "not written yet" in exercises.check_optimizer_step(not_written, sgd).message
    feedback = exercises.check_optimizer_step(crashes, sgd)
    assert not feedback and "raised KeyError" in feedback.message


def test_check_function_reports_the_failing_case():
    def mse(w):
        return np.mean((w * np.arange(1, 5) - 2 * np.arange(1, 5)) ** 2)

    def mse_without_mean(w):
        return np.sum((w * np.arange(1, 5) - 2 * np.arange(1, 5)) ** 2)
    assert exercises.check_function(mse, mse, [0.0, 1.0, 2.5])
    feedback = exercises.check_function(mse_without_mean, mse, [2.0, 1.0], name="loss",
                                        mistakes=[(mse_without_mean, "average, do not sum")])
    assert not feedback
    assert "case 2 of 2" in feedback.message and "average, do not sum" in feedback.message


def test_check_value():
    assert exercises.check_value(0.02, 1 / 50, name="1/L")
    feedback = exercises.check_value(0.04, 1 / 50, name="1/L", hint="L is the largest eigenvalue")
    assert not feedback and "expected 0.02" in feedback.message and "largest eigenvalue" in feedback.message
    assert "not filled in" in exercises.check_value(..., 1.0).message
    assert "shape" in exercises.check_value([1.0, 2.0], 1.0).message


def test_check_function_names_a_flipped_sign_and_check_value_a_known_slip():
    feedback = exercises.check_function(lambda x: -2 * x, lambda x: 2 * x, [1.0], name="grad")
    assert not feedback and "The sign is flipped." in feedback.message
    feedback = exercises.check_value(1 / 50, 2 / 50, name="largest stable lr",
                                     mistakes=[(1 / 50, "the limit is 2/L, not 1/L")])
    assert not feedback and "known slip: the limit is 2/L" in feedback.message
