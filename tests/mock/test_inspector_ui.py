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
from tests.support import CREATE, GLOBEX_ADMIN, PRELOADED, create, status

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
def test_the_page_shows_rate_limits_and_marks_a_rate_limited_call(chromium: Any) -> None:
    with MockServer(clock="manual") as server, browser_page(chromium, 1400, 1000) as page:
        limit = server.rate_limit("globex")["limit"]["perMinute"]
        for _ in range(limit + 1):
            status(server, PRELOADED, GLOBEX_ADMIN)
        page.goto(server.base_url + "/__mockserver/ui/")
        page.wait_for_selector("#rate-limits td:text('globex')")
        texts = page.locator("#rate-limits tbody tr").all_inner_texts()
        rows = {row.split("\t")[0]: row.split("\t")[1:] for row in texts}
        assert rows["globex"] == [f"{limit}/min, 1800/h", str(limit), str(limit), "429 for 60 s (minute full)"]
        assert rows["acme"][0] == "1000000/min, 60000000/h" and rows["acme"][-1] == "accepting"
        assert "60/min, 1800/h" in page.locator("#apps").inner_text()
        page.wait_for_selector("#journal td:text('rate limited (minute)')")
        screenshot(page, "mock-ui-rate-limited")


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


#: Every element whose text could be cut: a cell, a request's line, a label.
CLIPPED = """() => {
  const width = document.documentElement.clientWidth;
  const cut = [];
  for (const element of document.querySelectorAll("th, td, .user > span, .request .id, h1, h2, header span, section")) {
    const box = element.getBoundingClientRect();
    if (box.width === 0) continue;
    if (element.scrollWidth > element.clientWidth + 1 || box.left < 0 || box.right > width + 0.5) {
      cut.push(`${element.tagName.toLowerCase()}.${element.className} "${element.textContent.slice(0, 40)}"`
               + ` scroll ${element.scrollWidth} > client ${element.clientWidth}, right ${box.right} of ${width}`);
    }
  }
  const page = document.documentElement.scrollWidth;
  if (page > width) cut.push(`the page scrolls sideways: ${page}`);
  return cut;
}"""


@needs_chromium
@pytest.mark.parametrize("width", [1280, 900])
def test_no_label_is_clipped(chromium: Any, width: int) -> None:
    with MockServer(clock="manual", progress_delay=5) as server, browser_page(chromium, width, 800) as page:
        server.inject("extraField", field="region", value="eu-1", count=1)
        server.inject("latency", latencyMs=1, count=1)
        body = {"userIds": ["a-rather-long-user-identifier@subsidiary.example.com", "owner@acme.example"],
                "RemoveDataFromAllBots": True}
        request_id = create(server, body, method="POST").json()["requestId"]
        server.http.get("/api/public/bot/eraseUsersData/status/eud-not-a-real-one")
        server.advance(6)
        page.goto(server.base_url + "/__mockserver/ui/")
        box = page.locator(f"[data-request-id='{request_id}']")
        box.wait_for(timeout=10_000)
        assert box.locator(".status").all_inner_texts() == ["SUCCESS", "FAILURE"]
        page.wait_for_selector("#journal td:text('createEraseRequestViaPost')")
        screenshot(page, f"mock-ui-{width}")
        assert page.evaluate(CLIPPED) == []


@needs_chromium
def test_the_page_asks_for_no_favicon_and_a_favicon_request_is_not_journaled(chromium: Any) -> None:
    with MockServer(clock="manual") as server, browser_page(chromium) as page:
        page.goto(server.base_url + "/__mockserver/ui/")
        page.wait_for_selector("#clock-mode:text('manual')")
        page.wait_for_load_state("networkidle")  # whatever the browser asks for on its own, it has asked
        assert server.unmatched() == [] and server.journal() == []
        assert server.http.get("/favicon.ico").status_code == 404
        assert server.unmatched() == [] and server.journal() == []


@needs_chromium
def test_the_first_paint_is_never_empty(chromium: Any) -> None:
    """Before any data arrives (here: no script at all), each part of the page says it is loading."""
    with MockServer(clock="manual") as server:
        served = server.http.get("/__mockserver/ui/").text
        assert served.count('class="loading"') == 5
        context = chromium.new_context(viewport={"width": 1280, "height": 800}, java_script_enabled=False)
        try:
            page = context.new_page()
            page.goto(server.base_url + "/__mockserver/ui/")
            assert "Loading the journal" in page.locator("#journal").inner_text()
            assert "Loading the erase requests" in page.locator("#requests").inner_text()
            screenshot(page, "mock-ui-first-paint")
        finally:
            context.close()
