"""make test's order and work units under pytest-xdist, and how nbval's run of a
lesson becomes the executed copy its slides and pages are built from (conftest.py)."""
from types import SimpleNamespace

import nbformat
import pytest

import conftest
from conftest import _ordered, _work_unit, pytest_xdist_make_scheduler
from lessons_lib import publish


def test_a_file_is_one_unit_and_a_lessons_browser_tests_join_its_cells():
    assert _work_unit("notebooks/03_sgd.ipynb::Cell 4") == "notebooks/03_sgd.ipynb"
    assert _work_unit("build/student/03_sgd.ipynb::Cell 9") == "build/student/03_sgd.ipynb"
    assert _work_unit("tests/test_optim.py::test_step[adam-torch]") == "tests/test_optim.py"
    deck = _work_unit("tests/test_browser.py::test_a_deck_works_offline[06_adam]")
    stderr = _work_unit("tests/test_browser.py::test_no_lesson_writes_to_stderr[06_adam]")
    assert deck == stderr == "notebooks/06_adam.ipynb"
    assert _work_unit("tests/test_browser.py::test_a_deck_works_offline[07_lr]") != deck
    assert _work_unit("tests/test_browser.py::test_the_student_pages") == "tests/test_browser.py"


def test_a_lessons_browser_tests_run_after_its_cells_and_the_pages_last():
    nodeids = ["tests/test_browser.py::test_deck[00_a]", "tests/test_browser.py::test_deck[01_b]",
               "tests/test_browser.py::test_pages", "tests/test_optim.py::test_step",
               "notebooks/00_a.ipynb::Cell 0", "notebooks/00_a.ipynb::Cell 1",
               "notebooks/01_b.ipynb::Cell 0", "build/student/00_a.ipynb::Cell 0"]
    ran = [nodeids[i] for i in _ordered(nodeids)]
    assert ran == ["tests/test_optim.py::test_step",
                   "notebooks/00_a.ipynb::Cell 0", "notebooks/00_a.ipynb::Cell 1",
                   "tests/test_browser.py::test_deck[00_a]",
                   "notebooks/01_b.ipynb::Cell 0", "tests/test_browser.py::test_deck[01_b]",
                   "build/student/00_a.ipynb::Cell 0", "tests/test_browser.py::test_pages"]
    # without the notebooks (pytest tests/), the deck tests stay where they were
    alone = nodeids[:4]
    assert [alone[i] for i in _ordered(alone)] == [alone[0], alone[1], alone[3], alone[2]]


def test_the_scheduler_replaces_loadfile_only():
    class Config:
        def __init__(self, dist):
            self.dist = dist

        def getvalue(self, name):
            return self.dist

    assert pytest_xdist_make_scheduler(Config("load"), log=None) is None
    scheduler = pytest_xdist_make_scheduler(Config("loadfile"), log=None)
    assert scheduler._split_scope("tests/test_browser.py::test_x[00_setup]") \
        == "notebooks/00_setup.ipynb"


@pytest.fixture
def lesson(tmp_path, monkeypatch):
    """A fake nbval notebook of 3 code cells (and a markdown cell) and its items."""
    monkeypatch.setattr(publish, "ROOT", tmp_path)
    monkeypatch.setattr(conftest, "_LESSON_OUTPUTS", {})
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 05 · a lesson"),
        *[nbformat.v4.new_code_cell(f"print({i})") for i in range(3)]])
    notebook = SimpleNamespace(nodeid="notebooks/05_tiny.ipynb", nb=nb,
                               path=tmp_path / "notebooks" / "05_tiny.ipynb")
    items = [SimpleNamespace(parent=notebook, cell_num=i, test_outputs=None) for i in range(3)]
    return items, tmp_path / "build" / "executed" / "05_tiny.ipynb"


def _run(item, outcome="passed", outputs=None):
    for when in ("setup", "call", "teardown"):
        if when == "call":
            item.test_outputs = outputs if outputs is not None else [nbformat.v4.new_output(
                "stream", name="stdout", text=f"{item.cell_num}\n")]
        report = SimpleNamespace(when=when, passed=outcome == "passed",
                                 failed=outcome == "failed" and when == "call",
                                 skipped=outcome == "skipped")
        conftest._keep_lesson_outputs(item, report)


def test_a_lesson_whose_cells_all_pass_is_saved_with_each_cells_outputs(lesson):
    items, executed = lesson
    figure = nbformat.v4.new_output("display_data", data={"image/png": "iVBOR", "text/plain": "F"})
    result = nbformat.v4.new_output("execute_result", data={"text/plain": "4"}, execution_count=7)
    _run(items[0])
    _run(items[1], outputs=[figure, result])
    assert not executed.exists(), "written before the last cell ran"
    _run(items[2])
    saved = nbformat.read(executed, as_version=4)
    nbformat.validate(saved)
    code = [c for c in saved.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == [1, 2, 3]
    assert code[0].outputs[0].text == "0\n" and code[2].outputs[0].text == "2\n"
    assert [o.output_type for o in code[1].outputs] == ["display_data", "execute_result"]
    assert code[1].outputs[0].data["image/png"] == "iVBOR"
    assert code[1].outputs[1].execution_count == 2
    assert saved.cells[0].source == "# 05 · a lesson"
    assert not items[0].parent.nb.cells[1].outputs, "nbval's own notebook is left as read"


@pytest.mark.parametrize("outcome", ["failed", "skipped"])
def test_a_lesson_with_a_failed_or_skipped_cell_leaves_no_copy(lesson, outcome):
    items, executed = lesson
    _run(items[0])
    _run(items[1], outcome)
    _run(items[2])
    assert not executed.exists()


def test_the_kept_copy_is_fresh_so_publish_reuses_it(lesson):
    items, executed = lesson
    source = items[0].parent.path
    source.parent.mkdir(parents=True)
    nbformat.write(items[0].parent.nb, source)
    for item in items:
        _run(item)
    assert not publish._stale(executed, source)
