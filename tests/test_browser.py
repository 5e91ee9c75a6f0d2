"""The course as people receive it, in a real browser with the network cut off:
every slide deck, the student pages, and a lesson run in JupyterLab."""
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lessons_lib import course, publish
from offline_browser import chromium, offline_page

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LESSONS = [p.stem for p in publish.lessons(NOTEBOOKS)]
SCREENSHOTS = ROOT / "build" / "screenshots"


@pytest.fixture(scope="session")
def running_browser():
    """One Chromium per pytest process, started by the first browser test that
    needs it (and again if it died); each test opens pages in a fresh context."""
    with chromium() as running:
        yield running


@pytest.fixture
def browser(running_browser):
    return running_browser()


@pytest.fixture(scope="session")
def slides(tmp_path_factory):
    """build(lesson) -> the folder holding that lesson's deck (each built once)."""
    out, built = tmp_path_factory.mktemp("slides"), set()

    def build(lesson):
        if lesson not in built:
            publish.build("slides", NOTEBOOKS, out / lesson, only=[lesson])
            built.add(lesson)
        return out / lesson
    return build


@pytest.fixture(scope="session")
def html(tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    publish.build("html", NOTEBOOKS, out)
    return out


def shoot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


# Every leaf slide in turn, all fragments shown: code or output boxes wider than
# their box or the screen, and slides taller than the screen (they would scroll).
MEASURE_SLIDES = """() => {
  const wide = [], tall = [];
  Reveal.configure({transition: 'none', backgroundTransition: 'none'});  // final positions
  for (const slide of Reveal.getSlides()) {
    const {h, v} = Reveal.getIndices(slide);
    Reveal.slide(h, v);
    slide.querySelectorAll('.fragment').forEach(f => f.classList.add('visible'));
    for (const pre of slide.querySelectorAll('pre')) {
      const box = pre.getBoundingClientRect();
      if (pre.scrollWidth > pre.clientWidth + 1 || box.right > window.innerWidth + 1)
        wide.push(`#/${h}/${v}: ${pre.scrollWidth}px in ${pre.clientWidth}px: `
                  + pre.textContent.trim().slice(0, 60));
    }
    if (slide.scrollHeight > slide.clientHeight + 1)
      tall.push(`#/${h}/${v}: ${slide.scrollHeight}px`);
  }
  return {wide, tall, count: Reveal.getSlides().length};
}"""

RAW_MATH = """() => {
  const raw = [];
  for (const cell of document.querySelectorAll('.jp-RenderedMarkdown')) {
    const copy = cell.cloneNode(true);
    copy.querySelectorAll('code, pre, script, .MathJax_CHTML, .MathJax_Preview')
        .forEach(e => e.remove());
    const found = copy.textContent.match(/\\$[^\\s$][^$]*?\\$/g);
    if (found) raw.push(...found);
  }
  return raw;
}"""


@pytest.mark.parametrize("lesson", LESSONS)
def test_a_deck_works_offline_and_every_slide_fits_1280x720(browser, slides, lesson):
    folder = slides(lesson)
    with offline_page(browser) as (page, offsite):
        page.goto((folder / f"{lesson}.slides.html").as_uri())
        page.wait_for_function("window.Reveal && Reveal.isReady()", timeout=20000)
        # MathJax has started and finished typesetting (a deck without math passes too).
        page.wait_for_function("window.MathJax && MathJax.isReady && MathJax.Hub.queue.pending === 0"
                               " && !MathJax.Hub.queue.running", timeout=30000)
        shoot(page, f"{lesson}-first-slide")
        assert page.evaluate("Reveal.getIndices().h") == 0
        page.keyboard.press("ArrowRight")
        page.wait_for_function("Reveal.getIndices().h === 1")
        page.evaluate("location.hash = '#/3'")
        page.wait_for_function("Reveal.getIndices().h === 3")
        assert page.evaluate(RAW_MATH) == [], "math left as raw $…$"
        twice = page.evaluate("""() => [...document.querySelectorAll('.MJX_Assistive_MathML')]
            .filter(m => m.getBoundingClientRect().width > 0).length""")
        assert twice == 0, "the screen-reader copy of a formula is visible: math shows twice"
        images = page.evaluate("""() => [...document.querySelectorAll('.jp-RenderedImage img')]
            .map(i => ({ok: i.complete && i.naturalWidth > 0, alt: i.alt}))""")
        assert images, "a lesson shows figures"
        assert all(i["ok"] for i in images), "every figure is a loaded image"
        assert all(i["alt"].startswith("Figure: ") for i in images), "every figure has alt text"
        measured = page.evaluate(MEASURE_SLIDES)
        assert measured["count"] > 10
        assert measured["wide"] == [], "code or output cut off at the right edge"
        assert measured["tall"] == [], "slides taller than 720 px: split them"
        assert offsite == [], "the deck asked the network for something"


@pytest.mark.parametrize("lesson", LESSONS)
def test_no_lesson_writes_to_stderr(slides, lesson):
    """TensorFlow's start-up lines, warnings and tracebacks would all land on a slide."""
    import nbformat
    slides(lesson)
    executed = nbformat.read(publish.ROOT / "build" / "executed" / f"{lesson}.ipynb", as_version=4)
    noise = [(i, output.get("text", output.get("ename")))
             for i, cell in enumerate(executed.cells) for output in cell.get("outputs", [])
             if output.output_type == "error" or output.get("name") == "stderr"]
    assert noise == []


def solution_lines(notebook):
    """Lines that only a solution cell contains (not part of any cell a student sees)."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    is_solution = lambda c: course.SOLUTION_TAG in c["metadata"].get("tags", [])
    squeeze = lambda text: re.sub(r"\s+", " ", text).strip()
    shown = squeeze("\n".join("".join(c["source"]) for c in cells if not is_solution(c)))
    return [squeeze(line) for c in cells if is_solution(c) and c["cell_type"] == "code"
            for line in "".join(c["source"]).splitlines()
            if len(line.strip()) > 12 and squeeze(line) not in shown
            and not line.strip().startswith(("#", "assert", '"""'))]


def test_the_student_pages_show_no_solution_and_the_instructor_pages_do(browser, html):
    leaks, unshown = {}, {}
    with offline_page(browser) as (page, offsite):
        for lesson in LESSONS:
            lines = solution_lines(NOTEBOOKS / f"{lesson}.ipynb")
            for edition in ("student", "instructor"):
                page.goto((html / edition / f"{lesson}.html").as_uri())
                text = re.sub(r"\s+", " ", page.inner_text("body"))
                present = [line for line in lines if line in text]
                if edition == "student":
                    leaks[lesson] = present + ([course.SOLUTION_HEADING[:20]]
                                               if course.SOLUTION_HEADING[:20] in text else [])
                elif lines and not present:
                    unshown[lesson] = lines[:3]
            if lesson == LESSONS[-1]:
                shoot(page, f"{lesson}-instructor-page")
        page.goto((html / "student" / "index.html").as_uri())
        links = page.eval_on_selector_all("li a", "els => els.map(e => e.getAttribute('href'))")
        shoot(page, "student-index")
        assert offsite == []
    assert {k: v for k, v in leaks.items() if v} == {}, "solution text on a student page"
    assert unshown == {}, "each instructor page shows its lesson's solutions"
    assert links == [f"{lesson}.html" for lesson in LESSONS], "the index lists every lesson in order"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyter_lab(tmp_path):
    work = tmp_path / "notebooks"
    work.mkdir()
    lesson = publish.lessons(NOTEBOOKS)[0]
    (work / lesson.name).write_bytes(lesson.read_bytes())
    settings = tmp_path / "settings" / "@jupyterlab" / "notebook-extension"
    settings.mkdir(parents=True)
    # Every cell in the page, so the test sees them all (not only those on screen).
    (settings / "tracker.jupyterlab-settings").write_text('{"windowingMode": "none"}')
    port, token = free_port(), "course-test"
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"), "MPLBACKEND": ""}
    env.pop("MPLBACKEND")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={work}", "--LabApp.news_url=", "--LabApp.check_for_updates_class="
         "jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "lab.log", "w"), cwd=work)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    yield f"{url}/lab/tree/{lesson.name}?token={token}", lesson
    server.terminate()
    server.wait(timeout=30)


def test_lesson_00_runs_in_jupyterlab_without_errors(browser, jupyter_lab):
    url, lesson = jupyter_lab
    # Folded (solution) cells show no prompt; every other code cell must get a number.
    code_cells = sum(c["cell_type"] == "code" and not c["metadata"].get("jupyter", {}).get("source_hidden")
                     for c in json.loads(lesson.read_text())["cells"])
    with offline_page(browser, 1400, 900) as (page, offsite):
        page.goto(url)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60000)
        page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60000)
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60000)
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            page.wait_for_function(
                """n => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                       .filter(p => /\\[\\d+\\]/.test(p.textContent)).length === n""",
                arg=code_cells, timeout=180000)
            page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60000)
        finally:
            shoot(page, "jupyterlab-lesson-00")
        errors = page.eval_on_selector_all(
            "[data-mime-type='application/vnd.jupyter.stderr']", "els => els.map(e => e.innerText)")
    assert errors == [], "error or stderr output in the lesson"


def test_a_browser_that_died_is_started_again_for_the_next_test(running_browser):
    """A Chromium crash fails the test it happens in, not every later one."""
    import psutil
    from playwright.sync_api import Error as PlaywrightError
    dying = running_browser()
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "chrom" in process.name() and not any(
                    a.startswith("--type=") for a in process.cmdline()):  # not a helper
                process.kill()
    with pytest.raises(PlaywrightError), offline_page(dying) as (page, _):
        page.set_content("<p>crashed</p>")
    assert not dying.is_connected()
    with offline_page(running_browser()) as (page, offsite):
        page.set_content("<p>alive</p>")
        assert page.inner_text("p") == "alive" and offsite == []
