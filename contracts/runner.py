"""The contract runner: property-tests a deployment against `openapi.yaml`.

`run(config)` returns a `Report`. Suites (each can be selected with
`RunConfig.suites`):

- conformance: every selected operation, positive and negative data from
  schemathesis, every schemathesis check;
- stateful: schemathesis's state machine over the spec's links (create, then
  status with the created id);
- auth: Hypothesis-generated broken tokens must get 401 with the error body;
  an app without the scope 403; another tenant's request 404;
- request-ids: created ids match the pattern and are unique; malformed ids
  get a 4xx; well-formed ids never created get 404;
- lifecycle: the properties of `checks.LifecycleTracker`, checked on every
  status answer of the run, and `--wait-for-completion`.

All traffic goes through `Run.exercise_*`, which applies the safety rules of
`contracts.safety`, honours `Retry-After`, and feeds the lifecycle tracker.
"""

from __future__ import annotations

import concurrent.futures
import functools
import itertools
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import hypothesis.errors
import hypothesis.stateful
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from schemathesis import GenerationMode, auths
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import ignored_auth

from contracts.checks import Findings, LifecycleTracker, SchemaChecker, error_body_problem
from contracts.config import RunConfig
from contracts.core.errors import ConfigError
from contracts.core.spec import Spec, load_spec
from contracts.core.tokens import mint
from contracts.core.vocabulary import Vocabulary
from contracts.safety import EraseGuard, Target
from contracts.strategies import ID_DEFECTS, TOKEN_DEFECTS, broken_credentials, malformed_request_ids
from contracts.transport import Exchange, Transport, exchange_of

STATUS_PATH = "/api/public/bot/eraseUsersData/status/{}"
CREATE_PATH = "/api/public/bot/eraseUsersData"
CREATE_OPS = ("createEraseRequest", "createEraseRequestViaPost")
STATUS_OPS = ("getEraseRequestStatus", "getEraseRequestStatusViaPost")
AUTH_HEADER = "auth"
#: Checks that send the request again (ignored_auth without its token;
#: not_a_server_error's content-type probe after a 5xx).
RESENDING_CHECKS = [ignored_auth, not_a_server_error]


@dataclass
class SuiteResult:
    name: str
    status: str  # passed | failed | skipped
    detail: str = ""
    cases: int = 0


@dataclass
class Report:
    config: RunConfig
    target: Target
    seed: int
    findings: Findings
    suites: list[SuiteResult] = field(default_factory=list)
    requests_sent: int = 0
    erase_sent: int = 0
    erase_skipped: int = 0
    created: list[dict[str, Any]] = field(default_factory=list)
    duration: float = 0.0
    retry_wait: float = 0.0

    @property
    def ok(self) -> bool:
        return len(self.findings) == 0

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1


class TokenSource:
    """Fresh tokens signed the vendor's way, or a fixed token."""

    recipe = Vocabulary.of(load_spec()).token

    def __init__(self, client_id: str | None, secret: str | None, token: str | None):
        self.client_id, self.secret, self.token = client_id, secret, token

    def __call__(self) -> str:
        if self.client_id and self.secret:
            return mint(self.recipe, self.client_id, self.secret)
        assert self.token is not None
        return self.token


