"""Checkers that tell a student where an answer goes wrong, and by how much.

Each checker returns a `Feedback` (truthy when right) that shows itself in
Jupyter as one short paragraph: what was checked, the first place the answer
differs, by how much, and why. Known wrong answers can be recognised: pass
`mistakes` (a wrong variant and the hint that goes with it) and the message
names the mistake instead of only the numbers. When no known slip fits, the
checker looks for a *symptom* (a flipped sign, a constant factor, a missing
square root, a missing bias correction, ε in another place) before falling
back on the lesson's generic `hint`.

A checker never raises: an answer of the wrong kind (a string, a tuple, None,
NaN, a dict, ...) gets one sentence saying what came back and what was
expected, and a failure inside the checker itself is reported, not raised.

Pattern in a lesson:

    def sgd_step(w, g, state, t):         # the student's cell
        ...
    exercises.check_optimizer_step(sgd_step, optim.REGISTRY["sgd"](lr=0.1))
"""
import copy
import html
import re
import warnings
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np


# -- the verdict ------------------------------------------------------------------

# Inline SVG, not an emoji: offline HTML and slides may have no emoji font.
TICK_SVG = ('<svg width="1.1em" height="1.1em" viewBox="0 0 16 16" role="img" aria-label="right" '
            'style="vertical-align:-0.2em"><title>right</title>'
            '<circle cx="8" cy="8" r="8" fill="#1a7f37"/><path d="M4.3 8.3l2.5 2.5 5-5.3" '
            'fill="none" stroke="#fff" stroke-width="2" stroke-linecap="round" '
            'stroke-linejoin="round"/></svg>')
CROSS_SVG = ('<svg width="1.1em" height="1.1em" viewBox="0 0 16 16" role="img" aria-label="wrong" '
             'style="vertical-align:-0.2em"><title>wrong</title>'
             '<circle cx="8" cy="8" r="8" fill="#cf222e"/><path d="M5.2 5.2l5.6 5.6M10.8 5.2l-5.6 5.6" '
             'fill="none" stroke="#fff" stroke-width="2" stroke-linecap="round"/></svg>')


@dataclass
class Feedback:
    passed: bool
    message: str

    def __bool__(self):
        return bool(self.passed)

    def __repr__(self):
        return ("✅ " if self.passed else "❌ ") + self.message

    def _repr_html_(self):
        # Jupyter, nbconvert and the slides prefer text/html over text/plain, so
        # the tick/cross renders everywhere; `code` in the message becomes <code>.
        text = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(self.message))
        return (f'<div class="lessons-feedback" style="margin:0.3em 0">'
                f'{TICK_SVG if self.passed else CROSS_SVG} {text}</div>')


def _not_done(name):
    return Feedback(False, f"{_who(name)} is not written yet: replace `raise NotImplementedError` "
                           "(or `...`) with your code and run the cell again.")


def _returned_none(name, where=""):
    return Feedback(False, f"{_who(name)} returned None{where}: it is not written yet, "
                           "or it is missing its `return` line.")


def _not_a_function(thing, name):
    if thing is None or thing is Ellipsis:
        return Feedback(False, f"{_who(name)} is not written yet (it is {_describe(thing)}): "
                               "define it with `def` and pass the function itself.")
    return Feedback(False, f"{_describe(thing)} was passed where a function is expected: "
                           "pass the function itself (its name, without calling it).")


def _who(name):
    """`adam_step` in code style; a default like "your step" as plain words."""
    return f"`{name}`" if name.isidentifier() else name


def _name_of(fn, default):
    name = getattr(fn, "__name__", None)
    return name if isinstance(name, str) and name.isidentifier() else default


# -- what an answer is, in words -----------------------------------------------------

def _kind(x):
    """A short noun phrase for one value: 'a number', 'an array', 'a dict', ..."""
    if x is None:
        return "None"
    if x is Ellipsis:
        return "`...`"
    if isinstance(x, str):
        return "a string"
    if isinstance(x, (bool, np.bool_)):
        return "a bool"
    if isinstance(x, np.ndarray):
        return "a number" if x.ndim == 0 and x.dtype.kind in "biuf" else "an array"
    if isinstance(x, (int, float, np.number)) and not isinstance(x, np.complexfloating):
        return "a number"
    if isinstance(x, (dict, list, tuple)):
        return f"a {type(x).__name__}"
    if callable(x):
        return "a function"
    noun = type(x).__name__
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _describe(x, values=True):
    """What x is, in a phrase; `values=False` leaves out numbers (never give the answer away)."""
    try:
        return _describe_unsafe(x, values)
    except Exception:  # an object whose repr or len fails: its type is enough
        return _kind(x)


