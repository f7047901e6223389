"""Sending requests: one httpx client (its transport injectable, so tests can
call an ASGI app in-process), a count of every request on the wire,
every request paced (`contracts.execution.pacing`), a 429/503 waited for
(its `Retry-After` when usable, else a back-off) and retried instead of
hammering, a token minted for every attempt, redirects never followed, each
exchange bounded in time and size (`contracts.execution.bounded`), and
reproducible `curl` lines with the token replaced by `$CONTRACTS_TOKEN`.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import math
import shlex
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from contracts.config import DEFAULT_MAX_RESPONSE_BYTES
from contracts.core.errors import UnreachableError
from contracts.execution.bounded import ACCEPT_ENCODING, deadline, network_transport, read_body
from contracts.execution.pacing import Pace
from contracts.planning.model import MAX_RETRIES

RETRY_STATUSES = (429, 503)
TOKEN_PLACEHOLDER = "$CONTRACTS_TOKEN"
_WIRE_HEADERS = ("content-encoding", "content-length", "transfer-encoding")
_QUIET_HEADERS = ("user-agent", "accept-encoding", "connection", "content-length", "accept", "host")


@dataclass
class Exchange:
    """One request as sent and the answer to it."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    status: int
    response_headers: dict[str, str]
    response_body: bytes
    elapsed: float
    attempts: int = 1
    #: The answer's body was longer than `--max-response-bytes`: `response_body` is its start.
    cut: bool = False
    #: The answer as httpx holds it (its body the one kept), for schemathesis's checks.
    response: httpx.Response | None = field(default=None, repr=False)

    def json(self) -> Any:
        return json.loads(self.response_body)

    def header(self, name: str) -> str | None:
        return self.response_headers.get(name.lower())

    def curl(self, auth_header: str) -> str:
        """A one-paste reproduction; the token is replaced by `$CONTRACTS_TOKEN`."""
        parts = ["curl", "-sS", "-i", "-X", self.method, shlex.quote(self.url)]
        for name, value in self.headers.items():
            lowered = name.lower()
            if lowered in _QUIET_HEADERS:
                continue
            if lowered == auth_header.lower():
                parts += ["-H", f'"{name}: {TOKEN_PLACEHOLDER}"'] if value.count(".") == 2 else \
                    ["-H", shlex.quote(f"{name}: {value}")]
            elif lowered == "authorization":
                parts += ["-H", f'"{name}: Bearer {TOKEN_PLACEHOLDER}"']
            else:
                parts += ["-H", shlex.quote(f"{name}: {value}")]
        if self.body:
            try:
                parts += ["--data-binary", shlex.quote(self.body.decode("utf-8"))]
            except UnicodeDecodeError:
                parts += ["--data-binary", "@- <<< $'" + "".join(f"\\x{b:02x}" for b in self.body) + "'"]
        return " ".join(parts)


class Transport:
    """The run's one HTTP client to one deployment: it sends at the run's pace, waits
    out a 429/503 and retries, and counts every request on the wire and every second waited."""

    def __init__(self, base_url: str, timeout: float, max_retry_after: float, *,
                 transport: httpx.BaseTransport | None = None, sleep: Callable[[float], None] = time.sleep,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES, pace: Pace | None = None):
        self.base_url, self.timeout, self.max_retry_after = base_url, timeout, max_retry_after
        self.max_response_bytes = max_response_bytes
        self.client = httpx.Client(timeout=timeout, follow_redirects=False, transport=transport or network_transport(),
                                   headers={"Accept-Encoding": ACCEPT_ENCODING}, trust_env=False)
        self.sleep = sleep
        self.pace = pace if pace is not None else Pace(None, None, sleep=sleep)
        self.sent = 0
        self.waited = 0.0
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        headers: Callable[[], Mapping[str, str]],
        body: bytes | None = None,
        query: tuple[tuple[str, str], ...] = (),
        may_retry: Callable[[], bool] = lambda: True,
    ) -> Exchange:
        """Send at the pace, and on 429/503 wait and send again (at most `MAX_RETRIES`
        times, and only while `may_retry()` and the run's request total allow another).
        `headers()` is called for every attempt: each gets a fresh token.
        Raises `UnreachableError` when the target does not answer HTTP."""
        url = self.base_url + path
        attempt = 0
        while True:
            attempt += 1
            answered = self.pace.acquire()
            request_headers = dict(headers())
            started = time.monotonic()
            try:
                exchange = self._exchange(method, url, request_headers, body, query)
            except httpx.TimeoutException:
                raise UnreachableError(f"{self.base_url} did not answer within {self.timeout:g} s") from None
            except httpx.TransportError as exc:
                raise UnreachableError(f"{self.base_url} is unreachable: {_reason(exc)}") from None
            finally:
                answered()
                with self._lock:
                    self.sent += 1
            exchange.elapsed, exchange.attempts = time.monotonic() - started, attempt
            delay = self.retry_delay(exchange)
            if delay is None or attempt > MAX_RETRIES or self.pace.exhausted() or not may_retry():
                return exchange
            with self._lock:
                self.waited += delay
            self.sleep(delay)

    def _exchange(self, method: str, url: str, headers: dict[str, str], body: bytes | None,
                  query: tuple[tuple[str, str], ...]) -> Exchange:
        """One request and its answer, within `timeout` for all of it and at most
        `max_response_bytes` of its body (decoded) kept."""
        with deadline(self.timeout), self.client.stream(method, url, headers=headers, content=body,
                                                        params=list(query) or None) as response:
            content, cut = read_body(response, self.max_response_bytes)
        return Exchange(
            method=response.request.method,
            url=str(response.request.url),
            headers=headers,
            body=body,
            status=response.status_code,
            response_headers={k.lower(): v for k, v in response.headers.items()},
            response_body=content,
            elapsed=0.0,
            cut=cut,
            response=_kept(response, content),
        )

    def retry_delay(self, exchange: Exchange) -> float | None:
        """Seconds to wait before retrying a 429/503: its `Retry-After` (seconds, or an
        HTTP date; junk such as `nan` counts as absent), else the pace's back-off;
        at most `max_retry_after`. None: do not retry."""
        if exchange.status not in RETRY_STATUSES:
            return None
        delay = retry_after_seconds(exchange.header("retry-after"))
        if delay is None:
            delay = self.pace.backoff(exchange.attempts)
        return min(max(delay, 0.0), self.max_retry_after)


def _kept(response: httpx.Response, content: bytes) -> httpx.Response:
    """`response` with the body as kept (decoded, perhaps cut): without the headers that
    described the body on the wire (its encoding, its length)."""
    headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _WIRE_HEADERS]
    kept = httpx.Response(response.status_code, headers=headers, content=content, request=response.request)
    kept.elapsed = response.elapsed  # known once the answer is closed
    return kept


def retry_after_seconds(value: str | None) -> float | None:
    """A `Retry-After` value in seconds (RFC 9110: delay-seconds or an HTTP-date), or None."""
    if value is None:
        return None
    try:
        delay = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            return None
        delay = (when - datetime.datetime.now(datetime.UTC)).total_seconds()
    return delay if math.isfinite(delay) else None


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out", "No route to host",
                   "Temporary failure in name resolution"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__
