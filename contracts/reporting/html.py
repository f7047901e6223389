"""One self-contained HTML page: a run's verdict, the matrix of operations x
checks, every violation with a curl line, what did not run and why; or a diff's
verdict and table of differences."""

from __future__ import annotations

import json
from html import escape as e

from contracts.diff.lockstep import DiffReport
from contracts.judging.checks import DESCRIPTIONS
from contracts.judging.verdict import CellState, Report, Row
from contracts.reporting.common import CREATED_SHOWN, budget, differences, result_line

STYLE = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:72rem;color:#1d2430;
padding:0 1rem}h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2rem}
.verdict{display:inline-block;padding:.4rem .9rem;border-radius:.4rem;font-weight:700;font-size:1.2rem;color:#fff}
.PASSED{background:#1f7a3a}.FAILED{background:#b3261e}.INCOMPLETE{background:#a15c00}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccd3dd;padding:.3rem .55rem;text-align:left;
font-size:.9rem}th{background:#eef1f5}.info th{width:11rem}
.matrix td{text-align:center;min-width:2.2rem}.passed{background:#d8f0de}.failed{background:#f6d3cf;font-weight:700}
.incomplete{background:#fbe7c6}.none{background:#f4f5f7;color:#9aa3ae}
pre{background:#f4f5f7;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-all;font-size:.85rem}
.finding{border-left:4px solid #b3261e;padding-left:.8rem;margin:1rem 0}
.legend span{padding:.1rem .5rem;margin-right:.5rem}
"""
_DIFF_STYLE = (
    "body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:80rem;padding:0 1rem;color:#1d2430}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccd3dd;padding:.3rem .5rem;text-align:left;"
    "vertical-align:top;font-size:.9rem}th{background:#eef1f5}tr.drift td:first-child{border-left:4px solid"
    " #b3261e}tr.accepted{color:#66707a}.v{display:inline-block;padding:.3rem .8rem;border-radius:.4rem;"
    "color:#fff;font-weight:700}.NO-DRIFT{background:#1f7a3a}.DRIFT{background:#b3261e}"
    ".INCOMPLETE{background:#a15c00}"
)


def render(result: Report | DiffReport) -> str:
    return _diff(result) if isinstance(result, DiffReport) else _run(result)


def _run(report: Report) -> str:
    target = report.outcome.target
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(report.verdict)}: contract run against {e(target.base_url)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Contract run against {e(target.base_url)}</h1>",
        f"<p><span class='verdict {e(report.verdict)}' id='verdict'>{e(report.verdict)}</span> "
        f"{e(result_line(report).removeprefix('Result: '))}</p>",
        "<table class='info'>" + "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _info(report))
        + "</table>",
        "<h2>Operations × checks</h2>",
        "<p class='legend'><span class='passed'>passed</span><span class='failed'>failed</span>"
        "<span class='incomplete'>incomplete (did not run fully)</span><span class='none'>not selected or not"
        " applicable</span></p>",
        _matrix(report),
        *_violations(report),
        *_notes(report),
        *_erasing(report),
        *_created(report),
        "</body></html>\n",
    ]
    return report.redact("".join(parts))


def _info(report: Report) -> list[tuple[str, str]]:
    counts, target = report.counts, report.outcome.target
    return [
        ("Target", f"{target.base_url} ({'remote' if target.remote else 'local'})"),
        ("Seed", f"{report.seed} (re-run with --seed {report.seed})"),
        ("Erase budget", f"{budget(report)}; erasing requests sent {counts['erasing']},"
                         f" not sent for the budget {counts['erasingNotSent']}"),
        ("Requests", f"{counts['requests']} sent in {report.outcome.duration:.1f} s"),
        ("Erase requests created", str(counts["created"])),
    ]


def _violations(report: Report) -> list[str]:
    grouped = report.findings.by_check()
    if not grouped:
        return []
    parts = [f"<h2>Violations ({len(report.findings)})</h2>"]
    for check, findings in grouped.items():
        for finding in findings:
            repeat = f" (×{finding.count})" if finding.count > 1 else ""
            parts.append(
                f"<div class='finding'><h3>{e(check)}: {e(finding.operation)}: {e(finding.message)}{repeat}</h3>"
                f"<p><b>Expected</b>: {e(finding.expected)}</p><p><b>Got</b>:</p><pre>{e(finding.actual)}</pre>"
                + (f"<p><b>Reproduce</b>:</p><pre>{e(finding.curl)}</pre>" if finding.curl else "") + "</div>")
    return parts


def _notes(report: Report) -> list[str]:
    parts: list[str] = []
    cut = [r for r in report.rows if r.state is CellState.INCOMPLETE]
    if cut:
        parts.append(f"<h2>Did not run fully ({len(cut)})</h2><ul>")
        parts += [f"<li>{e(r.suite)}: <b>{e(r.check)}</b> on {e(r.operation)}: {e(r.explanation)}</li>" for r in cut]
        parts.append("</ul>")
    if report.reduced:
        parts.append("<h2>Ran with fewer calls than planned</h2><ul>")
        parts += [f"<li>{e(note)}</li>" for note in report.reduced] + ["</ul>"]
    if report.unobserved:
        parts.append("<h2>Documented states not observed</h2><ul>")
        parts += [f"<li>{e(what)}: {e(why)}</li>" for what, why in report.unobserved] + ["</ul>"]
    return parts


def _erasing(report: Report) -> list[str]:
    """The plan's erasing calls: those the budget keeps, in order, then those it cuts."""
    erasing = report.outcome.plan.erasing(report.outcome.vocabulary.auth_header)
    rows = "".join(f"<tr><td>{c['index']}</td><td>{e(c['method'])} {e(c['path'])}</td>"
                   f"<td><code>{e(json.dumps(c['body'], ensure_ascii=False))}</code></td><td>{e(c['identity'])}</td>"
                   f"<td>{e(c['why'])}</td></tr>" for c in erasing["kept"])
    parts = [f"<h2>Erasing calls the plan sends ({len(erasing['kept'])})</h2><table id='erasing'><tr><th>call</th>"
             f"<th>request</th><th>body</th><th>identity</th><th>why</th></tr>{rows}</table>"]
    if erasing["cut"]:
        parts.append("<h3>Cut by the erase budget (not sent)</h3><ul>" + "".join(
            f"<li>{e(c['why'])} (×{c['count']})</li>" for c in erasing["cut"]) + "</ul>")
    return parts


def _created(report: Report) -> list[str]:
    created = report.outcome.audit.created
    parts = [f"<h2>Erase requests created: {len(created)}</h2>"]
    if created:
        shown = "".join(f"<li><code>{e(c['requestId'])}</code> {e(c['operation'])} at {e(c['time'])}</li>"
                        for c in created[:CREATED_SHOWN])
        more = f"<li>… and {len(created) - CREATED_SHOWN} more: see the audit log</li>" \
            if len(created) > CREATED_SHOWN else ""
        parts.append(f"<details><summary>the first {min(len(created), CREATED_SHOWN)}</summary>"
                     f"<ul>{shown}{more}</ul></details>")
    return parts


def _matrix(report: Report) -> str:
    """A row per suite and check, a column per operation; each cell its state (a
    cell no selected suite planned: –)."""
    operations = sorted({r.operation for r in report.rows})
    lines = list(dict.fromkeys((r.suite, r.check) for r in report.rows))
    cells: dict[tuple[str, str, str], Row] = {r.key: r for r in report.rows}
    head = "<tr><th>suite</th><th>check</th>" + "".join(f"<th>{e(op)}</th>" for op in operations) + "</tr>"
    body = []
    for suite, check in lines:
        tds = []
        for op in operations:
            row = cells.get((suite, check, op))
            if row is None:
                tds.append("<td class='none'>–</td>")
                continue
            tds.append(f"<td class='{e(row.state)}' data-suite='{e(suite)}' data-check='{e(check)}'"
                       f" data-operation='{e(op)}' data-state='{e(row.state)}' title='{e(row.explanation)}'>"
                       f"{row.state.mark}</td>")
        description = DESCRIPTIONS.get(check, "")
        body.append(f"<tr><th>{e(suite)}</th><th title='{e(description)}'>{e(check)}</th>{''.join(tds)}</tr>")
    return f"<table class='matrix' id='matrix'>{head}{''.join(body)}</table>"


def _diff(report: DiffReport) -> str:
    rows = "".join(
        f"<tr class='{'accepted' if d.accepted else 'drift'}'><td>{e(d.decision)}</td>"
        f"<td>{e(d.aspect)} <code>{e(d.where)}</code><br><small>{e(d.call)}</small></td>"
        f"<td><code>{e(d.real)}</code></td><td><code>{e(d.reference)}</code></td><td>{e(d.fix)}</td>"
        f"<td><code>{e(d.rule)}</code></td></tr>" for d in differences(report))
    causes = "".join(
        f"<tr class='{'accepted' if c.accepted else 'drift'}'><td>{e(c.decision)}</td><td>{c.calls}</td>"
        f"<td>{e(', '.join(c.aspects))}</td><td>{e('; '.join(c.fixes))}</td><td><code>--ignore '{e(c.rule)}'"
        "</code></td></tr>" for c in report.drift.root_causes())
    missing = "".join(f"<li>{e(m.suite)}: {e(m.check)} on {e(m.operation)}: {e(m.reason)}</li>"
                      for m in report.incomplete)
    verdict = report.verdict.replace(" ", "-")
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{e(report.verdict)}: drift report</title><style>{_DIFF_STYLE}</style></head><body>"
        f"<h1>Drift: {e(report.config.real.base_url)} against {e(report.config.reference.base_url)}</h1>"
        f"<p><span class='v {verdict}' id='verdict'>{e(report.verdict)}</span> "
        f"{e(result_line(report).removeprefix('Result: '))}</p>"
        "<h2>Root causes</h2><table id='root-causes'><tr><th>root cause</th><th>calls</th><th>differences</th>"
        f"<th>fix</th><th>accept it</th></tr>{causes}</table><h2>Differences</h2>"
        "<table id='differences'><tr><th>decision</th><th>what</th><th>real</th><th>reference</th><th>fix</th>"
        f"<th>rule</th></tr>{rows}</table>"
        + (f"<h2>Not compared</h2><ul>{missing}</ul>" if missing else "")
        + "</body></html>\n"
    )
    return report.redact(page)
