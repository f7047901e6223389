"""The verdict of a run, and everything it rests on.

- FAILED (exit 1): a check found a contract violation;
- INCOMPLETE (exit 4): no violation, but something selected did not run
  fully: a check whose every call was cut (by the erase budget, a missing
  identity, an answer it depended on) or proved nothing (rate-limited, or
  a body check that came before the token check), a created request that
  never reached a final status, a documented state the run meant to see and
  did not. Each is named with its true reason. `--allow-incomplete` accepts
  it (exit 0, the note shown);
- PASSED (exit 0): everything selected ran, and nothing was violated.

A documented state the run could not provoke (a 429 or 503 is the
deployment's to give; FAILURE needs a user the business rule refuses) is
listed with the reason, and does not make the run incomplete.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from contracts.core.errors import EXIT_INCOMPLETE, EXIT_PASSED, EXIT_VIOLATIONS
from contracts.core.vocabulary import STATUS
from contracts.judging.checks import ANY_CASE_CHECKS, HOME_SUITES, Finding
from contracts.judging.outcome import CallOutcome, CallRecord, Outcome
from contracts.planning.model import Cause

__all__ = ["Cause", "CellState", "Missing", "Report", "Row", "Verdict", "judge"]

#: Documented answers a client cannot provoke: the deployment decides when.
NOT_PROVOKABLE = {429: "a rate limit: the deployment decides when", 500: "an internal error: not provoked by design",
                  503: "unavailability: the deployment decides when"}
#: Checks that judge every answer of an operation (no call of their own).
PASSIVE_CHECKS = (*ANY_CASE_CHECKS, "not_a_server_error")


class Verdict(StrEnum):
    """The verdict words of `contracts run` and `contracts diff`, each with its exit code."""

    PASSED = "PASSED"
    FAILED = "FAILED"
    INCOMPLETE = "INCOMPLETE"
    DRY_RUN = "DRY RUN"
    NO_DRIFT = "NO DRIFT"
    DRIFT = "DRIFT"

    def exit_code(self, allow_incomplete: bool = False) -> int:
        """0 passed (or a dry run), 1 violations or drift, 4 incomplete unless accepted."""
        if self in (Verdict.FAILED, Verdict.DRIFT):
            return EXIT_VIOLATIONS
        if self is Verdict.INCOMPLETE and not allow_incomplete:
            return EXIT_INCOMPLETE
        return EXIT_PASSED


class CellState(StrEnum):
    """The one state of a (suite, check, operation) cell, decided once by `judge`;
    every report renders it and nothing else."""

    PASSED = "passed"  # it ran, and the calls judged proved nothing wrong
    FAILED = "failed"  # a violation
    INCOMPLETE = "incomplete"  # selected, but not judged fully: its `Cause` says why
    NOT_SELECTED = "not selected"  # no selected suite plans it: absent from every report

    @property
    def mark(self) -> str:
        """The mark of the state in the terminal and the HTML matrix."""
        return {CellState.PASSED: "✓", CellState.FAILED: "✗", CellState.INCOMPLETE: "…",
                CellState.NOT_SELECTED: "–"}[self]


@dataclass
class Row:
    """One check on one operation in one suite: the cell of the report's matrix and
    a JUnit testcase; `state` (with `cause` and `reason` when incomplete) is its verdict."""

    suite: str
    check: str
    operation: str
    state: CellState = CellState.PASSED
    sent: int = 0
    planned: int = 0
    duration: float = 0.0
    reason: str = ""
    cause: Cause | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.suite, self.check, self.operation

    @property
    def explanation(self) -> str:
        """The state with its cause and reason, as every report words it."""
        if self.state is CellState.INCOMPLETE:
            return f"{self.cause or Cause.NOTHING_TO_JUDGE}: {self.reason}" if self.reason else str(self.cause)
        if self.state is CellState.FAILED:
            return f"{len(self.findings)} violation(s)"
        return f"{self.sent} of {self.planned} calls sent" if self.planned else "every answer judged"


@dataclass(frozen=True)
class Missing:
    """Something selected that did not run fully (or was not compared), and why."""

    suite: str
    check: str
    operation: str
    reason: str
    cause: Cause = Cause.NOTHING_TO_JUDGE


@dataclass
class Report:
    """The judged result of a run: its verdict, the matrix rows, what did not run
    fully and why, and the documented states it did or did not observe."""

    outcome: Outcome
    verdict: Verdict
    rows: list[Row]
    incomplete: list[Missing]
    reduced: list[str]
    unobserved: list[tuple[str, str]]  # (what, why) documented states not seen, not required
    observed: dict[str, list[str]]
    dry_run: bool = False

    @property
    def config(self) -> Any:
        return self.outcome.config

    @property
    def findings(self) -> Any:
        return self.outcome.context.findings

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_PASSED

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code(self.config.allow_incomplete)

    @property
    def seed(self) -> int:
        return int(self.outcome.plan.seed)

    def redact(self, text: str) -> str:
        return self.outcome.redactor(text)

    def state(self, suite: str, check: str, operation: str) -> CellState:
        """The state of any cell: a cell no selected suite planned is not selected."""
        row = next((r for r in self.rows if r.key == (suite, check, operation)), None)
        return row.state if row is not None else CellState.NOT_SELECTED

    @property
    def counts(self) -> dict[str, Any]:
        o = self.outcome
        return {"requests": o.transport.sent, "erasing": o.budget.sent, "erasingNotSent": o.budget.refused,
                "created": len(o.audit.created), "retryWait": o.transport.waited}


def judge(outcome: Outcome, *, dry_run: bool = False) -> Report:
    """The verdict on a run's outcome (a dry run's: what will not run fully)."""
    if dry_run:
        return Report(outcome, Verdict.DRY_RUN, [], _plan_cuts(outcome), [], [], {}, dry_run=True)
    rows = _rows(outcome)
    incomplete = _plan_cuts(outcome) + _groups(outcome) + _not_final(outcome)
    unobserved, required = _coverage(outcome)
    incomplete += required
    _mark_cuts(rows, incomplete)
    verdict = Verdict.FAILED if len(outcome.context.findings) else Verdict.INCOMPLETE if incomplete else \
        Verdict.PASSED
    observed = {op: sorted(map(str, statuses)) for op, statuses in outcome.context.observed_statuses.items()}
    observed.update({name: sorted(values) for name, values in outcome.context.observed_values.items()})
    return Report(outcome, verdict, rows, incomplete, _reduced(outcome), unobserved, observed)


def _rows(outcome: Outcome) -> list[Row]:
    """A cell per (suite, check, operation) a selected suite planned or judged; a
    passive check (schemathesis's response checks) has a cell in every suite whose
    calls got an answer of the operation, since it judged them."""
    rows: dict[tuple[str, str, str], Row] = {}

    def row(suite: str, check: str, operation: str) -> Row:
        return rows.setdefault((suite, check, operation), Row(suite, check, operation))

    answered: set[tuple[str, str]] = set()
    for record in outcome.records.values():
        call = record.call
        if call.suite == "preflight":
            continue
        r = row(call.suite, call.check, call.operation_id)
        r.planned += 1
        if record.sends:
            r.sent += 1
            r.duration += record.elapsed
        if record.outcome is CallOutcome.CONCLUSIVE:
            answered.add((call.suite, call.operation_id))
    for suite, operation in answered:
        for check in PASSIVE_CHECKS:
            row(HOME_SUITES.get(check, suite), check, operation)
    for finding in outcome.context.findings:
        r = row(finding.suite or HOME_SUITES.get(finding.check, "conformance"), finding.check, finding.operation)
        r.findings.append(finding)
        r.state = CellState.FAILED
    order = {name: i for i, name in enumerate(["preflight", *(outcome.config.suites or _suite_names())])}
    return sorted(rows.values(), key=lambda r: (order.get(r.suite, 99), r.check, r.operation))


def _suite_names() -> list[str]:
    from contracts.planning.suites import SUITES

    return list(SUITES)


def _plan_cuts(outcome: Outcome) -> list[Missing]:
    return [Missing(c.suite, c.check, c.operation_id, c.reason, c.cause) for c in outcome.plan.cuts]


def _groups(outcome: Outcome) -> list[Missing]:
    """Groups of calls (one check, operation and variant) none of which proved
    anything; a group that spans operations counts for each operation apart."""
    groups: dict[tuple[str, str], list[CallRecord]] = defaultdict(list)
    for record in outcome.records.values():
        if record.call.suite != "preflight" and record.call.repeat is None:
            groups[(record.call.group_key, record.call.operation_id)].append(record)
    missing = []
    for (key, _), records in groups.items():
        if any(r.outcome is CallOutcome.CONCLUSIVE for r in records):
            continue
        call = records[0].call
        reasons = list(dict.fromkeys(r.reason for r in records if r.reason)) or ["not sent"]
        cause = next((r.cause for r in records if r.cause), Cause.NOTHING_TO_JUDGE)
        variant = key.split("/", 3)[3] if key.count("/") >= 3 else ""
        reason = "; ".join(reasons)
        missing.append(Missing(call.suite, call.check, call.operation_id,
                               f"{variant}: {reason}" if variant else reason, cause))
    return missing


def _not_final(outcome: Outcome) -> list[Missing]:
    found = [Missing("lifecycle", "completion", call.operation_id,
                     f"the request of call {call.ref.call if call.ref else '?'} {why}", Cause.DEADLINE)
             for call, why in outcome.not_final]
    for record in outcome.records.values():
        if record.call.repeat is not None and record.outcome is CallOutcome.CUT:
            found.append(Missing("lifecycle", "completion", record.call.operation_id, record.reason,
                                 record.cause or Cause.NOTHING_TO_JUDGE))
    return found


def _reduced(outcome: Outcome) -> list[str]:
    """Checks that ran, with fewer calls than planned: what the budget cut short."""
    notes: dict[tuple[str, str, str, str], int] = defaultdict(int)
    complete = {r.call.group_key for r in outcome.records.values() if r.outcome is CallOutcome.CONCLUSIVE}
    for record in outcome.records.values():
        call = record.call
        if record.outcome is CallOutcome.CUT and call.group_key in complete:
            reason = re.sub(r"the request call \d+ creates", "the request its create makes", record.reason)
            reason = reason.split(" (this call:")[0]
            notes[(call.suite, call.check, call.operation_id, reason)] += 1
    left_out = [f"{what} (x{count}, not sent)" for what, count in sorted(outcome.plan.left_out.items())]
    return [f"{suite}: {check} on {op}: {count} of its calls not sent: {reason}"
            for (suite, check, op, reason), count in sorted(notes.items())] + left_out


def _coverage(outcome: Outcome) -> tuple[list[tuple[str, str]], list[Missing]]:
    """Documented answers and status values: which the run saw, which it meant to
    see and did not (incomplete), which it could not provoke (listed, with why)."""
    vocabulary, context = outcome.vocabulary, outcome.context
    unobserved: list[tuple[str, str]] = []
    missing: list[Missing] = []
    sent = [r for r in outcome.records.values() if r.sends]
    selected = {r.call.operation_id for r in outcome.records.values()}
    for operation_id in sorted(selected):
        operation = vocabulary.operation(operation_id)
        seen = context.observed_statuses.get(operation_id, set())
        for status in operation.statuses:
            if status in seen:
                continue
            label = f"{operation_id}: HTTP {status}"
            if status in NOT_PROVOKABLE:
                unobserved.append((label, NOT_PROVOKABLE[status]))
            elif 200 <= status < 300 and any(r.call.operation_id == operation_id and _reads_valid(r.call, operation)
                                             for r in sent):
                missing.append(Missing("conformance", "documented_responses", operation_id,
                                       f"no valid call got {status}"))
            elif 200 <= status < 300 and operation.role == STATUS:
                unobserved.append((label, "no call of this run read a created request (the stateful and lifecycle"
                                          " suites do)"))
            else:
                unobserved.append((label, "no call of this run provoked it"))
    statuses, values = vocabulary.user_status, context.observed_values.get("UserEraseStatus", set())
    polled = [r for r in sent if r.call.repeat is not None]
    if statuses.initial not in values:
        why = ("every created request was already past it at its first read" if polled
               else "no created request was read in this run")
        unobserved.append((f"UserEraseStatus {statuses.initial}", why))
    if statuses.erased not in values:
        if polled and not outcome.not_final:
            missing.append(Missing("lifecycle", "completion", polled[0].call.operation_id,
                                   f"no user ever reached {statuses.erased}"))
        elif not polled:
            unobserved.append((f"UserEraseStatus {statuses.erased}", "no created request was polled in this run"))
    if statuses.refused not in values:
        refused_sent = outcome.config.refused_user_ids and any(
            r.call.erasing and r.call.body and any(u.encode() in r.call.body for u in outcome.config.refused_user_ids)
            for r in sent)
        if refused_sent and polled and not outcome.not_final:
            missing.append(Missing("lifecycle", "completion", polled[0].call.operation_id,
                                   f"the business rule never refused a --refused-user-id ({statuses.refused})"))
        elif not refused_sent and outcome.config.refused_user_ids:
            unobserved.append((f"UserEraseStatus {statuses.refused}",
                               "no create this run sent named a --refused-user-id (the erase budget or the"
                               " selected suites left them out)"))
        elif not refused_sent:
            unobserved.append((f"UserEraseStatus {statuses.refused}",
                               "needs a user the business rule refuses: --refused-user-id (an account owner,"
                               " bot owner or co-developer)"))
    if not any(r.call.operation_id in {op.operation_id for op in vocabulary.create} and r.status and
               200 <= r.status < 300 for r in sent):
        unobserved.append((f"EraseRequestAccepted status {vocabulary.accepted_status}", "no create succeeded"))
    return unobserved, missing


def _reads_valid(call: Any, operation: Any) -> bool:
    """A call a conforming deployment answers with success: a valid one, and for a
    status operation one that reads a request the run created."""
    return call.positive and (operation.role != STATUS or call.ref is not None)


def _mark_cuts(rows: list[Row], incomplete: list[Missing]) -> None:
    """Each cell something selected did not judge fully becomes INCOMPLETE (a failed
    cell stays failed), with the first cause and every reason."""
    by_key = {r.key: r for r in rows}
    for item in incomplete:
        row = by_key.get((item.suite, item.check, item.operation))
        if row is None:
            row = Row(item.suite, item.check, item.operation)
            rows.append(row)
            by_key[row.key] = row
        if row.state is not CellState.FAILED:
            row.state = CellState.INCOMPLETE
            row.cause = row.cause or item.cause
        row.reason = "; ".join(filter(None, [row.reason, item.reason]))
