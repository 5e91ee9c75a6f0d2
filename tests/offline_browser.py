"""A real browser for the tests: Debian's Chromium driven by Playwright, with
the network cut off (names do not resolve, and every request that leaves the
machine is recorded and refused)."""
import os
import shutil
from contextlib import contextmanager

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1"]


def chromium_path():
    path = os.environ.get("COURSE_CHROMIUM") or next(filter(None, map(shutil.which, CANDIDATES)), None)
    if not path:
        raise RuntimeError("no Chromium found: install Debian's `chromium` (make test does it "
                           "when run as root) or set COURSE_CHROMIUM to a Chrome/Chromium binary")
    return path


def _local(url):
    return url.startswith(("file:", "data:", "blob:", "about:", "http://127.0.0.1",
                           "http://localhost", "ws://127.0.0.1", "ws://localhost"))


@contextmanager
def chromium():
    """Debian's Chromium under Playwright, for `offline_page`: yield `running()`, which
    returns the one browser (a launch costs ~1 s, a context ~0.2 s), started again
    when it has died, so a crash fails one test, not every later one."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        browsers = []

        def running():
            if not browsers or not browsers[-1].is_connected():
                browsers.append(playwright.chromium.launch(executable_path=chromium_path(),
                                                           args=FLAGS))
            return browsers[-1]
        try:
            yield running
        finally:
            for browser in browsers:
                if browser.is_connected():
                    browser.close()


@contextmanager
def offline_page(browser, width=1280, height=720):
    """Yield (page, offsite) in a new context of `browser` (no cache, storage or
    route shared with other pages); `offsite` lists every request that tried to leave."""
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        offsite = []

        def refuse(route):
            offsite.append(route.request.url)
            route.abort()

        context.route(lambda url: not _local(url), refuse)
        yield context.new_page(), offsite
    finally:
        context.close()
