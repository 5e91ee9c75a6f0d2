"""Repository-wide pytest setup: headless plotting and a count of what ran."""
import os
import sys
from collections import Counter

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


def _work_unit(nodeid):
    """What one pytest-xdist worker runs whole and in order under `--dist loadfile`
    (make test): a file (a notebook's cells share one kernel; a test file its
    fixtures), except the browser tests of one lesson, which build that lesson's
    deck alone: one unit per lesson, so the 15 decks (each executes its lesson,
    10-55 s) spread over the workers instead of queueing behind each other."""
    path = nodeid.split("::")[0]
    if path.endswith("test_browser.py") and nodeid.endswith("]"):
        return f"{path}::{nodeid[nodeid.index('[') + 1:-1]}"
    return path


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
