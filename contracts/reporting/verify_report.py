"""Reports of `contracts verify`, in the forms `contracts run` gives: the
terminal summary, JUnit XML (one testcase per exchange, its violations the
failure), one self-contained HTML page, and JSON. Every violation names the
exchange it came from (its number, its place in the file, method, path and
status). The run report's writers take a run (its plan, budget and
verdict), so what is shared is their page style and file writing; the text
passes through the `Redactor` last, as theirs does (a recording is
redacted already: this masks anything JWT-shaped a HAR export kept)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from contracts.core.redaction import Redactor
from contracts.judging.checks import Finding
from contracts.judging.offline import Judged, Verification
from contracts.reporting.html import STYLE
from contracts.safety.files import write_output

_redact = Redactor()


def verdict_line(result: Verification) -> str:
    if result.violation_count:
        return (f"Result: FAILED ({result.violation_count} violations in {len(result.violated)} of"
                f" {len(result.exchanges)} exchanges" + (f", {len(result.findings)} across exchanges)"
                                                         if result.findings else ")"))
    return f"Result: PASSED (0 violations in {len(result.exchanges)} exchanges)"


def coverage_lines(result: Verification) -> list[str]:
    lines = []
    for operation, (documented, seen) in result.coverage.statuses.items():
        missing = [s for s in documented if s not in seen]
        lines.append(f"  {operation}: exercised {', '.join(map(str, seen)) or 'nothing'}"
                     + (f"; not exercised {', '.join(map(str, missing))}" if missing and seen else ""))
    for name, (values, seen_values) in result.coverage.values.items():
        unseen = [v for v in values if v not in seen_values]
        lines.append(f"  {name} values: seen {', '.join(seen_values) or 'none'}"
                     + (f"; not seen {', '.join(unseen)}" if unseen else ""))
    return lines


def terminal(result: Verification) -> str:
    lines = [f"contracts verify {result.path} ({result.format}, {len(result.exchanges)} exchanges)", ""]
    if result.other_contracts:
        lines += [f"Note: the proxy judged some exchanges with another contract (sha256"
                  f" {', '.join(d[:12] for d in result.other_contracts)}); judged here with"
                  f" {result.vocabulary.spec.digest[:12]}", ""]
    if result.violated:
        lines.append("Contract violations, by exchange:")
        for judged in result.violated:
            lines += ["", f"  {judged.title} [{judged.operation_id or 'no operation'}]"]
            lines += [f"      {v}" for v in judged.violations]
    if result.findings:
        lines += ["", "Across exchanges:"]
        lines += [line for finding in result.findings for line in _finding_lines(finding)]
    lines += ["", "Documented answers exercised:", *coverage_lines(result), "", verdict_line(result)]
    return _redact("\n".join(lines)) + "\n"


def _finding_lines(finding: Finding) -> list[str]:
    return [f"  - [{finding.check}] {finding.operation}: {finding.message} (from {finding.curl})",
            f"      expected: {finding.expected}", f"      got:      {finding.actual}"]


def as_json(result: Verification) -> str:
    data: dict[str, Any] = {
        "recording": str(result.path), "format": result.format, "contractDigest": result.vocabulary.spec.digest,
        "verdict": "FAILED" if result.violation_count else "PASSED", "exchanges": len(result.exchanges),
        "violations": [_judged_json(j) for j in result.violated],
        "acrossExchanges": [{"check": f.check, "operation": f.operation, "message": f.message,
                             "expected": f.expected, "actual": f.actual, "exchange": f.curl, "count": f.count}
                            for f in result.findings],
        "coverage": {"statuses": {op: {"documented": d, "exercised": s}
                                  for op, (d, s) in result.coverage.statuses.items()},
                     "values": {name: {"documented": d, "exercised": s}
                                for name, (d, s) in result.coverage.values.items()}},
    }
    return _redact(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


def _judged_json(judged: Judged) -> dict[str, Any]:
    e = judged.recorded.exchange
    return {"exchange": judged.number, "at": judged.recorded.label, "method": e.method, "path": e.path,
            "status": e.status, "operationId": judged.operation_id,
            "violations": [v.as_json() for v in judged.violations]}


def junit_xml(result: Verification) -> str:
    root = ElementTree.Element("testsuites", name="contracts verify")
    suite = ElementTree.SubElement(root, "testsuite", name=f"verify {result.path.name}")
    for judged in result.exchanges:
        case = ElementTree.SubElement(suite, "testcase", classname=f"contracts.verify.{judged.operation_id or 'none'}",
                                      name=judged.title, time=f"{(judged.recorded.duration_ms or 0) / 1000:.3f}")
        if judged.violations:
            failure = ElementTree.SubElement(case, "failure", message=f"{len(judged.violations)} violation(s)")
            failure.text = "\n".join(str(v) for v in judged.violations)
    for finding in result.findings:
        case = ElementTree.SubElement(suite, "testcase", classname="contracts.verify.across",
                                      name=f"{finding.check} [{finding.operation}]")
        ElementTree.SubElement(case, "failure", message=finding.message).text = "\n".join(_finding_lines(finding))
    total = len(result.exchanges) + len(result.findings)
    failures = len(result.violated) + len(result.findings)
    for element in (root, suite):
        element.set("tests", str(total))
        element.set("failures", str(failures))
    return _redact(ElementTree.tostring(root, encoding="unicode", xml_declaration=True))


def html_report(result: Verification) -> str:
    e = html.escape
    verdict = "FAILED" if result.violation_count else "PASSED"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{verdict}: contracts verify {e(result.path.name)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Recording {e(str(result.path))} ({e(result.format)})</h1>",
        f"<p><span class='verdict {verdict}' id='verdict'>{verdict}</span> "
        f"{e(verdict_line(result).removeprefix('Result: '))}</p>",
    ]
    for judged in result.violated:
        rows = "".join(f"<tr><td>{e(v.side)}</td><td><code>{e(v.where)}</code></td><td>{e(v.message)}</td>"
                       f"<td>{e(v.rule)}</td><td><code>{e(v.contract)}</code></td></tr>" for v in judged.violations)
        parts.append(f"<div class='finding'><h3>{e(judged.title)} [{e(judged.operation_id or 'no operation')}]</h3>"
                     "<table><tr><th>side</th><th>where</th><th>what</th><th>rule</th><th>contract</th></tr>"
                     f"{rows}</table></div>")
    for finding in result.findings:
        parts.append(f"<div class='finding'><h3>{e(finding.check)}: {e(finding.message)}</h3>"
                     f"<pre>{e(chr(10).join(_finding_lines(finding)))}</pre></div>")
    parts.append("<h2>Documented answers exercised</h2><pre>" + e("\n".join(coverage_lines(result))) + "</pre>")
    parts.append("</body></html>\n")
    return _redact("".join(parts))


def write(result: Verification, *, junit: Path | None, report: Path | None, json_out: Path | None) -> None:
    """Write the files asked for: JUnit XML, an HTML (or, by its suffix, JSON) report, JSON."""
    if junit is not None:
        write_output(junit, junit_xml(result), force=False, flag="--junit-xml")
    if report is not None:
        write_output(report, as_json(result) if report.suffix.lower() == ".json" else html_report(result), force=False,
                     flag="--report")
    if json_out is not None:
        write_output(json_out, as_json(result), force=False, flag="--json")
