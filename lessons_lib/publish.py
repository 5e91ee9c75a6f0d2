"""Build the course's pages: HTML editions and reveal.js slides that work offline.

    python -m lessons_lib.publish html notebooks build/html      # instructor/ and student/
    python -m lessons_lib.publish slides notebooks build/slides

Each lesson is executed once (a copy is kept in build/executed/ and reused while
the notebook and lessons_lib are unchanged); the instructor page, the student
page (solution cells removed) and the slides are rendered from that one run.
Everything a page loads (reveal.js, MathJax, require.js, jQuery) is copied next
to it into `_static/` from `assets/node_modules` (`npm ci --prefix assets`, see
assets/README.md), so a built folder opens with no network and can be zipped
and handed out.
"""
import functools
import os
import re
import shutil
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from html import escape
from pathlib import Path

from lessons_lib import course, exercises

ROOT = Path(__file__).resolve().parent.parent
ASSETS = Path(os.environ.get("COURSE_ASSETS", ROOT / "assets" / "node_modules"))
TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = "_static"
# What the pages load, relative to node_modules: only the MathJax parts that
# the TeX → CommonHTML configuration uses, and each package's licence.
PARTS = {
    "reveal.js": ["dist", "plugin/notes", "LICENSE"],
    "mathjax": ["MathJax.js", "config/TeX-AMS_CHTML-full.js", "config/Safe.js", "extensions",
                "jax/input/TeX", "jax/output/CommonHTML", "jax/element",
                "fonts/HTML-CSS/TeX/woff", "LICENSE"],
    "requirejs": ["require.js"],
    "jquery": ["dist/jquery.min.js", "LICENSE.txt"],
    "font-awesome": ["css/font-awesome.min.css", "fonts", "README.md"],  # animation buttons
}
URLS = {  # nbconvert settings pointing at the local copies
    "mathjax_url": f"{STATIC}/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe",
    "require_js_url": f"{STATIC}/requirejs/require.js",
    "jquery_url": f"{STATIC}/jquery/dist/jquery.min.js",
}
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def copy_assets(out_dir):
    """Copy the offline assets into `out_dir/_static`; a clear error when missing."""
    missing = [name for name in PARTS if not (ASSETS / name).is_dir()]
    if missing:
        raise FileNotFoundError(
            f"offline assets {missing} not found in {ASSETS}: run `npm ci --prefix assets` "
            "(make slides / make course do it for you; needs Node.js and npm)")
    for package, parts in PARTS.items():
        for part in parts:
            source, target = ASSETS / package / part, Path(out_dir) / STATIC / package / part
            if not source.exists():
                continue  # a licence file named differently in another release
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                shutil.copy2(source, target)


def lessons(notebook_dir, only=None):
    """The lesson notebooks in order; `only`: names (without .ipynb) to keep."""
    found = sorted(Path(notebook_dir).glob("[0-9][0-9]_*.ipynb"))
    return [p for p in found if only is None or p.stem in only]


def _stale(executed, source):
    if not executed.exists():
        return True
    newest = max(p.stat().st_mtime for p in [source, *Path(__file__).parent.rglob("*.py")])
    return executed.stat().st_mtime < newest


INLINE = "module://matplotlib_inline.backend_inline"


def kernel_env():
    """The environment of a kernel whose outputs are kept: figures drawn inline,
    into the outputs (with a non-interactive backend they are drawn to nowhere)."""
    return {**os.environ, "MPLBACKEND": INLINE}


def _execute(source, executed):
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(source, as_version=4)
    with _local_kernel_transport() as transport:
        NotebookClient(nb, kernel_name="python3", timeout=900, config=transport,
                       resources={"metadata": {"path": str(source.parent)}}
                       ).execute(env=kernel_env())
    return save_executed(nb, executed)


@contextmanager
def _local_kernel_transport():
    """The kernel's channels as socket files in a folder of their own where the OS
    has them (ipykernel warns about every kernel on unencrypted TCP, on the
    terminal of whoever builds the pages); TCP elsewhere. The path is absolute:
    the kernel runs in the lesson's folder, the client here."""
    from traitlets.config import Config
    if os.name != "posix":
        yield Config()
        return
    with tempfile.TemporaryDirectory(prefix="kernel-") as folder:
        yield Config(KernelManager={"transport": "ipc", "ip": os.path.join(folder, "k")})


def save_executed(nb, executed):
    """Write an executed lesson to `executed` whole or not at all (a temporary file
    of our own, then a rename: two builds at once never share a half-written copy)."""
    import nbformat
    executed = Path(executed)
    executed.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=executed.parent, suffix=".ipynb.tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        nbformat.write(nb, out)
    os.chmod(temporary, 0o644)  # mkstemp makes it private; the build is for everyone to read
    Path(temporary).replace(executed)
    return executed


def execute_all(notebook_dir, cache_dir=ROOT / "build" / "executed", workers=None, only=None):
    """Run every lesson (those changed since their last run), `workers` at a time."""
    todo = [(p, Path(cache_dir) / p.name) for p in lessons(notebook_dir, only)]
    stale = [(p, e) for p, e in todo if _stale(e, p)]
    if stale:
        with ProcessPoolExecutor(workers or min(len(stale), os.cpu_count() or 1)) as pool:
            list(pool.map(_execute, *zip(*stale)))
    return [e for _, e in todo]


