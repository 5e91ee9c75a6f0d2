"""Repository-wide pytest setup: headless plotting, make test's order and work
units under pytest-xdist, nbval's run of each lesson kept for its slides, and a
count of what ran."""
import os
import re
import sys
from collections import Counter
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# Under pytest-xdist (`make test` runs `-n 2`), each worker and the notebook
# kernels it starts get an equal share of the cores: two workers each running
# torch/TensorFlow with a thread per core would oversubscribe the CPU, and
# OpenMP threads that wait for a descheduled peer make steps many times slower.
# Set before torch or TensorFlow is imported (test modules import them later).
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _share = str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))
    for _name in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
        os.environ.setdefault(_name, _share)


# -- one run of each lesson serves nbval and the lesson's slides and pages ---------
# make test used to run every lesson three times: under nbval, as the student
# edition, and once more (nbclient) to build its deck. Now nbval's kernel for a
# lesson draws figures inline, the conftest keeps each cell's outputs, and when
# every cell has passed they are written to build/executed/, which publish
# reuses (it re-runs a lesson only when the copy is older than the notebook or
# lessons_lib). A lesson's browser tests run after its cells, in its work unit.

LESSON = re.compile(r"notebooks/\d\d_[^/]+\.ipynb$")


def _browser_lesson(nodeid):
    """'06_adam' for a browser test of lesson 06 (parametrized by lesson), else None."""
    path, _, name = nodeid.partition("::")
    if path.endswith("tests/test_browser.py") and name.endswith("]"):
        return name[name.index("[") + 1:-1]
    return None


def _work_unit(nodeid):
    """What one pytest-xdist worker runs whole and in order under `--dist loadfile`
    (make test): a file (a notebook's cells share one kernel; a test file its
    fixtures), except a lesson's browser tests, which join that lesson's cells:
    they build its deck from the run the cells just made. So the 15 decks spread
    over the workers, and none waits for a lesson to run again."""
    lesson = _browser_lesson(nodeid)
    return f"notebooks/{lesson}.ipynb" if lesson else nodeid.split("::")[0]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    # xdist's own loadfile, with _work_unit for its scopes. (Not --dist loadgroup:
    # with pytest 9.2 and xdist 3.8 its group marks never reach the scheduler.)
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class LoadFileOrLesson(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return _work_unit(nodeid)

    return LoadFileOrLesson(config, log)


def _ordered(nodeids):
    """Positions in run order: each lesson's browser tests right after its last
    cell; the browser tests that cover every lesson (the pages, JupyterLab) last,
    when every lesson's run is likely written. Everything else keeps its order."""
    lesson_tests, last = {}, []
    for i, nodeid in enumerate(nodeids):
        lesson = _browser_lesson(nodeid)
        cells = f"notebooks/{lesson}.ipynb::" if lesson else None
        if lesson and any(n.startswith(cells) for n in nodeids):
            lesson_tests.setdefault(f"notebooks/{lesson}.ipynb", []).append(i)
        elif nodeid.split("::")[0].endswith("tests/test_browser.py") and not lesson:
            last.append(i)
    moved = {i for found in lesson_tests.values() for i in found} | set(last)
    order = []
    for i, nodeid in enumerate(nodeids):
        if i in moved:
            continue
        order.append(i)
        path = nodeid.split("::")[0]
        if i + 1 == len(nodeids) or nodeids[i + 1].split("::")[0] != path:
            order += lesson_tests.get(path, [])  # after the lesson's last cell
    return order + last


def pytest_collection_modifyitems(items):
    items[:] = [items[i] for i in _ordered([item.nodeid for item in items])]


def _lesson_cell(item):
    """nbval's cell item of a lesson in notebooks/ (not of the student edition)."""
    return hasattr(item, "cell_num") and LESSON.search(item.nodeid.split("::")[0])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    # The first cell's setup starts the lesson's kernel, which inherits this environment.
    starts_kernel = _lesson_cell(item) and getattr(item.parent, "kernel", None) is None
    saved = os.environ.get("MPLBACKEND")
    if starts_kernel:
        from lessons_lib import publish
        os.environ["MPLBACKEND"] = publish.INLINE
    yield
    if starts_kernel:
        os.environ.pop("MPLBACKEND")
        os.environ.update({} if saved is None else {"MPLBACKEND": saved})


def pytest_configure(config):
    _run_cells_as_jupyter_does()


def _run_cells_as_jupyter_does():
    """nbval sends each cell with store_history=False, and then IPython ignores a
    trailing `;` (it looks for it in the history): `plots.contour(...);` would show
    its figure twice, once as the cell's value. Jupyter stores history; so do we."""
    try:
        from nbval.kernel import RunningKernel
    except ImportError:
        return

    def execute_cell_input(self, cell_input, allow_stdin=None):
        return self.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin,
                               stop_on_error=False)
    RunningKernel.execute_cell_input = execute_cell_input