class Run:
    """The state of one contract run."""

    def __init__(self, config: RunConfig, spec: Spec):
        if not config.credentials.present:
            raise ConfigError("credentials are required: --client-id and --client-secret, or --token")
        self.config, self.spec = config, spec
        self.target = Target.of(config)
        self.seed = config.seed if config.seed is not None else random.randrange(2**31)
        self.rng = random.Random(self.seed)
        self.transport = Transport(self.target.base_url, config.timeout, config.max_retry_after)
        self.guard = EraseGuard.of(config, spec, self.target)
        self.findings = Findings()
        self.tracker = LifecycleTracker(spec, self.findings)
        self.checker = SchemaChecker(spec)
        creds = config.credentials
        self.tokens = TokenSource(creds.client_id, creds.client_secret, creds.token)
        self.operations = self._selected_operations()
        self.schema = self._schemathesis_schema()

    # -- setup -------------------------------------------------------------------------------

    def _selected_operations(self) -> list[str]:
        known = [op.operation_id for op in self.spec.operations()]
        for name in (*self.config.include, *self.config.exclude):
            if name not in known:
                raise ConfigError(f"unknown operation {name!r} in --include/--exclude; known: {', '.join(known)}")
        chosen = [op for op in known if not self.config.include or op in self.config.include]
        return [op for op in chosen if op not in self.config.exclude]

    def _schemathesis_schema(self) -> Any:
        schema = schemathesis.openapi.from_dict(self.spec.document)
        schema.config.update(base_url=self.target.base_url)
        tokens = self.tokens

        @schema.auth()
        class FreshToken:  # the vendor's token, signed fresh for each request
            def get(self, case: Any, context: Any) -> str:
                return tokens()

            def set(self, case: Any, data: str, context: Any) -> None:
                case.headers = case.headers or {}
                case.headers[AUTH_HEADER] = data

        return schema

    def hypothesis_settings(self, max_examples: int | None = None, **extra: Any) -> settings:
        database = (
            DirectoryBasedExampleDatabase(self.config.hypothesis_database)
            if self.config.hypothesis_database else None
        )
        return settings(
            max_examples=max_examples or self.config.max_examples,
            deadline=None,
            database=database,
            derandomize=False,
            # No shrinking: a shrink step would send more create calls.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=list(HealthCheck),
            print_blob=False,
            verbosity=hypothesis.Verbosity.quiet,
            report_multiple_bugs=False,
            **extra,
        )

    def seeded(self, test: Callable[..., Any]) -> Callable[..., Any]:
        return hypothesis.seed(self.seed)(test)

    # -- traffic -----------------------------------------------------------------------------

    def exercise_case(self, case: Any, operation_id: str) -> None:
        """Send one schemathesis case (if safe), run every check, feed the tracker."""
        if operation_id in CREATE_OPS:
            send, body = self.guard.admit(case.body, self.rng)
            if not send:
                return
            case.body = body
        response = self.transport.with_retries(
            # Never follow a redirect: it could carry the create and the token to a
            # host that was never checked (nor deny-listed, nor treated as remote).
            lambda: case.call(session=self.transport.session, timeout=self.config.timeout,
                              allow_redirects=False),
            lambda r: r.status_code,
            lambda r: r.headers,
            retry=not self.resends_unsafe(operation_id),
        )
        exchange = exchange_of(response)
        excluded = RESENDING_CHECKS if self.resends_unsafe(operation_id) else None
        self.checked(case, operation_id, exchange, lambda: case.validate_response(response, excluded_checks=excluded))

    def resends_unsafe(self, operation_id: str) -> bool:
        """True when nothing may re-send this request (a retry, or a check such as
        ignored_auth, or not_a_server_error's content-type probe): a create re-sent to
        a remote target would be an erase the guard never admitted."""
        return self.target.remote and operation_id in CREATE_OPS

    def checked(self, case: Any, operation_id: str, exchange: Exchange, validate: Callable[[], None]) -> None:
        """Run schemathesis's checks (`validate`), record their failures, feed the tracker."""
        if exchange.status >= 500 and self.resends_unsafe(operation_id):  # its check is off here
            actual = f"HTTP {exchange.status}: {_snippet(exchange.response_body)}"
            self.findings.add("not_a_server_error", operation_id, "Server error",
                              expected="no 5xx answer", actual=actual, exchange=exchange)
        try:
            validate()
        except FailureGroup as group:
            for failure in group.exceptions:
                self._add_failure(failure, operation_id, exchange)
        except Failure as failure:
            self._add_failure(failure, operation_id, exchange)
        self.observe(operation_id, case.body, case.path_parameters or {}, exchange)

    def _add_failure(self, failure: Failure, operation_id: str, exchange: Exchange) -> None:
        message = " ".join(str(failure.message).split())[:500]
        check = _check_name(failure)
        self.findings.add(check, operation_id, failure.title, expected=message,
                          actual=f"HTTP {exchange.status}: {_snippet(exchange.response_body)}",
                          exchange=exchange)

    def observe(self, operation_id: str, body: Any, path_params: dict[str, Any], exchange: Exchange) -> None:
        if not 200 <= exchange.status < 300:
            return
        if operation_id in CREATE_OPS and isinstance(body, dict):
            request_id = self.tracker.created(operation_id, body, exchange)
            if request_id:
                self.guard.record_created(request_id, body)
        elif operation_id in STATUS_OPS and "reqId" in path_params:
            self.tracker.observed(operation_id, str(path_params["reqId"]), exchange)

    def send(self, method: str, path: str, headers: dict[str, str], body: Any = None) -> Exchange:
        return self.transport.request(method, path, headers=headers, json_body=body)

    def create(self, body: dict[str, Any], headers: dict[str, str] | None = None,
               operation_id: str = "createEraseRequest") -> Exchange | None:
        """A create call through the safety guard; None when it may not be sent."""
        admitted, body = self.guard.admit(body, self.rng)
        if not admitted:
            return None
        method = "DELETE" if operation_id == "createEraseRequest" else "POST"
        headers = headers if headers is not None else {AUTH_HEADER: self.tokens()}
        exchange = self.transport.request(method, CREATE_PATH, headers=headers, json_body=body,
                                          retry=not self.resends_unsafe(operation_id))
        self.observe(operation_id, body, {}, exchange)
        return exchange

    def status(self, request_id: str, headers: dict[str, str] | None = None) -> Exchange:
        headers = headers if headers is not None else {AUTH_HEADER: self.tokens()}
        exchange = self.send("GET", STATUS_PATH.format(request_id), headers)
        self.observe("getEraseRequestStatus", None, {"reqId": request_id}, exchange)
        return exchange

    def sample_body(self) -> dict[str, Any]:
        return {"userIds": [f"contract-test-{uuid.uuid4()}"], "RemoveDataFromAllBots": self.rng.random() < 0.5,
                "botIds": [f"st-{uuid.uuid4()}"]}

    @property
    def examples_per_kind(self) -> int:
        """Hypothesis examples for each defect kind of the auth and request-id suites."""
        return max(2, self.config.max_examples // 10)

    def result(self, name: str, findings_before: int, detail: str, cases: int) -> SuiteResult:
        """A suite's result: failed when it added findings."""
        status = "failed" if len(self.findings) > findings_before else "passed"
        return SuiteResult(name, status, detail, cases)

    def expect_error(self, check: str, operation: str, exchange: Exchange, expected: int, why: str) -> bool:
        """A finding unless `exchange` is an `expected` answer with the documented error body."""
        if exchange.status != expected:
            self.findings.add(check, operation, f"{why}: expected {expected}, got {exchange.status}",
                              expected=f"HTTP {expected} with the error body",
                              actual=f"HTTP {exchange.status}: {_snippet(exchange.response_body)}",
                              exchange=exchange)
            return False
        problem = error_body_problem(self.checker, exchange)
        if problem:
            self.findings.add(check, operation, f"{why}: the {expected} answer lacks the error body",
                              expected="the documented Error body", actual=problem, exchange=exchange)
            return False
        return True


def _check_name(failure: Failure) -> str:
    """schemathesis's check name for a failure (e.g. `response_schema_conformance`)."""
    checks = getattr(failure, "checks", ()) or ()
    if checks:
        return checks[0]
    return type(failure).__name__


def _snippet(body: bytes, limit: int = 200) -> str:
    text = body.decode("utf-8", "replace").strip()
    return (text[:limit] + "…") if len(text) > limit else (text or "(empty body)")


# -- suites -------------------------------------------------------------------------------------


def conformance(run: Run) -> SuiteResult:
    """Schemathesis's coverage cases (boundaries, missing headers, unexpected
    methods, wrong media types), then Hypothesis-generated positive and
    negative cases, each with every schemathesis check.

    With `--workers N`, N-1 threads send and check the coverage cases while
    this thread runs the Hypothesis tests. Generation itself stays on this
    thread: Hypothesis scans newly loaded modules with `ast`, which CPython
    3.11 cannot do from two threads at once."""
    before = len(run.findings)
    counter = itertools.count()
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    coverage: list[tuple[Any, str]] = []
    fuzz_units: list[Callable[[], None]] = []
    for operation in run.schema.get_all_operations():
        operation = operation.ok()
        operation_id = operation.definition.raw["operationId"]
        if operation_id in run.operations:
            coverage += [(case, operation_id) for case in _coverage_cases(run, operation, modes)]
            fuzz_units += [functools.partial(_fuzz_unit, run, operation, operation_id, mode, counter)
                           for mode in modes]

    def send(item: tuple[Any, str]) -> None:
        next(counter)
        run.exercise_case(*item)

    if run.config.workers == 1:
        for item in coverage:
            send(item)
        for unit in fuzz_units:
            unit()
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=run.config.workers - 1) as pool:
            futures = [pool.submit(send, item) for item in coverage]
            for unit in fuzz_units:
                unit()
            for future in futures:
                future.result()
    return run.result("conformance", before,
                      f"{len(run.operations)} operations: coverage cases, positive and negative data",
                      next(counter))


