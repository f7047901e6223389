"""`LoopTransport`: an httpx transport that calls an ASGI app in this process.

Like Starlette's `TestClient` (the app's lifespan runs on entering, the app's
exceptions reach the caller), without its per-request price: the app lives on
one event loop in a thread of its own, and each request is one coroutine handed
to that loop (`asyncio.run_coroutine_threadsafe`). The `TestClient` wraps each
call in anyio's portal, task group and cancel scopes, costing more than the
app itself.

A request's body is read whole, and so is its answer: the mock answers small
JSON documents.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from typing import Any
from urllib.parse import unquote

import httpx
from starlette.types import ASGIApp, Message

#: How long entering or leaving the app's lifespan may take.
LIFESPAN_TIMEOUT = 30.0


class LoopTransport(httpx.BaseTransport):
    """Send httpx requests to `app` as `client` (host, port) would. Use it as a
    context manager, or call `start()` and `close()`."""

    def __init__(self, app: ASGIApp, *, client: tuple[str, int] = ("127.0.0.1", 50000)):
        self.app, self.client = app, client
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lifespan: asyncio.Future[None] | None = None
        self._lifespan_messages: asyncio.Queue[Message] | None = None
        self._lifespan_replies: asyncio.Queue[Message] | None = None

    # -- the loop and the app's lifespan ---------------------------------------------------------

    def start(self) -> LoopTransport:
        if self._loop is not None:
            return self
        loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=loop.run_forever, name="mockserver-asgi", daemon=True)
        self._thread.start()
        self._loop = loop
        try:
            self._call(self._lifespan_event("startup"))
        except BaseException:
            self._stop_loop()
            raise
        return self

    def close(self) -> None:
        if self._loop is None:
            return
        try:
            self._call(self._lifespan_event("shutdown"))
        finally:
            self._stop_loop()

    def __enter__(self) -> LoopTransport:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stop_loop(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        self._lifespan = self._lifespan_messages = self._lifespan_replies = None  # a new start, a new lifespan
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(LIFESPAN_TIMEOUT)
        loop.close()

    def _call(self, coroutine: Awaitable[Any]) -> Any:
        assert self._loop is not None, "the transport is not started"
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()  # type: ignore[arg-type]

    async def _lifespan_event(self, event: str) -> None:
        """Send `lifespan.<event>` and wait for the app's answer. An app that returns
        or raises on the lifespan scope has none: fine, as with uvicorn's `--lifespan auto`."""
        if self._lifespan is None:
            messages: asyncio.Queue[Message] = asyncio.Queue()
            replies: asyncio.Queue[Message] = asyncio.Queue()
            self._lifespan_messages, self._lifespan_replies = messages, replies
            scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}

            async def run() -> None:
                try:
                    await self.app(scope, messages.get, replies.put)
                except Exception:  # noqa: BLE001 - no lifespan support
                    pass
                await replies.put({"type": "lifespan.ended"})

            self._lifespan = asyncio.ensure_future(run())
        assert self._lifespan_messages is not None and self._lifespan_replies is not None
        if self._lifespan.done():
            return
        await self._lifespan_messages.put({"type": f"lifespan.{event}"})
        reply = await asyncio.wait_for(self._lifespan_replies.get(), LIFESPAN_TIMEOUT)
        if reply["type"] == f"lifespan.{event}.failed":
            raise RuntimeError(f"the app's lifespan {event} failed: {reply.get('message', '')}")

    # -- requests ----------------------------------------------------------------------------------

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        status, headers, body = self._call(self._exchange(request, request.read()))
        # A stream, not `content=`: the client reads it, and sets `elapsed` when it closes it.
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body), request=request)

    async def _exchange(self, request: httpx.Request, body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        url = request.url
        raw_path = url.raw_path.split(b"?", 1)[0]
        port = url.port or {"http": 80, "https": 443}.get(url.scheme, 80)
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": unquote(raw_path.decode("ascii", "replace")),
            "raw_path": raw_path,
            "root_path": "",
            "query_string": url.query,
            "headers": [(key.lower(), value) for key, value in request.headers.raw],
            "client": self.client,
            "server": (url.host, port),
            "extensions": {},
            "state": {},
        }
        sent = False
        started: dict[str, Any] = {}
        chunks: list[bytes] = []
        answered = asyncio.Event()

        async def receive() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await answered.wait()  # the client is there until it has the whole answer
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    answered.set()

        await self.app(scope, receive, send)
        if not started:
            raise httpx.RemoteProtocolError("the app returned without answering", request=request)
        return started["status"], list(started.get("headers", [])), b"".join(chunks)
