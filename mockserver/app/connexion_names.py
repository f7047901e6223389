"""Connexion's internal names the mock relies on, in one place.

Connexion's `RoutingMiddleware` leaves the operation it routed a request to
in the ASGI scope, under `scope["extensions"][ROUTING_CONTEXT]`, as a dict
with the keys `operation_id` and `api_base_path`; the path parameters go to
`scope["path_params"]`. The mock's own layers read that routing (the guard,
the dispatcher, the journal) and, for a request line Connexion accepted
before, write it back (`FrontDoor`). Connexion also checks every document
against the OpenAPI meta-schema in `add_api`, through the classmethod
`Specification._validate_spec`, with no option to skip it:
`without_meta_schema_check` replaces it for one `add_api`.

Every other module of the mock goes through these names, so that a Connexion
upgrade that renames one breaks here only.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from connexion.middleware.abstract import ROUTING_CONTEXT
from starlette.types import Scope

#: The key of the routed operation's id inside Connexion's routing context.
OPERATION_ID = "operation_id"
#: Where Connexion's router leaves the path parameters.
PATH_PARAMS = "path_params"

__all__ = ["OPERATION_ID", "PATH_PARAMS", "ROUTING_CONTEXT", "path_params_of", "routed_operation_id", "routing_of",
           "with_routing", "without_meta_schema_check"]

Routing = dict[str, Any]


def routing_of(scope: Scope) -> Routing:
    """Connexion's routing of this request (empty before its router has run or when it matched nothing)."""
    routing: Routing = scope.get("extensions", {}).get(ROUTING_CONTEXT, {})
    return routing


def routed_operation_id(scope: Scope) -> str | None:
    """The operationId Connexion routed this request to, if it has."""
    operation_id: str | None = routing_of(scope).get(OPERATION_ID)
    return operation_id


def with_routing(scope: Scope, routing: Routing, path_params: dict[str, Any]) -> Scope:
    """`scope` routed as Connexion once routed an identical request line: its routing
    context and path parameters set (copies: the layers after may change them)."""
    scope.setdefault("extensions", {})[ROUTING_CONTEXT] = dict(routing)
    return dict(scope, **{PATH_PARAMS: dict(path_params)})


def path_params_of(scope: Scope) -> dict[str, Any]:
    """The path parameters Connexion's router found (a copy)."""
    return dict(scope.get(PATH_PARAMS, {}))


@contextlib.contextmanager
def without_meta_schema_check() -> Iterator[None]:
    """Within this block, Connexion's `add_api` skips its check of the document
    against the OpenAPI meta-schema (for a document that passed it before)."""
    from connexion.spec import Specification

    original = Specification.__dict__["_validate_spec"]
    Specification._validate_spec = classmethod(lambda cls, document: None)
    try:
        yield
    finally:
        Specification._validate_spec = original
