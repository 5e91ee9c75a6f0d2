"""The checkers accept right answers and explain typical wrong ones."""
import re

import numpy as np
import pytest

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
    assert not feedback and "largest eigenvalue" in feedback.message
    assert "too large by a factor of about 2" in feedback.message
    assert "0.02" not in feedback.message, "a value check never gives the answer away"
    feedback = exercises.check_value([428, 200], [428, 184], name="steps_needed")
    assert "entry 1 (of 2, 1 off) is too large by 1% to 10%" in feedback.message
    assert "184" not in feedback.message
    assert "too small by 0.1% to 1%" in exercises.check_value(0.995, 1.0).message
    assert "wrong sign" in exercises.check_value(-1.0, 1.0).message
    assert "it is 0, and it should not be" in exercises.check_value(0.0, 0.25).message
    assert "not filled in" in exercises.check_value(..., 1.0).message
    assert "shape" in exercises.check_value([1.0, 2.0], 1.0).message


def test_check_function_names_a_flipped_sign_and_check_value_a_known_slip():
    feedback = exercises.check_function(lambda x: -2 * x, lambda x: 2 * x, [1.0], name="grad")
    assert not feedback and "The sign is flipped." in feedback.message
    feedback = exercises.check_value(1 / 50, 2 / 50, name="largest stable lr",
                                     mistakes=[(1 / 50, "the limit is 2/L, not 1/L")])
    assert not feedback and "known slip: the limit is 2/L" in feedback.message


# -- typical wrong answers: each a clear "no" that names the mistake, never a crash ----

R = optim.REGISTRY
ADAM = R["adam"](lr=0.01)
RMSPROP = R["rmsprop"](lr=0.01, alpha=0.9, eps=1e-8)
RMSPROP_SLIPS = [(R["rmsprop"](lr=0.01, alpha=0.1, eps=1e-8), "α and 1 − α are swapped."),
                 (R["adagrad"](lr=0.01, eps=1e-8), "you summed g² like AdaGrad.")]


def named(name, fn):
    fn.__name__ = name
    return fn


def adam_student(lr=0.01, eps=1e-8, correct_m=True, correct_v=True, root=np.sqrt,
                 eps_inside=False, damp_m=True, keep_state=True, returns_state=False):
    """Adam as a student writes it, with one switch per typical mistake."""
    def adam_step(w, g, state, t):
        b1, b2 = 0.9, 0.999
        memory = state if keep_state else {}
        memory["m"] = b1 * memory.get("m", 0.0) + ((1 - b1) if damp_m else 1.0) * g
        memory["v"] = b2 * memory.get("v", 0.0) + (1 - b2) * g * g
        m = memory["m"] / (1 - b1 ** t) if correct_m else memory["m"]
        v = memory["v"] / (1 - b2 ** t) if correct_v else memory["v"]
        denominator = np.sqrt(v + eps) if eps_inside else root(v) + eps
        new_w = w - lr * m / denominator
        return (new_w, state) if returns_state else new_w
    return adam_step


def rmsprop_student(lr=0.01, alpha=0.9, eps=1e-8, seed_with_g2=False, root=np.sqrt,
                    eps_inside=False, damp=True):
    def rmsprop_step(w, g, state, t):
        if seed_with_g2 and t == 1:
            state["v"] = g * g
        else:
            state["v"] = alpha * state.get("v", 0.0) + ((1 - alpha) if damp else 1.0) * g * g
        denominator = np.sqrt(state["v"] + eps) if eps_inside else root(state["v"]) + eps
        return w - lr * g / denominator
    return rmsprop_step


def adagrad_student(w, g, state, t):
    state["s"] = state.get("s", 0.0) + g * g
    return w - 0.1 * g / (np.sqrt(state["s"]) + 1e-3)      # torch's ε placement


def momentum_damped(w, g, state, t):
    state["b"] = 0.9 * state.get("b", 0.0) + (1 - 0.9) * g
    return w - 0.05 * state["b"]


def momentum_forgets_buffer(w, g, state, t):
    b = 0.9 * state.get("b", 0.0) + g                        # never stored back
    return w - 0.05 * b


def identity(x):
    return x


def gradient_of_x_squared(x):
    return 2 * x


def gradient_and_bias(w, b):
    return 2 * w, 2 * b


STEP = exercises.check_optimizer_step
SGD_01 = R["sgd"](lr=0.1)

