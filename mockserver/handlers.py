"""The vendor operations, one function per `operationId` of `openapi.yaml`.

They run after routing, authentication (`mockserver.middleware`) and
Connexion's request validation, so the body and `reqId` they get already
satisfy the contract; they only apply the service's behaviour. Each gets the
ASGI scope first (which carries the caller's app), then the operation's
parameters by name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.responses import Response
from starlette.types import Scope

from mockserver import lifecycle
from mockserver.errors import error_response
from mockserver.fixtures import App
from mockserver.service import Service

NOT_FOUND = "Erase request not found"


def _json(payload: dict[str, Any]) -> Response:
    return Response(json.dumps(payload), 200, media_type="application/json")


def _context(scope: Scope) -> dict[str, Any]:
    """What `middleware.FrontDoor` and `Guard` know of this request (the caller's app)."""
    return scope["extensions"]["mockserver"]


def _caller(scope: Scope) -> App:
    return _context(scope)["app"]


class Handlers:
    def __init__(self, service: Service):
        self.service = service

    async def createEraseRequest(self, scope: Scope, body: dict[str, Any]) -> Response:  # noqa: N802
        service, app = self.service, _caller(scope)
        account = service.fixtures.accounts[app.account_id]
        delay_ms = int(service.settings.progress_delay * 1000)
        while True:  # a uuid4 collision is all but impossible; never answer with a duplicate
            planned = lifecycle.plan_request(account, body, service.now_ms(), delay_ms)
            if service.store.insert_request(planned):
                break
        _context(scope)["request_id"] = planned.request_id  # for the journal
        return _json({"requestId": planned.request_id, "status": lifecycle.ACCEPTED})

    async def getEraseRequestStatus(self, scope: Scope, reqId: str) -> Response:  # noqa: N802, N803
        found = self.service.status_of(reqId)
        # Another account's request answers exactly like a missing one.
        if found is None or found[0].account_id != _caller(scope).account_id:
            return error_response(404, NOT_FOUND)
        return Response(found[1], 200, media_type="application/json")

    async def createEraseRequestViaPost(self, scope: Scope, body: dict[str, Any]) -> Response:  # noqa: N802
        return await self.createEraseRequest(scope, body)

    async def getEraseRequestStatusViaPost(self, scope: Scope, reqId: str) -> Response:  # noqa: N802, N803
        return await self.getEraseRequestStatus(scope, reqId)

    def resolve(self, operation_id: str) -> Callable[..., Any]:
        return getattr(self, operation_id)
