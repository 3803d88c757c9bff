"""Every page of the built site, opened in headless Chromium served from 127.0.0.1:
clean and offline, usable at a phone's width, light to download."""

import json
import re
import urllib.parse

import pytest

from tests.browser import OVERFLOW_REPORT_JS, PageWatcher, first_visit, site_pages, widgets_rendered


def test_site_has_pages(site_dir):
    pages = site_pages(site_dir)
    assert "index.html" in pages and len(pages) >= 3, pages


def test_every_page_loads_cleanly_and_offline_and_fits_a_desktop_window(site_dir, site_url, page):
    """No console error, no failed request, nothing fetched from a host other than localhost; and
    at 1280 px nothing scrolls sideways (the phone widths are checked below, in the same way)."""
    problems = {}
    for path in site_pages(site_dir):
        page.goto(site_url + path, wait_until="load")
        page.wait_for_load_state("networkidle")
        # Every widget drawn before leaving: anywidget imports each widget's module from a blob: URL,
        # which "networkidle" does not wait for, and leaving mid-import aborts it (a failed request).
        widgets_rendered(page)
        assert page.title(), f"{path} has no title"
        page.watcher.assert_clean(path)
        problems.update(overflow_problems(page, path, DESKTOP_WIDTH))
    assert not problems, f"at {DESKTOP_WIDTH} px: {problems}"


def test_math_is_typeset_from_the_site(site_url, page):
    page.goto(site_url + "intro.html", wait_until="networkidle")
    page.wait_for_selector("mjx-container", timeout=15_000)
    page.watcher.assert_clean("intro.html")


# ---- phones and narrow windows ----

CHAPTER = "chapters/01_perceptrons.html"
PHONE_WIDTHS = [360, 390]
DESKTOP_WIDTH = 1280  # the ``page`` fixture's window (tests/conftest.py)


@pytest.fixture
def phone(browser, site_url):
    """A page in a 390 px wide window (an iPhone 12-15's width), with the usual watcher."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True)
    page = context.new_page()
    page.watcher = PageWatcher(page, site_url)
    yield page
    context.close()


def test_table_of_contents_opens_at_phone_width(phone, site_url):
    """Tapping the theme's visible buttons opens the book's and the page's contents (they did nothing
    below 992 px: the theme wired only its own hidden header buttons), and no tooltip stays behind."""
    phone.goto(site_url + CHAPTER, wait_until="networkidle")
    for kind, links in (("primary", "nav.bd-links a"), ("secondary", "nav.page-toc a")):
        dialog = phone.locator(f"#pst-{kind}-sidebar-modal")
        assert not dialog.evaluate("d => d.open")
        phone.locator(f".{kind}-toggle:visible").first.tap()
        phone.wait_for_function(f"document.querySelector('#pst-{kind}-sidebar-modal').open", timeout=5_000)
        visible = dialog.locator(links).evaluate_all("as => as.filter(a => a.checkVisibility()).length")
        assert visible >= 5, f"{kind} contents: only {visible} links visible"
        phone.keyboard.press("Escape")
        phone.wait_for_function(f"!document.querySelector('#pst-{kind}-sidebar-modal').open", timeout=5_000)
        assert phone.locator(".tooltip:visible").count() == 0
    # the search button is reachable, not covered by the contents button's tooltip
    search = phone.locator(".search-button:visible").first
    box = search.bounding_box()
    # The closed sidebars slide away in a CSS transition (about 0.3 s), so wait for it, up to 3 s.
    centre = [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2]
    phone.wait_for_function("([x, y]) => document.elementFromPoint(x, y).closest('.search-button') !== null",
                            arg=centre, timeout=3_000)  # raises if something still covers the search button
    phone.watcher.assert_clean(CHAPTER)


def test_navigation_link_in_the_phone_menu_leads_to_another_chapter(phone, site_url):
    phone.goto(site_url + CHAPTER, wait_until="networkidle")
    phone.locator(".primary-toggle:visible").first.tap()
    phone.locator("#pst-primary-sidebar-modal nav.bd-links a", has_text="Activation").first.click()
    phone.wait_for_url("**/02_activations.html")


def overflow_problems(page, path, width):
    """``{path: report}`` if the loaded page scrolls sideways at ``width`` px, else ``{}``: wide
    equations, tables, code and widgets must scroll inside their own box, and widgets fit the column."""
    if page.locator("div.math").count():
        # math hidden in a collapsed dropdown counts too
        page.wait_for_selector("mjx-container", state="attached", timeout=15_000)
    report = page.evaluate(OVERFLOW_REPORT_JS, width)
    if report["pageWidth"] > width or report["clippedEquations"] or report["widgets"]:
        return {path: report}
    return {}


@pytest.mark.parametrize("width", PHONE_WIDTHS)
def test_no_page_is_wider_than_a_phone(browser, site_dir, site_url, width):
    """No page scrolls sideways at a phone's width (the desktop width is checked as every page loads)."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    problems = {}
    for path in site_pages(site_dir):
        page.goto(site_url + path, wait_until="networkidle")
        widgets_rendered(page)
        problems.update(overflow_problems(page, path, width))
    context.close()
    assert not problems, f"at {width} px: {problems}"


# ---- what a first visit downloads ----

def test_first_chapter_visit_is_light(browser, site_url):
    """Measured before this test existed: 8.64 MB in 56 requests for chapter 1 and 2.58 MB for a page
    without widgets, 1.49 MB of it Font Awesome's script (on every page; the theme's CSS draws the
    same icons). The widget manager (3.6 MB, most of what is left) loads only on pages with widgets."""
    sizes = first_visit(browser, site_url + CHAPTER)
    total_mb = sum(sizes.values()) / 1e6
    print(f"first visit of {CHAPTER}: {total_mb:.2f} MB in {len(sizes)} requests")
    assert not [url for url in sizes if "fontawesome.js" in url or url.endswith(".map")]
    assert total_mb < 7.3 and len(sizes) <= 56, (total_mb, len(sizes))
    plain = first_visit(browser, site_url + "how-to-use.html")  # a page without widgets
    print(f"first visit of how-to-use.html: {sum(plain.values()) / 1e6:.2f} MB in {len(plain)} requests")
    assert not [url for url in plain if "embed-amd.js" in url or "require.js" in url]
    assert sum(plain.values()) / 1e6 < 1.5


def test_site_ships_no_source_maps(site_dir):
    maps = [p.relative_to(site_dir).as_posix() for p in site_dir.rglob("*.map")]
    assert not maps, maps
    pointer = re.compile(r"^(//|/\*)# sourceMappingURL=", re.M)  # a comment line, not code that writes one
    pointers = [p.name for p in [*site_dir.rglob("*.js"), *site_dir.rglob("*.css")]
                if pointer.search(p.read_text(encoding="utf-8", errors="replace"))]
    assert not pointers, pointers


def test_chapter_offers_its_executed_notebook(page, site_url):
    """The download menu offers the notebook with its outputs beside the source (stored without)."""
    page.goto(site_url + CHAPTER, wait_until="networkidle")
    link = page.locator(".dropdown-download-buttons a.btn-download-executed-button")
    assert link.count() == 1
    response = page.request.get(urllib.parse.urljoin(page.url, link.get_attribute("href")))
    assert response.ok
    notebook = json.loads(response.body())
    outputs = sum(len(cell.get("outputs", [])) for cell in notebook["cells"] if cell["cell_type"] == "code")
    assert outputs >= 10, outputs
    source = page.locator(".dropdown-download-buttons a.btn-download-source-button")
    assert source.get_attribute("href").endswith("_sources/chapters/01_perceptrons.ipynb")