def _describe_unsafe(x, values):
    if isinstance(x, str):
        text = x if len(x) <= 20 else x[:17] + "..."
        return f"a string ({text!r})" if values else "a string"
    if isinstance(x, dict):
        keys = ", ".join(map(repr, list(x)[:3])) + (", ..." if len(x) > 3 else "")
        return f"a dict (keys {keys})" if x and values else "a dict"
    if isinstance(x, (list, tuple)):
        return _describe_sequence(x)
    numbers = _numbers(x)
    if numbers is not None and numbers[1] == ():
        value = float(numbers[0][0])
        if np.isnan(value):
            return "nan (not a number)"
        return f"the number {value:.6g}" if values else "a number"
    if numbers is not None:
        return f"an array of shape {numbers[1]}"
    return _kind(x)


def _describe_sequence(x):
    what = type(x).__name__
    if not x:
        return f"an empty {what}"
    kinds = [_kind(item) for item in x]
    shapes = [np.shape(item) for item in x] if all(k == "an array" for k in kinds) else None
    if shapes and len(set(shapes)) > 1:
        return f"a {what} of {len(x)} arrays of different shapes ({_and(map(str, shapes))})"
    if len(set(kinds)) == 1 and kinds[0].startswith("a"):
        noun = kinds[0].split(" ", 1)[1]
        shape = f" of shape {shapes[0]}" if shapes else ""
        return f"a {what} of {len(x)} {noun}s{shape}"
    return f"a {what} of {len(x)} ({_and(kinds[:4])}{', ...' if len(x) > 4 else ''})"


def _and(phrases):
    phrases = list(phrases)
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _numbers(x):
    """(flat float array, shape) when x is made of numbers, else None.

    Numbers, arrays and (nested) lists/tuples of them count. A ragged list
    gets a *list* of its items' shapes as its shape, so it equals only another
    ragged list of the same shapes. Strings do not count (NumPy would happily
    read "0.5" as 0.5).
    """
    if x is None or x is Ellipsis or isinstance(x, (str, bytes, dict, set)) or callable(x):
        return None
    if isinstance(x, (list, tuple)):
        return _sequence_numbers(x)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # complex -> float would drop the imaginary part
            array = np.asarray(x)
            if array.dtype == object and array.ndim:
                return _sequence_numbers(list(array))
            if array.dtype.kind not in "biuf":
                return None
            array = array.astype(float)
    except Exception:  # e.g. a torch tensor that requires grad
        return None
    return array.ravel(), array.shape


def _sequence_numbers(items):
    parts = [_numbers(item) for item in items]
    if any(part is None for part in parts):
        return None
    flat = np.concatenate([values for values, _ in parts]) if parts else np.zeros(0)
    shapes = [shape for _, shape in parts]
    if all(isinstance(s, tuple) and s == shapes[0] for s in shapes):
        return flat, (len(parts),) + (shapes[0] if parts else ())
    return flat, shapes


def _as_array(numbers):
    values, shape = numbers
    return values.reshape(shape) if isinstance(shape, tuple) else values


def _equal(a, b):
    try:
        return bool(a == b)
    except Exception:
        return False


def _wrong_kind(got, answer, want, expected):
    """A phrase 'X, expected Y' when the answer is not comparable with the expected one."""
    if got is None or want is None or got[1] != want[1]:
        what = _describe(answer)
        if got is not None and got[1] not in ((), []) and "shape" not in what:
            what += f" (shape {got[1]})"
        return f"{what}, expected {_describe(expected, values=False)}"
    bad = ~np.isfinite(got[0]) & np.isfinite(want[0])
    if bad.any():
        what = "nan" if np.isnan(got[0][bad]).any() else "inf"
        if got[1] == ():
            return (f"{_describe(answer)}, expected {_describe(expected, values=False)}: "
                    "look for a division by zero or a value that blew up")
        what = f"{_kind(answer)} with {what} in {bad.sum()} of {bad.size} entries"
        return (f"{what}, expected finite numbers: look for a division by zero "
                "or a value that blew up")
    return None


# -- comparing numbers ------------------------------------------------------------------

def _close(got, want, rtol, atol):
    """Both are `_numbers` results."""
    return (got is not None and want is not None and got[1] == want[1]
            and np.allclose(got[0], want[0], rtol=rtol, atol=atol, equal_nan=True))


