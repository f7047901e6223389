"""A real headless Chromium (Debian's `chromium` package) driven by Playwright,
for tests of pages people look at. Where the package is missing the tests
skip, naming it; CI installs it and fails if any test skipped for that reason.

One browser per pytest worker (the `chromium` fixture: a launch costs about
2 s of CPU), one fresh context, with its own cookies and storage, per page."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SKIP_REASON = "needs Debian's chromium package (apt-get install chromium)"
#: Screenshots the tests take, kept for people to look at.
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
#: No network but loopback: the machine's closed network refuses the rest, and the pages need none.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]

needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def browser_page(browser: Any, width: int = 1280, height: int = 900) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
