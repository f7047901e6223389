"""Driving a running mock from a test: `ControlClient` speaks to its control
API (`/__mockserver`) with httpx and mints tokens for its fixture apps.

`MockServer` (a real process) and `MockApp` (the ASGI app in this process)
are both control clients, so a test reads the same either way.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

import httpx

from mockserver.documents import load_documents
from mockserver.errors import ControlError
from mockserver.fixtures import App, Fixtures, load_fixtures, parse_fixtures

CONTROL_PREFIX = "/__mockserver"


class ControlClient:
    """The control API of the mock at `base_url`, and tokens for its fixture apps."""

    def __init__(self, *, fixtures_path: str | None = None, spec_path: str | None = None):
        self.fixtures_path, self.spec_path = fixtures_path, spec_path
        self.base_url = ""
        self._http: httpx.Client | None = None
        self._fixtures: Fixtures | None = None
        self._replaced_fixtures = False

    def connect(self, base_url: str, http: httpx.Client | None = None) -> None:
        self.base_url = base_url
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
        """True once the mock answers its health check."""
        try:
            self._control("GET", "/health")
            return True
        except (httpx.TransportError, ControlError):
            return False

    # -- fixtures and tokens -------------------------------------------------------------------

    @property
    def fixtures(self) -> Fixtures:
        """The fixtures the mock serves (the file it was started with, or the
        document last loaded through `load_fixtures`)."""
        if self._fixtures is None:
            self._fixtures = load_fixtures(self.fixtures_path, load_documents(self.spec_path))
        return self._fixtures

    def app(self, app: str | None = None) -> App:
        """An app of the fixtures by client id or name (default: the default app).
        Raises `KeyError` naming the known client ids."""
        return self.fixtures.app(app)

    def token(self, app: str | None = None, *, expires_in: float | None = 3600, jti: bool = True) -> str:
        """A token signed the vendor's way for a fixtures app (default: the default
        app), issued now by the clock the mock judges tokens at (`--token-clock`:
        the wall clock by default); a negative `expires_in` makes an expired one,
        `jti=False` leaves out the `jti` claim."""
        clock = self.clock()
        now = clock["nowMs"] / 1000 if clock.get("tokenClock") == "server" else time.time()
        return self.fixtures.token(self.app(app), expires_in=expires_in, jti=jti, now=now)

    # -- the control API -----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """`{"status": "ok", "requests": N, "clock": "real"|"manual"}`."""
        return self._control("GET", "/health")

    def clock(self) -> dict[str, Any]:
        """The mock's clock: `{"mode": "real"|"manual", "now": ISO-8601, "nowMs": int}`."""
        return self._control("GET", "/clock")

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the manual clock forward; returns the clock. A real clock refuses (`ControlError`, 409)."""
        return self._control("POST", "/clock/advance", {"seconds": seconds})

    def stored(self, request_id: str) -> dict[str, Any]:
        """The stored form of an erase request (bots covered, due times), any account."""
        return self._control("GET", f"/requests/{request_id}")

    def journal(self, since: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        """Journal entries with an id greater than `since`, oldest first."""
        return self._control("GET", "/journal?" + urlencode({"since": since, "limit": limit}))["entries"]

    def inject(self, kind: str = "status", **fault: Any) -> dict[str, Any]:
        """Inject a fault: `inject("status", status=429, retryAfter=3, count=1)`,
        `inject("latency", latencyMs=200)`, `inject("drop", fraction=0.5)`; narrow it
        with `method`, `path` (a prefix) or `operationId`. Returns the stored fault."""
        return self._control("POST", "/faults", {"kind": kind, **fault})

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._control("DELETE", "/faults")

    def reset(self) -> dict[str, Any]:
        """Back to the fixtures the mock started with (also after `load_fixtures`):
        created requests, used JTIs, faults and the journal forgotten."""
        if self._replaced_fixtures:
            self._replaced_fixtures = False
            self._fixtures = None
            return self._control("PUT", "/fixtures", self.fixtures.document)
        return self._control("POST", "/reset")

    def load_fixtures(self, document: dict[str, Any]) -> dict[str, Any]:
        """Replace the fixtures (and reset); `reset()` brings the original ones back."""
        result = self._control("PUT", "/fixtures", document)
        self._replaced_fixtures = True
        self._fixtures = parse_fixtures(document, load_documents(self.spec_path), "load_fixtures()")
        return result

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the control API; raises `ControlError` with the server's own message."""
        response = self.http.request(method, CONTROL_PREFIX + path, json=body)
        if response.status_code >= 400:
            raise ControlError(method, CONTROL_PREFIX + path, response.status_code, _message(response))
        return response.json() if response.content else None


def _message(response: httpx.Response) -> str:
    try:
        errors = response.json()["errors"]
        return "; ".join(str(error["msg"]) for error in errors)
    except (ValueError, KeyError, TypeError):
        return response.text[:500] or response.reason_phrase


