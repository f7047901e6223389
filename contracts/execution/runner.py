"""The runner: sends one deployment the calls of a plan.

It selects the operations and suites, makes the planner (the pre-flight's
calls first), and sends each suite's calls through `Runner.send`: a token
minted per request, the erase budget taken for every erasing request on the
wire (retries included), `Retry-After` honoured, every answer given to every
check of `contracts.judging.checks.CHECKS`. What it did is an `Outcome`; the
verdict on it, and the order of the stages, are `contracts.pipeline`'s.
"""

from __future__ import annotations

import json
import random
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx

from contracts.config import DEFAULT_MAX_ERASE_REMOTE, REMOTE_AUDIT_LOG, Credentials, RunConfig
from contracts.core import tokens
from contracts.core.errors import ConfigError
from contracts.core.identities import Speaker
from contracts.core.redaction import Redactor
from contracts.core.spec import load_spec
from contracts.core.vocabulary import CREATE, STATUS, Operation, Vocabulary
from contracts.execution.pacing import Pace, default_pace, request_budget
from contracts.execution.transport import RETRY_STATUSES, Exchange, Transport
from contracts.judging import checks as checkmod
from contracts.judging.outcome import CallOutcome, CallRecord, Outcome
from contracts.planning.model import Auth, Cause, Plan, PlannedCall
from contracts.planning.planner import Planner
from contracts.planning.strategies import broken_headers
from contracts.planning.suites import SUITES
from contracts.safety.policy import AuditLog, Budget
from contracts.safety.target import Target


