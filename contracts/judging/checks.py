"""The checks of a contract run, in one registry, in the style of
schemathesis's: each check is a class with `after_response` (called for
every answer the run gets, whichever suite sent it) and `after_run`
(called once at the end), so that state spanning many calls, such as an
erase request's lifecycle, is one object.

Findings name their check; `CHECKS` lists them all (the report's matrix,
`--dry-run` and the docs are built from it). The checks that judge any
deployment's answers on their own (request ids, lifecycle, server errors)
are also registered with schemathesis for `st run` users:
see `contracts.judging.st_hooks`.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from openapi_schema_validator import oas30_format_checker

from contracts.core.conformance import SCHEMAS_POINTER, EcmaOAS30Validator
from contracts.core.vocabulary import CREATE, STATUS, Operation, Vocabulary

#: What a check title means, for reports and `contracts checks`.
DESCRIPTIONS = {
    "not_a_server_error": "no answer is a 5xx",
    "status_code_conformance": "every status code is documented for the operation",
    "content_type_conformance": "every answer has a documented content type",
    "response_headers_conformance": "documented response headers are present and valid",
    "response_schema_conformance": "every body satisfies its documented schema",
    "negative_data_rejection": "data the contract rejects gets a 4xx",
    "positive_data_acceptance": "data the contract accepts is not refused as invalid",
    "missing_required_header": "a missing required header gets a 4xx",
    "unsupported_method": "an undocumented method gets 405",
    "allow_header_conformance": "a 405 lists the documented methods in Allow",
    "auth_rejected": "a broken token gets the documented refusal (401) with the error body",
    "auth_scope": "an app without the scope gets the documented scope error with the error body",
    "tenant_isolation": "another tenant's request answers like an unknown one (404)",
    "request_id_format": "every created requestId matches the documented format",
    "request_id_unique": "no requestId is returned twice",
    "request_id_rejected": "a malformed request id gets a 4xx with the error body, never 2xx/5xx",
    "request_id_unknown": "a well-formed request id never created gets 404",
    "resource_available": "a created request is readable through the spec's link",
    "media_type_rejected": "a body that is not application/json gets 415",
    "body_too_large": "a body over the documented limit gets 413",
    "lifecycle_id": "a status answer's id is the id it was read with",
    "lifecycle_users": "the per-user results cover exactly the requested users",
    "lifecycle_echo": "the status echoes the request's all-bots flag",
    "lifecycle_timestamps": "lastUpdatedOn never precedes createdOn nor goes back",
    "lifecycle_status": "a user's status only moves forward; a final status never changes",
    "completion": "every created request reaches a final status",
    "valid_traffic_accepted": "valid tokens with valid data are not refused",
    "documented_responses": "every documented success answer was observed",
}


@dataclass
class Finding:
    """One contract violation: the check and operation, what was expected and got,
    a curl line to reproduce it, and how often it recurred."""

    check: str
    operation: str
    suite: str
    message: str
    expected: str
    actual: str
    curl: str | None = None
    count: int = 1


@dataclass
class Findings:
    """Every violation of a run, repeats counted; thread-safe."""

    items: dict[tuple[str, str, str], Finding] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, finding: Finding) -> None:
        """Record a violation; repeats of the same check, operation and message are counted."""
        key = (finding.check, finding.operation, finding.message)
        with self._lock:
            if key in self.items:
                self.items[key].count += 1
            else:
                self.items[key] = finding

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Finding]:
        return iter(list(self.items.values()))

    def by_check(self) -> dict[str, list[Finding]]:
        grouped: dict[str, list[Finding]] = {}
        for finding in self.items.values():
            grouped.setdefault(finding.check, []).append(finding)
        return dict(sorted(grouped.items()))


@dataclass
class Observation:
    """One answer, as the checks see it."""

    operation: Operation
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    path_value: str | None = None  # the status operations' id parameter, as sent
    request_body: Any = None  # the request's JSON body, if it had one
    suite: str = ""
    call: Any = None  # the PlannedCall, when the runner sent it
    exchange: Any = None  # the transport Exchange, when the runner sent it
    curl: str | None = None

    def json(self) -> Any:
        import json

        return json.loads(self.body)


class Context:
    """What checks share during a run: the vocabulary, the findings, and what was seen."""

    def __init__(self, vocabulary: Vocabulary):
        self.vocabulary = vocabulary
        self.findings = Findings()
        self.schemas = SchemaChecker(vocabulary)
        self.lock = threading.Lock()
        self.created: dict[str, Observation] = {}  # request id -> the create answer
        self.observed_statuses: dict[str, set[int]] = defaultdict(set)  # operation -> statuses seen
        self.observed_values: dict[str, set[str]] = defaultdict(set)  # enum name -> values seen
        self.answers: dict[int, Observation] = {}  # plan call index -> its (last) answer

    def fail(self, check: str, observation: Observation | None, message: str, *, expected: str, actual: str,
             operation: str | None = None, suite: str | None = None) -> None:
        home = HOME_SUITES.get(check)
        self.findings.add(Finding(
            check=check,
            operation=operation or (observation.operation.operation_id if observation else "(run)"),
            suite=home or suite or (observation.suite if observation else "") or "",
            message=message,
            expected=expected,
            actual=actual,
            curl=observation.curl if observation else None,
        ))


class Check:
    """A check: `after_response` for every answer, `after_run` once at the end."""

    names: ClassVar[tuple[str, ...]] = ()

    def after_response(self, ctx: Context, observation: Observation) -> None:
        pass

    def after_run(self, ctx: Context) -> None:
        pass


#: Every registered check class, in the order they judge an answer.
REGISTRY: list[type[Check]] = []
#: The check each finding name belongs to.
CHECKS: dict[str, type[Check]] = {}
#: The suite a check belongs to, when it judges answers from any suite.
HOME_SUITES: dict[str, str] = {}


def register(cls: type[Check]) -> type[Check]:
    REGISTRY.append(cls)
    for name in cls.names:
        CHECKS[name] = cls
    return cls


def snippet(body: bytes, limit: int = 200) -> str:
    text = body.decode("utf-8", "replace").strip()
    return (text[:limit] + "…") if len(text) > limit else (text or "(empty body)")


class SchemaChecker:
    """Validates payloads against the contract's component schemas, with the
    validator `contracts.core.conformance` judges exchanges with (ECMA-262 patterns)."""

    def __init__(self, vocabulary: Vocabulary):
        self.vocabulary = vocabulary
        self._validators: dict[str, Any] = {}

    def errors(self, schema_name: str, payload: Any) -> list[str]:
        validator = self._validators.get(schema_name)
        if validator is None:
            document = self.vocabulary.spec.document
            root = {"$ref": SCHEMAS_POINTER + schema_name, "components": document["components"]}
            validator = EcmaOAS30Validator(root, format_checker=oas30_format_checker)
            self._validators[schema_name] = validator
        return [error.message for error in validator.iter_errors(payload)]

    def error_body_problem(self, observation: Observation) -> str | None:
        """Why an error answer does not carry the documented error body, if it does not."""
        content_type = observation.headers.get("content-type", "")
        if not content_type.startswith("application/json"):
            return f"content type {content_type or '(none)'!r}, not application/json"
        try:
            body = observation.json()
        except ValueError:
            return "body is not JSON"
        problems = self.errors(self.vocabulary.error_schema, body)
        return "; ".join(problems) if problems else None


@register
class ServerErrors(Check):
    """No answer is a 5xx."""

    names = ("not_a_server_error",)

    def after_response(self, ctx: Context, observation: Observation) -> None:
        if observation.status >= 500:
            ctx.fail("not_a_server_error", observation, "Server error", expected="no 5xx answer",
                     actual=f"HTTP {observation.status}: {snippet(observation.body)}")


@register
class Expectations(Check):
    """A planned call that must get a particular answer (`PlannedCall.expect`):
    its status, the documented error body, and for tenant isolation the very
    same body as an unknown id gets."""

    names = ("auth_rejected", "auth_scope", "tenant_isolation", "request_id_rejected", "request_id_unknown",
             "resource_available", "media_type_rejected", "body_too_large")

    def after_response(self, ctx: Context, observation: Observation) -> None:
        call = observation.call
        expect = call.expect if call is not None else None
        if expect is None:
            return
        wanted = " or ".join(str(s) for s in expect.statuses)
        if observation.status not in expect.statuses:
            ctx.fail(call.check, observation, f"{expect.why}: expected {wanted}, got {observation.status}",
                     expected=f"HTTP {wanted}" + (" with the error body" if expect.error_body else ""),
                     actual=f"HTTP {observation.status}: {snippet(observation.body)}")
            return
        if expect.error_body and (problem := ctx.schemas.error_body_problem(observation)):
            ctx.fail(call.check, observation, f"{expect.why}: the {observation.status} answer lacks the error body",
                     expected="the documented error body", actual=problem)
            return
        if expect.message is not None and (said := ctx.vocabulary.error_message(observation.json())) != expect.message:
            ctx.fail(call.check, observation, f"{expect.why}: the {observation.status} answer says something else",
                     expected=f"the message {expect.message!r}", actual=repr(said))
            return
        if expect.same_body_as is not None:
            other = ctx.answers.get(expect.same_body_as)
            if other is not None and other.body != observation.body:
                ctx.fail(call.check, observation, f"{expect.why}: answers differently from an unknown id",
                         expected=snippet(other.body), actual=snippet(observation.body))


#: schemathesis's checks for cases it generated (their metadata says what was negated).
GENERATED_CASE_CHECKS = (
    "status_code_conformance", "content_type_conformance", "response_headers_conformance",
    "response_schema_conformance", "negative_data_rejection", "positive_data_acceptance",
    "missing_required_header", "unsupported_method", "allow_header_conformance",
)
#: ... and for the runner's own calls: what any answer of the operation must satisfy.
ANY_CASE_CHECKS = (
    "status_code_conformance", "content_type_conformance", "response_headers_conformance",
    "response_schema_conformance", "allow_header_conformance",
)


@register
class SchemathesisChecks(Check):
    """schemathesis's own response checks, on every answer the runner gets.
    Its checks that send requests themselves are left out, so that every
    request on the wire is planned and counted: `ignored_auth` (the auth
    suite sends every token defect), `use_after_free`,
    `ensure_resource_availability` and `object_level_authorization`
    (the stateful and tenant-isolation checks), and `not_a_server_error`,
    whose content-type probe re-sends (`ServerErrors` reports 5xx here)."""

    names = GENERATED_CASE_CHECKS

    def __init__(self) -> None:
        from schemathesis.checks import CHECKS as ST_CHECKS
        from schemathesis.checks import load_all_checks

        load_all_checks()
        by_name = {name: ST_CHECKS.get_one(name) for name in GENERATED_CASE_CHECKS}
        self.generated = [by_name[name] for name in GENERATED_CASE_CHECKS]
        self.any_case = [by_name[name] for name in ANY_CASE_CHECKS]

    def after_response(self, ctx: Context, observation: Observation) -> None:
        from schemathesis.core.failures import Failure, FailureGroup

        call = observation.call
        case = getattr(call, "case", None)
        response = getattr(observation.exchange, "response", None)
        if case is None or response is None:
            return
        # A body the safety rules changed no longer is the generated case: only the answer's conformance is judged.
        checks = self.generated if case.meta is not None and not getattr(call, "altered", False) else self.any_case
        try:
            case.validate_response(response, checks=checks)
        except FailureGroup as group:
            for failure in group.exceptions:
                self._fail(ctx, observation, failure)
        except Failure as failure:
            self._fail(ctx, observation, failure)

    @staticmethod
    def _fail(ctx: Context, observation: Observation, failure: Any) -> None:
        check = (getattr(failure, "checks", ()) or (type(failure).__name__,))[0]
        message = " ".join(str(failure.message).split())[:500]
        ctx.fail(check, observation, str(failure.title), expected=message,
                 actual=f"HTTP {observation.status}: {snippet(observation.body)}")


@register
class RequestIds(Check):
    """Every created requestId matches the documented format and is new."""

    names = ("request_id_format", "request_id_unique")

    def after_response(self, ctx: Context, observation: Observation) -> None:
        if observation.operation.role != CREATE or not 200 <= observation.status < 300:
            return
        try:
            request_id = ctx.vocabulary.link.value_in(observation.json())
        except ValueError:
            return  # not JSON: response_schema_conformance's to report
        if not isinstance(request_id, str):
            return
        id_format = ctx.vocabulary.request_id
        if not id_format.matches(request_id):
            ctx.fail("request_id_format", observation, "requestId does not match the documented pattern",
                     expected=f"a string matching {id_format.pattern}", actual=repr(request_id))
        with ctx.lock:
            duplicate = request_id in ctx.created
            ctx.created.setdefault(request_id, observation)
        if duplicate:
            ctx.fail("request_id_unique", observation, "the same requestId was returned twice",
                     expected="a new id for every create", actual=request_id)


@dataclass
class _Seen:
    user_ids: list[str] | None
    all_bots: bool | None
    created_on: str | None = None
    last_updated: datetime | None = None
    statuses: dict[str, str] = field(default_factory=dict)


@register
class LifecycleCheck(Check):
    """The properties every observed erase request keeps, checked on every
    status answer of the run against what was asked and seen before."""

    names = ("lifecycle_id", "lifecycle_users", "lifecycle_echo", "lifecycle_timestamps", "lifecycle_status")

    def __init__(self) -> None:
        self.requests: dict[str, _Seen] = {}
        self.lock = threading.Lock()

    def after_response(self, ctx: Context, observation: Observation) -> None:
        if not 200 <= observation.status < 300:
            return
        if observation.operation.role == CREATE:
            self._created(ctx, observation)
        elif observation.operation.role == STATUS and observation.path_value:
            self._observed(ctx, observation)

    def _created(self, ctx: Context, observation: Observation) -> None:
        f = ctx.vocabulary.fields
        try:
            request_id = ctx.vocabulary.link.value_in(observation.json())
        except ValueError:
            return
        body = observation.request_body
        if not isinstance(request_id, str) or not isinstance(body, dict):
            return
        users = body.get(f.user_ids)
        with self.lock:
            self.requests[request_id] = _Seen(
                list(users) if isinstance(users, list) else None, body.get(f.all_bots, False) is True
            )

    def _observed(self, ctx: Context, observation: Observation) -> None:
        f = ctx.vocabulary.fields
        request_id = observation.path_value
        try:
            body = observation.json()
            created, updated = _parse(body[f.created_on]), _parse(body[f.last_updated_on])
            results = {r[f.user_id]: r[f.user_status] for r in body[f.results]}
        except (ValueError, KeyError, TypeError, AttributeError):
            return  # shape problems are response_schema_conformance's to report

        def fail(check: str, message: str, expected: str, actual: str) -> None:
            ctx.fail(check, observation, message, expected=expected, actual=actual)

        if body.get(f.id) != request_id:
            fail("lifecycle_id", f"{f.id} differs from the requestId it was read with", str(request_id),
                 repr(body.get(f.id)))
        if updated < created:
            fail("lifecycle_timestamps", f"{f.last_updated_on} precedes {f.created_on}",
                 f"{f.last_updated_on} >= {f.created_on}", f"{body[f.last_updated_on]} < {body[f.created_on]}")
        final = ctx.vocabulary.user_status.final
        with self.lock:
            seen = self.requests.setdefault(str(request_id), _Seen(None, None))
            if seen.user_ids is not None and list(results) != seen.user_ids:
                fail("lifecycle_users", "per-user results do not cover exactly the requested users",
                     repr(seen.user_ids), repr(list(results)))
            if seen.all_bots is not None and body.get(f.echo_all_bots) is not seen.all_bots:
                fail("lifecycle_echo", f"{f.echo_all_bots} does not echo the request", repr(seen.all_bots),
                     repr(body.get(f.echo_all_bots)))
            if seen.created_on is not None and seen.created_on != body[f.created_on]:
                fail("lifecycle_timestamps", f"{f.created_on} changed", seen.created_on, body[f.created_on])
            if seen.last_updated is not None and updated < seen.last_updated:
                fail("lifecycle_timestamps", f"{f.last_updated_on} went back",
                     f">= {seen.last_updated.isoformat()}", body[f.last_updated_on])
            for user, status in results.items():
                before = seen.statuses.get(user)
                if before in final and status != before:
                    fail("lifecycle_status", "a final user status changed", f"{user}: {before} forever",
                         f"{user}: {status}")
            seen.created_on, seen.last_updated = body[f.created_on], max(updated, seen.last_updated or updated)
            seen.statuses.update(results)


@register
class Observed(Check):
    """Records which documented status codes and enum values the run saw (the
    report's coverage: a documented state never observed makes the run
    incomplete unless the run could not provoke it)."""

    names = ()

    def after_response(self, ctx: Context, observation: Observation) -> None:
        op = observation.operation
        with ctx.lock:
            ctx.observed_statuses[op.operation_id].add(observation.status)
        if not 200 <= observation.status < 300:
            return
        f = ctx.vocabulary.fields
        try:
            body = observation.json()
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        with ctx.lock:
            if op.role == CREATE and isinstance(body.get(f.accepted_status), str):
                ctx.observed_values["EraseRequestAccepted.status"].add(body[f.accepted_status])
            if op.role == STATUS and isinstance(body.get(f.results), list):
                for result in body[f.results]:
                    if isinstance(result, dict) and isinstance(result.get(f.user_status), str):
                        ctx.observed_values["UserEraseStatus"].add(result[f.user_status])


@register
class ValidTraffic(Check):
    """Valid tokens with schema-valid data must be accepted: if more than a
    small share of such calls get 401 or 403, the tokens or the deployment are
    wrong, and every other verdict of the run is in doubt."""

    names = ("valid_traffic_accepted",)
    TOLERATED_SHARE = 0.05

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.example: Observation | None = None
        self.lock = threading.Lock()

    def after_response(self, ctx: Context, observation: Observation) -> None:
        call = observation.call
        if call is None or not call.positive:
            return
        refused = observation.status in (401, 403)
        with self.lock:
            self.counts["positive"] += 1
            if refused:
                self.counts["refused"] += 1
                self.example = self.example or observation

    def after_run(self, ctx: Context) -> None:
        total, refused = self.counts["positive"], self.counts["refused"]
        if not total or refused / total <= self.TOLERATED_SHARE:
            return
        example = self.example
        detail = snippet(example.body) if example else ""
        ctx.fail("valid_traffic_accepted", example,
                 f"{refused} of {total} calls with a fresh valid token and valid data were refused",
                 expected=f"at most {self.TOLERATED_SHARE:.0%} refused (401/403)",
                 actual=f"{refused / total:.0%} refused, e.g. HTTP {example.status if example else '?'}: {detail};"
                        " the pre-flight accepted the same app's token, so the deployment looks wrong"
                        " (does it refuse tokens after the first use, or rate-limit with 401/403?)",
                 suite="auth")


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


for _name in LifecycleCheck.names:
    HOME_SUITES[_name] = "lifecycle"
HOME_SUITES.update({"request_id_format": "request-ids", "request_id_unique": "request-ids",
                    "completion": "lifecycle", "valid_traffic_accepted": "auth"})
