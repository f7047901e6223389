"""The suites of a contract run, each registered once with its name, a `plan`
(the calls it will send, computed before anything is sent) and an
`execute` (how they are sent; by default, in order).

- conformance: every operation with schemathesis's coverage cases and
  Hypothesis-generated positive and negative data, every response checked;
  wrong media types get 415 and oversized bodies 413;
- stateful: create, then read the created request through the spec's link
  on every status operation;
- auth: every token defect on every operation gets the platform's refusal of
  credentials (401); an app without the scope gets its scope error (401 with
  the scope message); another tenant's request answers like an unknown one;
- request-ids: created ids match the format and are unique; malformed ids
  get a 4xx; well-formed ids never created get 404;
- lifecycle: every created request is polled with back-off until each of its
  users is final, or the deadline passes; its invariants are checked on every
  status answer of the run.

`SUITES` is the registry: the CLI's choices, the dry run and the report
come from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from contracts.core.identities import Speaker
from contracts.core.platform import Refusal
from contracts.core.vocabulary import CREATE, STATUS
from contracts.planning.model import (
    OTHER_AUTH,
    OTHER_OPERATION,
    SCOPE,
    SECOND_CREATE,
    SEVERE_AUTH,
    Auth,
    Cause,
    Expect,
    PlannedCall,
    Repeat,
)
from contracts.planning.strategies import (
    ID_DEFECTS,
    SEVERE_DEFECTS,
    TOKEN_DEFECTS,
    malformed_request_ids,
    token_defects,
)

if TYPE_CHECKING:
    from contracts.execution.runner import Runner
    from contracts.planning.planner import Planner

CLIENT_ERRORS = tuple(range(400, 500))
UNSCOPED_APP, OTHER_TENANT_APP = Auth(Speaker.UNSCOPED), Auth(Speaker.OTHER_TENANT)


@dataclass(frozen=True)
class Suite:
    """One suite of a run: its name, how it plans its calls, and how they are sent."""

    name: str
    description: str
    plan: Callable[[Planner], None]
    finish: Callable[[Planner], None] | None = None  # after the erase budget is allocated
    execute: Callable[[Runner, list[PlannedCall]], None] | None = None  # default: send in order


SUITES: dict[str, Suite] = {}


def register(suite: Suite) -> Suite:
    SUITES[suite.name] = suite
    return suite


# -- conformance ----------------------------------------------------------------------------------


def _plan_conformance(planner: Planner) -> None:
    from schemathesis import GenerationMode

    for operation in planner.operations:
        op_id = operation.operation_id
        for case in planner.coverage(op_id):
            planner.from_case("conformance", "conformance", case)
        if planner.comparing:
            modes: tuple[GenerationMode, ...] = ()  # the coverage cases: each boundary and wrong input once
        else:
            modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for mode in modes:
            for case in planner.generated(op_id, mode, planner.config.max_examples, "conformance"):
                planner.from_case("conformance", "conformance", case)
        if operation.role == CREATE:
            nobody = planner.policy.without_users(planner.positive_body("media type", users=[]))
            planner.call("conformance", "media_type_rejected", operation, body=nobody, content_type="text/plain",
                         expect=Expect((415,), why="a body sent as text/plain"),
                         description="a body that is not application/json")
            limit = planner.vocabulary.max_body_bytes
            padding = b"{" + b" " * limit + b"}"  # an empty object, padded: it names no one
            planner.call("conformance", "body_too_large", operation, body=padding,
                         expect=Expect((413,), why=f"a body of more than {limit} bytes"),
                         description=f"a body of {len(padding)} bytes (the contract's limit is {limit})")


register(Suite("conformance", "every operation: schemathesis coverage cases, positive and negative data",
               _plan_conformance))


# -- stateful -------------------------------------------------------------------------------------


def _plan_stateful(planner: Planner) -> None:
    creates, statuses = planner.with_role(CREATE), planner.with_role(STATUS)
    if not creates or not statuses:
        missing = "create" if not creates else "status"
        planner.cut("stateful", "resource_available", "(run)", f"no {missing} operation selected (--include/--exclude)")
        return
    scenarios = [planner.anchor("stateful")]
    for index in range(0 if planner.comparing else max(1, planner.config.max_examples // 10)):
        # The anchor reads back the first create operation; the next is the second's, paid for right after it.
        scenarios.append(planner.call("stateful", "resource_available", creates[(index + 1) % len(creates)],
                                      body=planner.positive_body(f"stateful {index}"),
                                      priority=OTHER_OPERATION if index == 0 else None,
                                      group="stateful/resource_available/creates",
                                      description="a create, read back through the link"))
    for scenario in scenarios:
        for status in statuses:
            planner.call("stateful", "resource_available", status, ref=planner.created_id(scenario),
                         expect=Expect((200,), error_body=False, why="a created request read through the link"),
                         description=f"read the request call {scenario.index} created")


register(Suite("stateful", "create, then read the created request through the spec's link", _plan_stateful))


# -- auth -----------------------------------------------------------------------------------------


def _plan_auth(planner: Planner) -> None:
    creds = planner.config
    _plan_broken_tokens(planner)
    if creds.unscoped.present:
        _plan_unscoped(planner)
    else:
        for operation in planner.operations:
            planner.cut("auth", "auth_scope", operation.operation_id,
                        "needs an app without the scope: --unscoped-client-id/--unscoped-client-secret")
    if creds.other_tenant.present:
        _plan_isolation(planner)
    else:
        for operation in planner.with_role(STATUS):
            planner.cut("auth", "tenant_isolation", operation.operation_id,
                        "needs an app of another account: --other-tenant-client-id/--other-tenant-client-secret")


def _plan_broken_tokens(planner: Planner) -> None:
    if not planner.config.credentials.can_sign:
        for operation in planner.operations:
            planner.cut("auth", "auth_rejected", operation.operation_id,
                        "needs --client-id/--client-secret: a fixed --token cannot be broken in new ways")
        return
    client_id_format = planner.vocabulary.token.client_id
    refused = _refused_token(planner)
    body_refused = _refused_body(planner)
    for kind in TOKEN_DEFECTS:
        severity = SEVERE_DEFECTS.index(kind) if kind in SEVERE_DEFECTS else len(SEVERE_DEFECTS)
        for operation in planner.operations:
            group = f"auth/auth_rejected/{operation.operation_id}/{kind}"
            why = f"token with defect '{kind}'"
            if operation.role == STATUS:
                defects = planner.draw(token_defects(kind, client_id_format), planner.examples_per_kind,
                                       f"defect:{kind}:{operation.operation_id}")
                ids = planner.unknown_ids(len(defects), f"defect:{kind}:{operation.operation_id}")
                for defect, request_id in zip(defects, ids, strict=True):
                    planner.call("auth", "auth_rejected", operation, path_value=request_id,
                                 auth=Auth(Speaker.APP, defect), expect=Expect(refused, why=why), group=group,
                                 description=f"defect {defect.describe()}")
                continue
            label = f"defect:{kind}:{operation.operation_id}"
            defect = planner.draw(token_defects(kind, client_id_format), 1, label)[0]
            valid = planner.positive_body(label, users=planner.users(kind, refused=False))
            # First without anyone to erase: a deployment that checks the token
            # before the body proves the rule with it, erasing nothing.
            planner.call("auth", "auth_rejected", operation, body=planner.policy.without_users(valid),
                         auth=Auth(Speaker.APP, defect), expect=Expect(refused, why=why, inconclusive=body_refused),
                         group=group, description=f"defect {defect.describe()}, a body the contract rejects")
            # Most severe defects first, the documented operation before its alias.
            rank = (severity + (0.5 if operation.deprecated else 0)) / 10
            planner.call("auth", "auth_rejected", operation, body=valid, auth=Auth(Speaker.APP, defect),
                         expect=Expect(refused, why=why), group=group,
                         priority=(SEVERE_AUTH if kind in SEVERE_DEFECTS else OTHER_AUTH) + rank,
                         description=f"defect {defect.describe()}, a valid body")


def _refused_token(planner: Planner) -> tuple[int, ...]:
    """The statuses of the platform's answers to a token it refuses (`x-error-answers`)."""
    vocabulary = planner.vocabulary
    return tuple(sorted({vocabulary.answer(Refusal.CREDENTIALS).status, vocabulary.answer(Refusal.TOKEN).status}))