def _off_by(got, want, scale=None, of="the expected size"):
    """'off by 3.2e-09 (1.6e-07 of the expected size)': tiny errors never print as 0.0%."""
    gap = float(np.max(np.abs(got - want), initial=0.0))
    if scale is None:
        scale = float(np.max(np.abs(want), initial=0.0))
    if not scale:
        return f"off by {gap:.3g}"
    relative = gap / scale
    percent = 100 * relative
    size = f"{relative:.1e}" if relative < 1e-3 else f"{percent:.3g}%" if percent < 1000 \
        else f"{percent:.0f}%"
    return f"off by {gap:.3g} ({size} of {of})"


def _fmt(numbers):
    """A `_numbers` result, printed."""
    array = _as_array(numbers)
    if isinstance(numbers[1], list):     # ragged: show the flat values
        return np.array2string(array, precision=6, threshold=12, edgeitems=3)
    return np.array2string(array, precision=6, threshold=12, edgeitems=3, suppress_small=False)


def _fmt_pair(got, want):
    """The two printed so that they look different when they are."""
    a, b = _fmt(got), _fmt(want)
    if a == b:    # the difference is below 6 digits: show more of them
        a, b = (np.array2string(_as_array(n), precision=12, threshold=12, edgeitems=3)
                for n in (got, want))
    return a, b


def _short(args):
    def one(a):
        if isinstance(a, (bool, int, np.integer)):    # a count reads as a count: 32, not 32.
            return repr(a) if isinstance(a, bool) else str(int(a))
        numbers = _numbers(a)
        return _fmt(numbers) if numbers is not None else _describe(a)
    text = ", ".join(one(a) for a in args)
    return text if len(text) < 80 else text[:77] + "..."


# -- running the student's code -------------------------------------------------------

def _call(fn, args, name, where="", advice=None):
    """Run the student's code; turn a crash into feedback instead of a traceback.

    `advice` maps an exception type to an extra sentence for that crash.
    """
    try:
        result = fn(*args)
    except NotImplementedError:
        return None, _not_done(name)
    except Exception as err:  # the student's bug, reported, not raised
        extra = next((text for kind, text in (advice or {}).items() if isinstance(err, kind)), "")
        return None, Feedback(False, f"{_who(name)} raised {type(err).__name__}{where}: "
                                     f"{str(err).rstrip('.')}{extra}.")
    if result is Ellipsis:
        return None, _not_done(name)
    if result is None:
        return None, _returned_none(name, where)
    return result, None


def _copied(args):
    """The student may change its inputs in place: give each call its own copy."""
    try:
        return copy.deepcopy(args)
    except Exception:
        return args


def _safely(check, answer, **kwargs):
    """Last resort: an exception inside the checker becomes feedback, not a traceback."""
    try:
        with np.errstate(all="ignore"):
            return check(answer, **kwargs)
    except Exception as err:
        return Feedback(False, f"The checker could not compare your answer ({_describe(answer)}) "
                               f"because of {type(err).__name__}: {err}. Check that it is the kind "
                               "of value the exercise asks for; if it is, tell your instructor.")


# -- check_value -----------------------------------------------------------------------

def check_value(answer, expected, *, name="your answer", rtol=1e-6, atol=0.0, mistakes=(),
                hint=None):
    """A number (or array) the student computed, against the expected one.

    `mistakes`: pairs (wrong value, hint), e.g. (1 / L, "the limit is 2/L, not 1/L").
    """
    return _safely(_check_value, answer, expected=expected, name=name, rtol=rtol, atol=atol,
                   mistakes=mistakes, hint=hint)


def _check_value(answer, expected, name, rtol, atol, mistakes, hint):
    if answer is Ellipsis or answer is None:
        return Feedback(False, f"{name} is not filled in yet.")
    if callable(answer):
        return Feedback(False, f"{name} is a function, expected {_describe(expected, False)}: "
                               "call it and use its result.")
    got, want = _numbers(answer), _numbers(expected)
    if want is None:     # the expected answer is not made of numbers (a name, say)
        return Feedback(True, f"{name} is right.") if _equal(answer, expected) else \
            Feedback(False, f"{name} is {_describe(answer)}, "
                            f"expected {_describe(expected, values=False)}.")
    problem = _wrong_kind(got, answer, want, expected)
    if problem:
        return Feedback(False, f"{name} is {problem}.")
    if _close(got, want, rtol, atol):
        return Feedback(True, f"{name} = {_fmt(got)} is right.")
    # The value itself is the answer: say how far off and which way, never what it is.
    shown = _fmt_pair(got, want)[0]     # enough digits to see that it differs
    message = f"{name} = {shown} is not right: {_how_far(got[0], want[0])}."
    for wrong_value, why in mistakes:
        if _close(got, _numbers(wrong_value), rtol, atol):
            return Feedback(False, message + f" This looks like a known slip: {why}")
    if np.allclose(got[0], -want[0], rtol=rtol, atol=atol) and np.any(want[0]):
        return Feedback(False, message + " The sign is flipped.")
    return Feedback(False, message + (f" Hint: {hint}" if hint else ""))


