"""The runner's own response checks, for schemathesis's CLI (`st run`).

Load them as a hooks module; schemathesis then runs them beside its own
checks on every response (the stateful phase follows the contract's
create -> status link, so the lifecycle check sees both):

    SCHEMATHESIS_HOOKS=contracts.st_checks st run openapi.yaml --url http://127.0.0.1:8080 \\
        --header "auth: $TOKEN" --checks all

- `request_id_format`: every created requestId matches the documented format;
- `request_id_unique`: no requestId is returned twice;
- `lifecycle_consistency`: a status answer's id is the one asked for, its
  users are the requested ones, the all-bots flag is echoed, timestamps never
  go back, and a final user status never changes.

They are the very checks `contracts run` uses (`contracts.judging.checks`), fed by
schemathesis's case and response instead of the runner's calls. They read the
contract schemathesis loaded, which must be this toolkit's (its `x-`
annotations name the statuses and the create -> status link).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar

import schemathesis

from contracts.core.spec import Spec
from contracts.core.vocabulary import Vocabulary
from contracts.judging.checks import Check, Context, LifecycleCheck, Observation, RequestIds


class _Adapter:
    """A `contracts.judging.checks` check as a schemathesis class-based check: a new
    finding of the wrapped check fails the response that produced it."""

    wrapped: ClassVar[type[Check]]
    names: ClassVar[tuple[str, ...]]

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[int, tuple[Context, Check]] = {}

    def _for(self, case: Any) -> tuple[Context, Check]:
        schema = case.operation.schema
        with self._lock:
            if id(schema) not in self._state:
                vocabulary = Vocabulary.of(Spec(Path(str(schema.location or "openapi.yaml")), schema.raw_schema))
                self._state[id(schema)] = (Context(vocabulary), self.wrapped())
            return self._state[id(schema)]

    def after_response(self, ctx: Any, response: Any, case: Any) -> None:
        context, check = self._for(case)
        operation_id = case.operation.definition.raw.get("operationId")
        if operation_id not in context.vocabulary.operations:
            return
        body = case.body if isinstance(case.body, dict | list) else None
        path_value = (case.path_parameters or {}).get(context.vocabulary.link.parameter)
        observation = Observation(
            operation=context.vocabulary.operations[operation_id],
            status=response.status_code,
            headers={k.lower(): v[0] for k, v in response.headers.items() if v},
            body=response.content or b"",
            path_value=str(path_value) if path_value is not None else None,
            request_body=body,
        )
        before = {key: finding.count for key, finding in context.findings.items.items()}
        check.after_response(context, observation)
        new = [f for key, f in context.findings.items.items() if f.count > before.get(key, 0)
               and f.check in self.names]
        if new:
            raise AssertionError("; ".join(f"{f.message}: expected {f.expected}, got {f.actual}" for f in new))


@schemathesis.check
class request_id_format(_Adapter):  # noqa: N801 - schemathesis names a check by its class
    """Every created requestId matches the documented format."""

    wrapped = RequestIds
    names = ("request_id_format",)


@schemathesis.check
class request_id_unique(_Adapter):  # noqa: N801
    """No requestId is returned twice."""

    wrapped = RequestIds
    names = ("request_id_unique",)


@schemathesis.check
class lifecycle_consistency(_Adapter):  # noqa: N801
    """The invariants every observed erase request keeps, on every status answer."""

    wrapped = LifecycleCheck
    names = LifecycleCheck.names
