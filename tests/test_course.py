"""Badges and install lines come from one address; the student edition drops solutions."""
import nbformat

from lessons_lib import course


def make_notebook(path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 01 · T\n[![Open In Colab](https://x/y.svg)](https://old/address)"),
        nbformat.v4.new_code_cell('import sys\nif "google.colab" in sys.modules:\n'
                                  '    %pip install -q --no-deps git+https://github.com/old/repo@main'),
        nbformat.v4.new_code_cell("answer = 42", metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("print('check')"),
    ]
    nbformat.write(nb, path)


def test_sync_rewrites_badge_and_install_line_from_the_one_address(tmp_path):
    make_notebook(tmp_path / "01_topic.ipynb")
    assert course.sync(tmp_path) == [tmp_path / "01_topic.ipynb"]
    nb = nbformat.read(tmp_path / "01_topic.ipynb", as_version=4)
    assert course.colab_badge("01_topic.ipynb") in nb.cells[0].source
    assert course.REPOSITORY in nb.cells[0].source and "old/address" not in nb.cells[0].source
    assert nb.cells[1].source == course.colab_setup_source()
    assert all(len(line) <= 88 for line in nb.cells[1].source.splitlines())
    assert course.sync(tmp_path) == []          # idempotent


def test_sync_folds_solutions_under_a_heading(tmp_path):
    make_notebook(tmp_path / "01_topic.ipynb")
    course.sync(tmp_path)
    cells = nbformat.read(tmp_path / "01_topic.ipynb", as_version=4).cells
    heading, solution = cells[2], cells[3]
    assert heading.cell_type == "markdown" and heading.source == course.SOLUTION_HEADING
    assert course.SOLUTION_TAG in heading.metadata["tags"]
    assert solution.source.startswith(course.SOLUTION_TITLE + "\n") and "answer = 42" in solution.source
    assert solution.metadata["jupyter"]["source_hidden"] and solution.metadata["cellView"] == "form"
    assert solution.metadata["slideshow"]["slide_type"] == "skip"
    [written] = course.student_edition(tmp_path, tmp_path / "student")
    assert len(nbformat.read(written, as_version=4).cells) == 3   # heading and solution gone


def test_student_edition_drops_solution_cells_only(tmp_path):
    make_notebook(tmp_path / "01_topic.ipynb")
    [written] = course.student_edition(tmp_path, tmp_path / "student")
    sources = [c.source for c in nbformat.read(written, as_version=4).cells]
    assert len(sources) == 3 and "answer = 42" not in sources and "print('check')" in sources


def test_colab_install_never_touches_the_frameworks():
    line = course.pip_install_line()
    assert "--no-deps" in line and "--no-deps {SOURCE}" in course.colab_setup_source()
    assert "--no-deps" in line and "torch" not in line and "tensorflow" not in line
