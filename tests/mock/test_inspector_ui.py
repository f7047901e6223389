"""The mock's page, in a real headless Chromium: a created request appears
with its users' timeline, the manual clock advances from the page and the
status changes, the journal refreshes and filters; loopback or the admin
token only."""

from __future__ import annotations

from typing import Any

import pytest

from mockserver import MockServer
from mockserver.testing.mock_app import MockApp
from tests.browser import browser_page, needs_chromium, screenshot
from tests.support import CREATE, create

#: One worker runs the browser tests: they share its Chromium (`tests.browser`).
pytestmark = pytest.mark.xdist_group("chromium")
BODY = {"userIds": ["ui-user@example.com", "owner@acme.example"], "RemoveDataFromAllBots": True}


@needs_chromium
def test_the_page_shows_a_created_request_and_advances_the_manual_clock(chromium: Any) -> None:
    with MockServer(clock="manual", progress_delay=5) as server, browser_page(chromium, 1400, 1000) as page:
        page.goto(server.base_url + "/__mockserver/ui/")
        page.wait_for_selector("#clock-mode:text('manual')")
        assert page.locator("#apps").inner_text().count("cs-") == len(server.fixtures.apps)
        assert "secret" not in page.content().lower().replace("no erase scope", "")
        request_id = create(server, BODY).json()["requestId"]
        box = page.locator(f"[data-request-id='{request_id}']")
        box.wait_for(timeout=10_000)  # the page refreshes by itself
        assert box.locator(".status").all_inner_texts() == ["IN_PROGRESS", "IN_PROGRESS"]
        page.wait_for_selector(f"#journal td:text('{CREATE}')")
        screenshot(page, "mock-ui-created")
        page.fill("#advance-seconds", "6")
        page.click("#advance-button")
        # Its Content-Security-Policy allows no eval: wait through a locator, not a JS string.
        from playwright.sync_api import expect

        expect(box.locator(".status").first).not_to_have_text("IN_PROGRESS", timeout=10_000)
        assert box.locator(".status").all_inner_texts() == ["SUCCESS", "FAILURE"]
        assert server.clock()["mode"] == "manual"
        page.select_option("#filter-operation", "createEraseRequest")
        rows = page.locator("#journal tbody tr")
        assert rows.count() >= 1 and all(CREATE in text for text in rows.all_inner_texts())
        screenshot(page, "mock-ui-advanced")


@needs_chromium
def test_the_page_on_a_real_clock_has_no_advance_control(chromium: Any) -> None:
    with MockServer(clock="real", state=":memory:") as server, browser_page(chromium) as page:
        page.goto(server.base_url + "/__mockserver/ui/")
        page.wait_for_selector("#clock-mode:text('real')")
        assert not page.locator("#advance").is_visible()


def test_the_page_answers_loopback_or_the_admin_token_only() -> None:  # no browser needed
    from starlette.testclient import TestClient

    with MockApp(admin_token="let-me-in") as mock:
        assert mock.http.get("/__mockserver/ui/").headers["content-type"].startswith("text/html")
        with TestClient(mock.asgi, base_url="http://mock.test", client=("203.0.113.9", 5000)) as outside:
            assert outside.get("/__mockserver/ui/").status_code == 403
            assert outside.get("/__mockserver/ui/?token=nope").status_code == 403
            page = outside.get("/__mockserver/ui/?token=let-me-in")
            assert page.status_code == 200 and "<script>" in page.text and "http" not in page.text.split("<script>")[0]
