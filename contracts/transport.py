"""Sending requests: one session, a count of what was sent, `Retry-After`
honoured on 429/503 instead of hammering, and reproducible `curl` lines with
the token redacted."""

from __future__ import annotations

import json
import shlex
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from contracts.core.errors import UnreachableError

RETRY_STATUSES = (429, 503)
MAX_RETRIES = 3
TOKEN_PLACEHOLDER = "$CONTRACTS_TOKEN"


@dataclass(frozen=True)
class Exchange:
    """One request as sent and the answer to it."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None
    status: int
    response_headers: dict[str, str]
    response_body: bytes

    def json(self) -> Any:
        return json.loads(self.response_body)

    def curl(self, auth_header: str = "auth") -> str:
        """A one-paste reproduction; the token is replaced by `$CONTRACTS_TOKEN`."""
        parts = ["curl", "-sS", "-i", "-X", self.method, shlex.quote(self.url)]
        for name, value in self.headers.items():
            if name.lower() in ("user-agent", "accept-encoding", "connection", "content-length", "accept"):
                continue
            if name.lower() in (auth_header.lower(), "authorization"):
                shown = "Bearer " + TOKEN_PLACEHOLDER if name.lower() == "authorization" else TOKEN_PLACEHOLDER
                parts += ["-H", f'"{name}: {shown}"']
            else:
                parts += ["-H", shlex.quote(f"{name}: {value}")]
        if self.body:
            try:
                parts += ["--data-binary", shlex.quote(self.body.decode("utf-8"))]
            except UnicodeDecodeError:
                parts += ["--data-binary", "@- <<< $'" + "".join(f"\\x{b:02x}" for b in self.body) + "'"]
        return " ".join(parts)


class Transport:
    def __init__(self, base_url: str, timeout: float, max_retry_after: float,
                 sleep: Callable[[float], None] = time.sleep):
        self.base_url, self.timeout, self.max_retry_after = base_url, timeout, max_retry_after
        self.session = requests.Session()
        self.sleep = sleep
        self.sent = 0
        self.waited = 0.0
        self._lock = threading.Lock()

    def count(self) -> None:
        with self._lock:
            self.sent += 1

    def retry_delay(self, status: int, headers: Any) -> float | None:
        """Seconds to wait before retrying, from `Retry-After`; None: do not retry."""
        if status not in RETRY_STATUSES:
            return None
        value = header_value(headers, "Retry-After")
        if value is None:
            return None
        try:
            delay = float(value)
        except (TypeError, ValueError):
            return None
        return min(max(delay, 0.0), self.max_retry_after)

    def with_retries(self, send: Callable[[], Any], status_of: Callable[[Any], int],
                     headers_of: Callable[[Any], Any], *, retry: bool = True) -> Any:
        """`send()`, waited for and repeated on 429/503 with `Retry-After` (unless
        `retry` is off: a create to a remote target is never sent twice)."""
        response = None
        for attempt in range(MAX_RETRIES + 1):
            try:
                response = send()
            except requests.ConnectionError as exc:
                raise UnreachableError(f"{self.base_url} is unreachable: {_reason(exc)}") from None
            except requests.Timeout:
                raise UnreachableError(f"{self.base_url} did not answer within {self.timeout:g} s") from None
            finally:
                self.count()
            delay = self.retry_delay(status_of(response), headers_of(response))
            if delay is None or attempt == MAX_RETRIES or not retry:
                return response
            self.waited += delay
            self.sleep(delay)
        return response

    def request(self, method: str, path: str, *, headers: dict[str, str] | None = None,
                json_body: Any = None, content: bytes | None = None, retry: bool = True) -> Exchange:
        url = self.base_url + path
        if json_body is not None:
            content = json.dumps(json_body).encode()
            headers = {"Content-Type": "application/json", **(headers or {})}

        def send() -> requests.Response:
            return self.session.request(method, url, headers=headers, data=content, timeout=self.timeout,
                                        allow_redirects=False)

        response = self.with_retries(send, lambda r: r.status_code, lambda r: r.headers, retry=retry)
        return exchange_of(response)

    def preflight(self, path: str) -> None:
        """Fail with `UnreachableError` (exit 3) unless the target answers HTTP."""
        try:
            self.session.get(self.base_url + path, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise UnreachableError(f"{self.base_url} is unreachable: {_reason(exc)}") from None
        finally:
            self.count()


def exchange_of(response: Any) -> Exchange:
    """An `Exchange` from a requests or schemathesis response."""
    request = response.request
    body = request.body
    if isinstance(body, str):
        body = body.encode()
    content = getattr(response, "content", b"") or b""
    return Exchange(
        method=request.method,
        url=request.url,
        headers=dict(request.headers),
        body=body,
        status=response.status_code,
        response_headers={k.lower(): header_value(response.headers, k) or "" for k in response.headers},
        response_body=content,
    )


def header_value(headers: Any, name: str) -> str | None:
    """A header from requests' case-insensitive headers or schemathesis's
    lowercase name -> list of values."""
    if headers is None:
        return None
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    if isinstance(value, list):
        return value[0] if value else None
    return value


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out", "No route to host"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__
