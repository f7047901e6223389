"""Deployments with a behaviour a contract run must cope with, as ASGI
wrappers around the real mock: they are what staging does to a runner."""

from __future__ import annotations

import json
import threading
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from contracts.core.vocabulary import CREATE
from mockserver.app.build import create_app
from mockserver.settings import Settings


def mock(state: str = ":memory:", **settings: Any) -> Any:
    """The real mock's ASGI app on a real clock (fast progress)."""
    return create_app(Settings(state=state, clock="real", progress_delay=0.2).with_overrides(**settings))


class _Wrapper:
    def __init__(self, app: Any):
        self.app = app
        self.vocabulary = app.runtime.vocabulary
        self.lock = threading.Lock()

    def role(self, scope: Scope) -> str | None:
        operation = self.vocabulary.operation_for(scope["method"], scope["path"])
        return operation.role if operation else None

    @staticmethod
    async def answer(send: Send, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
        raw += [(k.encode(), v.encode()) for k, v in (headers or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": data})


class RateLimitedCreates(_Wrapper):
    """Answers 429 with Retry-After to 3 creates out of 5, without passing them on."""

    def __init__(self, app: Any):
        super().__init__(app)
        self.creates = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.role(scope) == CREATE:
            with self.lock:
                self.creates += 1
                limited = self.creates % 5 in (1, 2, 3)
            if limited:
                await self.answer(send, 429, self.vocabulary.error_body(429, "slow down"), {"Retry-After": "1"})
                return
        await self.app(scope, receive, send)


class EchoesAuth(_Wrapper):
    """Puts the first 163 characters of the `auth` header into every error body (a
    gateway that echoes what it refused), and answers 400 where the mock answers
    401, so that the echoed token lands in the run's findings."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"auth"), "")
        started: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            status = started["status"]
            status = 400 if status == 401 else status
            body = b"".join(chunks)
            if status >= 400:
                body = json.dumps(self.vocabulary.error_body(status, self.message(token))).encode()
            headers = [(k, v) for k, v in started["headers"] if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)

    def message(self, token: str) -> str:
        return f"refused token {token[:163]}"


class RefusesSecondUse(_Wrapper):
    """Refuses with 401 every token it has seen before, for every app (a deployment
    whose JTI enforcement is on for all apps): a runner that reuses tokens fails."""

    def __init__(self, app: Any):
        super().__init__(app)
        self.seen: set[bytes] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        token = next((v for k, v in scope.get("headers", []) if k == b"auth"), None)
        if scope["type"] == "http" and token:
            with self.lock:
                reused = token in self.seen
                self.seen.add(token)
            if reused:
                await self.answer(send, 401, self.vocabulary.error_body(401, "jti already used"))
                return
        await self.app(scope, receive, send)


class RefusesEveryOtherValidToken(_Wrapper):
    """Answers 401 to every other request whose token the mock would accept: a
    deployment that looks fine at pre-flight and then refuses valid traffic."""

    def __init__(self, app: Any):
        super().__init__(app)
        self.count = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.role(scope) is not None:
            with self.lock:
                self.count += 1
                refuse = self.count > 8 and self.count % 2 == 0
            if refuse:
                await self.answer(send, 401, self.vocabulary.error_body(401, "Invalid token"))
                return
        await self.app(scope, receive, send)




class EchoesHostileText(EchoesAuth):
    """As `EchoesAuth`, with an error message that also echoes the client secret of
    the app (whatever characters that holds) and text made to act on a reader:
    terminal controls (C1 CSI, bidi override), XML-illegal characters, backticks that
    would end a Markdown code span, and raw HTML."""

    HOSTILE = ("\u009b31m\u202eevil\u202c \x1b[2J \ufffe\uffff\x0b ``` ` </code> <img src=x onerror=alert(1)>"
               " [link](javascript:alert(1)) <b>bold</b> | pipe")

    def __init__(self, app: Any, secret: str):
        super().__init__(app)
        self.secret = secret

    def message(self, token: str) -> str:
        return f"refused token {token} for secret {self.secret} {self.HOSTILE}"