_BANDS = [(1e-2, "0.1% to 1%"), (0.1, "1% to 10%"),
          (0.5, "10% to 50%"), (1.0, "50% to 100%")]


def _how_far(got, want):
    """'too large by 10% to 50%' for the first entry that is off: a direction and a
    band, so that the feedback never gives the expected value away."""
    got, want = np.ravel(got), np.ravel(want)
    wrong = np.flatnonzero(~np.isclose(got, want, rtol=1e-6, atol=0.0))
    k = int(wrong[0]) if wrong.size else 0
    where = f"entry {k} (of {got.size}, {wrong.size} off) is " if got.size > 1 else "it is "
    if not np.isfinite(got[k]):
        return where + "not a finite number"
    if want[k] == 0:
        return where + "not 0"
    if got[k] == 0:
        return where + "0, and it should not be"
    if np.sign(got[k]) != np.sign(want[k]):
        return where + "of the wrong sign"
    relative = abs(got[k] - want[k]) / abs(want[k])
    if relative < 1e-3:   # nearly right: round-off, a tolerance, an ε in the wrong place
        return where + ("too large" if abs(got[k]) > abs(want[k]) else "too small") + \
            f" by a relative {relative:.1e}"
    band = next((words for limit, words in _BANDS if relative < limit),
                f"a factor of about {abs(got[k] / want[k]):.2g}" if abs(got[k]) > abs(want[k])
                else "more than 50%")
    return where + ("too large" if abs(got[k]) > abs(want[k]) else "too small") + " by " + band


# -- check_function ------------------------------------------------------------------------

def check_function(student, reference, cases, *, name=None, rtol=1e-7, atol=1e-12,
                   mistakes=(), hint=None):
    """Call `student(*args)` and `reference(*args)` for each args tuple in `cases`.

    `mistakes`: pairs (wrong_function, hint); a hint is given only when the
    student's output equals the wrong function's on every case where both
    can be computed, not just on the failing one.
    """
    return _safely(_check_function, student, reference=reference, cases=cases, name=name,
                   rtol=rtol, atol=atol, mistakes=mistakes, hint=hint)


def _check_function(student, reference, cases, name, rtol, atol, mistakes, hint):
    name = name or _name_of(student, "your function")
    if not callable(student):
        return _not_a_function(student, name)
    cases = [args if isinstance(args, tuple) else (args,) for args in cases]
    answered, problem = _run_cases(student, reference, cases, name)
    for k, (args, answer, expected) in enumerate(answered, start=1):
        got, want = _numbers(answer), _numbers(expected)
        where = f"case {k} of {len(cases)} (input {_short(args)})"
        if want is None and _equal(answer, expected):    # not numbers: must be equal
            continue
        wrong_kind = _wrong_kind(got, answer, want, expected)
        if wrong_kind:
            return Feedback(False, f"{_who(name)} returned {wrong_kind}, for {where}.")
        if not _close(got, want, rtol, atol):
            return _explain_case(f"{name}: {where}", k - 1, answered, mistakes, hint, rtol, atol)
    if problem is not None:
        return problem
    return Feedback(True, f"{name} matches the reference on all {len(cases)} cases.")


def _run_cases(student, reference, cases, name):
    """[(args, student's answer, expected)] up to the first crash, and that crash's feedback."""
    answered = []
    for k, args in enumerate(cases, start=1):
        where = f" on case {k} of {len(cases)} (input {_short(args)})"
        answer, problem = _call(student, _copied(args), name, where)
        if problem is not None:
            return answered, problem
        answered.append((args, answer, reference(*_copied(args))))
    return answered, None


def _explain_case(where, k, answered, mistakes, hint, rtol, atol):
    args, answer, expected = answered[k]
    got, want = _numbers(answer), _numbers(expected)
    shown, wanted = _fmt_pair(got, want)
    message = f"{where}: got {shown}, expected {wanted}; {_off_by(got[0], want[0])}."
    for wrong, why in mistakes:
        if _slip_fits_every_case(wrong, k, answered, rtol, atol):
            return Feedback(False, message + f" This looks like a known slip: {why}")
    symptom = _factor_over_cases(answered)
    if symptom:
        return Feedback(False, message + " " + symptom)
    return Feedback(False, message + (f" Hint: {hint}" if hint else ""))


