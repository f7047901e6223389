"""Building a plan: what the suites use to turn schemathesis cases,
Hypothesis draws and their own calls into `PlannedCall`s.

Everything here is deterministic for a seed: schemathesis's coverage cases,
Hypothesis's examples (each unit seeded from the run's seed and its own
name), and the runner's own draws. Nothing here sends a request.
"""

from __future__ import annotations

import hashlib
import json
import random
import warnings
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Any
from urllib.parse import urlsplit

import hypothesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from contracts.bounded_memo import Memo
from contracts.config import RunConfig
from contracts.core.identities import Speaker
from contracts.core.vocabulary import CREATE, Operation, Role, Vocabulary
from contracts.planning.model import ANCHOR, POSITIVE, Auth, Cause, Cut, Expect, Plan, PlannedCall, Ref
from contracts.safety.policy import BodyPolicy
from contracts.safety.target import Target

APP = Auth(Speaker.APP)
#: How many positive create bodies the runner's own creates are drawn from.
POSITIVE_POOL = 10
#: Headers schemathesis sets that say nothing about the call (the client sets its own).
_DROPPED_HEADERS = {"user-agent", "accept-encoding", "accept", "connection", "x-schemathesis-testcaseid"}
#: schemathesis's coverage cases per (contract, operation): they depend on nothing
#: but the contract, so a process that plans several runs (the pytest plugin, `contracts
#: diff`, a test suite) computes them once. The cases of the 64 operations used last are kept.
_COVERAGE_CASES: Memo[tuple[str, str], list[Any]] = Memo(64)
#: Hypothesis's draws per (contract, label, count, seed): a label names one strategy of
#: one contract, so the draw is the same for the same seed, and the plans of one seed in
#: one process (a test suite's runs, the pytest plugin's, `contracts run --plan` checking
#: the plan it applies) draw it once (each draw starts Hypothesis's engine).
_DRAWN: Memo[tuple[str, str, int, int], list[Any]] = Memo(256)


