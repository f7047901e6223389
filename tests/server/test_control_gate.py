"""Who the control API and the inspector page answer, through a real mock process:
the admin token never stays in a URL (traded for a cookie and a redirect), every control
answer carries the browser-hardening headers, a rebound `Host` and cross-site browser
requests are refused, and `--trust-proxy` makes loopback no longer trust."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mockserver import MockServer
from tests.browser import browser_page, needs_chromium

ADMIN_TOKEN = "admin-gate-0123456789abcdef"
HARDENING = {"referrer-policy": "no-referrer", "x-frame-options": "DENY", "x-content-type-options": "nosniff"}


@pytest.fixture(scope="module")
def proxied() -> Any:
    """A mock behind a (pretend) reverse proxy: loopback is not trust, the token is."""
    with MockServer(extra_args=["--admin-token", ADMIN_TOKEN, "--trust-proxy", "--public-host", "mock.example"]) as s:
        yield s


def _fresh(server: MockServer) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, trust_env=False, follow_redirects=False)


def test_the_page_trades_the_token_in_its_url_for_a_cookie_and_a_clean_url(proxied: MockServer) -> None:
    with _fresh(proxied) as browser:
        assert browser.get("/__mockserver/ui/").status_code == 403  # loopback alone is not enough here
        assert browser.get("/__mockserver/ui/?token=wrong").status_code == 403
        traded = browser.get(f"/__mockserver/ui/?token={ADMIN_TOKEN}")
        assert traded.status_code == 303 and traded.headers["location"] == "/__mockserver/ui/"
        cookie = traded.headers["set-cookie"]
        assert {"HttpOnly", "SameSite=Strict", "Path=/__mockserver"} <= {part.strip() for part in cookie.split(";")}
        page = browser.get("/__mockserver/ui/")  # the cookie, now in the client's jar
        assert page.status_code == 200 and "<script>" in page.text and ADMIN_TOKEN not in page.text
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "'sha256-" in policy and "unsafe-inline" not in policy
        assert browser.get("/__mockserver/apps").status_code == 200  # the control API takes the cookie
    with _fresh(proxied) as other:
        assert other.get("/__mockserver/apps").status_code == 403
        assert other.get("/__mockserver/apps", headers={"X-Mockserver-Admin-Token": ADMIN_TOKEN}).status_code == 200


def test_every_control_answer_carries_the_hardening_headers(proxied: MockServer) -> None:
    token = {"X-Mockserver-Admin-Token": ADMIN_TOKEN}
    with _fresh(proxied) as client:
        answers = [client.get("/__mockserver/ui/"), client.get("/__mockserver/health", headers=token),
                   client.get("/__mockserver/nope", headers=token), client.get("/__mockserver/apps"),
                   client.get(f"/__mockserver/ui/?token={ADMIN_TOKEN}")]
    for answer in answers:
        assert {name: answer.headers.get(name) for name in HARDENING} == HARDENING, answer.request.url
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


def test_a_rebound_host_and_cross_site_requests_are_refused(proxied: MockServer) -> None:
    token = {"X-Mockserver-Admin-Token": ADMIN_TOKEN}
    with _fresh(proxied) as client:
        rebound = client.get("/__mockserver/apps?secrets=true", headers={**token, "Host": "rebind.attacker.example"})
        assert rebound.status_code == 403 and "secret" not in rebound.text.lower().replace("secrets", "")
        assert client.get("/__mockserver/apps", headers={**token, "Host": "mock.example:8080"}).status_code == 200
        assert client.get("/__mockserver/apps", headers={**token, "Host": "localhost"}).status_code == 200
        evil = {**token, "Origin": "http://evil.example", "Content-Type": "text/plain"}
        assert client.post("/__mockserver/reset", headers=evil).status_code == 403
        assert client.post("/__mockserver/reset", headers={**token, "Sec-Fetch-Site": "cross-site"}).status_code == 403
        own = {**token, "Origin": proxied.base_url, "Sec-Fetch-Site": "same-origin"}
        assert client.post("/__mockserver/clock/advance", headers={**own, "Content-Type": "text/plain"},
                           content=b'{"seconds": 1}').status_code == 415  # JSON bodies only
        assert client.post("/__mockserver/clock/advance", headers=own, json={"seconds": 1}).status_code == 200


def test_without_trust_proxy_loopback_still_opens_the_control_api() -> None:
    with MockServer() as server, _fresh(server) as client:
        assert client.get("/__mockserver/apps").status_code == 200
        assert client.get("/__mockserver/apps", headers={"Host": "rebind.attacker.example"}).status_code == 403


@needs_chromium
def test_a_browser_opened_with_the_token_keeps_it_out_of_the_url_the_journal_and_the_referer(chromium: Any) -> None:
    args = ["--admin-token", ADMIN_TOKEN, "--trust-proxy", "--log-level", "debug"]
    with MockServer(extra_args=args) as server, browser_page(chromium) as page:
        violations: list[str] = []
        page.on("console", lambda message: violations.append(message.text) if message.type == "error" else None)
        page.goto(f"{server.base_url}/__mockserver/ui/?token={ADMIN_TOKEN}")
        page.wait_for_selector("#apps td")  # the page read the control API with its cookie
        assert ADMIN_TOKEN not in page.url and page.url.endswith("/__mockserver/ui/")
        assert page.locator("#apps").inner_text().count("cs-") == len(server.fixtures.apps)
        page.goto(f"{server.base_url}/logo.png")  # an unknown path, journaled with its headers (and Referer)
        journal = str(server.journal())
        assert ADMIN_TOKEN not in journal and "logo.png" in journal
        assert ADMIN_TOKEN not in "".join(server.output)
        assert [text for text in violations if "Content Security Policy" in text] == []
