"""The drift report of `contracts diff`, for people and for CI: terminal,
JSON, Markdown and one self-contained HTML page. Each difference says what
each side did, the contract decision it touches, and where the fix belongs.
Everything passes through both runs' redactors."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from contracts.diff.comparison import Difference
from contracts.diff.lockstep import DiffReport


def _differences(report: DiffReport) -> list[Difference]:
    return sorted(report.drift, key=lambda d: (d.accepted, d.decision, d.rule, d.where))


def result_line(report: DiffReport) -> str:
    opened, accepted = len(report.drift.open), len(report.drift.accepted)
    extra = f"; {accepted} accepted by --ignore" if accepted else ""
    if report.verdict == "DRIFT":
        return f"Result: DRIFT ({opened} differences{extra})"
    if report.verdict == "INCOMPLETE":
        return f"Result: INCOMPLETE (no difference in {report.compared} compared calls{extra};" \
               f" {len(report.incomplete)} not compared)"
    return f"Result: NO DRIFT ({report.compared} calls compared{extra})"


def terminal(report: DiffReport) -> str:
    real, reference = report.config.real.base_url, report.config.reference.base_url
    lines = [f"contracts diff: {real} (real) against {reference} (reference)", ""]
    by_decision: dict[str, list[Difference]] = {}
    for difference in report.drift.open:
        by_decision.setdefault(difference.decision, []).append(difference)
    if by_decision:
        lines.append("Drift by contract decision:")
        for decision, items in sorted(by_decision.items()):
            fixes = sorted({d.fix.split(" (")[0] for d in items})
            lines.append(f"  {decision}: {sum(d.count for d in items)} calls differ; fix: {'; '.join(fixes)}")
        lines.append("")
    for difference in _differences(report):
        mark = "accepted" if difference.accepted else "DRIFT"
        repeat = f" (x{difference.count})" if difference.count > 1 else ""
        lines += [
            f"  [{mark}] {difference.decision}: {difference.aspect} {difference.where}{repeat}",
            f"      call:      {difference.call}",
            f"      real:      {difference.real}",
            f"      reference: {difference.reference}",
            f"      fix:       {difference.fix}",
            f"      rule:      {difference.rule}   (--ignore '{difference.rule}' accepts it)",
        ]
    if report.incomplete:
        lines += ["", "Not compared:"] + [f"  - {m.suite}: {m.check} on {m.operation}: {m.reason}"
                                          for m in report.incomplete]
    counts = report.real.transport.sent, report.reference.transport.sent if report.reference else 0
    lines += ["", f"Requests sent: {counts[0]} to the real deployment (erasing: {report.real.budget.sent},"
                  f" budget {report.real.budget.cap if report.real.budget.cap is not None else 'unlimited'}),"
                  f" {counts[1]} to the reference",
              f"Seed: {report.real.plan.seed}", f"Time: {report.duration:.1f} s", result_line(report)]
    return report.redact("\n".join(lines)) + "\n"


def as_json(report: DiffReport) -> str:
    data: dict[str, Any] = {
        "real": report.config.real.base_url,
        "reference": report.config.reference.base_url,
        "verdict": report.verdict,
        "seed": report.real.plan.seed,
        "compared": report.compared,
        "differences": [vars(d) for d in _differences(report)],
        "notCompared": [vars(m) for m in report.incomplete],
    }
    return report.redact(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


def markdown(report: DiffReport) -> str:
    lines = [f"# Drift: `{report.config.real.base_url}` against `{report.config.reference.base_url}`", "",
             f"**{result_line(report).removeprefix('Result: ')}**", "",
             "| decision | what | real | reference | fix | rule |", "|---|---|---|---|---|---|"]
    for d in _differences(report):
        cells = [d.decision + (" (accepted)" if d.accepted else ""), f"{d.aspect} `{d.where}` on {d.call}",
                 f"`{d.real}`", f"`{d.reference}`", d.fix, f"`{d.rule}`"]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    if report.incomplete:
        lines += ["", "## Not compared", ""] + [f"- {m.suite}: `{m.check}` on {m.operation}: {m.reason}"
                                                for m in report.incomplete]
    return report.redact("\n".join(lines)) + "\n"


def html_report(report: DiffReport) -> str:
    e = html.escape
    rows = "".join(
        f"<tr class='{'accepted' if d.accepted else 'drift'}'><td>{e(d.decision)}</td>"
        f"<td>{e(d.aspect)} <code>{e(d.where)}</code><br><small>{e(d.call)}</small></td>"
        f"<td><code>{e(d.real)}</code></td><td><code>{e(d.reference)}</code></td><td>{e(d.fix)}</td>"
        f"<td><code>{e(d.rule)}</code></td></tr>" for d in _differences(report))
    missing = "".join(f"<li>{e(m.suite)}: {e(m.check)} on {e(m.operation)}: {e(m.reason)}</li>"
                      for m in report.incomplete)
    verdict = report.verdict.replace(" ", "-")
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{e(report.verdict)}: drift report</title><style>"
        "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:80rem;padding:0 1rem;color:#1d2430}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccd3dd;padding:.3rem .5rem;text-align:left;"
        "vertical-align:top;font-size:.9rem}th{background:#eef1f5}tr.drift td:first-child{border-left:4px solid"
        " #b3261e}tr.accepted{color:#66707a}.v{display:inline-block;padding:.3rem .8rem;border-radius:.4rem;"
        "color:#fff;font-weight:700}.NO-DRIFT{background:#1f7a3a}.DRIFT{background:#b3261e}"
        ".INCOMPLETE{background:#a15c00}</style></head><body>"
        f"<h1>Drift: {e(report.config.real.base_url)} against {e(report.config.reference.base_url)}</h1>"
        f"<p><span class='v {verdict}' id='verdict'>{e(report.verdict)}</span> "
        f"{e(result_line(report).removeprefix('Result: '))}</p>"
        "<table id='differences'><tr><th>decision</th><th>what</th><th>real</th><th>reference</th><th>fix</th>"
        f"<th>rule</th></tr>{rows}</table>"
        + (f"<h2>Not compared</h2><ul>{missing}</ul>" if missing else "")
        + "</body></html>\n"
    )
    return report.redact(page)


def junit_xml(report: DiffReport) -> str:
    from xml.etree import ElementTree

    root = ElementTree.Element("testsuites", name="contracts diff")
    suite = ElementTree.SubElement(root, "testsuite", name="drift")
    differences = _differences(report)
    for d in differences:
        case = ElementTree.SubElement(suite, "testcase", classname="contracts.diff", name=f"{d.rule} {d.where}")
        if d.accepted:
            ElementTree.SubElement(case, "skipped", message=f"accepted by --ignore: {d.decision}")
        else:
            failure = ElementTree.SubElement(case, "failure", message=f"{d.decision}: {d.aspect} {d.where}")
            failure.text = f"call: {d.call}\nreal: {d.real}\nreference: {d.reference}\nfix: {d.fix}"
    if not differences:
        ElementTree.SubElement(suite, "testcase", classname="contracts.diff", name="no drift")
    opened = len(report.drift.open)
    for element in (root, suite):
        element.set("tests", str(max(1, len(differences))))
        element.set("failures", str(opened))
        element.set("skipped", str(len(differences) - opened))
    return report.redact(ElementTree.tostring(root, encoding="unicode", xml_declaration=True))


def write(report: DiffReport, path: Path | None, json_path: Path | None) -> None:
    for target, render in ((path, None), (json_path, as_json)):
        if target is None:
            continue
        if render is None:
            render = html_report if target.suffix.lower() in (".html", ".htm") else markdown
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(report), encoding="utf-8")