def _slip_fits_every_case(wrong, failing, answered, rtol, atol):
    """The wrong function gives the student's answer on every case where it runs,
    the failing case included: one coincidence is not enough to name a slip."""
    compared = set()
    for k, (args, answer, _) in enumerate(answered):
        got = _numbers(answer)
        if got is None:
            continue
        try:
            slip = _numbers(wrong(*_copied(args)))
        except Exception:  # a slip that cannot run on this case says nothing about it
            continue
        if slip is None:
            continue
        if not _close(got, slip, rtol, atol):
            return False
        compared.add(k)
    return failing in compared


def _factor_over_cases(answered):
    """'The sign is flipped.' or 'Your results are c× ...': one constant explains every case."""
    pairs = [(_numbers(a), _numbers(e)) for _, a, e in answered]
    pairs = [(g, w) for g, w in pairs if g is not None and w is not None and g[1] == w[1]]
    if not pairs:
        return None
    got = np.concatenate([g[0] for g, _ in pairs])
    want = np.concatenate([w[0] for _, w in pairs])
    factor = _common_factor(got, want)
    if factor is None:
        return None
    if abs(factor + 1) < 1e-6:
        return "The sign is flipped."
    if np.count_nonzero(want) < 2:   # one number is always some multiple of another
        return None
    return (f"Your results are {factor:.4g}× the expected ones on every case: a constant "
            "factor is missing or extra.")


def _common_factor(got, want, rtol=1e-6):
    """c with got ≈ c·want everywhere (c ≠ 1), or None."""
    if not (np.all(np.isfinite(got)) and np.all(np.isfinite(want))):
        return None
    tiny = 1e-12 + 1e-9 * float(np.max(np.abs(want), initial=0.0))
    mask = np.abs(want) > tiny
    if not mask.any():
        return None
    factor = float(np.median(got[mask] / want[mask]))
    if abs(factor - 1) < 1e-3 or not np.allclose(got, factor * want, rtol=rtol, atol=tiny):
        return None
    return factor


# -- check_optimizer_step ------------------------------------------------------------------

def check_optimizer_step(student_step, optimizer, *, steps=8, dim=3, seed=0, x0=None,
                         rtol=1e-7, atol=1e-12, mistakes=(), hint=None):
    """A student's update rule against one of our optimizers, step by step.

    `student_step(w, g, state, t) -> new w`: `w` and `g` are NumPy arrays,
    `state` a dict that persists between calls (empty at first) for the student's
    buffers, `t` the step number starting at 1. Gradients come from a fixed,
    seeded quadratic-plus-noise problem, so each step depends on the last.

    `mistakes`: pairs (wrong optimizer, hint), e.g. Adam without bias
    correction; a wrong optimizer may also be a function written like the
    student's. A slip is named only when the student's whole path matches it.
    """
    return _safely(_check_optimizer_step, student_step, optimizer=optimizer, steps=steps,
                   dim=dim, seed=seed, x0=x0, rtol=rtol, atol=atol, mistakes=mistakes, hint=hint)


class _Problem:
    """A seeded quadratic-plus-noise problem: gradient g_t(w) = c·w + noise_t."""

    def __init__(self, steps, dim, seed, x0):
        rng = np.random.default_rng(seed)
        self.steps = steps
        self.w0 = np.asarray(x0, dtype=float) if x0 is not None else rng.normal(size=dim)
        self.curvature = rng.uniform(0.5, 2.0, size=self.w0.shape)
        self.noise = rng.normal(scale=0.3, size=(steps,) + self.w0.shape)

    def grad(self, w, t):
        return self.curvature * w + self.noise[t]

    def path(self, optimizer):
        """The optimizer's own path: w_1, ..., w_steps."""
        w, state, path = self.w0.copy(), optimizer.init(self.w0), []
        for t in range(self.steps):
            w, state = optimizer.update(w, self.grad(w, t), state)
            w = np.asarray(w, dtype=float)
            path.append(w)
        return path


_STATE_ADVICE = {KeyError: " (`state` is empty at the first call: read a buffer with "
                           "`state.get(\"m\", 0.0)`, or create it when t == 1)"}


