"""Fixtures shared by the test suite: the built site, a local server and a browser."""

import os
import pathlib

import pytest
from playwright.sync_api import sync_playwright

from tests.browser import PageWatcher, launch_chromium, serve

ROOT = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def site_dir():
    """The built site: $DLBOOK_SITE, else _build/html (``make test`` builds it first)."""
    path = pathlib.Path(os.environ.get("DLBOOK_SITE", ROOT / "_build" / "html"))
    if not (path / "index.html").is_file():
        pytest.fail(f"no built site at {path}: run `make book` first (`make test` does it for you)")
    return path


@pytest.fixture(scope="session")
def site_url(site_dir):
    with serve(site_dir) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, site_url):
    """A fresh page; ``page.watcher`` records what went wrong while it was open."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    new_page = context.new_page()
    new_page.watcher = PageWatcher(new_page, site_url)
    yield new_page
    context.close()
