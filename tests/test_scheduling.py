"""make test's work units under pytest-xdist (conftest._work_unit)."""
from conftest import _work_unit, pytest_xdist_make_scheduler


def test_a_file_is_one_unit_and_the_browser_tests_one_per_lesson():
    assert _work_unit("notebooks/03_sgd.ipynb::Cell 4") == "notebooks/03_sgd.ipynb"
    assert _work_unit("build/student/03_sgd.ipynb::Cell 9") == "build/student/03_sgd.ipynb"
    assert _work_unit("tests/test_optim.py::test_step[adam-torch]") == "tests/test_optim.py"
    deck = _work_unit("tests/test_browser.py::test_a_deck_works_offline[06_adam]")
    stderr = _work_unit("tests/test_browser.py::test_no_lesson_writes_to_stderr[06_adam]")
    assert deck == stderr == "tests/test_browser.py::06_adam"
    assert _work_unit("tests/test_browser.py::test_a_deck_works_offline[07_lr]") != deck
    assert _work_unit("tests/test_browser.py::test_the_student_pages") == "tests/test_browser.py"


def test_the_scheduler_replaces_loadfile_only():
    class Config:
        def __init__(self, dist):
            self.dist = dist

        def getvalue(self, name):
            return self.dist

    assert pytest_xdist_make_scheduler(Config("load"), log=None) is None
    scheduler = pytest_xdist_make_scheduler(Config("loadfile"), log=None)
    assert scheduler._split_scope("tests/test_browser.py::test_x[00_setup]") \
        == "tests/test_browser.py::00_setup"
