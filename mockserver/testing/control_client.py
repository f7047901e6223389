"""Driving a running mock from a test: `ControlClient` speaks to its control
API (`/__mockserver`) with httpx and mints tokens for its fixture apps.

`MockServer` (a real process) and `MockApp` (the ASGI app in this process)
are both control clients, so a test reads the same either way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from mockserver.common.openapi_documents import Documents, load_documents
from mockserver.errors import ControlError
from mockserver.settings import TokenClock
from mockserver.testing import near_misses as verify
from mockserver.vendor.fixtures import App, Fixtures, load_fixtures, parse_fixtures

CONTROL_PREFIX = "/__mockserver"


class ControlClient:
    """The control API of the mock at `base_url`, and tokens for its fixture apps."""

    def __init__(self, *, fixtures_path: str | None = None, spec_path: str | None = None):
        self.fixtures_path, self.spec_path = fixtures_path, spec_path
        self.base_url = ""
        self._http: httpx.Client | None = None
        self._fixtures: Fixtures | None = None
        self._documents: Documents | None = None
        self._replaced_fixtures = False
        self._token_clock: str | None = None  # a setting of the server: read once per connection
        #: The admin token the control calls carry (a mock started with `--trust-proxy` needs it).
        self.admin_token: str | None = None

    def connect(self, base_url: str, http: httpx.Client | None = None) -> None:
        self.base_url = base_url
        self._token_clock = None
        self._http = http or httpx.Client(base_url=base_url, timeout=30, trust_env=False)

    def disconnect(self) -> None:
        if self._http is not None:
            self._http.close()
        self._http = None

    @property
    def http(self) -> httpx.Client:
        """An httpx client for the mock (its base URL set): `server.http.get(path, headers=...)`."""
        if self._http is None:
            raise ControlError("GET", CONTROL_PREFIX, 0, "the mock is not running (start it first)")
        return self._http

    def ready(self) -> bool:
        """True once the mock answers its readiness check (its shared state can be reached)."""
        try:
            self._control("GET", "/ready")
            return True
        except (httpx.TransportError, ControlError):
            return False

    # -- fixtures and tokens -------------------------------------------------------------------

    @property
    def documents(self) -> Documents:
        """The contract the mock serves (and the control API's document)."""
        if self._documents is None:
            self._documents = load_documents(self.spec_path)
        return self._documents

    @property
    def fixtures(self) -> Fixtures:
        """The fixtures the mock serves (the file it was started with, or the
        document last loaded through `load_fixtures`)."""
        if self._fixtures is None:
            self._fixtures = load_fixtures(self.fixtures_path, self.documents)
        return self._fixtures

    def app(self, app: str | None = None) -> App:
        """An app of the fixtures by client id or name (default: the default app): an `App`
        with the attributes `client_id`, `client_secret`, `name`, `account_id`, `kind`,
        `scopes` and `enforce_jti` (`app.public()` is the camelCase dict `mockserver apps` prints).
        Raises `KeyError` naming the known client ids."""
        return self.fixtures.app(app)

    def token(self, app: str | None = None, *, expires_in: float | None = 3600, jti: bool = True) -> str:
        """A token signed the vendor's way for a fixtures app (default: the default
        app), issued now by the clock the mock judges tokens at (`--token-clock`:
        the wall clock by default); a negative `expires_in` makes an expired one,
        `jti=False` leaves out the `jti` claim."""
        if self._token_clock is None or self._token_clock == TokenClock.SERVER:
            clock = self.clock()
            self._token_clock = clock.get("tokenClock", TokenClock.REAL.value)
            now = clock["nowMs"] / 1000 if self._token_clock == TokenClock.SERVER else time.time()
        else:  # tokens judged by the wall clock: no need to ask the server again
            now = time.time()
        return self.fixtures.token(self.app(app), expires_in=expires_in, jti=jti, now=now)

    # -- the control API -----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """`{"status": "ok", "requests": N, "clock": "real"|"manual", "state": {"backend", "status", ...}}`."""
        return self._control("GET", "/health")

    def clock(self) -> dict[str, Any]:
        """The mock's clock: `{"mode": "real"|"manual", "now": ISO-8601, "nowMs": int}`."""
        return self._control("GET", "/clock")

    def advance(self, seconds: float | timedelta) -> dict[str, Any]:
        """Move the manual clock forward (seconds, or a `timedelta`); returns the clock.
        A real clock refuses (`ControlError`, 409)."""
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        return self._control("POST", "/clock/advance", {"seconds": seconds})

    def rate_limit(self, account: str | None = None) -> dict[str, Any]:
        """An account's rate limit and the calls counted against it now (default: the
        default app's account): `{"account", "limit": {"perMinute", "perHour"} or None,
        "usedLastMinute", "usedLastHour", "limited", "retryAfter", "window"}`.
        `reset()` clears the counts; `advance()` moves the windows on a manual clock."""
        chosen = account if account is not None else self.app().account_id
        return self._control("GET", f"/rate-limits/{quote(chosen, safe='')}")

    def stored(self, request_id: str) -> dict[str, Any]:
        """The stored form of an erase request (bots covered, due times), any account."""
        return self._control("GET", f"/requests/{request_id}")

    def journal(self, since: int = 0, *, limit: int | None = None, page_size: int = 1000,
                **filters: Any) -> list[dict[str, Any]]:
        """Journal entries with an id greater than `since`, oldest first, read page by
        page (at most `limit` of them). Filters: `operation_id`, `method`, `path` (a
        prefix), `status`, `app_id`, `from_` and `to` (ISO text or datetimes), `json`
        (the request body contains this value). Raises `TypeError` for another keyword."""
        return list(self._pages("/journal", since, limit, page_size, filters))

    def unmatched(self, since: int = 0, *, limit: int | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Requests no documented operation matched (unknown path, undocumented method,
        malformed path), each with `nearest`: the operation it most likely meant, and why."""
        return list(self._pages("/journal/unmatched", since, limit, 1000, filters))

    def count(self, **filters: Any) -> int:
        """How many journal entries pass the filters (those of `journal()`)."""
        query = verify.filter_query(filters)
        return int(self._control("GET", "/journal/count" + (f"?{urlencode(query)}" if query else ""))["count"])

    def assert_called(self, operation_id: str, times: int | None = None, json: Any = None,
                      **filters: Any) -> list[dict[str, Any]]:
        """Assert that the mock was asked for `operation_id` exactly `times` times (None:
        at least once) by requests that pass the filters (`json`: the body contains
        it). Returns those entries. Raises `AssertionError` showing the nearest entries."""
        operation = verify.operation(self.documents.vocabulary, operation_id)
        wanted = dict(filters, operation_id=operation_id, json=json)
        found = self.journal(**wanted)
        if (len(found) > 0) if times is None else (len(found) == times):
            return found
        expected = "at least once" if times is None else f"{times} time{'s' * (times != 1)}"
        headline = f"expected {verify.describe(wanted)} {expected}; the journal has {len(found)}"
        if found:
            raise AssertionError(verify.failure(headline, [("They are", found)], {}))
        groups = verify.near_misses(self.documents.vocabulary, operation, self.journal(), self.unmatched())
        raise AssertionError(verify.failure(headline, groups, wanted))

    def assert_not_called(self, operation_id: str, json: Any = None, **filters: Any) -> None:
        """Assert that no request passing the filters was for `operation_id`. Raises
        `AssertionError` listing those that were (and `ValueError` for an operation
        the contract does not have, which could never be called)."""
        verify.operation(self.documents.vocabulary, operation_id)
        wanted = dict(filters, operation_id=operation_id, json=json)
        found = self.journal(**wanted)
        if found:
            raise AssertionError(verify.failure(f"expected no {verify.describe(wanted)}; the journal has {len(found)}",
                                                [("They are", found)], {}))

    def assert_no_unmatched(self, since: int = 0) -> None:
        """Assert that every request the mock was sent matched a documented operation.
        Raises `AssertionError` listing the others, each with the operation it most likely meant."""
        found = self.unmatched(since)
        if found:
            raise AssertionError(verify.failure(
                f"expected every request to match an operation of the contract; {len(found)} did not",
                [("They are", found)], {}))

    def wait_until_final(self, request_id: str, *, timeout: float = 30.0, interval: float = 0.1) -> dict[str, Any]:
        """Wait, on the mock's real clock, until every user of erase request `request_id`
        has reached its final status; returns the stored request (`stored()`).

        On the manual clock nothing moves by itself: unless the request is final already,
        this raises `ControlError` naming the seconds to `advance()` instead. Raises
        `TimeoutError` when the request is not final after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            stored = self.stored(request_id)
            pending = [user for user in stored["users"] if user["status"] != user["finalStatus"]]
            if not pending:
                return stored
            if self.clock()["mode"] == "manual":
                wait = self._seconds_until_final(stored)
                raise ControlError("GET", f"{CONTROL_PREFIX}/requests/{request_id}", 409,
                                   f"the mock's clock is manual, so {request_id} will not progress by itself:"
                                   f" advance it instead (server.advance({wait:g}))")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{request_id} is not final after {timeout:g} s:"
                                   f" {len(pending)} of {len(stored['users'])} users pending")
            time.sleep(interval)

    def _seconds_until_final(self, stored: dict[str, Any]) -> float:
        now = datetime.fromisoformat(self.clock()["now"].replace("Z", "+00:00"))
        due = max(datetime.fromisoformat(user["dueOn"].replace("Z", "+00:00")) for user in stored["users"])
        return max(0.0, math.ceil((due - now).total_seconds() * 1000) / 1000)

    def _pages(self, path: str, since: int, limit: int | None, page_size: int,
               filters: dict[str, Any]) -> Iterator[dict[str, Any]]:
        query, got = verify.filter_query(filters), 0
        while limit is None or got < limit:
            size = page_size if limit is None else min(page_size, limit - got)
            page = self._control("GET", f"{path}?{urlencode({**query, 'since': since, 'limit': size})}")
            yield from page["entries"]
            got += len(page["entries"])
            since = page["next"]
            if not page["more"]:
                return

    def inject(self, kind: str = "status", **fault: Any) -> dict[str, Any]:
        """Inject a fault: `inject("status", status=429, retryAfter=3, count=1)`,
        `inject("latency", latencyMs=200)`, `inject("drop", fraction=0.5)`; narrow it
        with `method`, `path` (a prefix) or `operationId`. Returns the stored fault."""
        return self._control("POST", "/faults", {"kind": kind, **fault})

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._control("DELETE", "/faults")

    def outcome(self, outcome: str, *, user: str | None = None, user_pattern: str | None = None,
                bot: str | None = None, account: str | None = None, reason: str | None = None,
                after: float | timedelta | None = None) -> dict[str, Any]:
        """Script how the erasure of matching users ends, in requests created from now on:
        `outcome("FAILURE", user="jane@example.com", reason="Legal hold", after=timedelta(days=32))`.
        `outcome` is a final status of the contract; match by `user` (an id) or `user_pattern`
        (a regular expression the whole id matches), `bot`, `account`; `after` is the time from
        the request's creation to the outcome (seconds or a `timedelta`; default: the server's
        progress delay). The rule added last wins. Returns the stored rule."""
        rule: dict[str, Any] = {"outcome": outcome}
        for key, value in (("user", user), ("userPattern", user_pattern), ("bot", bot), ("account", account),
                           ("reason", reason)):
            if value is not None:
                rule[key] = value
        if after is not None:
            rule["completesInSeconds"] = after.total_seconds() if isinstance(after, timedelta) else after
        return self._control("POST", "/outcomes", rule)

    def clear_outcomes(self) -> None:
        """Remove the outcome rules added with `outcome()` (the fixtures' stay)."""
        self._control("DELETE", "/outcomes")

    def reset(self) -> dict[str, Any]:
        """Back to the fixtures the mock started with (also after `load_fixtures`):
        created requests, used JTIs, faults, added outcome rules and the journal forgotten."""
        if self._replaced_fixtures:
            self._replaced_fixtures = False
            self._fixtures = None
            return self._control("PUT", "/fixtures", self.fixtures.document)
        return self._control("POST", "/reset")

    def load_fixtures(self, document: dict[str, Any]) -> dict[str, Any]:
        """Replace the fixtures (and reset); `reset()` brings the original ones back."""
        result = self._control("PUT", "/fixtures", document)
        self._replaced_fixtures = True
        self._fixtures = parse_fixtures(document, self.documents, "load_fixtures()")
        return result

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the control API; raises `ControlError` with the server's own message."""
        headers = {"X-Mockserver-Admin-Token": self.admin_token} if self.admin_token else None
        response = self.http.request(method, CONTROL_PREFIX + path, json=body, headers=headers)
        if response.status_code >= 400:
            raise ControlError(method, CONTROL_PREFIX + path, response.status_code, _message(response))
        return response.json() if response.content else None


def _message(response: httpx.Response) -> str:
    try:
        errors = response.json()["errors"]
        return "; ".join(str(error["msg"]) for error in errors)
    except (ValueError, KeyError, TypeError):
        return response.text[:500] or response.reason_phrase