class Planner:
    """Builds one run's `Plan`: the selected operations, deterministic draws for the seed,
    schemathesis's cases made safe for the target, and the runner's own calls."""

    def __init__(self, config: RunConfig, vocabulary: Vocabulary, target: Target, seed: int,
                 operations: list[Operation], budget: int | None, settings_record: dict[str, Any]):
        self.config, self.vocabulary, self.target, self.seed = config, vocabulary, target, seed
        self.operations = operations
        self.plan = Plan(target.base_url, seed, budget, target.remote, settings_record)
        self.policy = BodyPolicy(vocabulary, target.remote, config.erase_user_ids)
        self._anchor: PlannedCall | None = None

    @cached_property
    def schema(self) -> Any:
        """schemathesis's view of the contract (loaded on first use: the pre-flight needs none)."""
        import schemathesis

        schema = schemathesis.openapi.from_dict(self.vocabulary.spec.document)
        schema.config.update(base_url=self.target.base_url)
        _expect_platform_rejections(schema.config.checks, self.vocabulary)
        return schema

    @cached_property
    def st_operations(self) -> dict[str, Any]:
        return {
            op.definition.raw["operationId"]: op
            for op in (result.ok() for result in self.schema.get_all_operations())
        }

    # -- which operations ----------------------------------------------------------------------

    def with_role(self, role: Role) -> list[Operation]:
        """The selected operations of a role, the documented ones before the deprecated aliases."""
        return sorted((op for op in self.operations if op.role == role), key=lambda op: op.deprecated)

    @property
    def budget_limited(self) -> bool:
        return self.plan.budget is not None

    @property
    def comparing(self) -> bool:
        """Planning calls for `contracts diff`: each kind once, every call sent to two deployments."""
        return self.config.profile == "diff"

    @property
    def examples_per_kind(self) -> int:
        """Hypothesis examples for each defect kind of the auth and request-id suites."""
        return 1 if self.comparing else max(2, self.config.max_examples // 10)

    def cut(self, suite: str, check: str, operation_id: str, reason: str, cause: Cause = Cause.NEEDS_INPUT) -> None:
        cut = Cut(suite, check, operation_id, reason, cause)
        if cut not in self.plan.cuts:
            self.plan.cuts.append(cut)

    # -- deterministic generation ----------------------------------------------------------------

    def seed_for(self, label: str) -> int:
        return int.from_bytes(hashlib.sha256(f"{self.seed}:{label}".encode()).digest()[:8], "big") % (2**32)

    def rng(self, label: str) -> random.Random:
        return random.Random(self.seed_for(label))

    def draw(self, strategy: st.SearchStrategy[Any], count: int, label: str) -> list[Any]:
        """`count` examples of `strategy`, the same for the same seed and label.
        `label` names the strategy: one label, one strategy, for a given contract."""
        return self._drawn(lambda: strategy, count, label)

    def _drawn(self, strategy: Callable[[], st.SearchStrategy[Any]], count: int, label: str) -> list[Any]:
        key = (self.vocabulary.spec.digest, label, count, self.seed_for(label))
        drawn = _DRAWN.get(key)
        if drawn is None:
            drawn = self._examples(strategy(), count, label)
            _DRAWN.put(key, drawn)
        return list(drawn)

    def _examples(self, strategy: st.SearchStrategy[Any], count: int, label: str) -> list[Any]:
        found: list[Any] = []

        @hypothesis.seed(self.seed_for(label))
        @settings(max_examples=count, phases=[Phase.generate], database=None, deadline=None,
                  suppress_health_check=list(HealthCheck), verbosity=hypothesis.Verbosity.quiet)
        @given(value=strategy)
        def collect(value: Any) -> None:
            if len(found) < count:
                found.append(value)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            collect()
        return found

    def generated(self, operation_id: str, mode: Any, count: int, label: str) -> list[Any]:
        """schemathesis cases for an operation, positive or negative data."""
        return self._drawn(lambda: self.st_operations[operation_id].as_strategy(generation_mode=mode),
                           count, f"{label}:{operation_id}:{mode.value}")

    def coverage(self, operation_id: str) -> list[Any]:
        """schemathesis's coverage cases (boundaries, missing headers, unexpected
        methods, wrong media types), positive and negative."""
        from schemathesis import GenerationMode

        key = (self.vocabulary.spec.digest, operation_id)
        cases = _COVERAGE_CASES.get(key)
        if cases is None:
            operation = self.st_operations[operation_id]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cases = list(self.schema.iter_coverage_cases(
                    operation, generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                    generation_config=self.schema.config.generation_for(operation=operation, phase="coverage"),
                ))
            _COVERAGE_CASES.put(key, cases)
        return list(cases)

    def positive_body(self, label: str, users: list[str] | None = None) -> bytes:
        """A create body the contract accepts, its users chosen for this target:
        allow-listed ones on a remote target, made-up ones otherwise; plus the
        --refused-user-id ones when `users` is not given. The rest of the body is
        one of a few positive bodies schemathesis generated, picked by `label`."""
        pool = self._positive_bodies
        raw = pool[self.seed_for(f"pick:{label}") % len(pool)] if pool else None
        chosen = users if users is not None else self.users(label)
        body = self.policy.with_users(raw, chosen)
        if not self.policy.may_erase(body):  # a generated oddity: fall back to the simplest valid body
            body = self.policy.with_users(None, chosen)
        return body

    @cached_property
    def _positive_bodies(self) -> list[bytes | None]:
        from schemathesis import GenerationMode

        creates = self.with_role(CREATE) or list(self.vocabulary.create)
        cases = self.generated(creates[0].operation_id, GenerationMode.POSITIVE, POSITIVE_POOL, "bodies")
        return [_wire_body(case) for case in cases]

    def users(self, label: str, *, refused: bool = True) -> list[str]:
        allowed = list(self.config.erase_user_ids[:2])
        if not self.target.remote and not allowed:
            rng = self.rng(f"users:{label}")
            allowed = [f"contract-test-{rng.getrandbits(64):016x}"]
        extra = [u for u in self.config.refused_user_ids if u not in allowed] if refused else []
        return allowed + extra

    # -- calls -------------------------------------------------------------------------------------

    def add(self, call: PlannedCall) -> PlannedCall:
        return self.plan.add(call)

    def from_case(self, suite: str, check: str, case: Any, *, priority: float = POSITIVE,
                  description: str = "") -> PlannedCall | None:
        """A call that sends a schemathesis case as generated (with a fresh token
        where the case's auth header was not the thing it negated), made safe for
        the target. None when it cannot be sent safely."""
        operation = self.vocabulary.operation(case.operation.definition.raw["operationId"])
        kwargs = case.as_transport_kwargs(base_url="http://planned")
        headers = {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items()
                   if str(k).lower() not in _DROPPED_HEADERS}
        auth_name = self.vocabulary.auth_header
        generated_auth = next((v for k, v in headers.items() if k.lower() == auth_name.lower()), None)
        headers = {k: v for k, v in headers.items() if k.lower() != auth_name.lower()}
        meta = case.meta
        components = meta.components.items() if meta else ()
        negated = {location.value for location, info in components if info.mode.value == "negative"}
        auth_negated = "header" in negated and _auth_is_negated(meta, auth_name)
        auth = Auth(Speaker.LITERAL, value=generated_auth) if auth_negated else Auth(Speaker.APP)
        body = _wire_body(case, kwargs)
        positive = meta is None or meta.generation.mode.value == "positive"
        erasing = altered = False
        if operation.role == CREATE:
            generated, body = body, self.policy.safe(body, headers.get("Content-Type"))
            erasing = self.policy.may_erase(body)
            altered = positive and body != generated and not erasing
            if altered:
                self.cut(suite, "positive_data_acceptance", operation.operation_id,
                         "its schema-valid bodies name users: a remote target is sent them only with"
                         " --erase-user-id (allow-listed users)")
            if erasing and not positive:
                if "body" in negated:
                    self.plan.left_out[f"{suite}: {check} on {operation.operation_id}: a negative body that"
                                       " became valid once it named only allow-listed users"] += 1
                    return None
                if self.budget_limited or self.target.remote:
                    body = self.policy.without_users(body)  # the check is not about the body
                    erasing = False
            if body is not None:
                headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        url = urlsplit(kwargs["url"])
        query = tuple((str(k), str(v)) for k, v in _query_pairs(kwargs.get("params")))
        return self.add(PlannedCall(
            index=0, suite=suite, check=check, operation_id=operation.operation_id, method=str(kwargs["method"]),
            path=url.path, query=query, headers=headers, body=body, auth=auth, erasing=erasing,
            priority=priority if erasing else None, positive=positive and not auth_negated and not altered,
            altered=altered, case=case, description=description or _describe_case(case),
        ))

    def call(self, suite: str, check: str, operation: Operation, *, path_value: str | None = None,
             ref: Ref | None = None, body: bytes | None = None, content_type: str = "application/json",
             auth: Auth = APP, expect: Expect | None = None, priority: float | None = None,
             description: str = "", group: str | None = None) -> PlannedCall:
        """One of the runner's own calls. `path_value` is a raw (already
        encoded) path segment for the operation's id parameter."""
        raw_path = operation.url_path(**{self.vocabulary.link.parameter: "{ref}" if ref else (path_value or "")})
        headers = {"Content-Type": content_type} if body is not None else {}
        if operation.role == CREATE:
            body = self.policy.safe(body, content_type)
        erasing = operation.role == CREATE and self.policy.may_erase(body)
        call = PlannedCall(
            index=0, suite=suite, check=check, operation_id=operation.operation_id, method=operation.method,
            path=raw_path, headers=headers, body=body, auth=auth, erasing=erasing,
            priority=(priority or POSITIVE) if erasing else None,
            positive=auth == APP and expect is None and (operation.role != CREATE or erasing),
            expect=expect, ref=ref, description=description, group=group, case=self._case(operation, body),
        )
        return self.add(call)

    def anchor(self, suite: str) -> PlannedCall:
        """The one create whose id feeds the stateful, lifecycle, request-id and
        isolation checks (the first erasing call the budget pays for)."""
        if self._anchor is None:
            create = self.with_role(CREATE)[0]
            self._anchor = self.call(suite, "resource_available", create, body=self.positive_body("anchor"),
                                     priority=ANCHOR, group="stateful/resource_available/creates",
                                     description="the anchor create: its id feeds the other checks")
        return self._anchor

    def created_id(self, create: PlannedCall) -> Ref:
        return Ref(create.index, self.vocabulary.link.response_pointer)

    def unknown_ids(self, count: int, label: str) -> list[str]:
        """Well-formed request ids that no deployment created (random, from the seed)."""
        rng = self.rng(f"unknown:{label}")
        return [self.vocabulary.request_id.generate(rng) for _ in range(count)]

    def _case(self, operation: Operation, body: bytes | None) -> Any:
        """A schemathesis case for the runner's own call, so that schemathesis's
        response checks judge its answer too."""
        st_operation = self.st_operations[operation.operation_id]
        parameters = {p.name: "x" for p in operation.parameters if p.location == "path"}
        value: Any = None
        if body is not None:
            try:
                value = json.loads(body)
            except ValueError:
                value = body
        kwargs: dict[str, Any] = {"path_parameters": parameters}
        if body is not None:
            kwargs.update(body=value, media_type="application/json")
        return st_operation.Case(**kwargs)


def _auth_is_negated(meta: Any, auth_name: str) -> bool:
    """Whether the coverage case's negated header is the auth header."""
    data = getattr(getattr(meta, "phase", None), "data", None)
    parameter = getattr(data, "parameter", None)
    return parameter is None or str(parameter).lower() == auth_name.lower()


def _wire_body(case: Any, kwargs: dict[str, Any] | None = None) -> bytes | None:
    kwargs = kwargs if kwargs is not None else case.as_transport_kwargs(base_url="http://planned")
    if "json" in kwargs:
        return json.dumps(kwargs["json"], ensure_ascii=False).encode()
    data = kwargs.get("data")
    if data is None:
        return None
    return data.encode() if isinstance(data, str) else bytes(data)


def _query_pairs(params: Any) -> Iterable[tuple[Any, Any]]:
    if not params:
        return ()
    if isinstance(params, dict):
        pairs: list[tuple[Any, Any]] = []
        for key, value in params.items():
            pairs += [(key, v) for v in value] if isinstance(value, list) else [(key, value)]
        return pairs
    return list(params)


def _describe_case(case: Any) -> str:
    meta = case.meta
    if meta is None:
        return ""
    data = getattr(meta.phase, "data", None)
    scenario = getattr(data, "description", None)
    return f"{meta.generation.mode.value}: {scenario}" if scenario else f"{meta.generation.mode.value} data"


def _expect_platform_rejections(checks: Any, vocabulary: Vocabulary) -> None:
    """schemathesis's `negative_data_rejection` takes a fixed list of statuses as the
    rejection of invalid data; the platform's own answers (`x-error-answers`: `412` for
    a body that fails validation) are rejections too."""
    current = checks.negative_data_rejection
    platform = {str(answer.status) for answer in vocabulary.answers.values() if 400 <= answer.status < 500}
    statuses = sorted(set(current.expected_statuses) | platform)
    checks.negative_data_rejection = type(current).from_dict({"expected-statuses": statuses})
