"""The terminal report of a run and of a diff, and the dry run's plan as text."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from contracts.diff.lockstep import DiffReport
from contracts.judging.verdict import CellState, Report, Row, judge
from contracts.reporting.common import budget, by_suite, finding_lines, result_line, root_cause_lines


def render(result: Report | DiffReport) -> str:
    """The terminal report of a run or a diff (a dry run's plan for either)."""
    if isinstance(result, DiffReport):
        if result.dry_run:
            return render(judge(result.real, dry_run=True))
        return _diff(result)
    if result.dry_run:
        return result.redact(dry_run_text(result))
    return _run(result)


def _run(report: Report) -> str:
    target = report.outcome.target
    lines = [f"contracts run against {target.base_url} ({'remote: strict erase safety' if target.remote else 'local'})",
             "", "Suites:"]
    for suite, rows in by_suite(report.rows).items():
        lines.append(f"  {_SUITE_WORD[suite_state(rows)]}  {suite}  ({len({r.check for r in rows})} checks,"
                     f" {sum(r.sent for r in rows)} calls)")
        lines += cell_lines(rows)
    grouped = report.findings.by_check()
    if grouped:
        lines += ["", f"Contract violations ({len(report.findings)}), by check:"]
        for check, findings in grouped.items():
            lines += ["", f"[{check}]"]
            for finding in findings:
                lines += finding_lines(finding)
    lines += _notes(report)
    lines += _totals(report)
    return report.redact("\n".join(lines)) + "\n"


#: A suite's word: the worst state of its cells.
_SUITE_WORD = {CellState.PASSED: "PASS", CellState.FAILED: "FAIL", CellState.INCOMPLETE: "INCOMPLETE"}


def suite_state(rows: list[Row]) -> CellState:
    states = {r.state for r in rows}
    return next((s for s in (CellState.FAILED, CellState.INCOMPLETE) if s in states), CellState.PASSED)


def cell_lines(rows: list[Row]) -> list[str]:
    """Every cell of a suite: one line per check for the operations it passed, one
    line per cell that failed or is incomplete (with the cause and the reason)."""
    lines: list[str] = []
    passed: dict[str, list[str]] = {}
    for row in rows:
        if row.state is CellState.PASSED:
            passed.setdefault(row.check, []).append(row.operation)
        else:
            lines.append(f"      {row.state.mark} {row.state} {row.check} [{row.operation}]: {row.explanation}")
    return [f"      {CellState.PASSED.mark} passed {check} [{', '.join(ops)}]" for check, ops in passed.items()] + lines


def _notes(report: Report) -> list[str]:
    """What ran with fewer calls, and what was not observed (the cells say what did not run fully)."""
    lines: list[str] = []
    if report.reduced:
        lines += ["", "Ran with fewer calls than planned:"] + [f"  - {note}" for note in report.reduced]
    if report.unobserved:
        lines += ["", "Documented states not observed (not provoked by this run):"]
        lines += [f"  - {what}: {why}" for what, why in report.unobserved]
    return lines


def _totals(report: Report) -> list[str]:
    counts = report.counts
    lines = [
        "",
        f"Requests sent: {counts['requests']}; erasing requests sent: {counts['erasing']} (budget {budget(report)};"
        f" not sent for the budget: {counts['erasingNotSent']}); erase requests created: {counts['created']}"
        + (f"; waited {counts['retryWait']:.1f} s for Retry-After" if counts["retryWait"] else ""),
        f"Seed: {report.seed} (re-run with --seed {report.seed})",
        f"Time: {report.outcome.duration:.1f} s",
        result_line(report),
    ]
    audit = report.outcome.audit
    if audit.path is not None and audit.created:
        lines.insert(-3, f"Audit log: {audit.path} ({len(audit.created)} created erase requests appended)")
    return lines


def _pace(report: Report) -> str:
    """The run's pace and request budget, as a dry run states them."""
    pace, plan = report.outcome.transport.pace, report.outcome.plan
    rate = f"at most {pace.per_minute} requests in any rolling minute" if pace.per_minute else "not paced"
    total = f", {pace.total} in the run" if pace.total is not None else ""
    budget = (f"; request budget {plan.request_budget}: the plan counts on {plan.planned_requests()} requests"
              " (polls at their most reads), the calls it cut say so") if plan.request_budget is not None else ""
    return rate + total + budget


def dry_run_text(report: Report) -> str:
    """The plan a dry run prints: the erase safety, the totals, a row per suite and operation."""
    plan, target = report.outcome.plan, report.outcome.target
    totals = plan.totals()
    lines = [
        f"Dry run: nothing is sent to {target.base_url}",
        f"Erase safety: {_policy(report)}",
        f"Seed: {plan.seed} (the plan is the same for the same seed and options)",
        f"Plan: {totals['calls']} calls, at most {totals['maxRequests']} requests with retries;"
        f" {totals['erasingCalls']} erasing calls, at most {totals['maxErasing']} erasing requests;"
        f" {totals['cut']} calls cut",
        f"Pace: {_pace(report)}",
        "",
        f"  {'suite':<12} {'method':<7} {'operation':<30} {'calls':>6} {'max requests':>13}"
        f" {'erasing calls':>14} {'cut':>5}",
    ]
    for row in plan.summary():
        lines.append(f"  {row['suite']:<12} {row['method']:<7} {row['operation']:<30} {row['calls']:>6}"
                     f" {row['maxRequests']:>13} {row['erasingCalls']:>14} {row['cut']:>5}")
    lines += [f"  {'total':<51} {totals['calls']:>6} {totals['maxRequests']:>13} {totals['erasingCalls']:>14}"
              f" {totals['cut']:>5}"]
    lines += erasing_lines(plan.erasing(report.outcome.vocabulary.auth_header))
    paths = {op.operation_id: f"{op.method} {op.path}" for op in report.outcome.vocabulary.operations.values()}
    lines += ["", "Operations: " + "; ".join(f"{op} = {path}" for op, path in paths.items())]
    cut_reasons: dict[str, int] = defaultdict(int)
    for call in plan.calls:
        if call.cut:
            cut_reasons[f"{call.suite}: {call.check} on {call.operation_id}: {call.cut}"] += 1
    if cut_reasons or report.incomplete:
        lines += ["", "Will not run fully:"]
        lines += [f"  - {m.suite}: {m.check} on {m.operation}: {m.reason}" for m in report.incomplete]
        lines += [f"  - {reason} (x{count})" for reason, count in cut_reasons.items()]
    return "\n".join(lines) + "\n"


def erasing_lines(erasing: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Every call that may erase, in the order it is sent: the ones the budget keeps in
    full (method, path, body, identity, why), then the ones it cuts, grouped by why."""
    kept, cut = erasing["kept"], erasing["cut"]
    lines = ["", f"Erasing calls that will be sent, in order ({len(kept)}):"]
    for n, call in enumerate(kept, 1):
        lines += [f"  {n}. call {call['index']}: {call['method']} {call['path']} as {call['identity']}",
                  f"       body: {json.dumps(call['body'], ensure_ascii=False)}", f"       why:  {call['why']}"]
    if not kept:
        lines.append("  (none)")
    if cut:
        lines += ["", f"Erasing calls the budget cuts (not sent, {sum(c['count'] for c in cut)}):"]
        lines += [f"  - {c['why']} (x{c['count']})" for c in cut]
    return lines


def _policy(report: Report) -> str:
    plan, target, allow = report.outcome.plan, report.outcome.target, list(report.config.erase_user_ids)
    if target.remote:
        return (f"remote target: create bodies name only the allow-listed users {allow}; at most"
                f" {budget(report)} erasing requests, retries included" if allow else
                "remote target: no create call that could erase is sent (no --erase-user-id allow-list);"
                " create calls only with bodies the contract rejects, naming no one")
    return "local target: erasing create calls are sent" + (
        f", at most {budget(report)}, retries included" if plan.budget is not None else " without a budget")


def _diff(report: DiffReport) -> str:
    """The root causes first (one `--ignore` rule each), then what was not compared and the totals."""
    real, reference = report.config.real.base_url, report.config.reference.base_url
    lines = [f"contracts diff: {real} (real) against {reference} (reference)", ""]
    causes = report.drift.root_causes()
    if causes:
        lines.append(f"Root causes ({len(causes)}):")
        for cause in causes:
            lines += root_cause_lines(cause)
        lines.append("")
    if report.incomplete:
        lines += ["Not compared:"] + [f"  - {m.suite}: {m.check} on {m.operation}: {m.reason}"
                                      for m in report.incomplete] + [""]
    counts = report.real.transport.sent, report.reference.transport.sent if report.reference else 0
    lines += [f"Requests sent: {counts[0]} to the real deployment (erasing: {report.real.budget.sent},"
              f" budget {report.real.budget.cap if report.real.budget.cap is not None else 'unlimited'}),"
              f" {counts[1]} to the reference; {report.compared} calls compared",
              f"Seed: {report.real.plan.seed}", f"Time: {report.duration:.1f} s", result_line(report)]
    return report.redact("\n".join(lines)) + "\n"
