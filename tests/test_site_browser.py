"""Every page of the built site, opened in headless Chromium served from 127.0.0.1."""

from tests.browser import site_pages


def test_site_has_pages(site_dir):
    pages = site_pages(site_dir)
    assert "index.html" in pages and len(pages) >= 3, pages


def test_every_page_loads_cleanly_and_offline(site_dir, site_url, page):
    """No console error, no failed request, nothing fetched from a host other than localhost."""
    for path in site_pages(site_dir):
        page.goto(site_url + path, wait_until="load")
        page.wait_for_load_state("networkidle")
        assert page.title(), f"{path} has no title"
        page.watcher.assert_clean(path)


def test_math_is_typeset_from_the_site(site_url, page):
    page.goto(site_url + "intro.html", wait_until="networkidle")
    page.wait_for_selector("mjx-container", timeout=15_000)
    page.watcher.assert_clean("intro.html")