def _refused_body(planner: Planner) -> tuple[int, ...]:
    """The status of a body the contract rejects, when the deployment checks it before the token."""
    return (planner.vocabulary.answer(Refusal.VALIDATION).status,)


def _plan_unscoped(planner: Planner) -> None:
    why = "an app without the scope (--unscoped-client-id must really lack it)"
    scope = planner.vocabulary.answer(Refusal.SCOPE)
    expect = Expect((scope.status,), why=why, message=scope.message)
    for operation in planner.operations:
        group = f"auth/auth_scope/{operation.operation_id}"
        if operation.role == STATUS:
            request_id = planner.unknown_ids(1, f"unscoped:{operation.operation_id}")[0]
            planner.call("auth", "auth_scope", operation, path_value=request_id, auth=UNSCOPED_APP,
                         expect=expect, group=group)
            continue
        users = planner.users("unscoped", refused=False)
        valid = planner.positive_body(f"unscoped {operation.operation_id}", users=users)
        planner.call("auth", "auth_scope", operation, body=planner.policy.without_users(valid), auth=UNSCOPED_APP,
                     expect=replace(expect, inconclusive=_refused_body(planner)), group=group,
                     description="a body the contract rejects")
        planner.call("auth", "auth_scope", operation, body=valid, auth=UNSCOPED_APP,
                     expect=expect, group=group, priority=SCOPE, description="a valid body")


