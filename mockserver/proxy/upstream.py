"""The upstream side of the proxy: httpx, with a timeout per exchange and a
limit on the answer's size; the request forwarded as the client sent it.

Forwarded unchanged: the method, the path and query as raw bytes (their
percent-encoding kept), every header in its order, repeats included (the
credential header too: it is the upstream's to judge), and the body. Left
out: the hop-by-hop headers (RFC 9110 section 7.6.1), `Host` (httpx names
the upstream) and the framing headers (the body is sent whole, with its
length). No header is added but `Host` and `Content-Length`: the request is
built as an `httpx.Request`, not through the client's defaults. The answer
comes back as raw bytes, as the upstream encoded them.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass

import httpx

from mockserver.errors import MockserverError
from mockserver.proxy.settings import ProxySettings

#: Headers that describe one connection, never forwarded either way.
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding",
                        b"upgrade", b"proxy-authenticate"})
#: Request headers httpx sets itself for the upstream.
SET_BY_CLIENT = frozenset({b"host", b"content-length"})


class UpstreamError(MockserverError):
    """The upstream gave no usable answer: unreachable, too slow, or an answer over the limit."""


@dataclass(frozen=True)
class Answer:
    """The upstream's answer, as it sent it, and how long it took."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes  # raw: still in its Content-Encoding
    seconds: float

    def decoded(self, limit: int) -> bytes:
        """The body without its gzip or deflate encoding (for judging), at most `limit` bytes."""
        encoding = next((v for k, v in self.headers if k.lower() == b"content-encoding"), b"identity").strip().lower()
        if encoding in (b"gzip", b"x-gzip", b"deflate"):
            try:
                return zlib.decompressobj(zlib.MAX_WBITS | 32).decompress(self.body, limit)
            except zlib.error:
                return self.body
        return self.body


class Upstream:
    """The httpx client that talks to the upstream (one per proxy, its connections pooled)."""

    def __init__(self, url: httpx.URL, settings: ProxySettings, transport: httpx.AsyncBaseTransport | None = None):
        self.url, self.limit = url, settings.max_response_bytes
        self.base_path = url.raw_path.rstrip(b"/")
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(settings.timeout), follow_redirects=False,
                                        trust_env=False, transport=transport)

    def request(self, method: str, raw_path: bytes, query: bytes, headers: list[tuple[bytes, bytes]],
                body: bytes) -> httpx.Request:
        target = self.base_path + raw_path + (b"?" + query if query else b"")
        forwarded = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP and k.lower() not in SET_BY_CLIENT]
        return httpx.Request(method, self.url.copy_with(raw_path=target), headers=forwarded, content=body)

    async def send(self, request: httpx.Request) -> Answer:
        """Send `request`; raises `UpstreamError` for no answer or one over the limit."""
        started = time.monotonic()
        try:
            response = await self.client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from None
        try:
            chunks, size = [], 0
            async for chunk in response.aiter_raw():
                size += len(chunk)
                if size > self.limit:
                    raise UpstreamError(f"its answer is over {self.limit} bytes")
                chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"{type(exc).__name__} while reading the answer") from None
        finally:
            await response.aclose()
        headers = tuple((k, v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP)
        return Answer(response.status_code, headers, b"".join(chunks), time.monotonic() - started)

    async def close(self) -> None:
        await self.client.aclose()
