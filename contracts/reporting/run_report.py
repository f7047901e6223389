"""Reports of a contract run, for people and for CI: the terminal summary,
JUnit XML (one testcase per suite, check and operation, with durations),
Markdown, and one self-contained HTML page (verdict, the matrix of
operations x checks, every failure with a curl line, what did not run and
why). Everything passes through the run's `Redactor` last, so no secret and
no fragment of any token the run minted can appear.
"""

from __future__ import annotations

import html
import json
from collections import defaultdict
from pathlib import Path
from xml.etree import ElementTree

from contracts.judging.checks import DESCRIPTIONS, Finding
from contracts.judging.verdict import Report, Row

CREATED_SHOWN = 20


def _budget(report: Report) -> str:
    cap = report.outcome.budget.cap
    return "unlimited" if cap is None else str(cap)


def result_line(report: Report) -> str:
    findings, missing = len(report.findings), len(report.incomplete)
    if report.verdict == "FAILED":
        return f"Result: FAILED ({findings} violations" + (f", {missing} checks incomplete)" if missing else ")")
    if report.verdict == "INCOMPLETE":
        accepted = "accepted by --allow-incomplete" if report.config.allow_incomplete else \
            "--allow-incomplete accepts this"
        return f"Result: INCOMPLETE (0 violations; {missing} checks did not run fully; {accepted})"
    return "Result: PASSED (0 violations; every selected check ran)"


def terminal(report: Report) -> str:
    if report.dry_run:
        return report.redact(dry_run_text(report))
    target = report.outcome.target
    lines = [f"contracts run against {target.base_url} ({'remote: strict erase safety' if target.remote else 'local'})",
             "", "Suites:"]
    for suite, rows in _by_suite(report.rows).items():
        status = "FAIL" if any(r.status == "failed" for r in rows) else \
            "CUT " if any(r.status == "cut" for r in rows) else "PASS"
        sent = sum(r.sent for r in rows)
        checks = len({r.check for r in rows})
        lines.append(f"  {status}  {suite}  ({checks} checks, {sent} calls)")
    grouped = report.findings.by_check()
    if grouped:
        lines += ["", f"Contract violations ({len(report.findings)}), by check:"]
        for check, findings in grouped.items():
            lines += ["", f"[{check}]"]
            for finding in findings:
                lines += _finding_lines(finding)
    if report.incomplete:
        lines += ["", f"Incomplete ({len(report.incomplete)}): what did not run fully, and why:"]
        lines += [f"  - {m.suite}: {m.check} on {m.operation}: {m.reason}" for m in report.incomplete]
    if report.reduced:
        lines += ["", "Ran with fewer calls than planned:"] + [f"  - {note}" for note in report.reduced]
    if report.unobserved:
        lines += ["", "Documented states not observed (not provoked by this run):"]
        lines += [f"  - {what}: {why}" for what, why in report.unobserved]
    counts = report.counts
    lines += [
        "",
        f"Requests sent: {counts['requests']}; erasing requests sent: {counts['erasing']} (budget {_budget(report)};"
        f" not sent for the budget: {counts['erasingNotSent']}); erase requests created: {counts['created']}"
        + (f"; waited {counts['retryWait']:.1f} s for Retry-After" if counts["retryWait"] else ""),
        f"Seed: {report.seed} (re-run with --seed {report.seed})",
        f"Time: {report.outcome.duration:.1f} s",
        result_line(report),
    ]
    audit = report.outcome.audit
    if audit.path is not None and audit.created:
        lines.insert(-3, f"Audit log: {audit.path} ({len(audit.created)} created erase requests appended)")
    return report.redact("\n".join(lines)) + "\n"


def _finding_lines(finding: Finding) -> list[str]:
    repeat = f" (x{finding.count})" if finding.count > 1 else ""
    lines = [
        f"  - {finding.operation}: {finding.message}{repeat}",
        f"      expected: {finding.expected}",
        f"      got:      {finding.actual}",
    ]
    if finding.curl:
        lines.append(f"      reproduce: {finding.curl}")
    return lines


def _by_suite(rows: list[Row]) -> dict[str, list[Row]]:
    grouped: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        grouped[row.suite].append(row)
    return dict(grouped)


# -- the plan -----------------------------------------------------------------------------------


def dry_run_text(report: Report) -> str:
    plan, target, config = report.outcome.plan, report.outcome.target, report.config
    allow = list(config.erase_user_ids)
    if target.remote:
        policy = (f"remote target: create bodies name only the allow-listed users {allow}; at most"
                  f" {_budget(report)} erasing requests, retries included" if allow else
                  "remote target: no create call that could erase is sent (no --erase-user-id allow-list);"
                  " create calls only with bodies the contract rejects, naming no one")
    else:
        policy = "local target: erasing create calls are sent" + (
            f", at most {_budget(report)}, retries included" if plan.budget is not None else " without a budget")
    totals = plan.totals()
    lines = [
        f"Dry run: nothing is sent to {target.base_url}",
        f"Erase safety: {policy}",
        f"Seed: {plan.seed} (the plan is the same for the same seed and options)",
        f"Plan: {totals['calls']} calls, at most {totals['maxRequests']} requests with retries;"
        f" {totals['erasingCalls']} erasing calls, at most {totals['maxErasing']} erasing requests;"
        f" {totals['cut']} calls cut",
        "",
        f"  {'suite':<12} {'method':<7} {'operation':<30} {'calls':>6} {'max requests':>13} {'max erasing':>12}"
        f" {'cut':>5}",
    ]
    for row in plan.summary():
        lines.append(f"  {row['suite']:<12} {row['method']:<7} {row['operation']:<30} {row['calls']:>6}"
                     f" {row['maxRequests']:>13} {row['maxErasing']:>12} {row['cut']:>5}")
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


