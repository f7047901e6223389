"""What one exchange may cost the runner, whatever the target does: a deadline for the
whole exchange and a limit on each answer's body, decoded size included.

- **Deadline.** `--timeout` is the time for the whole exchange (connect, send, headers,
  body), not per read: every read and write on the socket waits at most what is left
  of it (`DeadlineBackend`, the network backend of the run's connection pool), so a
  target that trickles a byte a second is cut when the time is up.
- **Body limit.** An answer is read as a stream and cut after `--max-response-bytes`
  (`contracts.config.DEFAULT_MAX_RESPONSE_BYTES`); a compressed answer is decoded here, chunk by chunk,
  with the decoder's output capped at what is left of the limit, so a gzip bomb costs
  no more memory than a plain answer of the same limit. Of a cut answer only its
  first `CUT_EXCERPT` bytes are kept (a cut body is never whole JSON: the call is
  judged on that start), so a run's memory stays flat however many answers are cut. Only `gzip` and `deflate` are
  asked for (`ACCEPT_ENCODING`); an answer in another encoding is kept as it came.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

ACCEPT_ENCODING = "gzip, deflate"
#: Bytes kept of an answer that was cut (for the report's excerpt).
CUT_EXCERPT = 64 * 1024
#: Raw bytes handed to the decoder at a time.
RAW_CHUNK = 16 * 1024

_deadline = threading.local()


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every socket read and write of this thread, within the block, ends `seconds` from now."""
    _deadline.at = time.monotonic() + seconds
    try:
        yield
    finally:
        _deadline.at = None


def _left(timeout: float | None) -> float | None:
    """The timeout a socket operation gets: what is left of the exchange's deadline, at most."""
    at = getattr(_deadline, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the exchange's deadline passed")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every operation waits no longer than the exchange's deadline."""

    def __init__(self, inner: httpcore.NetworkStream):
        self.inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, _left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, _left(timeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return DeadlineStream(self.inner.start_tls(ssl_context, server_hostname, _left(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """The connection pool's network backend: httpcore's own, its streams bounded by the deadline."""

    def __init__(self, inner: httpcore.NetworkBackend):
        self.inner = inner

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return DeadlineStream(self.inner.connect_tcp(host, port, _left(timeout), local_address, socket_options))

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        return DeadlineStream(self.inner.connect_unix_socket(path, _left(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


def network_transport() -> httpx.HTTPTransport:
    """httpx's transport, its connection pool's sockets bounded by each exchange's deadline.
    (httpx offers no public way to give its pool a network backend: `_pool` is its own.)"""
    transport = httpx.HTTPTransport(trust_env=False)
    pool = transport._pool
    pool._network_backend = DeadlineBackend(pool._network_backend)
    return transport


class _Decoder:
    """Decodes `gzip`/`deflate` chunk by chunk, never producing more than it is asked for."""

    def __init__(self, encoding: str):
        self.encoding = encoding.strip().lower()
        wbits = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
        self.zlib = zlib.decompressobj(wbits[self.encoding]) if self.encoding in wbits else None
        self.raw_deflate_tried = False

    def decode(self, chunk: bytes, room: int) -> tuple[bytes, bool]:
        """Up to `room` decoded bytes of `chunk`; and whether more was left (cut)."""
        if self.zlib is None:
            return chunk[:room], len(chunk) > room
        try:
            out = self.zlib.decompress(chunk, room + 1)
        except zlib.error:
            if self.encoding != "deflate" or self.raw_deflate_tried:
                return b"", True
            self.raw_deflate_tried = True  # deflate sent without its zlib header, as some servers do
            self.zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            return self.decode(chunk, room)
        return out[:room], len(out) > room or bool(self.zlib.unconsumed_tail)


def read_body(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """The answer's body, decoded, at most `limit` bytes (of a longer one, its first
    `CUT_EXCERPT`); and whether it was cut."""
    decoder = _Decoder(response.headers.get("content-encoding", "identity"))
    body = bytearray()
    for chunk in response.iter_raw(RAW_CHUNK):
        piece, cut = decoder.decode(chunk, limit - len(body))
        body += piece
        if cut:
            return bytes(body[:CUT_EXCERPT]), True
    return bytes(body), False
