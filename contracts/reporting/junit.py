"""JUnit XML, for CI: a run's testcase per cell (suite, check and operation, with
durations): a failed cell fails, an incomplete one is skipped with its cause and
reason, a cell no selected suite planned is absent; a diff's testcase per root
cause (an accepted one skipped)."""

from __future__ import annotations

from xml.etree import ElementTree

from contracts.diff.lockstep import DiffReport
from contracts.judging.verdict import CellState, Report, Row
from contracts.reporting.common import by_suite, finding_lines, root_cause_lines, xml_document


def render(result: Report | DiffReport) -> str:
    return _diff(result) if isinstance(result, DiffReport) else _run(result)


def _run(report: Report) -> str:
    root = ElementTree.Element("testsuites", name="contracts")
    total = failures = skipped = 0
    for suite, rows in by_suite(report.rows).items():
        element = ElementTree.SubElement(root, "testsuite", name=suite)
        suite_failures, suite_skipped, duration = _cases(element, suite, rows)
        element.set("tests", str(len(rows)))
        element.set("failures", str(suite_failures))
        element.set("skipped", str(suite_skipped))
        element.set("time", f"{duration:.3f}")
        total, failures, skipped = total + len(rows), failures + suite_failures, skipped + suite_skipped
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("skipped", str(skipped))
    root.set("time", f"{report.outcome.duration:.3f}")
    return xml_document(root, report.redact)


def _cases(element: ElementTree.Element, suite: str, rows: list[Row]) -> tuple[int, int, float]:
    """One testcase per row; returns the failures, the skipped and the time."""
    failures = skipped = 0
    duration = 0.0
    for row in rows:
        case = ElementTree.SubElement(element, "testcase", classname=f"contracts.{suite}",
                                      name=f"{row.check} [{row.operation}]", time=f"{row.duration:.3f}")
        duration += row.duration
        if row.state is CellState.FAILED:
            failures += 1
            failure = ElementTree.SubElement(case, "failure", message=f"{len(row.findings)} violation(s) of"
                                             f" {row.check} on {row.operation}")
            failure.text = "\n".join("\n".join(finding_lines(f)) for f in row.findings)
        elif row.state is CellState.INCOMPLETE:
            skipped += 1
            ElementTree.SubElement(case, "skipped", message=row.explanation)
    return failures, skipped, duration


def _diff(report: DiffReport) -> str:
    """A testcase per root cause: an open one fails, an accepted one is skipped (naming its rule)."""
    root = ElementTree.Element("testsuites", name="contracts diff")
    suite = ElementTree.SubElement(root, "testsuite", name="drift")
    causes = report.drift.root_causes()
    for cause in causes:
        case = ElementTree.SubElement(suite, "testcase", classname="contracts.diff", name=f"{cause.rule}"
                                      f" {cause.decision}")
        if cause.accepted:
            ElementTree.SubElement(case, "skipped", message=f"accepted by {cause.accepted_by}")
        else:
            failure = ElementTree.SubElement(case, "failure", message=f"{cause.decision}: {cause.calls} calls"
                                             f" differ; --ignore '{cause.rule}' accepts it")
            failure.text = "\n".join(root_cause_lines(cause))
    if not causes:
        ElementTree.SubElement(suite, "testcase", classname="contracts.diff", name="no drift")
    opened = sum(1 for c in causes if not c.accepted)
    for element in (root, suite):
        element.set("tests", str(max(1, len(causes))))
        element.set("failures", str(opened))
        element.set("skipped", str(len(causes) - opened))
    return xml_document(root, report.redact)