class Runner:
    """One deployment's side of a run: its target, erase budget, audit log, HTTP
    transport and redactor, the checks judging its answers, and a record of
    every planned call."""

    def __init__(self, config: RunConfig, *, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 progress: Any = None):
        if not config.credentials.present:
            raise ConfigError("credentials are required: --client-id and --client-secret, or --token")
        self.config = config
        self.vocabulary = Vocabulary.of(load_spec(config.spec_path))
        self.target = Target.of(config.base_url, kind=config.target_kind,
                                denied_hosts=self.vocabulary.production_hosts, allow_denied=config.allow_denied_host)
        self.seed = config.seed if config.seed is not None else random.randrange(2**31)
        self.operations = self._selected_operations()
        self.suites = self._selected_suites()
        self.sleep = sleep
        self.progress = progress
        self.redactor = Redactor(config.secrets())
        cap = config.max_erase_requests
        self.budget = Budget(DEFAULT_MAX_ERASE_REMOTE if cap is None and self.target.remote else cap)
        audit_log = config.audit_log or (REMOTE_AUDIT_LOG if self.target.remote else None)
        self.audit = AuditLog(audit_log, self.target.base_url)
        limit = self.vocabulary.rate_limit
        per_minute, total = default_pace(self.target.remote, config.rate, limit.per_minute, limit.per_hour)
        self.pace = Pace(per_minute, total, clock=clock, sleep=sleep)
        self.request_budget = request_budget(per_minute, total) if self.target.remote else None
        self.http = Transport(self.target.base_url, config.timeout, config.max_retry_after, transport=transport,
                              sleep=sleep, max_response_bytes=config.max_response_bytes, pace=self.pace)
        self.context = checkmod.Context(self.vocabulary)
        self.checks = [cls() for cls in checkmod.REGISTRY]
        self.records: dict[int, CallRecord] = {}
        self._lock = threading.Lock()
        self.not_final_calls: list[tuple[PlannedCall, str]] = []

    # -- selection ---------------------------------------------------------------------------------

    def _selected_operations(self) -> list[Operation]:
        known = list(self.vocabulary.operations)
        for name in (*self.config.include, *self.config.exclude):
            if name not in known:
                raise ConfigError(f"unknown operation {name!r} in --include/--exclude; known: {', '.join(known)}")
        return [self.vocabulary.operations[op] for op in known
                if (not self.config.include or op in self.config.include) and op not in self.config.exclude]

    def _selected_suites(self) -> list[str]:
        chosen = self.config.suites or tuple(SUITES)
        unknown = [s for s in chosen if s not in SUITES]
        if unknown:
            raise ConfigError(f"unknown suite {unknown[0]!r}; known: {', '.join(SUITES)}")
        return [name for name in SUITES if name in chosen]  # the registry's order

    # -- planning ----------------------------------------------------------------------------------

    def settings_record(self) -> dict[str, Any]:
        """What the plan depends on, recorded in a plan file so `--plan` can recompute it."""
        c = self.config
        return {
            "suites": self.suites, "operations": [op.operation_id for op in self.operations],
            "maxExamples": c.max_examples, "eraseUserIds": list(c.erase_user_ids),
            "refusedUserIds": list(c.refused_user_ids), "eraseBudget": self.budget.cap, "rate": c.rate,
            "waitForCompletion": c.wait_for_completion,
            "identities": {"otherTenant": c.other_tenant.present, "unscoped": c.unscoped.present,
                           "canSign": c.credentials.can_sign},
        }

    def planner(self) -> Planner:
        """A planner holding the pre-flight's calls, which come first in every plan."""
        from contracts.execution.preflight import plan_preflight

        planner = Planner(self.config, self.vocabulary, self.target, self.seed, self.operations, self.budget.cap,
                          self.settings_record())
        planner.plan.request_budget = self.request_budget
        plan_preflight(planner)
        return planner

    def plan_suites(self, planner: Planner) -> Plan:
        """Every selected suite's calls, then the erase budget spent by priority."""
        with _quiet():
            for name in self.suites:
                SUITES[name].plan(planner)
            planner.plan.allocate_budget()
            for name in self.suites:
                finish = SUITES[name].finish
                if finish:
                    finish(planner)
            planner.plan.allocate_requests()
        return planner.plan

    def preflight(self, plan: Plan) -> None:
        """Send the plan's pre-flight calls (`contracts.execution.preflight`)."""
        from contracts.execution.preflight import run_preflight

        run_preflight(self, [c for c in plan.calls if c.suite == "preflight"])

    # -- sending -----------------------------------------------------------------------------------

    def headers_for(self, call: PlannedCall) -> Callable[[], dict[str, str]]:
        """Headers for each attempt: a token minted at send time, never planned."""
        recipe = self.vocabulary.token

        def build() -> dict[str, str]:
            headers = dict(call.headers)
            auth = call.auth
            if auth.identity is Speaker.LITERAL:
                if auth.value is not None:
                    headers[recipe.header] = auth.value
                return headers
            creds = self._credentials(auth)
            now = time.time()
            if auth.defect is not None:
                assert creds.client_id and creds.client_secret
                extra = broken_headers(auth.defect, recipe, creds.client_id, creds.client_secret, now)
            elif creds.can_sign:
                assert creds.client_id and creds.client_secret
                extra = {recipe.header: tokens.mint(recipe, creds.client_id, creds.client_secret, now=now,
                                                    subject="contracts")}
            else:
                extra = {recipe.header: creds.token or ""}
            for value in extra.values():
                self.redactor.remember(value.removeprefix("Bearer "))
            headers.update(extra)
            return headers

        return build

    def _credentials(self, auth: Auth) -> Credentials:
        creds = self.config.credentials_of(auth.identity)
        assert creds is not None, auth
        return creds

    def send(self, call: PlannedCall) -> checkmod.Observation | None:
        """Send a planned call (unless it cannot be sent now), give the answer to every check."""
        record = self.records.setdefault(call.index, CallRecord(call))
        path = call.path
        if call.ref is not None:
            value = self._resolve(call)
            if value is None:
                return None
            path = call.url_path(value)
        if self.pace.exhausted():
            self._skip(record, f"{Cause.REQUEST_BUDGET.value}: the run sent the {self.pace.total} requests it may"
                               " (a quarter of the contract's hourly rate limit)", Cause.REQUEST_BUDGET)
            return None
        if call.erasing and not self.budget.take():
            self._skip(record, "erase budget: every unit was spent on earlier erasing requests (retries included)",
                       Cause.ERASE_BUDGET)
            return None
        exchange = self.http.send(call.method, path, headers=self.headers_for(call), body=call.body,
                                  query=call.query, may_retry=self.budget.take if call.erasing else lambda: True)
        observation = self.observe(call, exchange)
        rate_limited = exchange.status in RETRY_STATUSES
        inconclusive = rate_limited or (call.expect is not None and exchange.status in call.expect.inconclusive)
        with self._lock:
            record.status, record.sends = exchange.status, record.sends + exchange.attempts
            record.elapsed += exchange.elapsed
            if inconclusive and record.outcome is not CallOutcome.CONCLUSIVE:
                record.outcome = CallOutcome.INCONCLUSIVE
                record.reason = (f"rate limited: HTTP {exchange.status} after {exchange.attempts - 1} retries"
                                 if rate_limited else f"HTTP {exchange.status}: the deployment checked the body first")
                record.cause = Cause.RATE_LIMITED if rate_limited else Cause.NOTHING_TO_JUDGE
            elif not inconclusive:
                record.outcome, record.reason, record.cause = CallOutcome.CONCLUSIVE, "", None
        if self.progress is not None:
            self.progress(call)
        return observation

    def _resolve(self, call: PlannedCall) -> str | None:
        assert call.ref is not None
        source = self.context.answers.get(call.ref.call)
        value = None
        if source is not None and 200 <= source.status < 300:
            try:
                value = self.vocabulary.link.value_in(source.json())
            except ValueError:
                value = None
        if not isinstance(value, str) or not value:
            answer = f"HTTP {source.status}" if source is not None else "it was not sent"
            creator = self.records.get(call.ref.call)
            cause = creator.cause if creator is not None and creator.cause else Cause.NOTHING_TO_JUDGE
            self._skip(self.records[call.index], f"needs the request call {call.ref.call} creates ({answer})", cause)
            return None
        return value

    def _skip(self, record: CallRecord, reason: str, cause: Cause) -> None:
        with self._lock:
            if record.outcome is not CallOutcome.CONCLUSIVE:
                record.outcome, record.reason, record.cause = CallOutcome.CUT, reason, cause

    def observe(self, call: PlannedCall, exchange: Exchange) -> checkmod.Observation:
        operation = self.vocabulary.operation(call.operation_id)
        path_value = None
        if operation.role == STATUS:
            path_value = httpx.URL(exchange.url).path.rsplit("/", 1)[-1]
        request_body = None
        if call.body is not None:
            try:
                request_body = json.loads(call.body)
            except ValueError:
                request_body = None
        observation = checkmod.Observation(
            operation=operation, status=exchange.status, headers=exchange.response_headers,
            body=exchange.response_body, path_value=path_value, request_body=request_body, suite=call.suite,
            call=call, exchange=exchange, curl=exchange.curl(self.vocabulary.auth_header),
        )
        # A rate-limited or unavailable answer judges nothing: it is only recorded as seen.
        judges = self.checks if exchange.status not in RETRY_STATUSES else \
            [c for c in self.checks if isinstance(c, checkmod.Observed)]
        with _quiet():
            for check in judges:
                check.after_response(self.context, observation)
        with self._lock:
            self.context.answers[call.index] = observation
        if operation.role == CREATE and 200 <= exchange.status < 300:
            try:
                request_id = self.vocabulary.link.value_in(json.loads(exchange.response_body))
            except ValueError:
                request_id = None
            if isinstance(request_id, str):
                self.audit.record(request_id, call.operation_id, call.body, call.erasing)
        return observation

    # -- lifecycle helpers (for the suites) ---------------------------------------------------------

    def moved_on(self, call: PlannedCall) -> bool:
        """True when every user of the request this poll reads has left the
        initial status (a final status, or anything the schema checks judge)."""
        answer = self.context.answers.get(call.index)
        if answer is None or answer.status != 200:
            return answer is not None and answer.status not in RETRY_STATUSES
        f, initial = self.vocabulary.fields, self.vocabulary.user_status.initial
        try:
            results = answer.json()[f.results]
            return bool(results) and all(r.get(f.user_status) != initial for r in results)
        except (ValueError, KeyError, TypeError, AttributeError):
            return True

    def not_final(self, calls: list[PlannedCall], waited: float) -> None:
        for call in calls:
            self.not_final_calls.append((call, f"still in the initial status after {waited:.0f} s"
                                               f" (--wait-for-completion {self.config.wait_for_completion:g})"))

    # -- running -----------------------------------------------------------------------------------

    def execute(self, plan: Plan) -> None:
        """Send every suite's calls (the pre-flight has run)."""
        calls = [c for c in plan.calls if not c.cut]
        for call in plan.calls:
            if call.cut:
                cause = Cause.REQUEST_BUDGET if call.cut.startswith(Cause.REQUEST_BUDGET.value) else Cause.ERASE_BUDGET
                self.records[call.index] = CallRecord(call, outcome=CallOutcome.CUT, reason=call.cut, cause=cause)
        for name in self.suites:
            suite = SUITES[name]
            mine = [c for c in calls if c.suite == name]
            if suite.execute is not None:
                suite.execute(self, mine)
            else:
                self.send_all(mine)
        with _quiet():
            for check in self.checks:
                check.after_run(self.context)

    def send_all(self, calls: list[PlannedCall]) -> None:
        """Send in plan order; with `--workers N`, calls that depend on no other
        call go N at a time, then the ones that do."""
        workers = self.config.workers
        independent = [c for c in calls if c.ref is None]
        dependent = [c for c in calls if c.ref is not None]
        if workers <= 1:
            for call in independent + dependent:
                self.send(call)
            return
        for batch in (independent, dependent):
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for future in [pool.submit(self.send, call) for call in batch]:
                    future.result()

    def outcome(self, plan: Plan, duration: float) -> Outcome:
        """What this side did, for the verdict."""
        return Outcome(self.config, self.vocabulary, self.target, plan, self.context, self.records, self.http,
                       self.budget, self.audit, self.redactor, duration, self.not_final_calls)


@contextmanager
def _quiet() -> Iterator[None]:
    """Library warnings (PyJWT's key length, Hypothesis, schemathesis) never reach the terminal."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
