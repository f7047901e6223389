"""What the mock's layers learn about one vendor request, as they learn it.

`FrontDoor` creates one `RequestContext` per vendor request and attaches it
to the ASGI scope; the fault injection, `Guard` (authentication and the
body), the dispatcher and the handlers fill it in, and the journal reads it
once the answer is sent. Control API and docs requests have none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.types import Scope

from mockserver.vendor.faults import Composed
from mockserver.vendor.fixtures import App

#: The key of the context in the scope's `extensions`.
EXTENSION = "mockserver"


@dataclass(slots=True)
class RequestContext:
    """Owns one vendor request's facts: who called (`app`, or the claim of a caller
    that was refused), which operation and faults it matched, the body as received,
    the request id it created, and Connexion's verdict on its request line."""

    #: The authenticated caller (None until `Guard` lets the request through).
    app: App | None = None
    #: True once `Guard` refused the caller; `claimed_app_id` is then the app id its token claims.
    refused: bool = False
    claimed_app_id: str | None = None
    #: The operation the request matched, when it was answered before Connexion routed it.
    operation_id: str | None = None
    #: The injected faults that delay, answer or change the answer to this request.
    faults: Composed | None = None
    #: The request body, as received (read by `Guard`).
    body: bytes | None = None
    #: The erase request this call created.
    request_id: str | None = None
    #: Why the rate limit answered `429` (`OverLimit.public()`), when it did.
    rate_limited: dict[str, Any] | None = None
    #: Connexion's routing and path parameters of a request line it accepted, for `FrontDoor` to remember.
    validated: tuple[dict[str, Any], dict[str, Any]] | None = None

    def attach(self, scope: Scope) -> RequestContext:
        """Put this context in `scope` (where `of` finds it)."""
        scope.setdefault("extensions", {})[EXTENSION] = self
        return self

    @staticmethod
    def of(scope: Scope) -> RequestContext | None:
        """The context of a vendor request (None for the control API's and the docs')."""
        context: RequestContext | None = scope.get("extensions", {}).get(EXTENSION)
        return context

    def refuse(self, claimed_app_id: str | None) -> None:
        """Note that `Guard` refused the caller, whose token claims `claimed_app_id`."""
        self.refused, self.claimed_app_id = True, claimed_app_id