def _check_optimizer_step(student_step, optimizer, steps, dim, seed, x0, rtol, atol,
                          mistakes, hint):
    name = _name_of(student_step, "your step")
    if not callable(student_step):
        return _not_a_function(student_step, name)
    problem = _Problem(steps, dim, seed, x0)
    expected = problem.path(optimizer)
    ws, gs, trouble = _run_student(student_step, problem, name)
    for t in range(len(ws) - 1):
        if not np.allclose(ws[t + 1], expected[t], rtol=rtol, atol=atol):
            return _explain_step(name, t, ws, gs, expected[t], optimizer, mistakes, hint, steps)
    if trouble is not None:
        return trouble
    return Feedback(True, f"{name} matches {type(optimizer).__name__} on all {steps} steps.")


def _run_student(student_step, problem, name):
    """The student's own path from w0 with a fresh state, for as long as it gives arrays:
    its points w_0..w_n, the gradients it saw, and the feedback for what stopped it."""
    w, state, ws, gs = problem.w0.copy(), {}, [problem.w0.copy()], []
    for t in range(problem.steps):
        g = problem.grad(w, t)
        where = f" at step {t + 1} of {problem.steps}"
        given = w.copy()
        answer, trouble = _call(student_step, (given, g.copy(), state, t + 1), name, where,
                                _STATE_ADVICE)
        if answer is None and trouble is not None and not np.array_equal(given, w):
            trouble = Feedback(False, f"{_who(name)} changed w in place but returned None{where}: "
                                      "end with `return w` (the new w).")
        if trouble is None:     # (not `or`: a failed Feedback is falsy)
            trouble = _bad_step(answer, w, name, where if t else "")
        if trouble is not None:
            return ws, gs, trouble
        w = _as_array(_numbers(answer))
        ws.append(w)
        gs.append(g)
    return ws, gs, None


def _bad_step(answer, w, name, where):
    got = _numbers(answer)
    if got is None or got[1] != w.shape:
        looks_like_update = isinstance(answer, (tuple, list)) and len(answer) >= 2 and (
            any(isinstance(item, dict) for item in answer) or np.shape(answer[0]) == w.shape)
        advice = "return only the new w" if looks_like_update else "return the new w"
        return Feedback(False, f"{_who(name)} returned {_describe(answer)}{where}: {advice}, "
                               f"{_describe(w, values=False)}.")
    if not np.all(np.isfinite(got[0])):
        what = "NaN" if np.isnan(got[0]).any() else "inf"
        return Feedback(False, f"{_who(name)} returned {what}{where or ' at step 1'}: a "
                               "division by zero (is ε in the denominator? is the buffer read "
                               "before it is set?) or a step that blew up.")
    return None


def _explain_step(name, t, ws, gs, want, optimizer, mistakes, hint, steps):
    start, got = ws[t], ws[t + 1]
    matched = {0: " (the very first step)", 1: " (step 1 matched)"}.get(
        t, f" (steps 1–{t} matched)")
    shown, wanted = _fmt_pair(_numbers(got), _numbers(want))
    step_size = float(np.max(np.abs(want - start), initial=0.0))
    message = (f"{name}: step {t + 1} of {steps}{matched}: got {shown}, expected {wanted}; "
               f"{_off_by(got, want, step_size, 'the expected size of the step')}.")
    diagnosis = _diagnose(np.array(ws), np.array(gs), optimizer, mistakes, steps)
    if diagnosis:
        return Feedback(False, f"{message} {diagnosis}")
    return Feedback(False, message + (f" Hint: {hint}" if hint else ""))


# -- why a step is wrong: slips and symptoms ---------------------------------------------
#
# Every comparison below is made along the student's own path: a rule is fed the
# gradients the student saw, from the points the student reached, and its steps
# are compared with the student's. When the student wrote exactly that rule, the
# two paths are one; a coincidence on a single step is not enough.

def _diagnose(ws, gs, optimizer, mistakes, steps):
    """A sentence naming a known slip or a symptom, or None."""
    n = len(gs)
    if n == 0:
        return None
    context = _Context(ws, gs, optimizer)
    if n < min(3, steps):    # too short a path to tell slips and factors apart
        return _try(_sign_symptom, context)
    for wrong, why in mistakes:
        if _try(lambda c: c.follows(wrong), context):
            return f"This looks like a known slip: {why}"
    for symptom in _SYMPTOMS:
        sentence = _try(symptom, context)
        if sentence:
            return sentence
    return None


def _try(check, context):
    """A symptom check that fails (an unusual optimizer) just finds nothing."""
    try:
        return check(context)
    except Exception:
        return None