WRONG_ANSWERS = [
    # (what the student did, the check, words the feedback must contain)
    ("value: not filled in", lambda: exercises.check_value(None, 0.5), ["not filled in yet"]),
    ("value: a string", lambda: exercises.check_value("0.5", 0.5),
     ["a string ('0.5')", "expected a number"]),
    ("value: (number, str)", lambda: exercises.check_value((1.0, "a"), 0.5),
     ["a tuple of 2 (a number and a string)"]),
    ("value: ragged list", lambda: exercises.check_value([np.zeros(2), np.zeros(3)], np.zeros(3)),
     ["2 arrays of different shapes", "expected an array of shape (3,)"]),
    ("value: NaN", lambda: exercises.check_value(np.nan, 0.5, name="lr_max"),
     ["lr_max is nan", "division by zero"]),
    ("value: a dict", lambda: exercises.check_value({"a": 1}, 0.5), ["a dict"]),
    ("value: the function, not its result", lambda: exercises.check_value(np.sin, 0.5),
     ["is a function", "call it"]),
    ("value: 1/L for 2/L", lambda: exercises.check_value(
        0.02, 0.04, name="lr", mistakes=[(0.02, "the limit is 2/L, not 1/L.")]),
     ["known slip: the limit is 2/L"]),
    ("value: sign flipped", lambda: exercises.check_value(-0.5, 0.5), ["The sign is flipped."]),
    ("function: (number, str)", lambda: exercises.check_function(
        named("grad", lambda x: (1.0, "a")), gradient_of_x_squared, [1.0, 2.0]),
     ["`grad` returned a tuple of 2 (a number and a string), expected a number", "case 1 of 2"]),
    ("function: (w, state) for a pair of numbers", lambda: exercises.check_function(
        named("mse_gradient", lambda w, b: (w, {})), gradient_and_bias, [(1.0, 2.0)]),
     ["a tuple of 2 (a number and a dict), expected a tuple of 2 numbers"]),
    ("function: None (no return)", lambda: exercises.check_function(
        named("grad", lambda x: None), gradient_of_x_squared, [1.0]),
     ["returned None", "not written yet", "`return`"]),
    ("function: a string is not a function", lambda: exercises.check_function(
        "not a function", gradient_of_x_squared, [1.0]), ["where a function is expected"]),
    ("function: raises", lambda: exercises.check_function(
        named("grad", lambda x: 1 / 0), gradient_of_x_squared, [1.0]),
     ["raised ZeroDivisionError on case 1 of 1"]),
    ("function: missing factor 2", lambda: exercises.check_function(
        identity, gradient_of_x_squared, [1.0, 3.0], name="grad"),
     ["0.5× the expected ones on every case"]),
    ("function: ragged list", lambda: exercises.check_function(
        named("f", lambda x: [np.zeros(2), np.zeros(3)]), lambda x: np.zeros(3), [1.0]),
     ["2 arrays of different shapes"]),
    ("function: wrong shape", lambda: exercises.check_function(
        named("f", lambda x: np.zeros((3, 3))), lambda x: np.zeros(3), [1.0]),
     ["shape (3, 3), expected an array of shape (3,)"]),
    ("step: returns (w, state) like opt.update", lambda: STEP(adam_student(returns_state=True), ADAM),
     ["`adam_step` returned a tuple of 2 (an array and a dict): return only the new w, "
      "an array of shape (3,)."]),
    ("step: returns a string", lambda: STEP(named("sgd_step", lambda w, g, s, t: "w"), SGD_01),
     ["returned a string ('w'): return the new w, an array of shape (3,)"]),
    ("step: wrong shape", lambda: STEP(named("sgd_step", lambda w, g, s, t: w - g[:, None]), SGD_01),
     ["returned an array of shape (3, 3)"]),
    ("step: NaN", lambda: STEP(named("sgd_step", lambda w, g, s, t: w * np.nan), SGD_01),
     ["returned NaN at step 1", "division by zero"]),
    ("step: None instead of a function", lambda: STEP(None, SGD_01), ["not written yet"]),
    ("step: updates w in place, returns None", lambda: STEP(
        named("sgd_step", lambda w, g, s, t: w.__isub__(0.1 * g) and None), SGD_01),
     ["changed w in place but returned None", "return w"]),
    ("step: reads a buffer before setting it", lambda: STEP(
        named("momentum_step", lambda w, g, s, t: w - s["b"]), R["momentum"](lr=0.05)),
     ["raised KeyError at step 1 of 8", "state.get"]),
    ("SGD: learning rate 10× too large", lambda: STEP(
        named("sgd_step", lambda w, g, s, t: w - 0.1 * g), R["sgd"](lr=0.01)),
     ["10× the expected one at every step", "learning rate"]),
    ("SGD: no learning rate", lambda: STEP(named("sgd_step", lambda w, g, s, t: w - g),
                                          R["sgd"](lr=0.05)), ["20×", "= 1/η"]),
    ("SGD: uphill", lambda: STEP(named("sgd_step", lambda w, g, s, t: w + 0.1 * g), SGD_01),
     ["step 1 of 8 (the very first step)", "wrong sign: you stepped uphill"]),
    ("momentum: (1 − β) damping", lambda: STEP(momentum_damped, R["momentum"](lr=0.05)),
     ["0.1× the expected one at every step", "1 − μ"]),
    ("momentum: buffer not kept in state", lambda: STEP(momentum_forgets_buffer,
                                                        R["momentum"](lr=0.05)),
     ["step 2 of 8 (step 1 matched)", "buffers back at zero", "`state`"]),
    ("Adam: no bias correction", lambda: STEP(adam_student(correct_m=False, correct_v=False), ADAM),
     ["Bias correction: m is not divided by 1 − β₁ᵗ and v is not divided by 1 − β₂ᵗ",
      "3.16× the expected one at step 1"]),
    ("Adam: v not bias-corrected", lambda: STEP(adam_student(correct_v=False), ADAM),
     ["Bias correction: v is not divided by 1 − β₂ᵗ"]),
    ("Adam: v instead of √v", lambda: STEP(adam_student(root=identity), ADAM),
     ["Missing square root", "g/v instead of g/√v"]),
    ("Adam: ε inside the square root", lambda: STEP(adam_student(eps=1e-4, eps_inside=True),
                                                    R["adam"](lr=0.01, eps=1e-4)),
     ["Where ε goes: you divide by √(v + ε)"]),
    ("Adam: no ε", lambda: STEP(adam_student(eps=0.0), R["adam"](lr=0.01, eps=1e-4)),
     ["ε is missing"]),
    ("Adam: torch's ε against Keras's ε̂", lambda: STEP(adam_student(eps=1e-3),
                                                        R["adam"](flavor="keras", lr=0.01, eps=1e-3)),
     ["Where ε goes", "Keras's ε̂"]),
    ("Adam: no (1 − β₁) on g", lambda: STEP(adam_student(damp_m=False), ADAM),
     ["10× the expected one at every step", "(1 − β₁)"]),
    ("Adam: buffers not kept in state", lambda: STEP(adam_student(keep_state=False), ADAM),
     ["buffers back at zero"]),
    ("Adam: uphill", lambda: STEP(adam_student(lr=-0.01), ADAM), ["wrong sign"]),
    ("RMSprop: v₀ = g², told its own symptom, not AdaGrad's slip", lambda: STEP(
        rmsprop_student(seed_with_g2=True), RMSPROP, mistakes=RMSPROP_SLIPS,
        hint="v starts at 0."), ["Hint: v starts at 0."]),
    ("RMSprop: a sum like AdaGrad", lambda: STEP(rmsprop_student(alpha=1.0, damp=False), RMSPROP,
                                                 mistakes=RMSPROP_SLIPS),
     ["known slip: you summed g² like AdaGrad"]),
    ("RMSprop: v instead of √v", lambda: STEP(rmsprop_student(root=identity), RMSPROP),
     ["Missing square root"]),
    ("RMSprop: ε inside the root (Keras) against torch", lambda: STEP(
        rmsprop_student(eps=1e-3, eps_inside=True), R["rmsprop"](lr=0.01, alpha=0.9, eps=1e-3)),
     ["Where ε goes", "inside the square root", "torch's convention"]),
    ("RMSprop: no (1 − α) on g²", lambda: STEP(rmsprop_student(damp=False), RMSPROP),
     ["√(1 − α)"]),
    ("AdaGrad: torch's ε against Keras's", lambda: STEP(
        adagrad_student, R["adagrad"](lr=0.1, eps=1e-3, eps_inside_sqrt=True)),
     ["Where ε goes: you put ε outside the square root"]),
]