def dry_run_json(report: Report) -> str:
    data = report.outcome.plan.as_json(report.outcome.vocabulary.auth_header)
    data["willNotRun"] = [{"suite": m.suite, "check": m.check, "operation": m.operation, "reason": m.reason}
                          for m in report.incomplete]
    return report.redact(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


# -- JUnit --------------------------------------------------------------------------------------


def junit_xml(report: Report) -> str:
    root = ElementTree.Element("testsuites", name="contracts")
    total = failures = skipped = 0
    for suite, rows in _by_suite(report.rows).items():
        element = ElementTree.SubElement(root, "testsuite", name=suite)
        suite_failures = suite_skipped = 0
        duration = 0.0
        for row in rows:
            case = ElementTree.SubElement(element, "testcase", classname=f"contracts.{suite}",
                                          name=f"{row.check} [{row.operation}]", time=f"{row.duration:.3f}")
            duration += row.duration
            if row.status == "failed":
                suite_failures += 1
                failure = ElementTree.SubElement(case, "failure", message=f"{len(row.findings)} violation(s) of"
                                                 f" {row.check} on {row.operation}")
                failure.text = "\n".join("\n".join(_finding_lines(f)) for f in row.findings)
            elif row.status == "cut":
                suite_skipped += 1
                ElementTree.SubElement(case, "skipped", message=row.reason or "did not run fully")
        element.set("tests", str(len(rows)))
        element.set("failures", str(suite_failures))
        element.set("skipped", str(suite_skipped))
        element.set("time", f"{duration:.3f}")
        total, failures, skipped = total + len(rows), failures + suite_failures, skipped + suite_skipped
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("skipped", str(skipped))
    root.set("time", f"{report.outcome.duration:.3f}")
    return report.redact(ElementTree.tostring(root, encoding="unicode", xml_declaration=True))


# -- Markdown -----------------------------------------------------------------------------------


def markdown(report: Report) -> str:
    counts = report.counts
    lines = [
        f"# Contract run against `{report.outcome.target.base_url}`",
        "",
        f"**{result_line(report).removeprefix('Result: ')}**",
        "",
        f"Seed `{report.seed}` · {report.outcome.duration:.1f} s · {counts['requests']} requests ·"
        f" {counts['erasing']} erasing (budget {_budget(report)}) · {counts['created']} erase requests created",
        "",
        "| suite | check | operation | result | calls | time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for row in report.rows:
        lines.append(f"| {row.suite} | {row.check} | {row.operation} | {row.status} | {row.sent} |"
                     f" {row.duration:.2f} |")
    for check, findings in report.findings.by_check().items():
        lines += ["", f"## `{check}`", ""]
        for finding in findings:
            lines += [f"### {finding.operation}: {finding.message}" + (f" (x{finding.count})" if finding.count > 1
                                                                       else ""),
                      "", f"- expected: {finding.expected}", f"- got: `{finding.actual}`"]
            if finding.curl:
                lines += ["", "```sh", finding.curl, "```"]
    if report.incomplete:
        lines += ["", "## Did not run fully", ""] + [f"- {m.suite}: `{m.check}` on {m.operation}: {m.reason}"
                                                     for m in report.incomplete]
    if report.unobserved:
        lines += ["", "## Not observed", ""] + [f"- {what}: {why}" for what, why in report.unobserved]
    created = report.outcome.audit.created
    lines += ["", f"## Erase requests created: {len(created)}", ""]
    lines += [f"- `{c['requestId']}` ({c['operation']}) at {c['time']}" for c in created[:CREATED_SHOWN]]
    if len(created) > CREATED_SHOWN:
        lines.append(f"- … and {len(created) - CREATED_SHOWN} more (the audit log has them all)")
    return report.redact("\n".join(lines)) + "\n"


# -- HTML ---------------------------------------------------------------------------------------

_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:72rem;color:#1d2430;
padding:0 1rem}h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}
.verdict{display:inline-block;padding:.4rem .9rem;border-radius:.4rem;font-weight:700;font-size:1.2rem;color:#fff}
.PASSED{background:#1f7a3a}.FAILED{background:#b3261e}.INCOMPLETE{background:#a15c00}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccd3dd;padding:.3rem .55rem;text-align:left;
font-size:.9rem}th{background:#eef1f5}.info th{width:11rem}
.matrix td{text-align:center;min-width:2.2rem}.passed{background:#d8f0de}.failed{background:#f6d3cf;font-weight:700}
.cut{background:#fbe7c6}.none{background:#f4f5f7;color:#9aa3ae}
pre{background:#f4f5f7;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all;font-size:.85rem}
.finding{border-left:4px solid #b3261e;padding-left:.8rem;margin:1rem 0}
.legend span{padding:.1rem .5rem;margin-right:.5rem}
"""


def html_report(report: Report) -> str:
    e = html.escape
    counts = report.counts
    target = report.outcome.target
    info = [
        ("Target", f"{target.base_url} ({'remote' if target.remote else 'local'})"),
        ("Seed", f"{report.seed} (re-run with --seed {report.seed})"),
        ("Erase budget", f"{_budget(report)}; erasing requests sent {counts['erasing']},"
                         f" not sent for the budget {counts['erasingNotSent']}"),
        ("Requests", f"{counts['requests']} sent in {report.outcome.duration:.1f} s"),
        ("Erase requests created", str(counts["created"])),
    ]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(report.verdict)}: contract run against {e(target.base_url)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Contract run against {e(target.base_url)}</h1>",
        f"<p><span class='verdict {e(report.verdict)}' id='verdict'>{e(report.verdict)}</span> "
        f"{e(result_line(report).removeprefix('Result: '))}</p>",
        "<table class='info'>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in info) + "</table>",
        "<h2>Operations × checks</h2>",
        "<p class='legend'><span class='passed'>passed</span><span class='failed'>failed</span>"
        "<span class='cut'>did not run fully</span><span class='none'>not applicable</span></p>",
        _matrix(report),
    ]
    grouped = report.findings.by_check()
    if grouped:
        parts.append(f"<h2>Violations ({len(report.findings)})</h2>")
        for check, findings in grouped.items():
            for finding in findings:
                repeat = f" (×{finding.count})" if finding.count > 1 else ""
                parts.append(
                    f"<div class='finding'><h3>{e(check)}: {e(finding.operation)}: {e(finding.message)}{repeat}</h3>"
                    f"<p><b>Expected</b>: {e(finding.expected)}</p><p><b>Got</b>:</p><pre>{e(finding.actual)}</pre>"
                    + (f"<p><b>Reproduce</b>:</p><pre>{e(finding.curl)}</pre>" if finding.curl else "") + "</div>")
    if report.incomplete:
        parts.append(f"<h2>Did not run fully ({len(report.incomplete)})</h2><ul>")
        parts += [f"<li>{e(m.suite)}: <b>{e(m.check)}</b> on {e(m.operation)}: {e(m.reason)}</li>"
                  for m in report.incomplete]
        parts.append("</ul>")
    if report.reduced:
        parts.append("<h2>Ran with fewer calls than planned</h2><ul>")
        parts += [f"<li>{e(note)}</li>" for note in report.reduced] + ["</ul>"]
    if report.unobserved:
        parts.append("<h2>Documented states not observed</h2><ul>")
        parts += [f"<li>{e(what)}: {e(why)}</li>" for what, why in report.unobserved] + ["</ul>"]
    created = report.outcome.audit.created
    parts.append(f"<h2>Erase requests created: {len(created)}</h2>")
    if created:
        shown = "".join(f"<li><code>{e(c['requestId'])}</code> {e(c['operation'])} at {e(c['time'])}</li>"
                        for c in created[:CREATED_SHOWN])
        more = f"<li>… and {len(created) - CREATED_SHOWN} more: see the audit log</li>" \
            if len(created) > CREATED_SHOWN else ""
        parts.append(f"<details><summary>the first {min(len(created), CREATED_SHOWN)}</summary>"
                     f"<ul>{shown}{more}</ul></details>")
    parts.append("</body></html>\n")
    return report.redact("".join(parts))


def _matrix(report: Report) -> str:
    e = html.escape
    operations = sorted({r.operation for r in report.rows})
    checks = list(dict.fromkeys(r.check for r in report.rows))
    cells: dict[tuple[str, str], Row] = {(r.check, r.operation): r for r in report.rows}
    head = "<tr><th>check</th>" + "".join(f"<th>{e(op)}</th>" for op in operations) + "</tr>"
    body = []
    for check in checks:
        tds = []
        for op in operations:
            row = cells.get((check, op))
            if row is None:
                tds.append("<td class='none'>–</td>")
                continue
            title = row.reason or "; ".join(f.message for f in row.findings) or f"{row.sent} calls"
            mark = {"passed": "✓", "failed": "✗", "cut": "…"}[row.status]
            tds.append(f"<td class='{row.status}' title='{e(title)}'>{mark}</td>")
        description = DESCRIPTIONS.get(check, "")
        body.append(f"<tr><th title='{e(description)}'>{e(check)}</th>{''.join(tds)}</tr>")
    return f"<table class='matrix' id='matrix'>{head}{''.join(body)}</table>"


def write(report: Report) -> None:
    """Write the files the configuration asks for."""
    config = report.config
    if report.dry_run:
        return
    if config.junit_xml:
        _write(config.junit_xml, junit_xml(report))
    if config.report:
        path = config.report
        _write(path, html_report(report) if path.suffix.lower() in (".html", ".htm") else markdown(report))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
