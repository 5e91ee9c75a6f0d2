"""Pages built by lessons_lib.publish load nothing from the network, carry alt
text, and the student edition drops the solutions; TensorFlow stays quiet."""
import functools
import os
import re
import subprocess
import sys

import matplotlib.pyplot as plt
import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert.filters import clean_html

from lessons_lib import course, plots, publish


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """A small lesson, executed once: math, a figure, a stub, its check and a solution."""
    folder = tmp_path_factory.mktemp("lesson")
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 01 · A tiny lesson\nOne line that sums it up.\n\n"
                                      f"{course.colab_badge('01_tiny.ipynb')}"),
        nbformat.v4.new_markdown_cell("The loss is $f(x) = x^2$. A check says ✅ or ❌."),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nfrom lessons_lib import plots\n"
                                  "fig, ax = plt.subplots()\nax.plot([1, 2]); ax.set_title('a line')\n"
                                  "ax.set_xlabel('step'); ax.set_ylabel('loss');"),
        nbformat.v4.new_code_cell("def answer():\n    raise NotImplementedError"),
        nbformat.v4.new_code_cell("def answer():\n    return 'the secret solution line'",
                                  metadata={"tags": ["solution"]}),
    ]
    course.fold_solutions(nb)
    NotebookClient(nb, kernel_name="python3", timeout=120).execute(env=publish.kernel_env())
    path = folder / "01_tiny.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("kind", ["html", "slides"])
def test_pages_reference_only_local_files(executed, tmp_path, kind):
    publish.copy_assets(tmp_path)
    page, (title, words) = publish.render(executed, tmp_path, kind, "instructor")
    text = page.read_text(encoding="utf-8")
    loaded = re.findall(r'(?:src|href)="([^"#][^"]*)"', text)
    remote = [u for u in loaded if re.match(r"(https?:)?//", u)]
    # Links a reader may click (Colab) are fine; nothing the page itself loads may be remote.
    assert all("colab.research.google.com/github/" in u for u in remote), remote
    for local in (u.split("?")[0] for u in loaded if u.startswith(publish.STATIC)):
        assert (tmp_path / local).exists(), f"{local} is referenced but was not copied"
    assert "colab-badge.svg" not in text and "▶ Open in Colab" in text
    assert "✅" not in text and 'aria-label="right"' in text and 'aria-label="wrong"' in text
    assert 'alt="Figure: a line (loss vs step)"' in text
    assert (title, words) == ("01 · A tiny lesson", "One line that sums it up.")


def test_student_page_drops_the_solution_and_instructor_page_keeps_it(executed, tmp_path):
    student, _ = publish.render(executed, tmp_path, "html", "student")
    student = student.read_text(encoding="utf-8")
    (tmp_path / "i").mkdir()
    instructor, _ = publish.render(executed, tmp_path / "i", "html", "instructor")
    assert "the secret solution line" not in student and "NotImplementedError" in student
    assert "the secret solution line" in instructor.read_text(encoding="utf-8")


@pytest.mark.parametrize("kind", ["html", "slides"])
def test_a_reused_exporter_renders_each_lesson_as_a_new_one_would(executed, tmp_path, kind):
    other = tmp_path / "02_other.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 02 · Other"),
                                                   nbformat.v4.new_code_cell("print(2)")]), other)
    pages = {}
    for reused in (True, False):
        if not reused:
            publish._exporter.cache_clear()
        for source in (other, executed):  # the lesson after another one, or first
            out = tmp_path / f"{reused}-{source.stem}"
            out.mkdir()
            for edition in ("student", "instructor"):
                page, _ = publish.render(source, out, kind, edition)
                pages[reused, source.stem, edition] = page.read_bytes()
            if not reused:
                publish._exporter.cache_clear()
    for (reused, stem, edition), page in pages.items():
        assert page == pages[False, stem, edition]
    assert publish._exporter(kind) is publish._exporter(kind)


def test_missing_assets_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setattr(publish, "ASSETS", tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="npm ci --prefix assets"):
        publish.copy_assets(tmp_path / "out")