_LESSON_OUTPUTS = {}  # notebook path -> {cell_num: outputs}, while all its cells pass


def _keep_lesson_outputs(item, report):
    notebook = item.parent
    kept = _LESSON_OUTPUTS.setdefault(notebook.nodeid, {})
    if kept is None or report.skipped:
        return
    if report.failed or report.when == "call" and item.test_outputs is None:
        _LESSON_OUTPUTS[notebook.nodeid] = None  # a failed lesson leaves no copy to reuse
        return
    if report.when != "call":
        return
    kept[item.cell_num] = item.test_outputs
    code = [c for c in notebook.nb.cells if c.cell_type == "code"]
    if len(kept) == len(code):
        _save_lesson_run(notebook, kept)
        _LESSON_OUTPUTS[notebook.nodeid] = None


def _save_lesson_run(notebook, kept):
    import copy

    import nbformat

    from lessons_lib import publish
    nb = copy.deepcopy(notebook.nb)
    for number, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = number + 1
        cell.outputs = [nbformat.v4.new_output(**dict(out)) for out in kept[number]]
        for out in cell.outputs:
            if out.output_type == "execute_result":
                out.execution_count = number + 1
    path = Path(str(notebook.path))
    publish.save_executed(nb, publish.ROOT / "build" / "executed" / path.name)


@pytest.fixture(autouse=True)
def close_figures():
    """Every test leaves no matplotlib figure open (only where a test loaded pyplot)."""
    yield
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def _kind(nodeid):
    path = nodeid.split("::")[0]
    if not path.endswith(".ipynb"):
        return "unit tests"
    return "student edition" if "build/student" in path else "notebook cells"


# Under pytest-xdist test_optim runs in a worker: its worst errors come back to
# the controller with each test report (user_properties travel between them).
_WORST_FROM_WORKERS = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if _lesson_cell(item):
        _keep_lesson_outputs(item, outcome.get_result())
    worst = getattr(sys.modules.get("test_optim"), "WORST", None)
    if worst and os.environ.get("PYTEST_XDIST_WORKER") and call.when == "call":
        outcome.get_result().user_properties.append(("optim_worst", dict(worst)))


def pytest_runtest_logreport(report):
    for name, worst in getattr(report, "user_properties", ()):
        if name == "optim_worst":
            for key, err in worst.items():
                _WORST_FROM_WORKERS[key] = max(_WORST_FROM_WORKERS.get(key, 0.0), err)


def pytest_terminal_summary(terminalreporter):
    counts = Counter()
    notebooks = set()
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if getattr(report, "when", "call") not in ("call", None) and outcome == "passed":
                continue
            counts[(_kind(nodeid), outcome)] += 1
            if _kind(nodeid) != "unit tests":
                notebooks.add(nodeid.split("::")[0])
    terminalreporter.section("course test count")
    for kind in ("unit tests", "notebook cells", "student edition"):
        parts = ", ".join(f"{counts[(kind, o)]} {o}" for o in ("passed", "failed", "error", "skipped"))
        terminalreporter.write_line(f"{kind:15s}: {parts}")
    terminalreporter.write_line(f"{'notebooks':15s}: {len(notebooks)} (lessons and student edition)")

    worst = getattr(sys.modules.get("test_optim"), "WORST", {}) or _WORST_FROM_WORKERS
    if worst:
        terminalreporter.section("worst relative error, ours vs reference (float64)")
        for key in sorted(worst):
            terminalreporter.write_line(f"{key:48s} {worst[key]:.1e}")
