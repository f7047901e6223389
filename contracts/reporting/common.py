"""What every report format shares: the result line, the run's budget and
findings as text, the order of a diff's differences, escaping for tables, and
writing a file. Every format passes its text through the result's redactor last
(`Report.redact`, `DiffReport.redact`), so no secret and no fragment of any
token the run minted can appear."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from contracts.diff.comparison import Difference, RootCause
from contracts.diff.lockstep import DiffReport
from contracts.judging.checks import Finding
from contracts.judging.verdict import CellState, Report, Row, Verdict

#: The created erase requests a Markdown or HTML report lists (the audit log has them all).
CREATED_SHOWN = 20


def budget(report: Report) -> str:
    cap = report.outcome.budget.cap
    return "unlimited" if cap is None else str(cap)


def result_line(result: Report | DiffReport) -> str:
    """`Result: <verdict> (<why>)`, the last line of the terminal report."""
    if isinstance(result, DiffReport):
        return _diff_result_line(result)
    findings = len(result.findings)
    missing = sum(1 for r in result.rows if r.state is CellState.INCOMPLETE)
    if result.verdict is Verdict.FAILED:
        return f"Result: FAILED ({findings} violations" + (f", {missing} cells incomplete)" if missing else ")")
    if result.verdict is Verdict.INCOMPLETE:
        accepted = "accepted by --allow-incomplete" if result.config.allow_incomplete else \
            "--allow-incomplete accepts this"
        return f"Result: INCOMPLETE (0 violations; {missing} cells did not run fully; {accepted})"
    return "Result: PASSED (0 violations; every selected check ran)"


def _diff_result_line(report: DiffReport) -> str:
    causes = report.drift.root_causes()
    opened = [c for c in causes if not c.accepted]
    accepted = len(causes) - len(opened)
    extra = f"; {accepted} root causes accepted by --ignore" if accepted else ""
    if report.verdict is Verdict.DRIFT:
        calls = len(set().union(*(d.calls for c in opened for d in c.differences)))
        return f"Result: DRIFT ({len(opened)} root causes, in {calls} of {report.compared} compared calls{extra})"
    if report.verdict is Verdict.INCOMPLETE:
        return f"Result: INCOMPLETE (no difference in {report.compared} compared calls{extra};" \
               f" {len(report.incomplete)} not compared)"
    return f"Result: NO DRIFT ({report.compared} calls compared{extra})"


def root_cause_lines(cause: RootCause) -> list[str]:
    """A root cause: its decision, how many calls showed it, its fix, examples and its one `--ignore` rule."""
    mark = f"accepted by {cause.accepted_by}" if cause.accepted else "DRIFT"
    lines = [f"  [{mark}] {cause.decision}: {cause.calls} calls differ ({len(cause.differences)} differences:"
             f" {', '.join(cause.aspects[:4])}{', ...' if len(cause.aspects) > 4 else ''})",
             f"      fix: {'; '.join(cause.fixes)}"]
    for d in cause.examples():
        lines.append(f"      e.g. {d.call}: {d.aspect} {d.where}: real {d.real}, reference {d.reference}")
    if not cause.accepted:
        lines.append(f"      accept it: --ignore '{cause.rule}'")
    return lines


def finding_lines(finding: Finding) -> list[str]:
    repeat = f" (x{finding.count})" if finding.count > 1 else ""
    lines = [
        f"  - {finding.operation}: {finding.message}{repeat}",
        f"      expected: {finding.expected}",
        f"      got:      {finding.actual}",
    ]
    if finding.curl:
        lines.append(f"      reproduce: {finding.curl}")
    return lines


def by_suite(rows: list[Row]) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[row.suite].append(row)
    return dict(grouped)


def differences(report: DiffReport) -> list[Difference]:
    """A diff's differences, the open ones first, by decision and rule."""
    return sorted(report.drift, key=lambda d: (d.accepted, d.decision, d.rule, d.where))


def table_cell(text: str) -> str:
    """Text for a Markdown table cell."""
    return text.replace("|", "\\|")


def is_html(path: Path) -> bool:
    return path.suffix.lower() in (".html", ".htm")


def write_file(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
