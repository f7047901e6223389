"""The HTTP/1.1 layer: uvicorn's httptools protocol, refusing what it cannot
serve with the contract's error body, bounding what a client may send, and
cutting off slow clients.

Uvicorn answers a request its parser refuses with a `text/plain` "Invalid
HTTP request received.", imposes no limit on the size of a request's headers,
and waits forever for the headers of a connection's first request.
`MockHttpProtocol` changes exactly that:

- malformed HTTP (what llhttp refuses: bad or doubled `Content-Length`,
  chunked framing beside `Content-Length` or broken, methods llhttp does not
  know, lower-case methods included, raw non-ASCII or control bytes in the
  request line or headers, anything that is not HTTP/1.x) gets `400`;
- a URL longer than `MAX_URL_BYTES` gets `414`; headers beyond
  `MAX_HEADER_BYTES` in all, or more than `MAX_HEADERS` of them, `431`;
- headers not complete within `--header-timeout` seconds of the connection
  (or of their first byte, on a kept-alive connection) get `408`;

each with the contract's error body and `Connection: close`, since after
such a request the connection's framing cannot be trusted. These answers never
reach the application, so the journal does not see them. Bodies the
application reads are bounded by `--body-timeout` in `mockserver.app.front_door.Guard`,
which answers `408` itself, journaled; the rest of a body the application
answered without reading (a 401 before the body is in, a status call sent
with one) gets the same time to arrive after the answer, and then the
connection is closed (closing at once would race a client that reuses the
connection, as it may: the answer did not say `Connection: close`).

Why not h11 (uvicorn's other implementation): it passes unknown and
lower-case methods to the application (which then answers `405` or `404`),
but answers its own refusals in `text/plain` as well, and it is pure Python,
slower on every request. The server is chosen in one place,
`http_protocol()`: another protocol class can be swapped in there.

Each answer leaves in one write: uvicorn writes the status line and headers
as soon as the application starts its response, and the body in a second
write, two `send()` calls where one does (`OneWrite`: a syscall saved on
every answer).
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from mockserver.common.error_body import error_body
from mockserver.errors import Refused
from mockserver.settings import Settings

MAX_URL_BYTES = 8 * 1024
MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 256


@dataclass(frozen=True)
class Limits:
    """Owns what a client may send on a connection: the header and body time limits,
    the URL's and the headers' sizes, and the number of headers."""

    header_timeout: float
    body_timeout: float
    max_url_bytes: int = MAX_URL_BYTES
    max_header_bytes: int = MAX_HEADER_BYTES
    max_headers: int = MAX_HEADERS



def http_protocol(settings: Settings) -> Any:
    """The protocol factory for uvicorn's `Config(http=...)` (picklable, for the workers)."""
    limits = Limits(header_timeout=settings.header_timeout, body_timeout=settings.body_timeout)
    return functools.partial(MockHttpProtocol, limits=limits)


def _refusal(error: httptools.HttpParserError) -> tuple[int, str]:
    """The status and message for a request the parser refused."""
    cause = error.__context__
    if isinstance(cause, Refused):  # raised by one of our callbacks
        return cause.status, cause.message
    if isinstance(cause, httptools.HttpParserError):  # raised in uvicorn's callbacks (its URL parser)
        return _refusal(cause)
    if isinstance(error, httptools.HttpParserInvalidMethodError):
        return 400, "Malformed request: unknown HTTP method (methods are upper-case, e.g. GET)"
    if isinstance(error, httptools.HttpParserInvalidURLError):
        return 400, "Malformed request: invalid URL (send a path, with any other byte percent-encoded)"
    if isinstance(error, httptools.HttpParserCallbackError):
        return 400, "Malformed request"
    reason = str(error).strip().rstrip(".") or "not HTTP/1.1"
    return 400, f"Malformed request: {reason}"


class OneWrite:
    """A request cycle's view of the connection that holds the status line and
    headers back until the first piece of the body, and writes both at once.
    Anything written after, and `100 Continue`, goes straight through; closing
    sends whatever is held. (Not for HEAD, whose answer has no body.)"""

    __slots__ = ("transport", "_held")

    def __init__(self, transport: asyncio.Transport):
        self.transport: asyncio.Transport = transport
        self._held: bytes | None = b""  # b"": nothing written yet; None: passing through

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None or data.startswith(b"HTTP/1.1 100 "):
            self.transport.write(data)
        elif not held:
            self._held = data
        else:
            self._held = None
            self.transport.write(held + data)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held:
            self.transport.write(held)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return self.transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class MockHttpProtocol(HttpToolsProtocol):
    """Uvicorn's httptools protocol for one connection, owning the limits, the header
    and drain timers, and the contract's error answers to what it refuses."""

    def __init__(self, *args: Any, limits: Limits, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.limits = limits
        self._header_timer: asyncio.TimerHandle | None = None
        self._drain_timer: asyncio.TimerHandle | None = None
        self._in_headers = False
        self._header_bytes = 0
        self._header_count = 0
        self._body_pending = False

    # -- connection and parsing --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        self._disarm_drain_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        if self._in_headers:
            self._header_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()  # WebSocket is off: served as plain HTTP
            return
        except httptools.HttpParserError as error:
            self._refuse(*_refusal(error))
            return
        # Checked after parsing, when whatever of `data` was body is known: the
        # headers, still incomplete, take more than their share.
        if self._in_headers and self._header_bytes > self.limits.max_url_bytes + self.limits.max_header_bytes:
            self._refuse(431, f"Request headers exceed {self.limits.max_header_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_headers, self._body_pending = True, True
        self._header_bytes = self._header_count = 0
        if self._header_timer is None:
            self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_url_bytes:
            raise Refused(414, f"URL longer than {self.limits.max_url_bytes} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            raise Refused(431, f"More than {self.limits.max_headers} request headers")
        if len(name) + len(value) > self.limits.max_header_bytes:
            raise Refused(431, f"Request headers exceed {self.limits.max_header_bytes} bytes")
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_headers = False
        self._disarm_header_timer()
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.scope["method"] != "HEAD":  # HEAD: no body to wait for
            self.cycle.transport = OneWrite(self.transport)  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        self._body_pending = False
        self._disarm_drain_timer()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._body_pending and self.cycle is not None and self.cycle.response_complete:
            # Answered before its whole body was in (the application did not need
            # it): the rest may come, within the body timeout, and is discarded.
            self._drain_timer = self.loop.call_later(self.limits.body_timeout, self.transport.close)

    # -- refusals ----------------------------------------------------------------------------------

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(self.limits.header_timeout, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _disarm_drain_timer(self) -> None:
        if self._drain_timer is not None:
            self._drain_timer.cancel()
            self._drain_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False  # a late pipelined request: close after the answer in progress
            return
        self._refuse(408, f"Request headers not received within {self.limits.header_timeout:g} seconds")

    def _refuse(self, status: int, message: str) -> None:
        """Answer `status` with the contract's error body (unless an answer is
        already on its way) and close the connection."""
        self._disarm_header_timer()
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started or self.cycle.response_complete:
            body = error_body(status, message)
            head = [STATUS_LINE[status]]
            head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
            head += [b"content-type: application/json\r\n", b"content-length: %d\r\n" % len(body),
                     b"connection: close\r\n", b"\r\n"]
            self.transport.write(b"".join(head) + body)
        self.transport.close()
