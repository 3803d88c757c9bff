"""A real browser for the site tests: serve the built site on 127.0.0.1 and watch pages.

The site is served by Python's http.server from a thread; Chromium is Debian's,
driven by Playwright. ``PageWatcher`` records everything a page does wrong:
console errors, uncaught exceptions, failed requests, and any request to a host
other than the local server (the site must work offline, with no CDN).
"""

import contextlib
import functools
import http.server
import json
import pathlib
import shutil
import threading
import urllib.parse

from utils.widgets.base import widget_module

CHROMIUM = "/usr/bin/chromium"
# Flags for a sandbox with no network: without the background-networking ones Chromium
# keeps trying to reach Google's services and fills the log with refused connections.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the name http.server uses)
        pass


@contextlib.contextmanager
def serve(directory):
    """Serve ``directory`` on a free port of 127.0.0.1; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def launch_chromium(playwright):
    if shutil.which(CHROMIUM) is None:
        raise RuntimeError(f"{CHROMIUM} not found: install Debian's chromium "
                           "(apt-get install chromium chromium-driver), or run `make setup` as root")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


class PageWatcher:
    """Collects a page's console errors, page errors, failed and non-local requests."""

    def __init__(self, page, base_url):
        self.local_host = urllib.parse.urlsplit(base_url).netloc
        self.console_errors, self.page_errors = [], []
        self.failed_requests, self.external_requests = [], []
        page.on("console", self._on_console)
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("requestfailed", lambda req: self.failed_requests.append(f"{req.url} ({req.failure})"))
        page.on("request", self._on_request)
        page.on("response", self._on_response)

    def _on_console(self, message):
        if message.type == "error":
            self.console_errors.append(f"{message.text} @ {message.location.get('url')}")

    def _on_request(self, request):
        parts = urllib.parse.urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.netloc != self.local_host:
            self.external_requests.append(request.url)

    def _on_response(self, response):
        if response.status >= 400:
            self.failed_requests.append(f"{response.url} (HTTP {response.status})")

    def problems(self):
        found = {"console errors": self.console_errors, "page errors": self.page_errors,
                 "failed requests": self.failed_requests, "non-local requests": self.external_requests}
        return {kind: items for kind, items in found.items() if items}

    def assert_clean(self, where=""):
        problems = self.problems()
        assert not problems, f"{where}: " + "; ".join(f"{k}: {v[:5]}" for k, v in problems.items())


def site_pages(site_dir):
    """Every HTML page of the built site, as paths relative to ``site_dir``."""
    site_dir = pathlib.Path(site_dir)
    skip = {"_static", "_sources", "_images", "_widget_js", "widgets", "mathjax"}
    return sorted(p.relative_to(site_dir).as_posix() for p in site_dir.rglob("*.html")
                  if not skip.intersection(p.relative_to(site_dir).parts))


# JavaScript run in a page by the layout tests: what sticks out of a viewport `width` px wide.
OVERFLOW_REPORT_JS = """(width) => {
  const name = (e) => e.tagName.toLowerCase() + (e.className && e.className.baseVal === undefined
    ? "." + String(e.className).trim().split(/\\s+/).slice(0, 2).join(".") : "");
  const equations = [...document.querySelectorAll("div.math mjx-container[display=true]")];
  return {
    pageWidth: document.documentElement.scrollWidth,
    // a display equation wider than the column must scroll inside its box, not be cut off
    clippedEquations: equations.filter((m) => m.scrollWidth > m.clientWidth + 1
      && !["auto", "scroll"].includes(getComputedStyle(m).overflowX)).length,
    // widget outputs (anywidget cards and ipywidgets such as progress bars): nothing hidden or cut
    widgets: [...document.querySelectorAll(".cell_output .widget-subarea, .bw-root")].map((w) => {
      const box = w.getBoundingClientRect();
      return { name: name(w), right: Math.round(box.right),
               scrollWidth: w.scrollWidth, clientWidth: w.clientWidth };
    }).filter((w) => w.right > width + 0.5 || w.scrollWidth > w.clientWidth + 1),
  };
}"""


def widgets_rendered(page, timeout=30_000):
    """Wait until every widget view that the page embeds has been drawn by the widget manager."""
    views = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    if views:
        page.wait_for_function(f"document.querySelectorAll('.widget-subarea').length >= {views}",
                               timeout=timeout)
        drawn = "[...document.querySelectorAll('.widget-subarea')].every(w => w.children.length)"
        page.wait_for_function(drawn, timeout=timeout)
    return views


def first_visit(browser, url, viewport=(1280, 900)):
    """Open ``url`` in a fresh browser context (empty cache); returns {url: bytes} of every response."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    sizes = {}
    page.on("requestfinished",
            lambda request: sizes.__setitem__(request.url, request.sizes()["responseBodySize"]))
    page.goto(url, wait_until="networkidle")
    widgets_rendered(page)
    page.wait_for_load_state("networkidle")
    context.close()
    return sizes


WIDGET_ALONE_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>one widget</title><link rel="icon" href="data:,"></head>
<body style="margin: 8px"><div id="widget"></div>
<script type="application/json" id="payload">{payload}</script>
<script type="module">
import widget from "./widget.js";
const data = JSON.parse(document.getElementById("payload").textContent);
widget.render({{ model: {{ get: () => data, on() {{}} }}, el: document.getElementById("widget") }});
window.rendered = true;
</script></body></html>
"""


@contextlib.contextmanager
def widget_alone(browser, folder, js_path, payload, width, height=900):
    """One widget rendered in Chromium in a ``width`` x ``height`` px window, from a page that plays
    the widget manager's part (``model.get``), served from ``folder``: yields (page, watcher) once
    it has rendered."""
    (folder / "widget.js").write_text(widget_module(js_path), encoding="utf-8")
    page_html = WIDGET_ALONE_PAGE.format(payload=json.dumps(payload))
    (folder / "index.html").write_text(page_html, encoding="utf-8")
    with serve(folder) as url:
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        watcher = PageWatcher(page, url)
        try:
            page.goto(url + "index.html", wait_until="networkidle")
            page.wait_for_function("window.rendered === true", timeout=10_000)
            yield page, watcher
        finally:
            context.close()
