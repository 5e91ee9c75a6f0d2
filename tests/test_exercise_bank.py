"""Every exercise: typical wrong answers get a clear "no" (never a crash), the
check is what the lesson calls, and the student edition does not give it away."""
import json
import re
from pathlib import Path

import numpy as np
import pytest

from lessons_lib import course, exercises
from lessons_lib.exercise_bank import all_exercises

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"
EXERCISES = all_exercises()
IDS = [f"{e.lesson}.{e.number}-{e.name}" for e in EXERCISES]


def lesson_notebook(lesson):
    [path] = NOTEBOOKS.glob(f"{lesson}_*.ipynb")
    return path


def source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def squeeze(text):
    return re.sub(r"\s+", "", text)


# Answers of the wrong kind that any student can produce, whatever the exercise.
def _returns(value):
    def student(*args):
        return value
    student.__name__ = "student_answer"
    return student


def _raises(*args):
    raise ValueError("student's own bug")


GENERIC_WRONG = {
    "function": [_returns(None), _returns("0.5"), _returns((np.zeros(3), {})),
                 _returns([np.zeros(2), np.zeros(3)]), _returns(np.nan), _raises, "not a function"],
    "step": [_returns(None), _returns("w"), _returns((np.zeros(3), {})), _returns(np.full(3, np.nan)),
             _returns([np.zeros(2), np.zeros(3)]), _raises, None],
    "value": [None, "0.5", (1.0, "a"), [np.zeros(2), np.zeros(3)], np.nan, {"a": 1}, ...],
}


def test_every_lesson_with_exercises_is_in_the_bank():
    lessons = {e.lesson for e in EXERCISES}
    assert lessons == {p.name[:2] for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")}
    for e in EXERCISES:
        assert e.kind in GENERIC_WRONG, f"{e.name}: kind {e.kind!r}"
        assert len(e.wrong_answers) >= 3, f"{e.name}: list at least 3 typical wrong answers"


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_typical_wrong_answers_are_explained(exercise):
    for wrong in exercise.wrong_answers:
        feedback = exercise.check(wrong.answer)
        assert isinstance(feedback, exercises.Feedback) and not feedback, wrong.mistake
        assert wrong.says in feedback.message, (wrong.mistake, feedback.message)


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_answers_of_the_wrong_type_never_crash_the_checker(exercise):
    for answer in GENERIC_WRONG[exercise.kind]:
        feedback = exercise.check(answer)
        assert isinstance(feedback, exercises.Feedback) and not feedback, repr(answer)
        assert len(feedback.message) > 20, feedback.message


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_the_lesson_calls_this_check_in_a_visible_cell(exercise):
    cells = json.loads(lesson_notebook(exercise.lesson).read_text(encoding="utf-8"))["cells"]
    visible = [source(c) for c in cells
               if course.SOLUTION_TAG not in c["metadata"].get("tags", [])]
    assert any(f"{exercise.check.__name__}({exercise.name}" in squeeze(s) for s in visible)


@pytest.fixture(scope="module")
def student_edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    return {p.name[:2]: p for p in course.student_edition(NOTEBOOKS, out)}


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_the_student_edition_does_not_give_the_answer_away(exercise, student_edition):
    cells = json.loads(student_edition[exercise.lesson].read_text(encoding="utf-8"))["cells"]
    text = squeeze("\n".join(source(c) for c in cells))
    assert exercise.leaks, f"{exercise.name}: name the expressions that would give it away"
    for fragment in exercise.leaks:
        assert squeeze(fragment) not in text, f"{exercise.name}: {fragment!r} is in sight"
