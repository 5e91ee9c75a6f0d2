"""Checkers that tell a student where an answer goes wrong, and by how much.

Each checker returns a `Feedback` (truthy when right) that shows itself in
Jupyter as one short paragraph: what was checked, the first place the answer
differs, by how much, and a hint. Known wrong answers can be recognised: pass
`mistakes` (a wrong variant and the hint that goes with it) and the message
names the mistake instead of only the numbers.

Pattern in a lesson:

    def sgd_step(w, g, state, t):         # the student's cell
        ...
    exercises.check_optimizer_step(sgd_step, optim.REGISTRY["sgd"](lr=0.1))
"""
from dataclasses import dataclass

import numpy as np


@dataclass
class Feedback:
    passed: bool
    message: str

    def __bool__(self):
        return self.passed

    def __repr__(self):
        return ("✅ " if self.passed else "❌ ") + self.message

    def _repr_markdown_(self):
        return repr(self)


def _not_done(name):
    return Feedback(False, f"`{name}` is not written yet: replace `raise NotImplementedError` "
                           "(or `...`) with your code and run the cell again.")


def _call(fn, *args):
    """Run the student's code; turn a crash into feedback instead of a traceback."""
    try:
        result = fn(*args)
    except NotImplementedError:
        return None, _not_done(getattr(fn, "__name__", "your function"))
    except Exception as err:  # the student's bug, reported, not raised
        return None, Feedback(False, f"`{getattr(fn, '__name__', 'your function')}` raised "
                                     f"{type(err).__name__}: {err}")
    if result is Ellipsis or result is None:
        return None, _not_done(getattr(fn, "__name__", "your function"))
    return result, None


def _difference(got, expected):
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    if got.shape != expected.shape:
        return None
    gap = float(np.max(np.abs(got - expected))) if got.size else 0.0
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    return gap, gap / scale if scale else gap


def _close(got, expected, rtol, atol):
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    return got.shape == expected.shape and np.allclose(got, expected, rtol=rtol, atol=atol)


def _fmt(x):
    return np.array2string(np.asarray(x, dtype=float), precision=6, suppress_small=False)


def check_value(answer, expected, *, name="your answer", rtol=1e-6, atol=0.0, mistakes=(),
                hint=None):
    """A number (or array) the student computed, against the expected one.

    `mistakes`: pairs (wrong value, hint), e.g. (1 / L, "the limit is 2/L, not 1/L").
    """
    if answer is Ellipsis or answer is None:
        return Feedback(False, f"{name} is not filled in yet.")
    if _close(answer, expected, rtol, atol):
        return Feedback(True, f"{name} = {_fmt(answer)} is right.")
    diff = _difference(answer, expected)
    if diff is None:
        return Feedback(False, f"{name} has shape {np.shape(answer)}, expected {np.shape(expected)}.")
    message = f"{name} = {_fmt(answer)}, expected {_fmt(expected)} (off by {diff[0]:.3g})."
    for wrong_value, why in mistakes:
        if _close(answer, wrong_value, rtol, atol):
            return Feedback(False, message + f" This looks like a known slip: {why}")
    return Feedback(False, message + (f" Hint: {hint}" if hint else ""))


def check_function(student, reference, cases, *, name=None, rtol=1e-7, atol=1e-12,
                   mistakes=(), hint=None):
    """Call `student(*args)` and `reference(*args)` for each args tuple in `cases`.

    `mistakes`: pairs (wrong_function, hint); when the student's output equals a
    known wrong function's on the first failing case, that hint is given.
    """
    name = name or getattr(student, "__name__", "your function")
    for k, args in enumerate(cases, start=1):
        args = args if isinstance(args, tuple) else (args,)
        got, problem = _call(student, *args)
        if problem is not None:
            return problem
        expected = reference(*args)
        if _close(got, expected, rtol, atol):
            continue
        return _explain(f"{name}: case {k} of {len(cases)} (input {_short(args)})", got,
                        expected, [(wrong(*args), why) for wrong, why in mistakes], hint)
    return Feedback(True, f"{name} matches the reference on all {len(cases)} cases.")


def check_optimizer_step(student_step, optimizer, *, steps=8, dim=3, seed=0, x0=None,
                         rtol=1e-7, atol=1e-12, mistakes=(), hint=None):
    """A student's update rule against one of our optimizers, step by step.

    `student_step(w, g, state, t) -> new w`: `w` and `g` are NumPy arrays,
    `state` a dict that persists between calls (empty at first) for the student's
    buffers, `t` the step number starting at 1. Gradients come from a fixed,
    seeded quadratic-plus-noise problem, so each step depends on the last.
    `mistakes`: pairs (wrong optimizer, hint), e.g. Adam without bias correction.
    """
    name = getattr(student_step, "__name__", "your step")
    rng = np.random.default_rng(seed)
    w0 = np.asarray(x0, dtype=float) if x0 is not None else rng.normal(size=dim)
    curvature = rng.uniform(0.5, 2.0, size=w0.shape)
    noise = rng.normal(scale=0.3, size=(steps,) + w0.shape)

    def grad(w, t):
        return curvature * w + noise[t]

    def reference_path(opt):
        w, state, path = w0.copy(), opt.init(w0), []
        for t in range(steps):
            w, state = opt.update(w, grad(w, t), state)
            path.append(w)
        return path

    expected, wrong = reference_path(optimizer), [(reference_path(o), why) for o, why in mistakes]
    w, state = w0.copy(), {}
    for t in range(steps):
        got, problem = _call(student_step, w.copy(), grad(w, t), state, t + 1)
        if problem is not None:
            return problem
        if not _close(got, expected[t], rtol, atol):
            matched = {0: " (the very first step)", 1: " (step 1 matched)"}.get(
                t, f" (steps 1–{t} matched)")
            intro = f"{name}: step {t + 1} of {steps}{matched}"
            return _explain(intro, got, expected[t], [(p[t], why) for p, why in wrong], hint,
                            start=w)
        w = np.asarray(got, dtype=float)
    return Feedback(True, f"{name} matches {type(optimizer).__name__} on all {steps} steps.")


def _explain(where, got, expected, mistakes, hint, start=None):
    diff = _difference(got, expected)
    if diff is None:
        return Feedback(False, f"{where}: your result has shape {np.shape(got)}, "
                               f"expected {np.shape(expected)}.")
    message = (f"{where}: got {_fmt(got)}, expected {_fmt(expected)}; "
               f"off by {diff[0]:.3g} ({diff[1]:.1%} of the expected size).")
    for wrong_value, why in mistakes:
        if _close(got, wrong_value, 1e-7, 1e-12):
            return Feedback(False, message + f" This looks like a known slip: {why}")
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    if start is None and np.allclose(got, -expected):
        message += " The sign is flipped."
    elif start is not None and np.allclose(got - start, start - expected):
        # For an update, compare the steps taken from `start`, not the end points.
        message += " The step has the wrong sign: you stepped uphill."
    return Feedback(False, message + (f" Hint: {hint}" if hint else ""))


def _short(args):
    text = ", ".join(_fmt(a) if isinstance(a, (np.ndarray, list)) else repr(a) for a in args)
    return text if len(text) < 80 else text[:77] + "..."