@pytest.mark.parametrize("mistake, check, says", WRONG_ANSWERS, ids=[w[0] for w in WRONG_ANSWERS])
def test_typical_wrong_answers_are_explained(mistake, check, says):
    feedback = check()
    assert isinstance(feedback, exercises.Feedback) and not feedback, mistake
    for words in says:
        assert words in feedback.message, (mistake, feedback.message)
    assert "0.0%" not in feedback.message


def test_an_rmsprop_seeded_with_g2_is_not_called_adagrad():
    feedback = STEP(rmsprop_student(seed_with_g2=True), RMSPROP, mistakes=RMSPROP_SLIPS)
    assert not feedback and "step 1 of 8" in feedback.message   # step 1 equals AdaGrad's ...
    assert "AdaGrad" not in feedback.message                    # ... the path does not


def test_a_slip_is_named_only_when_it_fits_every_case():
    coincidence = (lambda x: 9.0 if x == 3 else 3 * x, "a slip that fits case 1 only")
    fits = (lambda x: x ** 2, "squared instead of tripled")
    feedback = exercises.check_function(lambda x: x ** 2, lambda x: 3 * x, [3.0, 1.0],
                                        name="f", mistakes=[coincidence])
    assert not feedback and "case 2 of 2" in feedback.message and "slip" not in feedback.message
    feedback = exercises.check_function(lambda x: x ** 2, lambda x: 3 * x, [3.0, 1.0],
                                        name="f", mistakes=[coincidence, fits])
    assert "known slip: squared instead of tripled" in feedback.message


