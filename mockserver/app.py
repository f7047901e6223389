"""Build the mock server's ASGI application from the contract at run time.

Routing and request validation are Connexion's, from `openapi.yaml`; the
handlers are named by `operationId`. Connexion's middleware stack is kept
except for two layers this mock replaces: its security layer (the vendor's
JWT rules live in `mockserver.auth`, applied by `middleware.Guard`) and
response validation (off by default for speed; `validate_responses=True`
turns it on, and the test suite checks every answer against the contract
with schemathesis anyway).
"""

from __future__ import annotations

import functools
import logging
from importlib import resources
from pathlib import Path

import connexion
from connexion import ConnexionMiddleware
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.middleware.context import ContextMiddleware
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.lifespan import LifespanMiddleware
from connexion.middleware.request_validation import RequestValidationMiddleware
from connexion.middleware.response_validation import ResponseValidationMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp

from contracts.spec import load_spec
from mockserver.control import CONTROL_SPEC, ControlHandlers
from mockserver.errors import error_body
from mockserver.handlers import Handlers
from mockserver.middleware import CONTROL_PREFIX, FrontDoor, Guard
from mockserver.service import Service
from mockserver.settings import Settings, from_env

log = logging.getLogger("mockserver")


def create_app(settings: Settings | None = None, *, validate_responses: bool = False) -> ASGIApp:
    """The mock server for `settings` (default: from the environment)."""
    settings = settings or from_env()
    spec = load_spec(settings.spec)
    service = Service.open(settings, spec)
    middlewares = [
        ServerErrorMiddleware,
        ExceptionMiddleware,
        SwaggerUIMiddleware,
        RoutingMiddleware,
        functools.partial(Guard, service=service),
        RequestValidationMiddleware,
        *([ResponseValidationMiddleware] if validate_responses else []),
        LifespanMiddleware,
        ContextMiddleware,
    ]
    app = connexion.AsyncApp(__name__, middlewares=middlewares)
    app.add_api(
        spec.path,
        resolver=Resolver(Handlers(service).resolve),
        strict_validation=True,
        swagger_ui_options=connexion.options.SwaggerUIOptions(
            spec_path="/openapi.json", swagger_ui_path="/ui"
        ),
    )
    control_spec = Path(str(resources.files("mockserver") / CONTROL_SPEC))
    app.add_api(
        control_spec,
        base_path=CONTROL_PREFIX,
        resolver=Resolver(ControlHandlers(service).resolve),
        strict_validation=True,
        swagger_ui_options=connexion.options.SwaggerUIOptions(swagger_ui=False),
    )
    _register_error_handlers(app, service)
    front = FrontDoor(app, service)
    front.service = service  # type: ignore[attr-defined]
    return front


def create_app_from_env() -> ASGIApp:
    """Factory for uvicorn workers: settings come from `MOCKSERVER_*` variables."""
    return create_app(from_env())


def _register_error_handlers(app: connexion.AsyncApp, service: Service) -> None:
    """Every error Connexion or Starlette raises answers with the contract's body."""

    def answer(status: int, message: str, headers: dict | None = None) -> ConnexionResponse:
        return ConnexionResponse(
            status_code=status,
            mimetype="application/json",
            content_type="application/json",
            body=error_body(status, message),
            headers=headers or {},
        )

    def problem(request: ConnexionRequest, exc: ProblemException) -> ConnexionResponse:
        # Connexion's detail carries the whole jsonschema report; its first line says it.
        message = str(exc.detail or exc.title or "Bad request").strip().splitlines()[0]
        return answer(exc.status, message, dict(exc.headers or {}))

    def http_error(request: ConnexionRequest, exc: HTTPException) -> ConnexionResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette lists only the methods of the route that matched; the
            # contract knows them all.
            allowed = service.routes.operations_at(request.url.path)
            if allowed:
                headers["Allow"] = ", ".join(sorted(allowed))
        message = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, exc.detail)
        return answer(exc.status_code, str(message), headers)

    def unexpected(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return answer(500, "Internal server error")

    app.add_error_handler(ProblemException, problem)
    app.add_error_handler(HTTPException, http_error)
    app.add_error_handler(
        UnicodeDecodeError, lambda request, exc: answer(400, "Request body is not valid UTF-8")
    )
    app.add_error_handler(Exception, unexpected)