def test_widget_outputs_keep_their_text_form_and_animations_their_local_icons():
    nb = nbformat.v4.new_notebook(metadata={"widgets": {"state": {}}})
    cell = nbformat.v4.new_code_cell("bar()")
    cell.outputs = [nbformat.v4.new_output("display_data", data={
        publish.WIDGET_VIEW: {"model_id": "x"}, "text/plain": "  50%|#####     |"})]
    animation = nbformat.v4.new_code_cell("animate()")
    animation.outputs = [nbformat.v4.new_output("display_data", data={"text/html": (
        '<link rel="stylesheet"\nhref="https://maxcdn.bootstrapcdn.com/font-awesome/4.4.0/css/'
        'font-awesome.min.css">')})]
    nb.cells = [nbformat.v4.new_markdown_cell("# 02 · T"), cell, animation]
    publish._offline(nb)
    assert "widgets" not in nb.metadata
    assert list(cell.outputs[0]["data"]) == ["text/plain"]
    assert 'href="_static/font-awesome/css/font-awesome.min.css"' in animation.outputs[0]["data"]["text/html"]


def test_alt_text_describes_title_labels_scale_and_lines():
    fig, (left, right) = plt.subplots(1, 2)
    fig.suptitle("two runs")
    left.plot([1, 2], label="sgd"); left.plot([2, 1], label="adam"); left.legend()
    left.set(title="loss", xlabel="step", ylabel="loss", yscale="log")
    right.set(title="learning rate", xlabel="step")
    assert plots.describe(fig) == ("Figure: two runs; Panel 1: loss (loss vs step, log scale); "
                                   "lines: sgd, adam; Panel 2: learning rate (value vs step)")
    plt.close(fig)


def test_the_png_formatter_adds_alt_text_and_keeps_its_metadata():
    fig, ax = plt.subplots()
    ax.set_title("a curve")
    wrapped = plots._with_alt_text(lambda f: (b"png", {"width": 10}))
    assert wrapped(fig) == (b"png", {"width": 10, "alt": "Figure: a curve"})
    assert plots._with_alt_text(wrapped) is wrapped            # wrapped once only
    assert plots._with_alt_text(lambda f: None)(fig) is None    # nothing to show
    plt.close(fig)


def test_tensorflow_prints_nothing_at_start_up_once_lessons_lib_is_imported():
    env = {k: v for k, v in os.environ.items() if not k.startswith("TF_")}
    run = subprocess.run([sys.executable, "-c", "import lessons_lib, keras, numpy as np\n"
                          "keras.ops.add(np.ones(2), 1.0)"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stderr == "", run.stderr


def test_execute_writes_the_copy_whole_and_leaves_no_temporary_file(tmp_path, capfd):
    source = tmp_path / "lesson" / "00_tiny.ipynb"
    source.parent.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("6 * 7"),
        nbformat.v4.new_code_cell("import matplotlib\nmatplotlib.get_backend()")]), source)
    cache = tmp_path / "executed"
    cache.mkdir()
    # another build's temporary file, at the name a fixed temporary path would use
    (cache / "00_tiny.tmp").mkdir()
    backend = os.environ.get("MPLBACKEND")
    executed = publish._execute(source, cache / "00_tiny.ipynb")
    answer, kernel_backend = (c.outputs[0]["data"]["text/plain"]
                              for c in nbformat.read(executed, as_version=4).cells)
    assert answer == "42"
    assert "inline" in kernel_backend, "the kernel draws figures into the outputs"
    assert os.environ.get("MPLBACKEND") == backend, "and this process's backend is left alone"
    assert sorted(p.name for p in cache.iterdir()) == ["00_tiny.ipynb", "00_tiny.tmp"]
    if os.name == "posix":   # the kernel's sockets are files: no "TCP without encryption"
        assert "without encryption" not in capfd.readouterr().err


@pytest.mark.parametrize("kind", ["html", "slides"])
def test_code_that_looks_like_html_is_shown_as_text_as_bleach_would_show_it(tmp_path, kind,
                                                                             monkeypatch):
    # publish skips nbconvert's bleach pass over highlighted code (pygments escapes it)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        's = "<script>alert(1)</script><img src=x onerror=alert(2)> & <b>bold</b>"')])
    source = tmp_path / "03_code.ipynb"
    nbformat.write(nb, source)
    pages = {}
    for bleached in (False, True):
        if bleached:  # and a new exporter: the cached one holds the filter it was made with
            monkeypatch.setattr(publish, "_highlighted_already", clean_html)
            monkeypatch.setattr(publish, "_exporter", functools.cache(publish._exporter.__wrapped__))
        out = tmp_path / str(bleached)
        out.mkdir()
        page, _ = publish.render(source, out, kind, "instructor")
        pages[bleached] = page.read_text(encoding="utf-8")
    assert pages[False] == pages[True]
    assert "&lt;script&gt;alert" in pages[False] and "<script>alert" not in pages[False]
    assert "<img src=x" not in pages[False] and "&lt;b&gt;bold" in pages[False]
