"""Every exercise of the course: its check, its known slips, and the wrong
answers that prove the check explains them.

A lesson's check cell calls one function and shows nothing else:

    from lessons_lib.exercise_bank import lesson03 as exercise
    exercise.check_minibatch_gradient(minibatch_gradient)

The reference, the cases and the known slips live here, out of the student's
sight (a test fails when a visible cell of the student edition gives them away).
Each `lessonNN` module lists its exercises in `EXERCISES`; the tests run every
`WrongAnswer` through its check and expect a clear "no", never a crash.
"""
import importlib
import sys
import pkgutil
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class WrongAnswer:
    """A typical mistake: what a student would write, and what the feedback must say."""
    mistake: str        # the mistake in words, e.g. "summed over the batch instead of averaging"
    answer: Any         # the student's function or value
    says: str = ""      # words the feedback must contain ("" = any clear "no")


@dataclass(frozen=True)
class Exercise:
    lesson: str                          # "03"
    number: int                          # 1, 2, 3 within the lesson
    name: str                            # what the student writes, e.g. "minibatch_gradient"
    kind: str                            # "function", "step" (an optimizer step) or "value"
    check: Callable[[Any], Any]          # check(answer) -> exercises.Feedback; a named function
    wrong_answers: tuple = ()            # WrongAnswer, several per exercise
    leaks: tuple = ()                    # source fragments that must not appear in a visible cell


def all_exercises():
    """Every Exercise of every lesson module, in lesson order."""
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("lesson"):
            found += importlib.import_module(f"{__name__}.{info.name}").EXERCISES
    return found


@contextmanager
def switched_off(owner, name, why):
    """Run a check with `owner.name` (a library function the lesson shows, which
    computes the answer) switched off: a student's code that calls it raises `why`
    instead of passing. Yields the original, for the reference."""
    original = getattr(owner, name)
    # a package that re-exports it (lessons_lib.studies) and the module that defines it
    home = sys.modules.get(getattr(original, "__module__", None), owner)
    homes = [owner] if home is owner else [owner, home]

    def refused(*args, **kwargs):
        raise RuntimeError(why)

    for home in homes:
        setattr(home, name, refused)
    try:
        yield original
    finally:
        for home in homes:
            setattr(home, name, original)
