"""`switched_off`: a check can refuse a library function that would be the answer."""
from types import SimpleNamespace

import pytest

from lessons_lib.exercise_bank import switched_off


def test_the_function_is_refused_inside_and_restored_after():
    owner = SimpleNamespace(answer=lambda x: 2 * x)
    original = owner.answer
    with switched_off(owner, "answer", "write it yourself") as reference:
        assert reference is original and reference(3) == 6
        with pytest.raises(RuntimeError, match="write it yourself"):
            owner.answer(3)
    assert owner.answer is original


def test_restored_even_when_the_check_fails():
    owner = SimpleNamespace(answer=abs)
    with pytest.raises(ZeroDivisionError):
        with switched_off(owner, "answer", "no"):
            1 / 0
    assert owner.answer is abs
