"""The HTML report as people see it, in a real headless Chromium: the verdict
and the matrix are visible, failures stand out, nothing is fetched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contracts import reporting
from mockserver.testing.mock_app import MockApp
from tests import broken_mock
from tests.browser import browser_page, needs_chromium, screenshot
from tests.support import run_against, run_config

#: One worker runs the browser tests: they share its Chromium (`tests.browser`).
pytestmark = pytest.mark.xdist_group("chromium")
PNG = b"\x89PNG\r\n\x1a\n"


def _open(page, path: Path) -> list[str]:  # type: ignore[no-untyped-def]
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    return requests


@needs_chromium
def test_a_passing_report_shows_its_verdict_and_matrix(chromium: Any, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    with MockApp(clock="manual") as mock:
        report, _ = run_against(mock.asgi, run_config(report=path, max_examples=10), sleep=mock.advance)
    reporting.write(report)
    with browser_page(chromium) as page:
        requests = _open(page, path)
        verdict, matrix = page.locator("#verdict"), page.locator("#matrix")
        assert verdict.is_visible() and verdict.inner_text() == "PASSED"
        assert matrix.is_visible() and matrix.locator("td.passed").count() > 20
        assert matrix.locator("td.failed").count() == 0
        shot = screenshot(page, "report-passed")
        green = page.evaluate("getComputedStyle(document.querySelector('td.passed')).backgroundColor")
    assert requests == [path.as_uri()]  # self-contained: nothing else was fetched
    assert green == "rgb(216, 240, 222)"
    assert shot.read_bytes()[:8] == PNG


@needs_chromium
def test_a_failing_report_shows_the_failed_check_in_the_matrix(chromium: Any, tmp_path: Path) -> None:
    path = tmp_path / "report.html"
    report, _ = run_against(broken_mock.build("request-id-format", str(tmp_path / "s.db")), run_config(report=path))
    reporting.write(report)
    with browser_page(chromium) as page:
        _open(page, path)
        assert page.locator("#verdict").inner_text() == "FAILED"
        failed = page.locator("#matrix td.failed")
        assert failed.count() >= 1 and failed.first.is_visible()
        row = page.locator("#matrix tr", has=page.locator("th", has_text="request_id_format"))
        assert row.locator("td.failed").count() >= 1
        assert page.locator(".finding pre", has_text="curl").first.is_visible()
        screenshot(page, "report-failed")
