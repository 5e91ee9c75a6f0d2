"""Where the course lives, and the editions built from its notebooks.

The public repository address is written here and nowhere else: notebook
badges and the Colab install line are generated from it (`sync`).

    python -m lessons_lib.course sync notebooks            # badges, Colab setup, folding
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


def install_source():
    """What pip installs on Colab: the library straight from the repository."""
    return f"git+{GITHUB_URL}@{BRANCH}"


def pip_install_line():
    """What the setup cell runs on Colab: lessons_lib only, never torch/TF/NumPy."""
    return f"pip install -q --no-deps {install_source()}"


def colab_setup_source():
    """The lesson's setup cell. The address sits in a variable (IPython expands
    `{SOURCE}` in the magic) so that no line is wider than a slide."""
    return ("import sys\n"
            "# On Colab: install the course library alone (Colab has torch, TensorFlow, NumPy).\n"
            f'SOURCE = "{install_source()}"\n'
            'if "google.colab" in sys.modules:\n'
            "    %pip install -q --no-deps {SOURCE}")


SOLUTION_TITLE = "# @title Solution"   # Colab shows a form cell by this title
SOLUTION_HEADING = ("**Solution** · try the exercise first; the solution is folded away in the "
                    "cell below (click it, or *Show code* on Colab, to open it).")


def _is_solution(cell):
    return SOLUTION_TAG in cell.get("metadata", {}).get("tags", [])


def fold_solutions(nb):
    """Fold every solution away in the full edition: collapsed in JupyterLab
    (`jupyter.source_hidden`), a titled form on Colab, off the slides, and
    announced by a one-line "Solution" heading (tagged too, so the student
    edition drops it with the solution)."""
    import nbformat
    cells = []
    for cell in nb.cells:
        if cell.cell_type == "code" and _is_solution(cell):
            if not (cells and _is_solution(cells[-1])):
                cells.append(nbformat.v4.new_markdown_cell(SOLUTION_HEADING, metadata={
                    "tags": [SOLUTION_TAG], "slideshow": {"slide_type": "skip"}}))
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
            cell.metadata["cellView"] = "form"
            cell.metadata["slideshow"] = {"slide_type": "skip"}
            if not cell.source.startswith(SOLUTION_TITLE):
                cell.source = SOLUTION_TITLE + "\n" + cell.source
        cells.append(cell)
    nb.cells = cells
    return nb


_BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")


def _is_colab_setup(cell):
    return cell.cell_type == "code" and '"google.colab" in sys.modules' in cell.source \
        and "%pip install" in cell.source


def sync(notebook_dir="notebooks"):
    """Rewrite every badge and Colab setup cell from this module and fold the
    solutions away (`fold_solutions`); returns the changed files."""
    import nbformat
    changed = []
    for path in sorted(Path(notebook_dir).glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        before = nbformat.writes(nb)
        for cell in nb.cells:
            cell.source = _BADGE.sub(colab_badge(path.name).replace("\\", r"\\"), cell.source)
            if _is_colab_setup(cell):
                cell.source = colab_setup_source()
        fold_solutions(nb)
        if nbformat.writes(nb) != before:
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
        nb.cells = [c for c in nb.cells if not _is_solution(c)]
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
