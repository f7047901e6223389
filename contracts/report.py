"""Reports of a contract run, for people and for CI: a terminal summary
grouped by check, JUnit XML, and a self-contained Markdown or HTML report.
Every output goes through `redact`, so no secret or token can appear."""

from __future__ import annotations

import html
import re
from pathlib import Path
from xml.etree import ElementTree

from contracts.checks import Finding
from contracts.runner import Report

__all__ = ["terminal", "junit_xml", "markdown", "html_report", "write", "redact"]

JWT_LIKE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def redact(text: str, secrets: list[str]) -> str:
    """`text` with every secret (and every token) replaced by a marker."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "<redacted>")
    return text


def _safe(report: Report, text: str) -> str:
    """Secrets of the run and anything shaped like a JWT replaced; control
    characters (from response bodies) dropped, so XML stays well-formed."""
    return CONTROL_CHARS.sub("", JWT_LIKE.sub("<redacted-jwt>", redact(text, report.config.secrets())))


def terminal(report: Report) -> str:
    lines = [
        f"contracts run against {report.target.base_url}"
        f" ({'remote: strict erase safety' if report.target.remote else 'local'})",
        "",
        "Suites:",
    ]
    marks = {"passed": "PASS", "failed": "FAIL", "skipped": "SKIP"}
    for suite in report.suites:
        cases = f", {suite.cases} cases" if suite.cases else ""
        lines.append(f"  {marks[suite.status]}  {suite.name}{cases}" + (f"  ({suite.detail})" if suite.detail else ""))
    grouped = report.findings.by_check()
    if grouped:
        lines += ["", f"Contract violations ({len(report.findings)}), by check:"]
        for check, findings in grouped.items():
            lines += ["", f"[{check}]"]
            for finding in findings:
                lines += _finding_lines(finding)
    lines += [
        "",
        f"Requests sent: {report.requests_sent}; erase requests sent: {report.erase_sent}"
        f" (skipped for safety: {report.erase_skipped}); created: {len(report.created)}"
        + (f"; waited {report.retry_wait:.1f} s for Retry-After" if report.retry_wait else ""),
        f"Seed: {report.seed} (re-run with --seed {report.seed})",
        f"Time: {report.duration:.1f} s",
        f"Result: {'PASSED' if report.ok else 'FAILED'}"
        f" ({len(report.findings)} violations, {sum(s.status == 'skipped' for s in report.suites)} suites skipped)",
    ]
    return _safe(report, "\n".join(lines)) + "\n"


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


def junit_xml(report: Report) -> str:
    suites = ElementTree.Element("testsuites", name="contracts", tests="0", failures="0")
    total = failures = 0
    grouped = report.findings.by_check()
    for suite in report.suites:
        element = ElementTree.SubElement(suites, "testsuite", name=suite.name)
        case = ElementTree.SubElement(element, "testcase", classname="contracts." + suite.name, name=suite.name)
        total += 1
        if suite.status == "skipped":
            ElementTree.SubElement(case, "skipped", message=suite.detail)
        element.set("tests", "1")
        element.set("failures", "0")
        element.set("skipped", "1" if suite.status == "skipped" else "0")
    checks = ElementTree.SubElement(suites, "testsuite", name="checks", tests=str(len(grouped) or 1))
    if not grouped:
        total += 1
        ElementTree.SubElement(checks, "testcase", classname="contracts.checks", name="no violations")
    for check, findings in grouped.items():
        total += 1
        failures += 1
        case = ElementTree.SubElement(checks, "testcase", classname="contracts.checks", name=check)
        failure = ElementTree.SubElement(case, "failure", message=f"{len(findings)} violation(s) of {check}")
        failure.text = "\n".join("\n".join(_finding_lines(f)) for f in findings)
    checks.set("failures", str(failures))
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    return _safe(report, ElementTree.tostring(suites, encoding="unicode", xml_declaration=True))


def markdown(report: Report) -> str:
    lines = [
        f"# Contract run against `{report.target.base_url}`",
        "",
        f"**Result: {'PASSED' if report.ok else 'FAILED'}** — {len(report.findings)} violations,"
        f" seed `{report.seed}`, {report.duration:.1f} s, {report.requests_sent} requests",
        "",
        "| suite | result | cases | detail |",
        "|---|---|---|---|",
    ]
    for suite in report.suites:
        lines.append(f"| {suite.name} | {suite.status} | {suite.cases} | {suite.detail} |")
    for check, findings in report.findings.by_check().items():
        lines += ["", f"## `{check}`", ""]
        for finding in findings:
            lines += [
                f"### {finding.operation}: {finding.message}" + (f" (x{finding.count})" if finding.count > 1 else ""),
                "",
                f"- expected: {finding.expected}",
                f"- got: `{finding.actual}`",
            ]
            if finding.curl:
                lines += ["", "```sh", finding.curl, "```"]
    lines += ["", f"Erase requests created: {len(report.created)}"]
    for created in report.created:
        lines.append(f"- `{created['requestId']}` users {created['userIds']} at {created['time']}")
    return _safe(report, "\n".join(lines)) + "\n"


def html_report(report: Report) -> str:
    body = html.escape(markdown(report))
    title = html.escape(f"Contract run against {report.target.base_url}")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto}"
        "pre{white-space:pre-wrap}</style></head>"
        f"<body><pre>{body}</pre></body></html>\n"
    )


def write(report: Report) -> None:
    """Write the files the configuration asks for."""
    if report.config.junit_xml:
        _write(report.config.junit_xml, junit_xml(report))
    if report.config.report:
        path = report.config.report
        _write(path, html_report(report) if path.suffix.lower() in (".html", ".htm") else markdown(report))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
