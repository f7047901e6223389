"""The proxy's control API: the mock's own (`control.yaml`, routed and validated
by Connexion, its journal handlers reused as they are), answering what a proxy
has. The journal, its count, its unmatched requests, health, readiness and
reset (which empties the journal) work as on the mock; a proxy has no
fixtures, clock, faults or stored requests of its own, so the calls that
read them answer empty (the inspector page shows the journal alone) and the
calls that change them are refused with `409`, naming the upstream."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, cast

from connexion import ConnexionMiddleware
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.request_validation import RequestValidationMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.resolver import Resolver
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

from contracts.core.vocabulary import Vocabulary
from mockserver.app.build import register_error_handlers
from mockserver.app.dispatch import Dispatcher, routes_for
from mockserver.app.front_door import CONTROL_PREFIX
from mockserver.app.validation import VALIDATOR_MAP
from mockserver.common.error_body import error_response
from mockserver.common.openapi_documents import Documents
from mockserver.control.api import ControlHandlers, Params
from mockserver.state.journal import Journal
from mockserver.state.records import iso, now_ms
from mockserver.state.store import Store
from mockserver.vendor.runtime import Runtime


@dataclass
class ProxyService:
    """What the control handlers read of a proxy (the part of a mock's `Runtime` it has)."""

    documents: Documents
    vocabulary: Vocabulary
    store: Store
    journal: Journal
    upstream: str


class ProxyControl(ControlHandlers):
    """The control handlers of a proxy: the mock's journal handlers, and answers for
    what a proxy does not have."""

    def __init__(self, service: ProxyService):
        super().__init__(cast(Runtime, service))
        self.proxy = service

    def _health(self) -> dict[str, Any]:
        return {"status": "ok", "requests": None, "clock": "real", "state": self.proxy.store.describe(),
                "upstream": self.proxy.upstream}

    async def reset(self, scope: Scope, params: Params, body: Any) -> Response:
        await self.clearJournal(scope, params, body)
        return JSONResponse(self._health())

    async def getClock(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        now = now_ms()
        return JSONResponse({"mode": "real", "now": iso(now), "nowMs": now, "tokenClock": "real"})

    async def listFaults(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        return JSONResponse({"faults": []})

    async def clearFaults(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        return Response(status_code=204)

    async def listApps(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        return JSONResponse({"apps": [], "contractApps": {"app": None, "otherTenant": None, "unscoped": None},
                             "refusedUsers": []})

    async def listStoredRequests(self, scope: Scope, params: Params, body: Any) -> Response:  # noqa: N802
        return JSONResponse({"requests": []})

    async def _upstreams(self, scope: Scope, params: Params, body: Any) -> Response:
        return error_response(409, f"A proxy has no fixtures, clock, faults or stored requests of its own: ask the"
                                   f" upstream ({self.proxy.upstream}), e.g. a mockserver's control API")

    loadFixtures = advanceClock = injectFault = getStoredRequest = _upstreams  # noqa: N815


def control_app(service: ProxyService) -> ConnexionMiddleware:
    """The control API of a proxy, mounted at `/__mockserver`."""
    handlers = ProxyControl(service)
    control = service.documents.control
    dispatcher = Dispatcher(routes_for(control, handlers.resolve), on_shutdown=service.journal.flush)
    app = ConnexionMiddleware(dispatcher, middlewares=[
        ServerErrorMiddleware, ExceptionMiddleware, RoutingMiddleware, RequestValidationMiddleware])
    app.add_api(control.document, base_path=CONTROL_PREFIX, resolver=Resolver(functools.partial(_same, dispatcher)),
                strict_validation=True, validator_map=VALIDATOR_MAP)
    register_error_handlers(app, cast(Runtime, service))
    return app


def _same(dispatcher: Dispatcher, operation_id: str) -> Dispatcher:
    return dispatcher
