"""Helpers for the tests: HTTP calls to a mock (a `MockApp` in this process or a
`ControlClient` process: both are control clients with an httpx client), tokens
made with PyJWT, and validation of answers against the contract's schemas."""

from __future__ import annotations

import contextlib
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import jwt
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from contracts.core.platform import Refusal
from contracts.core.spec import Spec, load_spec
from contracts.core.vocabulary import Vocabulary
from mockserver.common.error_body import DETAIL_HEADER
from mockserver.testing.control_client import ControlClient
from tests.conftest import ROOT

CREATE = "/api/public/bot/eraseUsersData"
STATUS = "/api/public/bot/eraseUsersData/status/{}"
PRELOADED = "eud-eeb6e86b-c0f9-435c-af75-697a909943ea"

ACME_ADMIN = "Acme privacy automation"
ACME_JTI = "Acme strict (enforces JTI)"
ACME_UNSCOPED = "Acme analytics (no erase scope)"
ACME_BOT_APP = "Acme bot-level app"
GLOBEX_ADMIN = "Globex privacy automation"

ACME_BOTS = ["st-7b0e3c1a-2f4d-4e8b-8a6c-5d9f1e2b3c4d", "st-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"]
GLOBEX_BOT = "st-475389e2-c8a4-490d-836a-4f6e708dd3fe"

_SPEC: Spec | None = None

#: One TLS context for every short-lived client of the tests: httpx builds a new one for each
#: client otherwise (about 17 ms of CPU), and the multi-process tests open a client per call.
_TLS = ssl.create_default_context()


def connection(base_url: str, timeout: float = 30) -> httpx.Client:
    """A client of its own (so a connection of its own) to a server's `base_url`."""
    return httpx.Client(base_url=base_url, timeout=timeout, trust_env=False, verify=_TLS)


T = TypeVar("T")


def over_both_workers(server: ControlClient, one_round: Callable[[], list[T]], rounds: int = 50,
                      **journal_filters: Any) -> list[T]:
    """What `one_round()` returns, round after round, until the journal shows that both
    workers of a two-worker `server` answered requests that pass `journal_filters` since
    the first round. Each round must send on connections of its own: the kernel gives a new
    connection to whichever worker accepts it first, so one round may all go to one worker."""
    from mockserver.state.journal import FLUSH_DELAY

    since = max((e["id"] for e in server.journal(**journal_filters)), default=0)
    results: list[T] = []
    for _ in range(rounds):
        results += one_round()
        time.sleep(FLUSH_DELAY + 0.01)  # another worker's journal rows are written within FLUSH_DELAY
        if len({e["worker"] for e in server.journal(since, **journal_filters)}) == 2:
            return results
    raise AssertionError(f"one worker answered all {len(results)} requests passing {journal_filters}")


def spec() -> Spec:
    global _SPEC
    if _SPEC is None:
        _SPEC = load_spec(ROOT / "openapi.yaml")
    return _SPEC


def vocabulary() -> Vocabulary:
    return Vocabulary.of(spec())


def assert_matches(schema_name: str, payload: Any) -> None:
    """The payload satisfies `components/schemas/<schema_name>` of the contract."""
    document = spec().document
    root = dict(spec().schema(schema_name), components=document["components"])
    errors = [e.message for e in OAS30Validator(root, format_checker=oas30_format_checker).iter_errors(payload)]
    assert not errors, f"{schema_name}: {errors} in {payload!r}"


