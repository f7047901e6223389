"""The one error body of the contract (its error schema, `{"errors": [{"msg",
"code"}]}`), for every error the server answers: ours, Connexion's problems
and Starlette's HTTP exceptions alike, never `application/problem+json`."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.responses import Response
from starlette.types import Send


def error_body(status: int, message: str) -> bytes:
    return json.dumps({"errors": [{"msg": message, "code": status}]}).encode()


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(error_body(status, message), status, headers, "application/json")


async def send_error(send: Send, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
    """Answer an ASGI request with the error body, from a middleware."""
    body = error_body(status, message)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), str(v).encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


#: Seconds a client is told to wait while the shared state cannot be reached (`Retry-After`).
UNAVAILABLE_RETRY_AFTER = 1


def unavailable(reason: object) -> tuple[int, str, dict[str, str]]:
    """The answer while the shared state cannot be reached: 503 (documented on every
    operation), with `Retry-After` and the error body."""
    message = f"Service temporarily unavailable: the mock's state database cannot be reached ({reason})"
    return 503, message, {"Retry-After": str(UNAVAILABLE_RETRY_AFTER)}
