"""What every report format shares: the result line, the run's budget and
findings as text, the order of a diff's differences, escaping for each format
(Markdown text, code spans and fences; an XML tree redacted before it is
serialised), and writing a file. Every format passes its text through the
result's redactor (`Report.redact`, `DiffReport.redact`: secrets, token
fragments, characters no output may hold), so no secret and no fragment of any
token the run minted can appear; the redactor knows each secret as the formats
escape it, and its mark is plain text in all of them."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree

from contracts.core.redaction import MD_SPECIAL
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
    """Text for a Markdown table cell: every pipe not escaped yet (`md_text` escapes them) escaped."""
    return re.sub(r"(?<!\\)\|", r"\\|", text)


_BACKTICKS = re.compile(r"`+")


def md_text(text: object) -> str:
    """Server or user text as literal Markdown inline text: every character that acts
    (`MD_SPECIAL`) backslash-escaped (so no emphasis, link, HTML tag or entity), on one line."""
    return MD_SPECIAL.sub(r"\\\1", " ".join(str(text).splitlines()))


def md_code(text: object) -> str:
    """Text as one Markdown code span: delimited by more backticks than its longest
    run of them (CommonMark), so no backtick in it can end the span; on one line."""
    content = " ".join(str(text).splitlines())
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(content)), default=0) + 1)
    if content.startswith(("`", " ")) or content.endswith(("`", " ")):
        content = f" {content} "
    return f"{fence}{content}{fence}"


def md_fence(text: str, info: str = "") -> list[str]:
    """Text as a fenced Markdown code block, its fence longer than any backtick run in it."""
    fence = "`" * max(3, max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    return [fence + info, *text.splitlines(), fence]


def xml_document(root: ElementTree.Element, redact: Callable[[str], str]) -> str:
    """The XML text of `root`: every text and attribute redacted (and cleaned) before
    ElementTree escapes it, so the mark and the document stay well-formed."""
    for element in root.iter():
        if element.text:
            element.text = redact(element.text)
        if element.tail:
            element.tail = redact(element.tail)
        for name, value in element.attrib.items():
            element.set(name, redact(value))
    return ElementTree.tostring(root, encoding="unicode", xml_declaration=True)


def is_html(path: Path) -> bool:
    return path.suffix.lower() in (".html", ".htm")
