"""`contracts verify`: a recording judged offline against the contract.

Every exchange is judged on its own by `contracts.core.conformance` (what
the proxy judged live, with the contract in use now), and the recording as a
whole by the runner's checks that span exchanges (`contracts.judging.checks`:
`RequestIds` for ids returned twice, `LifecycleCheck` for what an erase request
keeps from one status read to the next, `Observed` for which documented
answers and status values the recording exercised). Nothing is sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from contracts.core.conformance import Conformance, Violation
from contracts.core.errors import EXIT_PASSED, EXIT_VIOLATIONS
from contracts.core.spec import load_spec
from contracts.core.vocabulary import Vocabulary
from contracts.judging.checks import Context, Finding, LifecycleCheck, Observation, Observed, RequestIds
from contracts.judging.recording import Recorded, read_recording

#: Findings of the runner's checks that the per-exchange judgement already reports.
ALREADY_JUDGED = frozenset({"request_id_format"})


@dataclass
class Judged:
    """One exchange of the recording and its violations."""

    number: int
    recorded: Recorded
    operation_id: str | None
    violations: list[Violation]

    @property
    def title(self) -> str:
        e = self.recorded.exchange
        status = e.status if e.status is not None else "no answer"
        return f"#{self.number} ({self.recorded.label}) {e.method} {e.path} -> {status}"


@dataclass
class Coverage:
    """What the recording exercised of what the contract documents."""

    statuses: dict[str, tuple[list[int], list[int]]] = field(default_factory=dict)  # operation -> documented, seen
    values: dict[str, tuple[list[str], list[str]]] = field(default_factory=dict)  # enum -> documented, seen


@dataclass
class Verification:
    """The verdict on a recording."""

    path: Path
    format: str
    vocabulary: Vocabulary
    exchanges: list[Judged]
    findings: list[Finding]  # of the checks spanning exchanges; `curl` names the exchange
    coverage: Coverage
    other_contracts: list[str]  # digests of other contracts the proxy judged some exchanges with

    @property
    def violated(self) -> list[Judged]:
        return [j for j in self.exchanges if j.violations]

    @property
    def violation_count(self) -> int:
        return sum(len(j.violations) for j in self.exchanges) + sum(f.count for f in self.findings)

    @property
    def exit_code(self) -> int:
        return EXIT_VIOLATIONS if self.violation_count else EXIT_PASSED


def verify(path: str | Path, spec_path: str | Path | None = None) -> Verification:
    """Judge the recording at `path`. Raises `RecordingError` or `SpecError` (exit 2)."""
    vocabulary = Vocabulary.of(load_spec(spec_path))
    kind, recorded = read_recording(path)
    conformance, context = Conformance(vocabulary), Context(vocabulary)
    checks = (RequestIds(), LifecycleCheck(), Observed())
    judged = []
    for number, item in enumerate(recorded, 1):
        verdict = conformance.exchange(item.exchange)
        judged.append(Judged(number, item, verdict.operation_id, list(verdict.violations)))
        observation = _observation(vocabulary, verdict.operation_id, item, f"exchange {judged[-1].title}")
        if observation is not None:
            for check in checks:
                check.after_response(context, observation)
    for check in checks:
        check.after_run(context)
    digests = sorted({r.contract_digest for r in recorded if r.contract_digest} - {vocabulary.spec.digest})
    findings = [f for f in context.findings if f.check not in ALREADY_JUDGED]
    return Verification(Path(path), kind, vocabulary, judged, findings, _coverage(vocabulary, context), digests)


def _observation(vocabulary: Vocabulary, operation_id: str | None, item: Recorded, label: str
                 ) -> Observation | None:
    exchange = item.exchange
    if operation_id is None or exchange.status is None:
        return None
    operation = vocabulary.operation(operation_id)
    try:
        request_body = json.loads(exchange.request_body) if exchange.request_body else None
    except ValueError:
        request_body = None
    return Observation(operation, exchange.status, {k.lower(): v for k, v in exchange.response_headers},
                       exchange.response_body, path_value=unquote(exchange.path.rpartition("/")[2]),
                       request_body=request_body, suite="verify", curl=label)


def _coverage(vocabulary: Vocabulary, context: Context) -> Coverage:
    coverage = Coverage()
    for op in vocabulary.operations.values():
        coverage.statuses[op.operation_id] = (list(op.statuses), sorted(context.observed_statuses.get(op.operation_id,
                                                                                                    ())))
    coverage.values["UserEraseStatus"] = (list(vocabulary.user_status.values),
                                          sorted(context.observed_values.get("UserEraseStatus", ())))
    coverage.values["EraseRequestAccepted.status"] = ([vocabulary.accepted_status],
                                                      sorted(context.observed_values.get(
                                                          "EraseRequestAccepted.status", ())))
    return coverage