def _coverage_cases(run: Run, operation: Any, modes: list[GenerationMode]) -> list[Any]:
    context = auths.AuthContext(operation=operation, app=None)
    cases = list(run.schema.iter_coverage_cases(
        operation, generation_modes=modes,
        generation_config=run.schema.config.generation_for(operation=operation, phase="coverage"),
    ))
    for case in cases:
        auths.set_on_generated_case(case, context, run.schema.auth)
    return cases


def _fuzz_unit(run: Run, operation: Any, operation_id: str, mode: GenerationMode,
               counter: Iterator[int]) -> None:
    @run.seeded
    @run.hypothesis_settings()
    @given(case=operation.as_strategy(generation_mode=mode))
    def test(case: Any) -> None:
        next(counter)
        run.exercise_case(case, operation_id)

    test()


def stateful(run: Run) -> SuiteResult:
    if not any(op in run.operations for op in CREATE_OPS):
        return SuiteResult("stateful", "skipped", "no create operation selected")
    if run.target.remote and not run.guard.allow_list:
        return SuiteResult("stateful", "skipped", "remote target without --erase-user-id: no create may be sent")
    # Deprecated aliases would be chosen as the machine's entry points (docs/spec-notes.md).
    schema = run.schema.include(operation_id=[
        op for op in run.operations if not run.spec.operation(op).deprecated
    ]) if hasattr(run.schema, "include") else run.schema
    base = schema.as_state_machine()
    before, steps = len(run.findings), 0

    class Machine(base):  # type: ignore[misc, valid-type]
        def call(self, case: Any, **kwargs: Any) -> Any:
            nonlocal steps
            operation_id = case.operation.definition.raw["operationId"]
            if operation_id in CREATE_OPS:
                admitted, body = run.guard.admit(case.body, run.rng)
                hypothesis.assume(admitted)
                case.body = body
            steps += 1
            return run.transport.with_retries(
                lambda: case.call(session=run.transport.session, timeout=run.config.timeout,
                                  allow_redirects=False, **kwargs),
                lambda r: r.status_code, lambda r: r.headers, retry=not run.resends_unsafe(operation_id),
            )

        def validate_response(self, response: Any, case: Any, additional_checks: Any = None,
                              **kwargs: Any) -> None:
            operation_id = case.operation.definition.raw["operationId"]
            def validate() -> None:
                if run.resends_unsafe(operation_id):
                    case.validate_response(response, additional_checks=additional_checks,
                                           excluded_checks=RESENDING_CHECKS, transport_kwargs=kwargs or None,
                                           recorder=self.recorder)
                else:
                    super(Machine, self).validate_response(response, case, additional_checks, **kwargs)

            run.checked(case, operation_id, exchange_of(response), validate)

    try:
        hypothesis.stateful.run_state_machine_as_test(
            Machine, settings=run.hypothesis_settings(max(5, run.config.max_examples // 2), stateful_step_count=6)
        )
    except hypothesis.errors.Unsatisfiable:
        return SuiteResult("stateful", "skipped", "the safety rules refused every create (see --erase-user-id)")
    return run.result("stateful", before, "create -> status through the spec's links", steps)


def auth(run: Run) -> list[SuiteResult]:
    results = []
    creds = run.config.credentials
    if creds.client_id and creds.client_secret:
        results.append(_broken_tokens(run, creds.client_id, creds.client_secret))
    else:
        results.append(SuiteResult("auth: broken tokens", "skipped",
                                   "needs --client-id/--client-secret (a fixed --token cannot be mutated)"))
    results.append(_unscoped(run))
    results.append(_other_tenant(run))
    return results


def _operations_for_auth(run: Run) -> list[str]:
    return [op for op in run.operations if op in STATUS_OPS or op in CREATE_OPS]


def _call_with(run: Run, operation: str, headers: dict[str, str]) -> Exchange | None:
    """Call `operation` with these headers: a create with a sample body (through the
    safety guard; None if refused), or a status read of a well-formed unknown id."""
    if operation in CREATE_OPS:
        return run.create(run.sample_body(), headers, operation)
    method = "GET" if operation == "getEraseRequestStatus" else "POST"
    return run.send(method, STATUS_PATH.format(f"eud-{uuid.uuid4()}"), headers)


def _broken_tokens(run: Run, client_id: str, secret: str) -> SuiteResult:
    operations = _operations_for_auth(run)
    if not operations:
        return SuiteResult("auth: broken tokens", "skipped", "no operation selected")
    before, cases = len(run.findings), 0
    # Every defect on every operation (a deployment that lets one kind through
    # must never go unnoticed by chance); Hypothesis draws each one's details.
    def check(kind: str, operation: str, headers: dict[str, str]) -> None:
        nonlocal cases
        cases += 1
        exchange = _call_with(run, operation, headers)
        if exchange is not None:
            run.expect_error("auth_rejected", operation, exchange, 401, f"token with defect '{kind}'")

    def case_for(kind: str, operation: str) -> Callable[[dict[str, str]], None]:
        def broken_token(headers: dict[str, str]) -> None:
            check(kind, operation, headers)

        return broken_token

    for kind in TOKEN_DEFECTS:
        for operation in operations:
            test = given(broken_credentials(kind, client_id, secret, time.time()))(case_for(kind, operation))
            run.seeded(run.hypothesis_settings(run.examples_per_kind)(test))()
    detail = f"{len(TOKEN_DEFECTS)} defects x {len(operations)} operations"
    return run.result("auth: broken tokens", before, detail, cases)


def _unscoped(run: Run) -> SuiteResult:
    creds = run.config.unscoped
    if not creds.present:
        return SuiteResult("auth: app without the scope", "skipped",
                           "needs --unscoped-client-id/--unscoped-client-secret")
    tokens = TokenSource(creds.client_id, creds.client_secret, creds.token)
    before, cases = len(run.findings), 0
    for operation in _operations_for_auth(run):
        exchange = _call_with(run, operation, {AUTH_HEADER: tokens()})
        if exchange is None:
            continue
        cases += 1
        run.expect_error("auth_scope", operation, exchange, 403, "an app without the 'Delete Users Data' scope")
    return run.result("auth: app without the scope", before, "403 on every operation", cases)


def _other_tenant(run: Run) -> SuiteResult:
    creds = run.config.other_tenant
    name = "auth: tenant isolation"
    if not creds.present:
        return SuiteResult(name, "skipped", "needs --other-tenant-client-id/--other-tenant-client-secret")
    before = len(run.findings)
    created = run.create(run.sample_body())
    if created is None or created.status != 200:
        return SuiteResult(name, "skipped", "no request could be created safely (see --erase-user-id)")
    request_id = created.json()["requestId"]
    tokens = TokenSource(creds.client_id, creds.client_secret, creds.token)
    foreign = run.status(request_id, {AUTH_HEADER: tokens()})
    if run.expect_error("tenant_isolation", "getEraseRequestStatus", foreign, 404,
                        "another tenant's request id"):
        unknown = run.send("GET", STATUS_PATH.format(f"eud-{uuid.uuid4()}"), {AUTH_HEADER: tokens()})
        if unknown.response_body != foreign.response_body:
            run.findings.add("tenant_isolation", "getEraseRequestStatus",
                             "another tenant's id answers differently from an unknown id",
                             expected=_snippet(unknown.response_body), actual=_snippet(foreign.response_body),
                             exchange=foreign)
    return run.result(name, before, "another tenant's request answers like an unknown one", 2)


def request_ids(run: Run) -> list[SuiteResult]:
    results = []
    ids = []
    before = len(run.findings)
    for _ in range(3):
        exchange = run.create(run.sample_body())
        if exchange is not None and exchange.status == 200:
            ids.append(exchange.json().get("requestId"))
    if ids:
        results.append(run.result("request-ids: format and uniqueness", before,
                                  f"{len(ids)} created here, every create of the run checked", len(ids)))
    else:
        results.append(SuiteResult("request-ids: format and uniqueness", "skipped",
                                   "no request could be created safely (see --erase-user-id)"))
    before, cases = len(run.findings), 0

    def malformed(bad: tuple[str, str]) -> None:
        nonlocal cases
        kind, raw = bad
        cases += 1
        exchange = run.send("GET", STATUS_PATH.format(raw), {AUTH_HEADER: run.tokens()})
        if not 400 <= exchange.status < 500:
            run.findings.add("request_id_rejected", "getEraseRequestStatus",
                             f"malformed reqId ({kind}) was not answered with a 4xx",
                             expected="HTTP 4xx with the error body",
                             actual=f"HTTP {exchange.status}: {_snippet(exchange.response_body)}",
                             exchange=exchange)
        elif problem := error_body_problem(run.checker, exchange):
            run.findings.add("request_id_rejected", "getEraseRequestStatus",
                             f"the {exchange.status} for a malformed reqId lacks the error body",
                             expected="the documented Error body", actual=problem, exchange=exchange)

    for kind in ID_DEFECTS:  # every kind, so none is missed by chance
        run.seeded(run.hypothesis_settings(run.examples_per_kind)(given(malformed_request_ids(kind))(malformed)))()
    results.append(run.result("request-ids: malformed ids rejected", before,
                              f"{len(ID_DEFECTS)} defects: 4xx, never 2xx/5xx", cases))
    before, unknown_cases = len(run.findings), 0

    @run.seeded
    @run.hypothesis_settings(max(5, run.config.max_examples // 3))
    @given(value=st.uuids())
    def never_created(value: uuid.UUID) -> None:
        nonlocal unknown_cases
        unknown_cases += 1
        exchange = run.send("GET", STATUS_PATH.format(f"eud-{value}"), {AUTH_HEADER: run.tokens()})
        run.expect_error("request_id_unknown", "getEraseRequestStatus", exchange, 404,
                         "a well-formed id that was never created")

    never_created()
    results.append(run.result("request-ids: unknown ids are 404", before, "never created: 404", unknown_cases))
    return results


def lifecycle(run: Run) -> SuiteResult:
    """Re-read every request this run created; with a deadline, until all are final."""
    deadline = run.config.wait_for_completion
    before, reads = len(run.findings), 0
    for request_id in list(run.tracker.requests):
        run.status(request_id)
        reads += 1
    if deadline is None:
        return run.result("lifecycle", before, f"{len(run.tracker.requests)} requests observed", reads)
    delay, until = 0.25, time.monotonic() + deadline
    pending = run.tracker.unfinished()
    while pending and time.monotonic() < until:
        time.sleep(min(delay, max(0.0, until - time.monotonic())))
        delay = min(delay * 2, 10.0)
        for request_id in pending:
            run.status(request_id)
            reads += 1
        pending = run.tracker.unfinished()
    for request_id in pending:
        run.findings.add("completion", "getEraseRequestStatus",
                         f"erase request not complete within {deadline:g} s",
                         expected="every user in SUCCESS or FAILURE", actual=f"{request_id} still in progress")
    return run.result("lifecycle", before, f"waited for completion of {len(run.tracker.requests)} requests", reads)


def run(config: RunConfig) -> Report:
    """Run the selected suites against `config.base_url`."""
    spec = load_spec(config.spec_path)
    state = Run(config, spec)
    started = time.monotonic()
    state.transport.preflight(STATUS_PATH.format(f"eud-{uuid.uuid4()}"))
    report = Report(config, state.target, state.seed, state.findings)
    suites: dict[str, Callable[[Run], Any]] = {
        "conformance": conformance,
        "stateful": stateful,
        "auth": auth,
        "request-ids": request_ids,
        "lifecycle": lifecycle,
    }
    for name in config.suites:
        outcome = suites[name](state)
        report.suites.extend(outcome if isinstance(outcome, list) else [outcome])
    report.requests_sent = state.transport.sent
    report.retry_wait = state.transport.waited
    report.erase_sent, report.erase_skipped = state.guard.sent, state.guard.skipped
    report.created = state.guard.created
    report.duration = time.monotonic() - started
    return report


def plan(config: RunConfig) -> str:
    """What `run(config)` would send, without sending anything (`--dry-run`)."""
    spec = load_spec(config.spec_path)
    state = Run(config, spec)
    examples = config.max_examples
    guard = state.guard
    if state.target.remote:
        policy = (
            f"remote target: create calls that could erase are sent only with user ids from the"
            f" allow-list {list(guard.allow_list)}, at most {guard.cap}"
            if guard.allow_list else
            "remote target: no create call that could erase is sent (no --erase-user-id allow-list);"
            " negative create calls only with bodies the contract rejects"
        )
    else:
        policy = "local target: create calls are sent freely" + (
            f", at most {guard.cap}" if guard.cap is not None else "")
    lines = [
        f"Dry run: nothing is sent to {state.target.base_url}",
        f"Erase safety: {policy}",
        f"Seed: {state.seed}",
        "Planned calls:",
    ]
    operations = {op.operation_id: op for op in spec.operations()}
    for name in config.suites:
        if name == "conformance":
            for operation_id in state.operations:
                op = operations[operation_id]
                lines.append(f"  conformance  {op.method} {op.path}  up to {2 * examples} generated cases"
                             " (positive and negative)")
        elif name == "stateful":
            lines.append(f"  stateful     create -> status scenarios, up to {max(5, examples // 2)} x 6 steps")
        elif name == "auth":
            lines.append(f"  auth         up to {max(examples, 30)} calls with broken tokens (expect 401)")
            lines.append("  auth         " + ("one call per operation with the unscoped app (expect 403)"
                                             if config.unscoped.present else "app without scope: skipped"))
            lines.append("  auth         " + ("one create, one status read by the other tenant (expect 404)"
                                             if config.other_tenant.present else "tenant isolation: skipped"))
        elif name == "request-ids":
            lines.append("  request-ids  3 creates (format, uniqueness)")
            malformed, unknown = STATUS_PATH.format("<malformed>"), STATUS_PATH.format("<never created>")
            lines.append(f"  request-ids  GET {malformed}  up to {max(examples, 30)} calls (expect 4xx)")
            lines.append(f"  request-ids  GET {unknown}  up to {max(5, examples // 3)} calls (expect 404)")
        elif name == "lifecycle":
            wait = config.wait_for_completion
            lines.append("  lifecycle    GET status of every created request"
                         + (f", polled with back-off for up to {wait:g} s" if wait else ""))
    return "\n".join(lines) + "\n"
