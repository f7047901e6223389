"""The mock's own ASGI layers around Connexion's.

`FrontDoor` wraps the whole application: it refreshes the worker's view of
the shared state, guards the control API, injects faults and writes the
journal. It also remembers Connexion's verdict on request lines it accepted
(`VALIDATED_CACHE_SIZE` of them): for an operation without a body or header
parameters, routing and validation depend on the method, path and query
string alone, so a request that repeats an accepted line, with no body and
no injected fault, goes straight to `Guard` and the dispatcher with the
routing Connexion gave it. Everything after validation (auth, jti, the
handler, the journal) runs as for any request; Connexion's routing and
validation are skipped because they are a large share of a repeated call's
cost. `Guard` sits inside Connexion, after routing and before request
validation: it authenticates the `auth` header and enforces the body limits
(413, and 400 for a body that is not UTF-8 JSON), so that an unauthenticated
request gets 401 whatever its body, and a malformed body never reaches
Connexion as an exception.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.core.platform import Refusal
from contracts.core.tokens import claimed_app_id
from mockserver.app.connexion_names import routed_operation_id, with_routing
from mockserver.app.control_gate import ControlGate, with_security_headers
from mockserver.app.rate_limited import over_limit
from mockserver.common import strict_json
from mockserver.common.error_body import send_answer, send_error, unavailable
from mockserver.control.ui import ui_page
from mockserver.errors import AuthError, BodyTooLarge, StateUnavailable
from mockserver.state.journal import JournalRow
from mockserver.vendor.faults import GATEWAY_PAGE, REPLACING_FAULTS, Composed, Fault, FaultKind
from mockserver.vendor.request_context import RequestContext
from mockserver.vendor.runtime import Runtime

CONTROL_PREFIX = "/__mockserver"
UI_PATHS = (CONTROL_PREFIX + "/ui", CONTROL_PREFIX + "/ui/")
DOCS_PREFIXES = ("/openapi.json", "/ui")
#: Paths a browser asks for on its own: answered 404, never journaled (they are no client's request).
BROWSER_PATHS = frozenset({"/favicon.ico"})
#: Headers that say how to read a body: more than one of a kind is ambiguous.
#: After an answer that leaves a request's body unread, the connection cannot be reused.
CLOSE = {"Connection": "close"}
FRAMING_HEADERS = (b"content-type", b"content-encoding", b"content-length", b"transfer-encoding")
#: Headers of a request that has (or says something about) a body: never answered from a remembered verdict.
BODY_HEADERS = frozenset({b"content-type", b"content-length", b"transfer-encoding"})
VALIDATED_CACHE_SIZE = 10_000
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")

log = logging.getLogger("mockserver")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


class FrontDoor:
    """The outermost ASGI app. Owns the split between the inspector page, the control
    API (loopback or admin token), the docs and vendor requests; for vendor requests,
    the injected faults, the journal row, and the request lines Connexion accepted."""

    def __init__(self, app: ASGIApp, runtime: Runtime, docs: ASGIApp, validated: ASGIApp | None = None):
        """`validated`: the layers after Connexion's validation, for request lines it
        accepted before (None: every request goes through Connexion)."""
        self.app, self.runtime, self.docs, self.validated = app, runtime, docs, validated
        #: (method, path, query string) -> (Connexion's routing, path parameters)
        self._accepted: dict[tuple[str, str, bytes], tuple[dict[str, Any], dict[str, Any]]] = {}
        self.auth_header = runtime.vocabulary.auth_header.lower().encode()
        #: Control calls that answer while the state cannot be reached: they report it.
        self.probes = {f"{CONTROL_PREFIX}/health", f"{CONTROL_PREFIX}/ready"}
        self.gate = ControlGate(runtime.settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path in UI_PATHS:
            await self._ui_page(scope, with_security_headers(send, page=True))
            return
        if path in BROWSER_PATHS:
            await send_error(send, 404, "Not found")
            return
        down = self._refresh()
        if path.startswith(CONTROL_PREFIX):
            await self._control(scope, receive, with_security_headers(send, page=False), down)
        elif path.startswith(DOCS_PREFIXES):
            await self.docs(scope, receive, send)
        else:
            await self._vendor(scope, receive, send, down)

    def _refresh(self) -> StateUnavailable | None:
        """Pick up the shared state's changes; why the state cannot be reached, if it cannot."""
        try:
            self.runtime.refresh()
        except StateUnavailable as exc:
            return exc
        return None

    async def _ui_page(self, scope: Scope, send: Send) -> None:
        """The page, for whom `ControlGate` lets in; a URL with a query (`?token=`) is
        answered with a redirect to the clean URL (and the token as a cookie)."""
        refusal = self.gate.refusal(scope, query_token=True)
        if refusal is not None:
            await send_error(send, 403, refusal)
        elif scope.get("query_string"):
            await self.gate.trade_token(scope, send, UI_PATHS[1])
        else:
            await send_raw(send, 200, b"text/html; charset=utf-8", ui_page())

    async def _control(self, scope: Scope, receive: Receive, send: Send, down: StateUnavailable | None) -> None:
        """A control API call: for loopback clients or the admin token; while the state
        cannot be reached, only the probes answer (and report it)."""
        refusal = self.gate.refusal(scope)
        if refusal is not None:
            await send_error(send, 403, refusal)
        elif down is not None and scope["path"] not in self.probes:
            await send_error(send, *unavailable(down))
        else:
            await self.app(scope, receive, send)

    async def _vendor(self, scope: Scope, receive: Receive, send: Send, down: StateUnavailable | None) -> None:
        """A vendor request: the faults that apply (if any) found, answered, then journaled."""
        context = RequestContext().attach(scope)
        settings = self.runtime.settings
        recorder = _Recorder(send, keep_body=settings.journal and settings.journal_bodies)
        scope = self._with_canonical_id(scope)
        faults = None
        if down is None:
            try:
                faults = self._faults_for(scope, context)
            except StateUnavailable as exc:
                down = exc
        try:
            await self._answer(scope, receive, recorder, context, faults, down)
        finally:
            if settings.journal:
                self._journal(scope, recorder.status, context, recorder.chunks)
            self.runtime.maybe_housekeep()

    def _with_canonical_id(self, scope: Scope) -> Scope:
        """`scope` with a request id the requestIdFormat fault handed out read as the mock's own."""
        if not any(f.kind is FaultKind.REQUEST_ID_FORMAT for f in self.runtime.faults):
            return scope
        canonical = self.runtime.drift.canonical_path(scope["path"])
        if canonical is None:
            return scope
        return dict(scope, path=canonical, raw_path=canonical.encode())

    async def _answer(self, scope: Scope, receive: Receive, send: _Recorder, context: RequestContext,
                      faults: Composed | None, down: StateUnavailable | None) -> None:
        path = scope["path"]
        if _CONTROL_CHARACTER.search(path):
            # A control character (say, an encoded newline) in a path segment:
            # malformed, and routers disagree on where such a path ends.
            await send_error(send, 400, "Malformed path: control characters")
        elif self.runtime.vocabulary.operations_at(path) is None:
            # Not a path of the contract. Answer here, so that no router
            # redirects a trailing slash (Starlette answers 307) or guesses.
            await send_error(send, 404, "Not found")
        elif down is not None:
            operation = self.runtime.vocabulary.operation_for(scope["method"], path)
            context.operation_id = operation.operation_id if operation else None
            await send_error(send, *unavailable(down))
        elif faults is not None:
            await self._faulty(scope, receive, send, faults)
        elif self.validated is not None:
            await self._remembered_or_validated(scope, receive, send, context)
        else:
            await self.app(scope, receive, send)

    async def _remembered_or_validated(self, scope: Scope, receive: Receive, send: _Recorder,
                                       context: RequestContext) -> None:
        """A request line Connexion accepted before (and no body): straight to the layers
        after validation; any other request through Connexion, remembering its verdict."""
        line = (scope["method"], scope["path"], scope.get("query_string", b""))
        accepted = self._accepted.get(line)
        if accepted is not None and not any(key in BODY_HEADERS for key, _ in scope["headers"]):
            await self._after_validation(scope, receive, send, accepted)
            return
        await self.app(scope, receive, send)
        if context.validated is not None and accepted is None:
            if len(self._accepted) >= VALIDATED_CACHE_SIZE:
                self._accepted.clear()
            self._accepted[line], context.validated = context.validated, None

    async def _faulty(self, scope: Scope, receive: Receive, send: Send, faults: Composed) -> None:
        """The answer as the injected faults make it, stage by stage (`vendor.faults.Stage`):
        the delays, then the replacing answer (or the mock's), then the drifts on it."""
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        replacing = faults.replacing
        if replacing is not None and replacing.kind is FaultKind.DROP:  # the client gets no answer at all
            if faults.first_byte_delay_ms:
                await asyncio.sleep(faults.first_byte_delay_ms / 1000)
            self._drop(receive)
            return
        if faults.drifts or faults.first_byte_delay_ms:
            send = self._drifting(send, faults)
        if replacing is None:
            await self.app(scope, receive, send)
        elif replacing.kind is FaultKind.STATUS:
            headers = {"Retry-After": str(replacing.retry_after)} if replacing.retry_after is not None else {}
            message = replacing.message or f"Injected fault: HTTP {replacing.status}"
            await send_error(send, replacing.status, message, headers)
        else:
            await send_raw(send, 502, b"text/html", GATEWAY_PAGE)

    async def _after_validation(self, scope: Scope, receive: Receive, send: _Recorder,
                                accepted: tuple[dict[str, Any], dict[str, Any]]) -> None:
        """A request line Connexion accepted before: routed as it was then, to auth and
        the handler. Errors answer as Connexion's error handlers would (`build.register_error_handlers`)."""
        scope = with_routing(scope, *accepted)
        assert self.validated is not None
        try:
            await self.validated(scope, receive, send)
        except StateUnavailable as exc:
            if send.status:  # the answer has begun: too late for another
                raise
            await send_error(send, *unavailable(exc))
        except Exception as exc:
            if send.status:  # the answer has begun: too late for another
                raise
            log.error("unhandled %s on %s %s", type(exc).__name__, scope["method"], scope["path"])
            await send_error(send, 500, "Internal server error")

    def _faults_for(self, scope: Scope, context: RequestContext) -> Composed | None:
        """The injected faults that apply to this request, if any (noted in `context`
        with the operation they matched, for the journal). A counted fault is used up
        only when it applies: a second replacing fault does not."""
        if not self.runtime.faults:
            return None
        operation = self.runtime.vocabulary.operation_for(scope["method"], scope["path"])
        operation_id = operation.operation_id if operation else None
        chosen: list[Fault] = []
        replacing = False
        for fault in self.runtime.faults:
            if not fault.matches(scope["method"], scope["path"], operation_id):
                continue
            if replacing and fault.kind in REPLACING_FAULTS:
                continue
            if fault.fraction < 1.0 and random.random() >= fault.fraction:
                continue
            if fault.remaining is not None and not self.runtime.store.take_fault(fault.id):
                continue
            chosen.append(fault)
            replacing = replacing or fault.kind in REPLACING_FAULTS
        if not chosen:
            return None
        context.faults, context.operation_id = Composed(tuple(chosen)), operation_id
        return context.faults

    def _drifting(self, send: Send, faults: Composed) -> Send:
        """A `send` that holds the answer back, changes it by each drift of `faults` in turn
        (`mockserver.vendor.faults.Drift`), then sends it (after a slow first byte's delay)."""
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def drifting(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            if faults.first_byte_delay_ms:
                await asyncio.sleep(faults.first_byte_delay_ms / 1000)
            status, headers, body = self.runtime.drift.apply_all(faults.drifts, start["status"],
                                                                 list(start["headers"]), b"".join(chunks))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        return drifting

    @staticmethod
    def _drop(receive: Receive) -> None:
        """Close the connection without a response. Uvicorn's `receive` is a bound
        method of the request cycle, which holds the transport."""
        cycle = getattr(receive, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None:
            raise ConnectionAbortedError("injected fault: drop")
        transport.close()

    def _journal(self, scope: Scope, status: int, context: RequestContext, answer: list[bytes] | None) -> None:
        runtime = self.runtime
        app_id: str | None
        if context.app is not None:
            app_id = context.app.client_id
        elif context.refused:  # refused by Guard, which read the claim
            app_id = context.claimed_app_id
        else:  # answered before Guard (a fault, an unknown path): the claim, unverified
            app_id = claimed_app_id(runtime.vocabulary.token, _header(scope, self.auth_header))
        routed = routed_operation_id(scope)
        faults = context.faults
        runtime.journal.append(
            JournalRow(
                runtime.now_ms(),
                scope["method"],
                scope["path"],
                scope.get("query_string", b""),
                runtime.journal.headers(scope["headers"]),
                context.body,
                status,
                _capped(answer, runtime.max_body_bytes) if answer is not None and status else None,
                app_id,
                routed or context.operation_id,
                faults.journaled() if faults is not None else None,
                context.request_id,
                rate_limited=context.rate_limited,
            )
        )


class _Recorder:
    """The `send` of a vendor request: passes every message on, noting the answer's
    status and (with `keep_body`, for the journal's --journal-bodies) its body."""

    __slots__ = ("chunks", "send", "status")

    def __init__(self, send: Send, *, keep_body: bool):
        self.send, self.status = send, 0
        self.chunks: list[bytes] | None = [] if keep_body else None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        elif self.chunks is not None:
            self.chunks.append(message.get("body", b""))
        await self.send(message)


async def send_raw(send: Send, status: int, content_type: bytes, body: bytes) -> None:
    """A whole answer of our own (the inspector page, a refusal) in two ASGI messages."""
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _capped(chunks: list[bytes], limit: int) -> bytes:
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return body if len(body) <= limit else body[:limit]


def _framing_problem(scope: Scope) -> str | None:
    """Why the headers that say how to read a body are ambiguous (400), if they are.
    (Two Content-Lengths, or one beside chunked encoding, never get this far:
    the HTTP layer refuses them.)"""
    for name in FRAMING_HEADERS:
        count = sum(1 for key, _ in scope["headers"] if key == name)
        if count > 1:
            return f"Ambiguous request: {count} '{name.decode()}' headers"
    return None


def _media_type_problem(scope: Scope) -> str | None:
    """Why a request body is not `application/json` in UTF-8, unencoded (415), if it is not."""
    raw = _header(scope, b"content-type")
    if not raw:
        return "Content-Type must be application/json (none was sent)"
    media_type, _, parameters = raw.partition(";")
    if media_type.strip().lower() != "application/json":
        return f"Content-Type must be application/json, not {media_type.strip()!r}"
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return f"JSON bodies must be UTF-8, not charset={value.strip()}"
    encoding = (_header(scope, b"content-encoding") or "identity").strip().lower()
    if encoding != "identity":
        return f"Content-Encoding {encoding!r} is not supported"
    return None


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body (None if the client disconnects). Raises `BodyTooLarge` past `limit` bytes."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _with_length(scope: Scope, body: bytes) -> Scope:
    """The scope of a request whose body has been read whole: its length stated,
    whatever framing it came in (Connexion reads a body only when
    `Content-Length` says there is one, so a chunked body looked missing)."""
    headers = [(k, v) for k, v in scope["headers"] if k not in (b"content-length", b"transfer-encoding")]
    return dict(scope, headers=[*headers, (b"content-length", str(len(body)).encode())])


class Guard:
    """Authenticates vendor requests, and reads and checks every request body
    (vendor and control API alike) before Connexion validates it."""

    def __init__(self, app: ASGIApp, runtime: Runtime):
        self.app, self.runtime = app, runtime
        self.header = runtime.vocabulary.auth_header.lower().encode()
        self.body_operations = {op.operation_id for op in runtime.vocabulary.operations.values() if op.has_body}
        self.control_body_operations = {
            op.operation_id for op in runtime.documents.control.operations() if "requestBody" in op.definition
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = RequestContext.of(scope)
        operation_id = routed_operation_id(scope)
        if scope["type"] != "http" or operation_id is None:
            await self.app(scope, receive, send)
            return
        if context is None:  # the control API (FrontDoor has checked who may call it)
            if operation_id in self.control_body_operations:
                await self._checked_body(scope, receive, send, self.runtime.settings.max_control_body_bytes)
                return
            await self.app(scope, receive, send)
            return
        runtime = self.runtime
        tokens = [value for key, value in scope["headers"] if key == self.header]
        if len(tokens) > 1:  # ambiguous credentials: never pick one
            context.refuse(None)
            await send_answer(send, runtime.vocabulary.answer(Refusal.CREDENTIALS),
                              f"Invalid token: {len(tokens)} '{self.header.decode()}' headers")
            return
        token = tokens[0].decode("latin-1") if tokens else None
        try:
            app = context.app = runtime.authenticator.authenticate(token, runtime.token_now())
        except AuthError as exc:
            context.refuse(claimed_app_id(runtime.vocabulary.token, token))
            await send_answer(send, runtime.vocabulary.answer(exc.refusal), exc.detail)
            return
        if await over_limit(runtime, app.account_id, context, send):
            return
        if operation_id in self.body_operations:
            await self._checked_body(scope, receive, send, runtime.max_body_bytes)
            return
        await self.app(scope, receive, send)

    async def _checked_body(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await send_error(send, 413, f"Request body exceeds {limit} bytes")
            return
        timeout = self.runtime.settings.body_timeout
        try:
            async with asyncio.timeout(timeout):  # for the whole body: trickling does not extend it
                body = await read_body(receive, limit)
        except TimeoutError:
            await send_error(send, 408, f"Request body not received within {timeout:g} seconds", CLOSE)
            return
        except BodyTooLarge as exc:
            await send_error(send, exc.status, exc.message)
            return
        if body is None:  # the client went away
            return
        context = RequestContext.of(scope)
        if context is not None:  # a vendor request: its body, as received, for the journal
            context.body = body
        problem = _framing_problem(scope)
        if problem:
            await send_error(send, 400, problem)
            return
        problem = _media_type_problem(scope) if body else None
        if problem:
            await send_error(send, 415, problem)
            return
        if body:
            try:
                strict_json.loads(body.decode("utf-8"))
            except UnicodeDecodeError:
                await send_error(send, 400, "Request body is not valid UTF-8")
                return
            except strict_json.JsonTextError as exc:
                await send_error(send, 400, f"Request body is {exc}")
                return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(_with_length(scope, body), replay, send)