def _plan_isolation(planner: Planner) -> None:
    if not planner.with_role(CREATE):
        planner.cut("auth", "tenant_isolation", "(run)", "no create operation selected (--include/--exclude)")
        return
    anchor = planner.anchor("auth")
    for operation in planner.with_role(STATUS):
        unknown = planner.unknown_ids(1, f"isolation:{operation.operation_id}")[0]
        baseline = planner.call("auth", "tenant_isolation", operation, path_value=unknown, auth=OTHER_TENANT_APP,
                                expect=Expect((404,), why="an unknown id, read by another tenant"),
                                description="the answer to compare with")
        planner.call("auth", "tenant_isolation", operation, ref=planner.created_id(anchor), auth=OTHER_TENANT_APP,
                     expect=Expect((404,), same_body_as=baseline.index, why="another tenant's request id"),
                     description=f"read the request call {anchor.index} created, as another tenant")


register(Suite("auth", "broken tokens get 401, the unscoped app the scope error, another tenant's request 404",
               _plan_auth))


# -- request ids ----------------------------------------------------------------------------------


def _plan_request_ids(planner: Planner) -> None:
    creates, statuses = planner.with_role(CREATE), planner.with_role(STATUS)
    if creates:
        planner.anchor("request-ids")
        second = creates[1] if len(creates) > 1 else creates[0]
        planner.call("request-ids", "request_id_unique", second, body=planner.positive_body("second create"),
                     priority=SECOND_CREATE, description="a second create: its id must be new")
    else:
        planner.cut("request-ids", "request_id_format", "(run)", "no create operation selected (--include/--exclude)")
    id_format = planner.vocabulary.request_id
    for operation in statuses:
        for kind in ID_DEFECTS:
            raw_ids = planner.draw(malformed_request_ids(kind, id_format), planner.examples_per_kind,
                                   f"malformed:{kind}:{operation.operation_id}")
            for raw in raw_ids:
                planner.call("request-ids", "request_id_rejected", operation, path_value=raw,
                             expect=Expect(CLIENT_ERRORS, why=f"malformed request id ({kind})"),
                             group=f"request-ids/request_id_rejected/{operation.operation_id}/{kind}",
                             description=f"malformed id: {kind}")
        unknown = 2 if planner.comparing else max(5, planner.config.max_examples // 3)
        for request_id in planner.unknown_ids(unknown, operation.operation_id):
            planner.call("request-ids", "request_id_unknown", operation, path_value=request_id,
                         expect=Expect((404,), why="a well-formed id that was never created"))


register(Suite("request-ids", "created ids: format and uniqueness; malformed ids 4xx; unknown ids 404",
               _plan_request_ids))


# -- lifecycle ------------------------------------------------------------------------------------

#: Back-off between polls: the first wait, the factor, the longest wait.
POLL_FIRST, POLL_FACTOR, POLL_LONGEST = 0.25, 2.0, 10.0


def poll_schedule(deadline: float) -> list[float]:
    """The waits before each read after the first, within `deadline` seconds."""
    waits, total, wait = [], 0.0, POLL_FIRST
    while total + wait <= deadline:
        waits.append(wait)
        total += wait
        wait = min(wait * POLL_FACTOR, POLL_LONGEST)
    return waits


_READ_BACK = ("resource_available", "request_id_unique")


def _read_back(planner: Planner) -> list[PlannedCall]:
    """The creates whose request the lifecycle polls: the app's erasing creates the other suites read back."""
    return [c for c in planner.plan.calls if c.erasing and c.auth == Auth(Speaker.APP) and c.check in _READ_BACK]


def _plan_lifecycle(planner: Planner) -> None:
    """Alone (no other suite creates a request to read back), the lifecycle plans the anchor create itself."""
    if not planner.with_role(CREATE) or not planner.with_role(STATUS):
        planner.cut("lifecycle", "completion", "(run)", "needs a create and a status operation (--include/--exclude)")
    elif not _read_back(planner) and (planner.config.erase_user_ids or not planner.target.remote):
        planner.anchor("lifecycle")


def _no_create_reason(planner: Planner) -> tuple[str, Cause]:
    """Why no request is created: the true missing input."""
    config = planner.config
    if planner.target.remote and not config.erase_user_ids:
        return "no request is created: a remote target is sent no create naming users without --erase-user-id", \
            Cause.NEEDS_INPUT
    if planner.plan.budget == 0:
        return "no request is created: --max-erase-requests 0 allows no erasing request", Cause.NEEDS_INPUT
    return "no request is created: the erase budget was spent before any create", Cause.ERASE_BUDGET


def _finish_lifecycle(planner: Planner) -> None:
    """A poll of each request the run creates to read back (the stateful and
    request-id creates the budget pays for), on the preferred status operation.
    Every other create's answers are judged by the lifecycle checks all the same."""
    statuses = planner.with_role(STATUS)
    if not statuses:
        return
    creates = [c for c in _read_back(planner) if not c.cut]
    if not creates:
        planner.cut("lifecycle", "completion", statuses[0].operation_id, *_no_create_reason(planner))
        return
    deadline = planner.config.wait_for_completion
    reads = len(poll_schedule(deadline)) + 1
    for create in creates:
        planner.call("lifecycle", "completion", statuses[0], ref=planner.created_id(create),
                     description=f"poll the request call {create.index} created until every user is final",
                     ).repeat = Repeat("every user has a final status", reads, deadline)


def _execute_lifecycle(runner: Runner, calls: list[PlannedCall]) -> None:
    """Poll every created request with back-off until its users are final (or
    they moved on from the initial status to anything else, which the schema
    checks judge), or the deadline passes."""
    for call in calls:
        if not call.repeat:  # the anchor create, when the lifecycle runs alone
            runner.send(call)
    pending = [c for c in calls if c.repeat]
    started = time.monotonic()
    waits = iter(poll_schedule(runner.config.wait_for_completion))
    while pending:
        for call in list(pending):
            if runner.send(call) is None or runner.moved_on(call):
                pending.remove(call)
        wait = next(waits, None)
        if not pending or wait is None:
            break
        runner.sleep(wait)
    runner.not_final(pending, time.monotonic() - started)


register(Suite("lifecycle", "every created request polled until final; invariants on every status answer",
               _plan_lifecycle, finish=_finish_lifecycle, execute=_execute_lifecycle))
