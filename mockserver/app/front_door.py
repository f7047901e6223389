"""The mock's own ASGI layers around Connexion's.

`FrontDoor` wraps the whole application: it refreshes the worker's view of
the shared state, guards the control API, injects faults and writes the
journal. It also remembers Connexion's verdict on request lines it accepted
(`VALIDATED_CACHE_SIZE` of them): for an operation without a body or header
parameters, routing and validation depend on the method, path and query
string alone, so a request that repeats an accepted line, with no body and
no injected fault, goes straight to `Guard` and the dispatcher with the
routing Connexion gave it. Everything after validation (auth, jti, the
handler, the journal) runs as for any request. Connexion's stack was about
a third of the status call's time (py-spy). `Guard` sits inside Connexion, after routing and before request
validation: it authenticates the `auth` header and enforces the body limits
(413, and 400 for a body that is not UTF-8 JSON), so that an unauthenticated
request gets 401 whatever its body, and a malformed body never reaches
Connexion as an exception.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import random
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from contracts.core.platform import Refusal
from contracts.core.tokens import claimed_app_id
from mockserver.app.rate_limited import over_limit
from mockserver.common import strict_json
from mockserver.common.error_body import send_answer, send_error, unavailable
from mockserver.control.ui import ui_page
from mockserver.errors import AuthError, BodyTooLarge, StateUnavailable
from mockserver.state.journal import JournalRow
from mockserver.vendor.faults import GATEWAY_PAGE, RESPONSE_FAULTS, Fault
from mockserver.vendor.fixtures import App
from mockserver.vendor.runtime import Service

CONTROL_PREFIX = "/__mockserver"
UI_PATHS = (CONTROL_PREFIX + "/ui", CONTROL_PREFIX + "/ui/")
ADMIN_TOKEN_HEADER = b"x-mockserver-admin-token"
DOCS_PREFIXES = ("/openapi.json", "/ui")
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


def _is_loopback(scope: Scope) -> bool:
    """A loopback peer. A server listening on `::` sees IPv4 clients as
    IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`), which `is_loopback` does
    not recognise: the mapped IPv4 address is what counts."""
    client = scope.get("client")
    if not client:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class FrontDoor:
    def __init__(self, app: ASGIApp, service: Service, docs: ASGIApp, validated: ASGIApp | None = None):
        """`validated`: the layers after Connexion's validation, for request lines it
        accepted before (None: every request goes through Connexion)."""
        self.app, self.service, self.docs, self.validated = app, service, docs, validated
        #: (method, path, query string) -> (Connexion's routing, path parameters)
        self._accepted: dict[tuple[str, str, bytes], tuple[dict[str, Any], dict[str, Any]]] = {}
        self.auth_header = service.vocabulary.auth_header.lower().encode()
        #: Control calls that answer while the state cannot be reached: they report it.
        self.probes = {f"{CONTROL_PREFIX}/health", f"{CONTROL_PREFIX}/ready"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if path in UI_PATHS:
            if not self._control_allowed(scope, query_token=True):
                await send_error(send, 403, "The mock's page answers loopback clients or the admin token only")
                return
            await _send_raw(send, 200, b"text/html; charset=utf-8", ui_page())
            return
        down: StateUnavailable | None = None
        try:
            self.service.refresh()
        except StateUnavailable as exc:
            down = exc
        if path.startswith(CONTROL_PREFIX):
            if not self._control_allowed(scope):
                await send_error(
                    send, 403, "The control API answers loopback clients or the admin token only"
                )
            elif down is not None and path not in self.probes:
                await send_error(send, *unavailable(down))
            else:
                await self.app(scope, receive, send)
            return
        if path.startswith(DOCS_PREFIXES):
            await self.docs(scope, receive, send)
            return

        context: dict[str, Any] = {"app": None}
        scope.setdefault("extensions", {})["mockserver"] = context
        status_holder = [0]
        settings = self.service.settings
        # The answer's body, for the journal (with --journal-bodies).
        answer: list[bytes] | None = [] if settings.journal and settings.journal_bodies else None
        if self.service.faults and any(f.kind == "requestIdFormat" for f in self.service.faults):
            canonical = self.service.drift.canonical_path(path)
            if canonical is not None:  # an id the requestIdFormat fault handed out: read it as the mock's own
                scope = dict(scope, path=canonical, raw_path=canonical.encode())
                path = canonical

        async def send_recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder[0] = message["status"]
            elif answer is not None:
                answer.append(message.get("body", b""))
            await send(message)

        fault = None
        if down is None:
            try:
                fault = self._fault_for(scope, context)
            except StateUnavailable as exc:
                down = exc
        try:
            if _CONTROL_CHARACTER.search(path):
                # A control character (say, an encoded newline) in a path segment:
                # malformed, and routers disagree on where such a path ends.
                await send_error(send_recording, 400, "Malformed path: control characters")
            elif self.service.vocabulary.operations_at(path) is None:
                # Not a path of the contract. Answer here, so that no router
                # redirects a trailing slash (Starlette answers 307) or guesses.
                await send_error(send_recording, 404, "Not found")
            elif down is not None:
                operation = self.service.vocabulary.operation_for(scope["method"], path)
                context["operation_id"] = operation.operation_id if operation else None
                await send_error(send_recording, *unavailable(down))
            elif fault is None and self.validated is not None:
                line = (scope["method"], path, scope.get("query_string", b""))
                accepted = self._accepted.get(line)
                if accepted is None or any(key in BODY_HEADERS for key, _ in scope["headers"]):
                    await self.app(scope, receive, send_recording)
                    if "validated" in context and accepted is None:
                        if len(self._accepted) >= VALIDATED_CACHE_SIZE:
                            self._accepted.clear()
                        self._accepted[line] = context.pop("validated")
                else:
                    await self._after_validation(scope, receive, send_recording, status_holder, accepted)
            elif fault is None or fault.kind == "latency":
                if fault is not None:
                    await asyncio.sleep(fault.latency_ms / 1000)
                await self.app(scope, receive, send_recording)
            elif fault.kind in RESPONSE_FAULTS:
                await self.app(scope, receive, self._drifting(send_recording, fault))
            elif fault.kind == "status":
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                message = fault.message or f"Injected fault: HTTP {fault.status}"
                await send_error(send_recording, fault.status, message, headers)
            elif fault.kind == "gateway":
                await _send_raw(send_recording, 502, b"text/html", GATEWAY_PAGE)
            else:
                status_holder[0] = 0  # dropped: the client gets no answer at all
                self._drop(receive)
        finally:
            if settings.journal:
                self._journal(scope, status_holder[0], context, answer)
            self.service.maybe_housekeep()

    async def _after_validation(self, scope: Scope, receive: Receive, send: Send, status_holder: list[int],
                                accepted: tuple[dict[str, Any], dict[str, Any]]) -> None:
        """A request line Connexion accepted before: routed as it was then, to auth and
        the handler. Errors answer as Connexion's error handlers would (`app.py`)."""
        routing, path_params = accepted
        scope["extensions"]["connexion_routing"] = dict(routing)
        scope = dict(scope, path_params=dict(path_params))
        assert self.validated is not None
        try:
            await self.validated(scope, receive, send)
        except StateUnavailable as exc:
            if status_holder[0]:
                raise
            await send_error(send, *unavailable(exc))
        except Exception as exc:
            if status_holder[0]:
                raise
            log.error("unhandled %s on %s %s", type(exc).__name__, scope["method"], scope["path"])
            await send_error(send, 500, "Internal server error")

    def _control_allowed(self, scope: Scope, *, query_token: bool = False) -> bool:
        """Loopback clients, or the admin token in its header (or, for the page a
        browser opens, `?token=`)."""
        token = self.service.settings.admin_token
        given = _header(scope, ADMIN_TOKEN_HEADER)
        if given is None and query_token:
            given = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"))).get("token")
        if token and given and hmac.compare_digest(token.encode(), given.encode()):
            return True
        return _is_loopback(scope)

    def _fault_for(self, scope: Scope, context: dict[str, Any]) -> Fault | None:
        """The injected fault that applies to this request, if any (noted in `context`
        with the operation it matched, for the journal)."""
        if not self.service.faults:
            return None
        operation = self.service.vocabulary.operation_for(scope["method"], scope["path"])
        operation_id = operation.operation_id if operation else None
        for fault in self.service.faults:
            if not fault.matches(scope["method"], scope["path"], operation_id):
                continue
            if fault.fraction < 1.0 and random.random() >= fault.fraction:
                continue
            if fault.remaining is not None and not self.service.store.take_fault(fault.id):
                continue
            context["fault"], context["operation_id"] = fault, operation_id
            return fault
        return None

    def _drifting(self, send: Send, fault: Fault) -> Send:
        """A `send` that holds the mock's answer back, changes it as `fault` says
        (`mockserver.vendor.faults.Drift`), then sends it (after `delayMs` for a slow first byte)."""
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def drifting(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            if fault.kind == "slowFirstByte":
                await asyncio.sleep(int(fault.params.get("delayMs", 1000)) / 1000)
            status, headers, body = self.service.drift.apply(fault, start["status"], list(start["headers"]),
                                                             b"".join(chunks))
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

    def _journal(self, scope: Scope, status: int, context: dict[str, Any], answer: list[bytes] | None) -> None:
        service = self.service
        app: App | None = context["app"]
        app_id: str | None
        if app is not None:
            app_id = app.client_id
        elif "app_id" in context:  # refused by Guard, which read the claim
            app_id = context["app_id"]
        else:  # answered before Guard (a fault, an unknown path): the claim, unverified
            app_id = claimed_app_id(service.vocabulary.token, _header(scope, self.auth_header))
        routed = scope["extensions"].get("connexion_routing", {}).get("operation_id")
        fault: Fault | None = context.get("fault")
        service.journal.append(
            JournalRow(
                service.now_ms(),
                scope["method"],
                scope["path"],
                scope.get("query_string", b""),
                service.journal.headers(scope["headers"]),
                context.get("body"),
                status,
                _capped(answer, service.max_body_bytes) if answer is not None and status else None,
                app_id,
                routed or context.get("operation_id"),
                dict(fault.spec, id=fault.id) if fault is not None else None,
                context.get("request_id"),
                context.get("rate_limited"),
            )
        )


async def _send_raw(send: Send, status: int, content_type: bytes, body: bytes) -> None:
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


async def _read_body(receive: Receive, limit: int) -> bytes | None:
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

    def __init__(self, app: ASGIApp, service: Service):
        self.app, self.service = app, service
        self.header = service.vocabulary.auth_header.lower().encode()
        self.body_operations = {op.operation_id for op in service.vocabulary.operations.values() if op.has_body}
        self.control_body_operations = {
            op.operation_id for op in service.documents.control.operations() if "requestBody" in op.definition
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        context = scope.get("extensions", {}).get("mockserver")
        routing = scope.get("extensions", {}).get("connexion_routing", {})
        operation_id = routing.get("operation_id")
        if scope["type"] != "http" or operation_id is None:
            await self.app(scope, receive, send)
            return
        if context is None:  # the control API (FrontDoor has checked who may call it)
            if operation_id in self.control_body_operations:
                await self._checked_body(scope, receive, send, self.service.settings.max_control_body_bytes)
                return
            await self.app(scope, receive, send)
            return
        service = self.service
        tokens = [value for key, value in scope["headers"] if key == self.header]
        if len(tokens) > 1:  # ambiguous credentials: never pick one
            context["app_id"] = None
            await send_answer(send, service.vocabulary.answer(Refusal.CREDENTIALS),
                              f"Invalid token: {len(tokens)} '{self.header.decode()}' headers")
            return
        token = tokens[0].decode("latin-1") if tokens else None
        try:
            app = context["app"] = service.authenticator.authenticate(token, service.token_now())
        except AuthError as exc:
            context["app_id"] = claimed_app_id(service.vocabulary.token, token)
            await send_answer(send, service.vocabulary.answer(exc.refusal), exc.detail)
            return
        if await over_limit(service, app.account_id, context, send):
            return
        if operation_id in self.body_operations:
            await self._checked_body(scope, receive, send, service.max_body_bytes)
            return
        await self.app(scope, receive, send)

    async def _checked_body(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await send_error(send, 413, f"Request body exceeds {limit} bytes")
            return
        timeout = self.service.settings.body_timeout
        try:
            async with asyncio.timeout(timeout):  # for the whole body: trickling does not extend it
                body = await _read_body(receive, limit)
        except TimeoutError:
            await send_error(send, 408, f"Request body not received within {timeout:g} seconds", CLOSE)
            return
        except BodyTooLarge as exc:
            await send_error(send, exc.status, exc.message)
            return
        if body is None:  # the client went away
            return
        context = scope.get("extensions", {}).get("mockserver")
        if context is not None:  # a vendor request: its body, as received, for the journal
            context["body"] = body
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
