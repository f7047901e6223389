"""The vendor operations, one handler per role of the contract's operations:
`create` for every operation that creates an erase request (the documented
method and its deprecated alias alike), `status` for every one that reads it.

They run after routing, authentication (`mockserver.app.front_door.Guard`) and
Connexion's request validation, so the body and path parameters they get
already satisfy the contract; they only apply the mock's behaviour (`Runtime`). Each
gets the ASGI scope (which carries the caller's app), the path parameters
and, for operations with a body, the parsed JSON body.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response
from starlette.types import Scope

from contracts.core.vocabulary import CREATE, STATUS, Operation
from mockserver.common.error_body import error_response
from mockserver.state.records import StoredRequest
from mockserver.vendor.fixtures import App
from mockserver.vendor.request_context import RequestContext
from mockserver.vendor.runtime import Runtime

NOT_FOUND = "Erase request not found"
#: Attempts at a fresh request id before giving up (only an id format with very
#: few values could ever need a second one).
ID_ATTEMPTS = 100


def _context(scope: Scope) -> RequestContext:
    """What `FrontDoor` and `Guard` know of this vendor request (the caller's app)."""
    context = RequestContext.of(scope)
    if context is None:
        raise LookupError("a vendor handler called without the request's context (FrontDoor attaches it)")
    return context


def _caller(scope: Scope) -> App:
    """The app `Guard` authenticated (handlers run only after it has)."""
    app = _context(scope).app
    if app is None:
        raise LookupError("a vendor handler called before authentication (Guard sets the caller)")
    return app


class Handlers:
    """Owns the vendor operations' behaviour (create and status) over the worker's `Runtime`."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.id_parameter = runtime.vocabulary.link.parameter

    async def create(self, scope: Scope, params: dict[str, str], body: dict[str, Any]) -> Response:
        runtime, app = self.runtime, _caller(scope)
        account = runtime.fixtures.accounts[app.account_id]
        delay_ms = int(runtime.settings.progress_delay * 1000)
        planned: StoredRequest | None = None
        for _ in range(ID_ATTEMPTS):  # never answer with an id that exists
            planned = runtime.progress.plan_request(account, body, runtime.now_ms(), delay_ms, runtime.outcome_rules)
            if await runtime.write(runtime.store.insert_request, planned):
                break
        else:
            return error_response(503, "No free request id left in the id format", {"Retry-After": "60"})
        _context(scope).request_id = planned.request_id  # for the journal
        payload = json.dumps(runtime.progress.acknowledgement(planned.request_id))
        return Response(payload, 200, media_type="application/json")

    async def status(self, scope: Scope, params: dict[str, str], body: Any = None) -> Response:
        found = self.runtime.status_of(params[self.id_parameter])
        # Another account's request answers exactly like a missing one.
        if found is None or found[0].account_id != _caller(scope).account_id:
            return error_response(404, NOT_FOUND)
        return Response(found[1], 200, media_type="application/json")

    def for_operation(self, operation: Operation) -> Any:
        handlers = {CREATE: self.create, STATUS: self.status}
        if operation.role not in handlers:
            raise LookupError(f"the mock has no behaviour for {operation.operation_id} ({operation.method}"
                              f" {operation.path}): it neither creates nor reads an erase request")
        return handlers[operation.role]