def test_a_specific_symptom_wins_over_the_lessons_generic_hint():
    feedback = STEP(adam_student(root=identity), ADAM, hint="m and v start at 0.")
    assert "Missing square root" in feedback.message and "m and v start at 0" not in feedback.message
    assert "Bias correction" not in feedback.message


def test_small_errors_print_in_scientific_notation():
    feedback = exercises.check_value(1.0 + 1.6e-7, 1.0, name="first_update", rtol=1e-9)
    assert not feedback and "too large by a relative 1.6e-07" in feedback.message
    assert "1.00000016" in feedback.message
    feedback = STEP(adam_student(eps=1e-6, eps_inside=True), R["adam"](lr=0.01, eps=1e-6))
    assert not feedback and "0.0%" not in feedback.message
    assert re.search(r"off by [0-9.]+e-\d+ \([0-9.]+e-\d+ of the expected size", feedback.message)


GENERIC_WRONG = {
    "function": [None, "not a function", 3.0, lambda *a: None, lambda *a: "0.5",
                 lambda *a: (np.zeros(3), {}), lambda *a: [np.zeros(2), np.zeros(3)],
                 lambda *a: np.nan, lambda *a: {"a": 1}, lambda *a: 1 / 0, lambda *a: 1j,
                 lambda *a: object(), lambda *a: (x for x in a), lambda *a: ...],
    "value": [None, ..., "0.5", (1.0, "a"), [np.zeros(2), np.zeros(3)], np.nan, np.inf,
              {"a": 1}, 1j, object(), [], [1.0, None], np.array(["a"]), np.sin],
}


def stable_id(answer):
    """repr without memory addresses: pytest-xdist needs the same ids in every worker."""
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(answer))


@pytest.mark.parametrize("answer", GENERIC_WRONG["function"], ids=stable_id)
def test_answers_of_the_wrong_type_never_crash_check_function_or_the_step(answer):
    for feedback in (exercises.check_function(answer, gradient_and_bias, [(1.0, 2.0)]),
                     exercises.check_function(answer, gradient_of_x_squared, [np.ones(3)]),
                     STEP(answer, ADAM), STEP(answer, RMSPROP, mistakes=RMSPROP_SLIPS)):
        assert isinstance(feedback, exercises.Feedback) and not feedback
        assert len(feedback.message) > 20, feedback.message


@pytest.mark.parametrize("answer", GENERIC_WRONG["value"], ids=stable_id)
def test_answers_of_the_wrong_type_never_crash_check_value(answer):
    for expected in (0.5, np.zeros(3), (1.0, 2.0)):
        feedback = exercises.check_value(answer, expected, mistakes=[("x", "a strange slip")])
        assert isinstance(feedback, exercises.Feedback) and not feedback
        assert len(feedback.message) > 20, feedback.message


def test_a_failure_inside_the_checker_is_reported_not_raised():
    class Broken:
        def init(self, w):
            raise RuntimeError("no state")
    feedback = STEP(sgd_right, Broken())
    assert not feedback and "could not compare" in feedback.message
    assert "a function" in feedback.message and "RuntimeError" in feedback.message


def test_feedback_renders_as_html_with_an_svg_mark_and_no_emoji():
    right, wrong = exercises.Feedback(True, "`f` matches"), exercises.Feedback(False, "x < y & z")
    assert repr(right).startswith("✅ ") and repr(wrong).startswith("❌ ")
    assert "<svg" in right._repr_html_() and "#1a7f37" in right._repr_html_()
    assert "<code>f</code> matches" in right._repr_html_()
    assert "#cf222e" in wrong._repr_html_() and "x &lt; y &amp; z" in wrong._repr_html_()
    assert not any(mark in right._repr_html_() + wrong._repr_html_() for mark in "✅❌")
    assert not hasattr(right, "_repr_markdown_")    # Jupyter shows the HTML, not markdown
