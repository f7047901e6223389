"""The innermost ASGI app: calls the handler of the operation Connexion routed to.

Connexion's `ConnexionMiddleware` routes and validates from the spec and
leaves the operation id and path parameters in the scope; this dispatcher
turns them, the query string and the (already validated) JSON body into the
handler's arguments: `handler(scope, params, body)`, where `params` holds the
path and query parameters by name. It replaces Connexion's per-request parameter
decorators, which re-inspect the handler's signature on every call.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from contracts.core.spec import Spec
from mockserver.app.connexion_names import path_params_of, routed_operation_id, routing_of
from mockserver.app.prefer import Preferences, as_headers
from mockserver.common.error_body import send_error
from mockserver.errors import Refused
from mockserver.vendor.request_context import RequestContext

Handler = Callable[..., Awaitable[Response]]
_CONVERT: dict[str, Callable[[str], Any]] = {
    "integer": int,
    "number": float,
    "boolean": lambda raw: raw.lower() == "true",
}


@dataclass(frozen=True)
class Route:
    """Owns what the dispatcher needs of one operation: its handler, whether it has a
    body, how to convert each query parameter, and whether its request line alone
    decides Connexion's verdict."""

    handler: Handler
    has_body: bool
    query: dict[str, Callable[[str], Any]]
    #: Connexion's routing and validation of a request to this operation depend on its
    #: method, path and query string only (no body, no header or cookie parameters).
    by_request_line: bool = False


def routes_for(spec: Spec, resolve: Callable[[str], Handler]) -> dict[str, Route]:
    """One route per operation of `spec`, its handler given by `resolve(operationId)`."""
    routes = {}
    for op in spec.operations():
        item = spec.document["paths"][op.path]
        parameters = [spec.resolve(p) for p in item.get("parameters", []) + op.definition.get("parameters", [])]
        query = {
            p["name"]: _CONVERT.get(spec.resolve(p.get("schema", {})).get("type"), str)
            for p in parameters
            if p["in"] == "query"
        }
        has_body = "requestBody" in op.definition
        by_request_line = not has_body and all(p["in"] in ("path", "query") for p in parameters)
        routes[op.operation_id] = Route(resolve(op.operation_id), has_body, query, by_request_line)
    return routes


class Dispatcher:
    """The innermost ASGI app: owns the routes by operationId, the `Prefer` answers,
    and the lifespan protocol (start-up and shutdown hooks)."""

    def __init__(self, routes: dict[str, Route], on_shutdown: Callable[[], None] = lambda: None,
                 preferences: Preferences | None = None, on_startup: Callable[[], None] = lambda: None):
        """`preferences` answers a `Prefer` header where the handler would run (the
        request passed auth and validation), for the operations it knows."""
        self.routes, self.on_shutdown, self.preferences = routes, on_shutdown, preferences
        self.on_startup = on_startup

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, self.on_startup, self.on_shutdown)
            return
        operation_id = routed_operation_id(scope)
        route = self.routes.get(operation_id) if operation_id is not None else None
        if operation_id is None or route is None:  # Connexion's router matched no operation
            await send_error(send, 404, "Not found")
            return
        params: dict[str, Any] = path_params_of(scope)
        if route.by_request_line:
            context = RequestContext.of(scope)
            if context is not None:  # a vendor request Connexion routed and validated: FrontDoor may remember
                context.validated = (dict(routing_of(scope)), params.copy())
        if route.query and scope.get("query_string"):
            for name, raw in parse_qsl(scope["query_string"].decode("latin-1")):
                if name in route.query:
                    params[name] = route.query[name](raw)
        raw = await _read_body(receive) if route.has_body else b""
        prefer = next((v for k, v in scope["headers"] if k == b"prefer"), None) if self.preferences else None
        if prefer is not None and self.preferences is not None:
            try:
                chosen = self.preferences.answer(operation_id, prefer.decode("latin-1"))
            except Refused as exc:
                await send_error(send, exc.status, exc.message)
                return
            if chosen is not None:
                canned, applied = chosen
                await send({"type": "http.response.start", "status": canned.status,
                            "headers": as_headers(canned, applied)})
                await send({"type": "http.response.body", "body": canned.body})
                return
        response = await route.handler(scope, params, json.loads(raw) if route.has_body else None)
        await response(scope, receive, send)


async def _lifespan(receive: Receive, send: Send, on_startup: Callable[[], None],
                    on_shutdown: Callable[[], None]) -> None:
    """Nothing to start: the state lives in the SQLite file."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            on_startup()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            on_shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)
