"""Where the course lives, and the editions built from its notebooks.

The public repository address is written here and nowhere else: notebook
badges and the Colab install line are generated from it (`sync`).

    python -m lessons_lib.course sync notebooks            # rewrite badges + install lines
    python -m lessons_lib.course student notebooks build/student
"""
import re
import sys
from pathlib import Path

REPOSITORY = "optml-in-practice/optimization-for-ml-in-practice"
BRANCH = "main"
GITHUB_URL = f"https://github.com/{REPOSITORY}"
SOLUTION_TAG = "solution"


def colab_url(notebook):
    """Address that opens `notebook` (e.g. "02_gradient_descent.ipynb") on Colab."""
    return f"https://colab.research.google.com/github/{REPOSITORY}/blob/{BRANCH}/notebooks/{notebook}"


def colab_badge(notebook):
    """Markdown for the "Open in Colab" badge of `notebook`."""
    image = "https://colab.research.google.com/assets/colab-badge.svg"
    return f"[![Open In Colab]({image})]({colab_url(notebook)})"


def pip_install_line():
    """What the setup cell runs on Colab: lessons_lib only, never torch/TF/NumPy."""
    return f"pip install -q --no-deps git+{GITHUB_URL}@{BRANCH}"


_BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")
_INSTALL = re.compile(r"%pip install -q --no-deps git\+\S+")


def sync(notebook_dir="notebooks"):
    """Rewrite every badge and Colab install line from this module; returns changed files."""
    import nbformat
    changed = []
    for path in sorted(Path(notebook_dir).glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        before = [cell.source for cell in nb.cells]
        for cell in nb.cells:
            cell.source = _BADGE.sub(colab_badge(path.name).replace("\\", r"\\"), cell.source)
            cell.source = _INSTALL.sub("%" + pip_install_line(), cell.source)
        if [cell.source for cell in nb.cells] != before:
            nbformat.write(nb, path)
            changed.append(path)
    return changed


def student_edition(notebook_dir, out_dir):
    """Copy every lesson without the cells tagged `solution`; returns the written paths."""
    import nbformat
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in sorted(Path(notebook_dir).glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nb.cells = [c for c in nb.cells if SOLUTION_TAG not in c.get("metadata", {}).get("tags", [])]
        nbformat.write(nb, out / path.name)
        written.append(out / path.name)
    return written


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    commands = {"sync": lambda a: sync(*a), "student": lambda a: student_edition(*a)}
    if not argv or argv[0] not in commands:
        print(__doc__)
        return 2
    for path in commands[argv[0]](argv[1:]):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
