"""The one error body of the contract (its error schema, `{"errors": [{"msg",
"code"}]}`), for every error the server answers: ours, Connexion's problems
and Starlette's HTTP exceptions alike, never `application/problem+json`.

`code` is the HTTP status unless the platform has its own (the contract's
`x-error-answers`: `answer_headers` and `send_answer` give those). Where the
platform's message is a fixed phrase, what exactly was wrong goes in the
`X-Mockserver-Detail` header, for people reading the mock's answers."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.responses import Response
from starlette.types import Send

from contracts.core.platform import ErrorAnswer

#: The header that says what exactly was wrong, beside the platform's fixed message.
DETAIL_HEADER = "X-Mockserver-Detail"


def error_body(status: int, message: str, code: int | None = None) -> bytes:
    return json.dumps({"errors": [{"msg": message, "code": status if code is None else code}]}).encode()


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None, code: int | None = None
) -> Response:
    return Response(error_body(status, message, code), status, headers, "application/json")


def answer_response(answer: ErrorAnswer, detail: str | None = None, headers: Mapping[str, str] | None = None
                    ) -> Response:
    """The platform's answer (`x-error-answers`), with the detail in its header."""
    return error_response(answer.status, answer.message, _with_detail(headers, detail), answer.code)


async def send_answer(send: Send, answer: ErrorAnswer, detail: str | None = None,
                      headers: Mapping[str, str] | None = None) -> None:
    """Answer with the platform's answer (`x-error-answers`), from a middleware."""
    await send_error(send, answer.status, answer.message, _with_detail(headers, detail), code=answer.code)


def _with_detail(headers: Mapping[str, str] | None, detail: str | None) -> dict[str, str]:
    chosen = dict(headers or {})
    if detail:
        chosen[DETAIL_HEADER] = header_text(detail)
    return chosen


#: The longest detail a header carries.
DETAIL_LIMIT = 500


def header_text(text: str) -> str:
    """`text` fit for a header value: one line of printable ASCII (anything else is `?`),
    at most `DETAIL_LIMIT` characters (a detail may quote what the client sent)."""
    line = " ".join(text.split())[:DETAIL_LIMIT]
    return "".join(c if " " <= c <= "~" else "?" for c in line)


async def send_error(send: Send, status: int, message: str, headers: Mapping[str, str] | None = None, *,
                     code: int | None = None) -> None:
    """Answer an ASGI request with the error body, from a middleware."""
    body = error_body(status, message, code)
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