class _Context(SimpleNamespace):
    """The student's steps `d` and the reference's steps `e` along the student's path."""

    def __init__(self, ws, gs, optimizer):
        steps, states = _steps_along(optimizer, ws, gs)
        super().__init__(ws=ws, gs=gs, opt=optimizer, d=np.diff(ws, axis=0), e=steps,
                         states=states, hp=dict(getattr(optimizer, "hparams", {})))
        self.tiny = 1e-12 + 1e-9 * float(np.max(np.abs(self.e)))

    def matches(self, steps, rtol=1e-6):
        return bool(np.allclose(self.d, steps, rtol=rtol, atol=self.tiny))

    def follows(self, rule, **kwargs):
        return self.matches(_steps_along(rule, self.ws, self.gs, **kwargs)[0])


def _steps_along(rule, ws, gs, forget_state=False):
    """The steps `rule` takes from each of the student's points, fed the student's
    gradients; and its state after each step. `rule` is an optimizer or a function
    written like the student's. `forget_state`: start from fresh buffers every step."""
    steps, states = [], []
    if hasattr(rule, "init") and hasattr(rule, "update"):
        state = rule.init(ws[0])
        for k, g in enumerate(gs):
            if forget_state:
                state = {**rule.init(ws[k]), "step": k}
            new_w, state = rule.update(ws[k], g, state)
            steps.append(np.asarray(new_w, dtype=float) - ws[k])
            states.append(state)
    else:
        state = {}
        for k, g in enumerate(gs):
            new_w = _as_array(_numbers(rule(ws[k].copy(), g.copy(), state, k + 1)))
            steps.append(new_w.reshape(ws[k].shape) - ws[k])
            states.append(dict(state))
    return np.array(steps), states


def _sign_symptom(c):
    if c.matches(-c.e):
        return "The step has the wrong sign: you stepped uphill. Subtract the step from w."


def _forgotten_state_symptom(c):
    fresh = _steps_along(c.opt, c.ws, c.gs, forget_state=True)[0]
    if not np.allclose(fresh, c.e) and c.matches(fresh):
        return ("Your steps are the optimizer's with its buffers back at zero on every call: "
                "store them in `state` (e.g. `state[\"m\"] = ...`) so that the next call "
                "sees them.")


_EPS_FORMS = {   # flag: (the form when the flag is True, when it is False)
    "eps_inside_sqrt": ("ε inside the square root, √(v + ε) (Keras's convention)",
                        "ε outside the square root, √v + ε (torch's convention)"),
    "eps_hat": ("ε on the raw √v, before the bias correction (Keras's ε̂)",
                "ε on √v̂, after the bias correction (torch's convention)"),
}


def _eps_convention_symptom(c):
    for flag, forms in _EPS_FORMS.items():
        if flag in c.hp and c.follows(c.opt.with_hparams(**{flag: not c.hp[flag]})):
            yours, ours = (forms[0], forms[1]) if not c.hp[flag] else (forms[1], forms[0])
            return f"Where ε goes: you put {yours}; this optimizer puts {ours}."


def _constant_factor_symptom(c):
    factor = _common_factor(c.d.ravel(), c.e.ravel(), rtol=1e-5)
    if factor is None or np.count_nonzero(np.abs(c.e) > c.tiny) < 2:
        return None
    why = next((text for value, text in _known_factors(c.hp)
                if abs(factor - value) <= 1e-4 * abs(value)), "")
    return (f"Your step is {factor:.4g}× the expected one at every step{why}: check the "
            "learning rate or a constant factor.")


def _known_factors(hp):
    """(factor, explanation): constants a student typically puts in twice or leaves out."""
    found = []
    if hp.get("momentum"):
        mu = hp["momentum"]
        found.append((1 - mu, " (= 1 − μ: did you damp the gradient by (1 − μ) in the buffer? "
                              "torch adds each gradient whole)"))
    if "betas" in hp:
        b1, b2 = hp["betas"]
        found += [(1 / (1 - b1), " (= 1/(1 − β₁): does m lack its (1 − β₁) on g?)"),
                  (np.sqrt(1 - b2), " (= √(1 − β₂): does v lack its (1 − β₂) on g²?)")]
    if "alpha" in hp:
        alpha = hp["alpha"]
        found.append((np.sqrt(1 - alpha), " (= √(1 − α): does v lack its (1 − α) on g²?)"))
    if hp.get("lr"):
        found += [(1 / hp["lr"], " (= 1/η: is the learning rate left out?)"),
                  (hp["lr"], " (= η: is the learning rate applied twice?)")]
    return found


