"""Deliberately broken deployments: the real mock with exactly one defect,
for proving that `contracts run` catches it.

    python -m tests.broken_mock DEFECT STATE_FILE

prints `listening on http://127.0.0.1:PORT` and serves until killed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import jwt
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mockserver.app.build import create_app
from mockserver.settings import Settings
from mockserver.wire.server import bind

STATUS_PREFIX = "/api/public/bot/eraseUsersData/status/"


def _claims(scope: Scope) -> dict[str, Any] | None:
    for key, value in scope["headers"]:
        if key == b"auth":
            try:
                return jwt.decode(value.decode(), options={"verify_signature": False})
            except jwt.PyJWTError:
                return None
    return None


class Defect:
    """Rewrites a request's auth header and/or a response body."""

    def __init__(self, app: Any, rewrite_token: Callable[[Scope], str | None] | None = None,
                 rewrite_response: Callable[[Scope, int, dict, bytes], tuple[int, dict, bytes]] | None = None):
        self.app, self.rewrite_token, self.rewrite_response = app, rewrite_token, rewrite_response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__mockserver"):
            await self.app(scope, receive, send)
            return
        if self.rewrite_token:
            token = self.rewrite_token(scope)
            if token is not None:
                headers = [(k, v) for k, v in scope["headers"] if k != b"auth"]
                scope = dict(scope, headers=headers + [(b"auth", token.encode())])
        if not self.rewrite_response:
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            else:
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    headers = {k.decode(): v.decode() for k, v in start["headers"]}
                    status, headers, body = self.rewrite_response(scope, start["status"], headers, b"".join(chunks))
                    headers["content-length"] = str(len(body))
                    await send({"type": "http.response.start", "status": status,
                                "headers": [(k.encode(), v.encode()) for k, v in headers.items()]})
                    await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, capture)


def build(defect: str, state: str) -> ASGIApp:
    front = create_app(Settings(state=state, progress_delay=0.2, clock="real"))
    runtime = front.runtime
    default = runtime.fixtures.default_app()
    make_token = runtime.fixtures.token

    def any_token(scope: Scope) -> str:
        return make_token(default)

    def alg_none(scope: Scope) -> str | None:
        for key, value in scope["headers"]:
            if key == b"auth":
                try:
                    if jwt.get_unverified_header(value.decode()).get("alg") == "none":
                        return make_token(default)
                except jwt.PyJWTError:
                    return None
        return None

    def expired(scope: Scope) -> str | None:
        claims = _claims(scope)
        app = runtime.fixtures.apps.get((claims or {}).get("appId"))
        if app and isinstance(claims.get("exp"), int) and claims["exp"] < runtime.now():
            return make_token(app)
        return None

    def owner_of_request(scope: Scope) -> str | None:
        if not scope["path"].startswith(STATUS_PREFIX):
            return None
        stored = runtime.store.get_request(scope["path"][len(STATUS_PREFIX):])
        if stored is None:
            return None
        owner = next(a for a in runtime.fixtures.apps.values() if a.account_id == stored.account_id and a.may_erase)
        return make_token(owner)

    def on_json(edit: Callable[[Scope, dict], dict], when: Callable[[Scope, int], bool]):
        def rewrite(scope: Scope, status: int, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
            if when(scope, status):
                body = json.dumps(edit(scope, json.loads(body))).encode()
            return status, headers, body
        return rewrite

    def role(scope: Scope) -> str | None:
        operation = runtime.vocabulary.operation_for(scope["method"], scope["path"])
        return operation.role if operation else None

    is_status_ok = lambda scope, status: status == 200 and role(scope) == "status"  # noqa: E731
    is_create_ok = lambda scope, status: status == 200 and role(scope) == "create"  # noqa: E731

    def drop_last_updated(scope: Scope, body: dict) -> dict:
        body.pop("lastUpdatedOn", None)
        return body

    def odd_status(scope: Scope, body: dict) -> dict:
        for result in body["response"]:
            result["status"] = "QUEUED"
        return body

    def bad_id(scope: Scope, body: dict) -> dict:
        return dict(body, requestId=body["requestId"].replace("eud-", "erase-"))

    def crash_on_bad_id(scope: Scope, status: int, headers: dict, body: bytes):
        if status == 400 and scope["path"].startswith(STATUS_PREFIX):
            return 500, headers, b'{"errors": [{"msg": "Internal server error", "code": 500}]}'
        return status, headers, body

    def text_plain(scope: Scope, status: int, headers: dict, body: bytes):
        if status == 200 and role(scope) is not None:
            headers["content-type"] = "text/plain"
        return status, headers, body

    defects: dict[str, dict[str, Any]] = {
        "auth-disabled": {"rewrite_token": any_token},
        "alg-none-accepted": {"rewrite_token": alg_none},
        "expired-accepted": {"rewrite_token": expired},
        "other-tenant-readable": {"rewrite_token": owner_of_request},
        "request-id-format": {"rewrite_response": on_json(bad_id, is_create_ok)},
        "500-on-malformed-reqid": {"rewrite_response": crash_on_bad_id},
        "missing-required-field": {"rewrite_response": on_json(drop_last_updated, is_status_ok)},
        "undocumented-status-value": {"rewrite_response": on_json(odd_status, is_status_ok)},
        "wrong-content-type": {"rewrite_response": text_plain},
    }
    return Defect(front, **defects[defect])


DEFECTS = (
    "auth-disabled", "alg-none-accepted", "expired-accepted", "other-tenant-readable",
    "request-id-format", "500-on-malformed-reqid", "missing-required-field",
    "undocumented-status-value", "wrong-content-type",
)


def main(defect: str, state: str) -> None:
    app = build(defect, state)
    sock = bind("127.0.0.1", 0)
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