COLAB_BADGE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\(([^)]*)\)")
# matplotlib's animation player links its button icons from a CDN.
FONT_AWESOME = re.compile(r"https?://[^\"']*/font-awesome/[^\"']*\.css")


def _offline(nb):
    """Nothing on a page may load from the network: the Colab badge (an image on
    Google's server) becomes a plain link, ✅/❌ in the text become the checker's
    own drawn icons (no emoji font needed), animations take their button icons
    from the local Font Awesome, and progress-bar widgets (their renderer comes
    from a CDN) keep their plain-text form."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = COLAB_BADGE.sub(r"[▶ Open in Colab](\1)", cell.source)
            cell.source = cell.source.replace("✅", exercises.TICK_SVG).replace(
                "❌", exercises.CROSS_SVG)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data:
                del data[WIDGET_VIEW]
            if "text/html" in data:
                html = "".join(data["text/html"])
                data["text/html"] = FONT_AWESOME.sub(
                    f"{STATIC}/font-awesome/css/font-awesome.min.css", html)
    return nb


def without_solutions(nb):
    nb.cells = [c for c in nb.cells if course.SOLUTION_TAG not in c.metadata.get("tags", [])]
    return nb


def summary(nb):
    """(title, one-line summary) from the lesson's first cell."""
    lines = [line.strip() for line in nb.cells[0].source.splitlines()]
    title = lines[0].lstrip("# ").strip()
    words = next((line for line in lines[1:] if line and not line.startswith("[![")), "")
    return title, words


def _highlighted_already(html):
    """nbconvert's templates pass every code cell's highlighted source through
    bleach (`clean_html`; also raw HTML cells, which the course has none of: its
    other uses are off unless sanitizing is asked for).
    Pygments has escaped the code already, so bleach changes nothing (the 45
    pages and decks came out byte for byte the same) and took ~25% of a render."""
    return html


@functools.cache
def _exporter(kind):
    """One exporter per kind, reused: a new one compiles its ten templates again,
    ~10% of a page's render; the pages come out byte for byte the same."""
    from nbconvert import HTMLExporter, SlidesExporter
    if kind == "slides":
        exporter = SlidesExporter(template_name="course_reveal",
                                  extra_template_basedirs=[str(TEMPLATES)],
                                  reveal_url_prefix=f"{STATIC}/reveal.js", reveal_theme="white",
                                  reveal_width="1280", reveal_height="720", reveal_scroll=True,
                                  **URLS)
    else:
        exporter = HTMLExporter(template_name="course_lab",
                                extra_template_basedirs=[str(TEMPLATES)], **URLS)
    exporter.register_filter("clean_html", _highlighted_already)
    return exporter


def render(executed, out_dir, kind, edition):
    """Write one page (kind "html" or "slides") of `edition` ("instructor"/"student")."""
    import nbformat
    nb = _offline(nbformat.read(executed, as_version=4))
    if edition == "student":
        nb = without_solutions(nb)
    body, _ = _exporter(kind).from_notebook_node(nb, resources={"metadata": {"name": executed.stem}})
    suffix = ".slides.html" if kind == "slides" else ".html"
    target = Path(out_dir) / (executed.stem + suffix)
    target.write_text(body, encoding="utf-8")
    return target, summary(nb)


def write_index(out_dir, pages, heading):
    from nbconvert.filters.markdown_mistune import markdown2html_mistune
    inline = lambda text: markdown2html_mistune(text).strip().removeprefix("<p>").removesuffix("</p>")
    rows = "\n".join(f'<li><a href="{escape(p.name)}">{escape(title)}</a> · {inline(words)}</li>'
                     for p, (title, words) in pages)
    Path(out_dir, "index.html").write_text(
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(heading)}'
        f'</title>\n<style>body{{font-family:sans-serif;max-width:52em;margin:2em auto;'
        f'line-height:1.5}}ul{{list-style:none;padding:0}}li{{margin:.6em 0}}</style></head>\n'
        f"<body><h1>{escape(heading)}</h1>\n<ul>\n{rows}\n</ul>\n</body></html>\n",
        encoding="utf-8")


TITLE = "Optimization for Machine Learning in Practice"


def build(kind, notebook_dir="notebooks", out_dir=None, editions=None,
          cache_dir=ROOT / "build" / "executed", only=None):
    """Execute (or reuse) every lesson (or those in `only`) and render `kind`
    pages with an index per edition."""
    editions = editions or (["instructor", "student"] if kind == "html" else ["instructor"])
    executed = execute_all(notebook_dir, cache_dir, only=only)
    written = []
    for edition in editions:
        folder = Path(out_dir) / edition if len(editions) > 1 else Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        copy_assets(folder)
        pages = [render(e, folder, kind, edition) for e in executed]
        label = {"html": "lessons", "slides": "slides"}[kind]
        write_index(folder, pages, f"{TITLE}: {label}" + (f" ({edition} edition)"
                                                          if kind == "html" else ""))
        written += [p for p, _ in pages]
    return written


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3 or argv[0] not in ("html", "slides"):
        print(__doc__)
        return 2
    for path in build(argv[0], argv[1], argv[2]):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
