"""The Markdown report of a run (the matrix as a table, every violation with a
curl line) and of a diff (a table of differences)."""

from __future__ import annotations

from contracts.diff.lockstep import DiffReport
from contracts.judging.verdict import CellState, Report
from contracts.reporting.common import (
    CREATED_SHOWN,
    budget,
    differences,
    md_code,
    md_fence,
    md_text,
    result_line,
    table_cell,
)


def render(result: Report | DiffReport) -> str:
    return _diff(result) if isinstance(result, DiffReport) else _run(result)


def _run(report: Report) -> str:
    counts = report.counts
    lines = [
        f"# Contract run against {md_code(report.outcome.target.base_url)}",
        "",
        f"**{result_line(report).removeprefix('Result: ')}**",
        "",
        f"Seed `{report.seed}` · {report.outcome.duration:.1f} s · {counts['requests']} requests ·"
        f" {counts['erasing']} erasing (budget {budget(report)}) · {counts['created']} erase requests created",
        "",
        "| suite | check | operation | result | why | calls | time (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report.rows:
        why = table_cell(row.explanation) if row.state is not CellState.PASSED else ""
        lines.append(f"| {row.suite} | {row.check} | {md_text(row.operation)} | {row.state} | {why} | {row.sent} |"
                     f" {row.duration:.2f} |")
    for check, findings in report.findings.by_check().items():
        lines += ["", f"## {md_code(check)}", ""]
        for finding in findings:
            lines += [f"### {md_text(finding.operation)}: {md_text(finding.message)}"
                      + (f" (x{finding.count})" if finding.count > 1 else ""),
                      "", f"- expected: {md_text(finding.expected)}", f"- got: {md_code(finding.actual)}"]
            if finding.curl:
                lines += ["", *md_fence(finding.curl, "sh")]
    cut = [r for r in report.rows if r.state is CellState.INCOMPLETE]
    if cut:
        lines += ["", "## Did not run fully", ""] + [f"- {r.suite}: {md_code(r.check)} on {md_text(r.operation)}:"
                                                     f" {md_text(r.explanation)}" for r in cut]
    if report.unobserved:
        lines += ["", "## Not observed", ""] + [f"- {md_text(what)}: {md_text(why)}" for what, why in report.unobserved]
    created = report.outcome.audit.created
    lines += ["", f"## Erase requests created: {len(created)}", ""]
    lines += [f"- {md_code(c['requestId'])} ({md_text(c['operation'])}) at {md_text(c['time'])}"
              for c in created[:CREATED_SHOWN]]
    if len(created) > CREATED_SHOWN:
        lines.append(f"- … and {len(created) - CREATED_SHOWN} more (the audit log has them all)")
    return report.redact("\n".join(lines)) + "\n"


def _diff(report: DiffReport) -> str:
    lines = [f"# Drift: {md_code(report.config.real.base_url)} against {md_code(report.config.reference.base_url)}", "",
             f"**{result_line(report).removeprefix('Result: ')}**", "", "## Root causes", "",
             "| root cause | calls | differences | fix | --ignore |", "|---|---|---|---|---|"]
    for cause in report.drift.root_causes():
        cells = [cause.decision + (" (accepted)" if cause.accepted else ""), str(cause.calls),
                 ", ".join(cause.aspects), "; ".join(cause.fixes)]
        lines.append("| " + " | ".join(table_cell(c) for c in cells) + f" | {md_code(cause.rule)} |")
    lines += ["", "## Differences", "", "| decision | what | real | reference | fix | rule |",
              "|---|---|---|---|---|---|"]
    for d in differences(report):
        cells = [md_text(d.decision) + (" (accepted)" if d.accepted else ""),
                 f"{md_text(d.aspect)} {md_code(d.where)} on {md_text(d.call)}",
                 md_code(d.real), md_code(d.reference), md_text(d.fix), md_code(d.rule)]
        lines.append("| " + " | ".join(table_cell(c) for c in cells) + " |")
    if report.incomplete:
        lines += ["", "## Not compared", ""] + [f"- {m.suite}: {md_code(m.check)} on {md_text(m.operation)}:"
                                                f" {md_text(m.reason)}" for m in report.incomplete]
    return report.redact("\n".join(lines)) + "\n"