def _bias_correction_symptom(c):
    if "betas" not in c.hp or not {"m", "v"} <= set(c.states[0]):
        return None
    b1, b2 = c.hp["betas"]
    t = np.arange(1, len(c.d) + 1).reshape((-1,) + (1,) * (c.d.ndim - 1))
    m_fix, v_fix = 1 - b1 ** t, np.sqrt(1 - b2 ** t)
    m_cases = [(1.0, None), (m_fix, "m is not divided by 1 − β₁ᵗ"),
               (1 / m_fix, "m is divided by 1 − β₁ᵗ twice")]
    v_cases = [(1.0, None), (1 / v_fix, "v is not divided by 1 − β₂ᵗ"),
               (v_fix, "v is divided by 1 − β₂ᵗ twice")]
    for m_factor, m_why in m_cases:
        for v_factor, v_why in v_cases:
            factor = m_factor * v_factor * np.ones_like(t, dtype=float)
            if (m_why or v_why) and c.matches(factor * c.e, rtol=1e-3):
                return (f"Bias correction: {_and([w for w in (m_why, v_why) if w])} (your step "
                        f"is {factor.flat[0]:.3g}× the expected one at step 1 and "
                        f"{factor.flat[-1]:.3g}× at step {len(t)}: a factor that changes with t).")


# What a student may divide by, as a function of the average of g² (D) and ε.
_DENOMINATORS = {
    "sqrt_outside": (lambda D, eps: np.sqrt(D) + eps, "√v + ε (ε outside the square root)"),
    "sqrt_inside": (lambda D, eps: np.sqrt(D + eps), "√(v + ε) (ε inside the square root)"),
    "no_eps": (lambda D, eps: np.sqrt(D), "√v (no ε)"),
    "no_sqrt": (lambda D, eps: D + eps, "v + ε (no square root)"),
    "no_sqrt_no_eps": (lambda D, eps: D, "v (no square root)"),
}


def _denominator_symptom(c):
    """Re-derive the step with another denominator from the reference's own average
    of g²: a missing √, ε inside instead of outside the root, or no ε."""
    expected = "sqrt_inside" if c.hp.get("eps_inside_sqrt") else "sqrt_outside"
    ours, our_text = _DENOMINATORS[expected]
    for D, eps in _second_moments(c):
        for form, (theirs, their_text) in _DENOMINATORS.items():
            if form == expected or not c.matches(c.e * ours(D, eps) / theirs(D, eps)):
                continue
            if form.startswith("no_sqrt"):
                return (f"Missing square root: you divide by {their_text}, this optimizer by "
                        f"{our_text}, so your steps scale like g/v instead of g/√v.")
            if form == "no_eps":
                return f"ε is missing: you divide by {their_text}, this optimizer by {our_text}."
            return f"Where ε goes: you divide by {their_text}; this optimizer by {our_text}."


def _second_moments(c):
    """(average of g², ε) per step, as the optimizer's denominator uses them."""
    key = next((k for k in ("v", "square_avg", "sum") if k in c.states[0]), None)
    if key is None:
        return []
    D, eps = np.array([state[key] for state in c.states], dtype=float), float(c.hp.get("eps", 0))
    if "betas" in c.hp:     # Adam divides by the bias-corrected v̂
        t = np.arange(1, len(D) + 1).reshape((-1,) + (1,) * (D.ndim - 1))
        correction = 1 - c.hp["betas"][1] ** t
        D, eps = D / correction, eps / np.sqrt(correction) if c.hp.get("eps_hat") else eps
    return [(D, eps)]


def _eps_sized_symptom(c):
    """An error as small as ε's own effect: ε in another place (or left out)."""
    if not c.hp.get("eps"):
        return None
    gap = float(np.max(np.abs(c.d - c.e)))
    relative = gap / float(np.max(np.abs(c.e)))
    without_eps = _steps_along(c.opt.with_hparams(eps=0.0), c.ws, c.gs)[0]
    eps_effect = float(np.max(np.abs(without_eps - c.e)))
    if relative < 1e-2 and gap <= 100 * eps_effect:
        return (f"Your steps differ from the expected ones by only {relative:.1e} of their size, "
                f"about as much as ε changes them: check where ε goes ({_eps_form(c.hp)}).")


def _eps_form(hp):
    for flag, forms in _EPS_FORMS.items():
        if flag in hp:
            return "here: " + forms[0 if hp[flag] else 1]
    return "as in the update rule"


# In order: exact matches first, then factors, then the loosest symptom.
_SYMPTOMS = (_sign_symptom, _forgotten_state_symptom, _eps_convention_symptom,
             _denominator_symptom, _constant_factor_symptom, _bias_correction_symptom,
             _eps_sized_symptom)
