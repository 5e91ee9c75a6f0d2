"""Every lesson follows the notebook conventions of DESIGN.md (static checks;
`make test` also executes each notebook under nbval)."""
import json
import re
from pathlib import Path

import pytest

from lessons_lib import course

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
SLIDE_TYPES = {"slide", "subslide", "fragment", "skip", "notes", "-"}


def cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def text(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def test_lessons_are_numbered_without_gaps():
    numbers = [int(p.name[:2]) for p in NOTEBOOKS]
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", p.name) for p in NOTEBOOKS)
    assert numbers == list(range(len(numbers)))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_opening_title_badge_setup_and_objectives(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    first = cells(path)[0]
    assert first["cell_type"] == "markdown" and text(first).startswith("# ")
    assert course.colab_badge(path.name) in text(first), "run: python -m lessons_lib.course sync"
    head = "\n".join(text(c) for c in cells(path)[:6])
    assert '"google.colab" in sys.modules' in head
    assert course.colab_setup_source() in head, "run: python -m lessons_lib.course sync"
    assert "objective" in head.lower()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_cells_are_slides_stripped_and_short(path):
    for i, cell in enumerate(cells(path)):
        slide = cell.get("metadata", {}).get("slideshow", {}).get("slide_type")
        assert slide in SLIDE_TYPES, f"cell {i}: slide_type {slide!r}"
        assert "NBVAL_" not in text(cell), f"cell {i}: use nbval tags, not comments"
        if cell["cell_type"] == "code":
            assert not cell.get("outputs") and cell.get("execution_count") is None, \
                f"cell {i}: outputs not stripped"
            lines = [line for line in text(cell).splitlines() if line.strip()]
            assert len(lines) <= 25, f"cell {i}: {len(lines)} lines, too long for a slide"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_claims_are_asserted_and_exercises_have_checked_solutions(path):
    all_cells = cells(path)
    asserts = [c for c in all_cells if "assert" in c.get("metadata", {}).get("tags", [])]
    assert asserts, "no assert cell checks what the lesson claims"
    for cell in asserts:
        assert cell["metadata"]["slideshow"]["slide_type"] == "skip", "assert cells stay off slides"
    solutions = [c for c in all_cells if course.SOLUTION_TAG in c.get("metadata", {}).get("tags", [])]
    if path.name[:2] != "00":
        assert len(solutions) >= 2, "each lesson has 2–4 exercises with reference solutions"
    for cell in solutions:
        if cell["cell_type"] == "code":
            assert re.search(r"assert .*check_", text(cell)), "a solution proves itself with a checker"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solutions_are_folded_and_come_after_the_check_a_student_sees(path):
    all_cells = cells(path)
    for i, cell in enumerate(all_cells):
        if cell["cell_type"] != "code" or course.SOLUTION_TAG not in cell["metadata"].get("tags", []):
            continue
        meta = cell["metadata"]
        assert meta.get("jupyter", {}).get("source_hidden") and meta.get("cellView") == "form" \
            and text(cell).startswith(course.SOLUTION_TITLE), f"cell {i}: run lessons_lib.course sync"
        shown = [c for c in all_cells[:i] if c["cell_type"] == "code"
                 and course.SOLUTION_TAG not in c["metadata"].get("tags", [])]
        assert shown and "check_" in text(shown[-1]), \
            f"cell {i}: the solution must follow the check cell, so the check shows the unsolved state"


def test_every_lesson_a_notebook_mentions_exists():
    """A promise of "lesson 12" in the text must not outlive the truth."""
    numbers = {p.name[:2] for p in NOTEBOOKS}
    for path in NOTEBOOKS:
        for i, cell in enumerate(cells(path)):
            for mention in re.findall(r"\b[Ll]essons? (\d\d)\b", text(cell)):
                assert mention in numbers, f"{path.name} cell {i} mentions lesson {mention}"
