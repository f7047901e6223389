"""Build the mock server's ASGI application from the contract at run time.

Routing and request validation are Connexion's (`ConnexionMiddleware`), from
`openapi.yaml` and the control API's `control.yaml`; the handlers are named
by `operationId`. Connexion's middleware stack is kept except for the layers
this mock replaces, for the vendor's rules or for speed:
- its security layer: the vendor's JWT rules live in `mockserver.vendor.auth`,
  applied by `mockserver.app.front_door.Guard`;
- its framework app, context and lifespan layers: `dispatch.Dispatcher`
  calls the handler directly instead of re-inspecting its signature per
  request, and answers the lifespan protocol itself;
- response validation: off by default for speed (`validate_responses=True`
  turns it on); the test suite checks every answer against the contract
  with schemathesis anyway.

Start-up: Connexion checks each document against the OpenAPI meta-schema in
`add_api`, a cost paid again on every start; a document it accepted before
(the same canonical JSON, noted in `contracts.core.cache`) is not checked
again. The docs app (Swagger UI) is built on its first request.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
from collections.abc import Iterator

from connexion import ConnexionMiddleware
from connexion.exceptions import ProblemException
from connexion.lifecycle import ConnexionRequest, ConnexionResponse
from connexion.middleware.exceptions import ExceptionMiddleware
from connexion.middleware.request_validation import RequestValidationMiddleware
from connexion.middleware.response_validation import ResponseValidationMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.server_error import ServerErrorMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.options import SwaggerUIOptions
from connexion.resolver import Resolver
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from contracts.core import cache
from contracts.core.platform import Refusal
from contracts.core.spec import Spec
from mockserver.app.connexion_names import without_meta_schema_check
from mockserver.app.dispatch import Dispatcher, routes_for
from mockserver.app.front_door import CONTROL_PREFIX, FrontDoor, Guard
from mockserver.app.prefer import Preferences
from mockserver.app.validation import VALIDATOR_MAP, InvalidBody
from mockserver.common.error_body import DETAIL_HEADER, error_body, header_text, send_error, unavailable
from mockserver.common.openapi_documents import Documents, load_documents
from mockserver.control.api import ControlHandlers
from mockserver.errors import StateUnavailable
from mockserver.settings import Settings
from mockserver.vendor.handlers import Handlers
from mockserver.vendor.runtime import Runtime

log = logging.getLogger("mockserver")


def create_app(
    settings: Settings | None = None,
    *,
    documents: Documents | None = None,
    runtime: Runtime | None = None,
    validate_responses: bool = False,
    install: bool = True,
    freeze_heap: bool = False,
) -> FrontDoor:
    """The mock server for `settings` (default: the defaults), serving `documents`
    (default: loaded from `settings.spec`) from `runtime` (default: the state file
    opened, and with `install=True` its fixtures installed). `freeze_heap`: at
    lifespan startup, move every object built so far out of the garbage
    collector's sight (`freeze_startup_heap`), for a server process. Raises
    `SpecError`, `FixturesError`."""
    settings = settings or Settings()
    documents = documents or load_documents(settings.spec)
    spec, control_spec, vocabulary = documents.spec, documents.control, documents.vocabulary
    runtime = runtime or Runtime.open(settings, documents, install=install)
    handlers, control = Handlers(runtime), ControlHandlers(runtime)
    dispatcher = Dispatcher(
        {
            **routes_for(spec, lambda operation_id: handlers.for_operation(vocabulary.operation(operation_id))),
            **routes_for(control_spec, control.resolve),
        },
        on_shutdown=runtime.journal.flush,
        preferences=Preferences(vocabulary),
        on_startup=freeze_startup_heap if freeze_heap else lambda: None,
    )
    middlewares = [
        ServerErrorMiddleware,
        ExceptionMiddleware,
        RoutingMiddleware,
        functools.partial(Guard, runtime=runtime),
        RequestValidationMiddleware,
        *([ResponseValidationMiddleware] if validate_responses else []),
    ]
    app = ConnexionMiddleware(dispatcher, middlewares=middlewares)
    # Connexion resolves each operationId to the innermost app; the dispatcher
    # calls the handler (it knows them by operationId too).
    # Keyed before `add_api`, which fills in defaults in the document it is given.
    spec_key, control_key = _cache_key(spec), _cache_key(control_spec)
    for api, key, base_path in ((spec, spec_key, ""), (control_spec, control_key, CONTROL_PREFIX)):
        with _checked_once(key):
            app.add_api(
                api.document,
                base_path=base_path,
                resolver=Resolver(lambda operation_id: dispatcher),
                strict_validation=True,
                validator_map=VALIDATOR_MAP,
            )
    register_error_handlers(app, runtime)
    # Connexion's verdict on a request line it has accepted is remembered by the
    # front door, which then sends the next such request to the layers after
    # validation (auth, dispatch) directly (`FrontDoor`). Not with response
    # validation, which sits in Connexion's stack.
    validated = None if validate_responses else Guard(dispatcher, runtime=runtime)
    return FrontDoor(app, runtime, docs=_LazyDocs(spec, spec_key, runtime), validated=validated)


#: Cache kind: a document Connexion's `add_api` accepted (its meta-schema check passed).
CONNEXION_VALID = "connexion-valid"


def _cache_key(spec: Spec) -> str | None:
    try:
        return cache.key_of(cache.canonical(spec.document))
    except (TypeError, ValueError):
        return None  # not JSON (a date, say): checked every time


@contextlib.contextmanager
def _checked_once(key: str | None) -> Iterator[None]:
    """Connexion's meta-schema check of the document keyed `key`, skipped if it
    passed before; noted when it passes now."""
    if key is None or not cache.seen(CONNEXION_VALID, key):
        yield
        if key is not None:
            cache.remember(CONNEXION_VALID, key)
        return
    with without_meta_schema_check():
        yield


class _LazyDocs:
    """The docs app, built on its first request (Connexion's Swagger UI setup is
    start-up time most runs never use)."""

    def __init__(self, spec: Spec, key: str | None, runtime: Runtime):
        self.spec, self.key, self.runtime = spec, key, runtime
        self.app: ConnexionMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            with _checked_once(self.key):
                self.app = _docs_app(self.spec, self.runtime)
        await self.app(scope, receive, send)


def _docs_app(spec: Spec, runtime: Runtime) -> ConnexionMiddleware:
    """The contract at /openapi.json and Swagger UI at /ui, kept off the API's
    own stack (whose every request would otherwise pass their router first).
    Its errors (a missing UI file, a wrong method) use the contract's error
    body too (without the exception layer they would be text/plain 500s)."""
    docs = ConnexionMiddleware(
        _not_found, middlewares=[ServerErrorMiddleware, ExceptionMiddleware, SwaggerUIMiddleware]
    )
    docs.add_api(
        spec.document,
        resolver=Resolver(lambda operation_id: _not_found),
        swagger_ui_options=SwaggerUIOptions(spec_path="/openapi.json", swagger_ui_path="/ui"),
    )
    register_error_handlers(docs, runtime)
    return docs


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await send_error(send, 404, "Not found")


def worker_app(settings: Settings) -> FrontDoor:
    """The app of one worker of `mockserver run`: `serve()` installed the fixtures
    in the state file before starting the workers (an in-memory state is private
    to its single worker, which installs its own)."""
    return create_app(settings, install=settings.state == ":memory:", freeze_heap=True)


def freeze_startup_heap() -> None:
    """`gc.freeze()` once the app is built (Connexion builds its middleware stack
    before the lifespan reaches the dispatcher). The contract, its validators and
    Connexion's routers live as long as the process; without this, every full
    collection walks them all, a pause that requests arriving meanwhile wait out."""
    gc.collect()
    gc.freeze()


def register_error_handlers(app: ConnexionMiddleware, runtime: Runtime) -> None:
    """Every error Connexion or Starlette raises answers with the contract's body."""

    def answer(status: int, message: str, headers: dict | None = None, code: int | None = None) -> ConnexionResponse:
        return ConnexionResponse(
            status_code=status,
            mimetype="application/json",
            content_type="application/json",
            body=error_body(status, message, code),
            headers=headers or {},
        )

    def platform_answer(refusal: Refusal, detail: str, headers: dict | None = None) -> ConnexionResponse:
        """The platform's answer (`x-error-answers`), what exactly was wrong in its header."""
        chosen = runtime.vocabulary.answer(refusal)
        headers = dict(headers or {}, **{DETAIL_HEADER: header_text(detail)})
        return answer(chosen.status, chosen.message, headers, chosen.code)

    def problem(request: ConnexionRequest, exc: ProblemException) -> ConnexionResponse:
        # Connexion's detail carries the whole jsonschema report; its first line says it.
        message = str(exc.detail or exc.title or "Bad request").strip().splitlines()[0]
        if isinstance(exc, InvalidBody) and runtime.vocabulary.operations_at(request.url.path) is not None:
            # A vendor operation's body: the platform's answer (the control API keeps its 400).
            return platform_answer(Refusal.VALIDATION, message, dict(exc.headers or {}))
        return answer(exc.status, message, dict(exc.headers or {}))

    def http_error(request: ConnexionRequest, exc: HTTPException) -> ConnexionResponse:
        headers = dict(exc.headers or {})
        if exc.status_code == runtime.vocabulary.answer(Refusal.METHOD).status:
            # Starlette lists only the methods of the route that matched; the
            # contract knows them all.
            allowed = runtime.vocabulary.operations_at(request.url.path)
            if allowed:
                headers["Allow"] = ", ".join(sorted(allowed))
            return platform_answer(Refusal.METHOD, f"{request.method} is not a method of this path", headers)
        message = {404: "Not found"}.get(exc.status_code, exc.detail)
        return answer(exc.status_code, str(message), headers)

    def unexpected(request: ConnexionRequest, exc: Exception) -> ConnexionResponse:
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return answer(500, "Internal server error")

    app.add_error_handler(StateUnavailable, lambda request, exc: answer(*unavailable(exc)))
    app.add_error_handler(ProblemException, problem)
    app.add_error_handler(HTTPException, http_error)
    app.add_error_handler(
        UnicodeDecodeError, lambda request, exc: answer(400, "Request body is not valid UTF-8")
    )
    app.add_error_handler(Exception, unexpected)
