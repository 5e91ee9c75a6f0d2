"""Every lesson run once under nbval, as `make test` runs it: seconds per notebook.

Each notebook runs in its own `python -m pytest --nbval-lax` process (pytest's
start-up included, as in the issue's figure); one at a time, in order.
"""
import os
import pathlib
import subprocess
import sys
import time

from lessons_lib import publish

ROOT = pathlib.Path(__file__).resolve().parent.parent
GOAL_EACH, GOAL_ALL = 60, 300


def run(size="full", notebooks=None, folder=None):
    """folder: where the lessons are (default notebooks/; build/student: the student
    edition); notebooks: only these file names."""
    folder = pathlib.Path(folder or ROOT / "notebooks")
    paths = publish.lessons(folder)
    if not paths:
        raise ValueError(f"folder={str(folder)!r} holds no lesson (NN_name.ipynb)")
    if size == "tiny":
        paths = paths[:1]
    if notebooks:
        paths = [p for p in paths if p.name in notebooks]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    seconds, failed = {}, []
    for path in paths:
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "pytest", str(path), "--nbval-lax",
                               "--nbval-current-env", "-p", "no:cacheprovider", "-q"],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        seconds[path.name] = round(time.perf_counter() - started, 1)
        if done.returncode != 0:
            failed.append(path.name)
    return {"notebook_seconds": seconds, "notebooks_failed": failed}


def describe(figures):
    seconds = figures["notebook_seconds"]
    lines = [f"each lesson under nbval (seconds); goal <= {GOAL_EACH} s each, "
             f"<= {GOAL_ALL} s for all"]
    for name, s in seconds.items():
        failed = "   FAILED" if name in figures["notebooks_failed"] else ""
        lines.append(f"  {name:<40}{s:>7.1f} {'✓' if s <= GOAL_EACH else '✗'}{failed}")
    total = sum(seconds.values())
    mark = "✓" if total <= GOAL_ALL else "✗"
    lines.append(f"  {'all ' + str(len(seconds)):<40}{total:>7.1f} {mark}")
    return "\n".join(lines)