def assert_error(response: httpx.Response, status: int, message_part: str | None = None, *,
                 refusal: Refusal | None = None) -> None:
    """An error answer with the contract's error body: its code the HTTP status, or, for
    one of the platform's answers (`refusal`; by default any of those of a 401, 405 or
    412), that answer's code and exact message. `message_part` is looked for in the
    message and in the mock's `X-Mockserver-Detail` header (where the detail of a
    platform answer goes)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert_matches("Error", body)
    answers = [vocabulary().answer(r) for r in ((refusal,) if refusal else DEFAULT_REFUSALS.get(status, ()))]
    if answers:
        assert (body["errors"][0]["code"], body["errors"][0]["msg"]) in [(a.code, a.message) for a in answers], body
    else:
        assert body["errors"][0]["code"] == status, body
    if message_part:
        assert message_part in body["errors"][0]["msg"] + "\n" + response.headers.get(DETAIL_HEADER, ""), (
            body, response.headers.get(DETAIL_HEADER))


#: The platform's answers a status stands for when a test names none (a 429 may be an injected fault).
DEFAULT_REFUSALS = {401: (Refusal.CREDENTIALS, Refusal.TOKEN), 405: (Refusal.METHOD,), 412: (Refusal.VALIDATION,)}


def sign(server: ControlClient, app: str | None = None, *, secret: str | None = None,
         algorithm: str = "HS256", headers: dict[str, Any] | None = None, **claims: Any) -> str:
    """A token made with PyJWT; claims default to the vendor's: sub, appId, jti, iat, exp."""
    chosen = server.app(app)
    clock = server.clock()
    now = int(clock["nowMs"] / 1000 if clock.get("tokenClock") == "server" else time.time())
    payload: dict[str, Any] = {
        "sub": "tests", "appId": chosen.client_id, "iat": now, "exp": now + 600,
        "jti": str(uuid.uuid4()),
    }
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, secret or chosen.client_secret, algorithm=algorithm, headers=headers)


@contextlib.contextmanager
def client(server: ControlClient) -> Iterator[httpx.Client]:
    """The mock's httpx client (in-process or over loopback)."""
    yield server.http


def create(server: ControlClient, body: dict[str, Any], app: str | None = None,
           method: str = "DELETE") -> httpx.Response:
    with client(server) as http:
        return http.request(method, CREATE, json=body, headers={"auth": server.token(app)})


def status(server: ControlClient, request_id: str, app: str | None = None,
           method: str = "GET", token: str | None = None) -> httpx.Response:
    with client(server) as http:
        return http.request(method, STATUS.format(request_id), headers={"auth": token or server.token(app)})


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


# -- contract runs against a deployment in this process -------------------------------------------

ACME = ("cs-7fc99739-c463-4006-8e64-d6c844a8b67f", "acme-admin-secret-do-not-use-in-production")
ACME_STRICT = ("cs-239dc0d1-b58f-43c0-bf2f-ca9d13a7ec60", "acme-jti-secret-do-not-use-in-production")
GLOBEX = ("cs-9cf9cc09-3579-404d-b568-c88b209076a2", "globex-admin-secret-do-not-use-in-production")
UNSCOPED = ("cs-9ce8b318-b267-483c-883f-b1672510b9e3", "acme-unscoped-secret-do-not-use-in-production")
SECRETS = [ACME[1], GLOBEX[1], UNSCOPED[1], ACME_STRICT[1]]
REFUSED = ("owner@acme.example",)
IN_PROCESS_URL = "http://deployment.test"


def credential_args() -> list[str]:
    return [
        "--client-id", ACME[0], "--client-secret", ACME[1],
        "--other-tenant-client-id", GLOBEX[0], "--other-tenant-client-secret", GLOBEX[1],
        "--unscoped-client-id", UNSCOPED[0], "--unscoped-client-secret", UNSCOPED[1],
    ]


def run_config(base_url: str = IN_PROCESS_URL, **overrides: Any) -> Any:
    """A contract run against the default fixtures' apps."""
    from contracts.config import Credentials, RunConfig

    values: dict[str, Any] = dict(
        base_url=base_url,
        credentials=Credentials(*ACME),
        other_tenant=Credentials(*GLOBEX),
        unscoped=Credentials(*UNSCOPED),
        refused_user_ids=REFUSED,
        max_examples=5,
        seed=7,
        target_kind="local",
        audit_log=None,
    )
    values.update(overrides)
    return RunConfig(**values)


class Recording(httpx.BaseTransport):
    """An httpx transport that records every request on its way to another transport."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.inner.handle_request(request)


@contextlib.contextmanager
def deployment(app: Any) -> Iterator[Recording]:
    """An ASGI app (a mock, a broken one) as the target of a contract run in this
    process: the runner's httpx transport calls it directly."""
    from mockserver.testing.loop_transport import LoopTransport

    with LoopTransport(app, client=("127.0.0.1", 50000)) as transport:
        yield Recording(transport)


def run_against(app: Any, config: Any = None, *, sleep: Any = None, **overrides: Any) -> tuple[Any, Recording]:
    """A contract run against `app` in this process: its report and every request it sent."""
    from contracts.pipeline import run

    with deployment(app) as wire:
        report = run(config or run_config(**overrides), transport=wire, sleep=sleep or time.sleep)
    return report, wire
