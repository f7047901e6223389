"""Reports of a run (`contracts.judging.verdict.Report`) and of a diff
(`contracts.diff.lockstep.DiffReport`), one module per format, each rendering
both: `terminal`, `junit`, `markdown`, `html`, `json_report`; what they share
is in `common` (the result line, escaping, writing a file)."""

from __future__ import annotations

from contracts.diff.lockstep import DiffReport
from contracts.judging.verdict import Report
from contracts.reporting import html, junit, markdown
from contracts.reporting.common import is_html
from contracts.safety.files import write_output


def write(result: Report | DiffReport) -> None:
    """Write the files the configuration asks for (`--junit-xml`, `--report` as
    HTML or Markdown by its suffix); a dry run writes none."""
    config = result.config.real if isinstance(result, DiffReport) else result.config
    if result.dry_run:
        return
    if config.junit_xml:
        write_output(config.junit_xml, junit.render(result), force=config.force, flag="--junit-xml")
    if config.report:
        path = config.report
        write_output(path, html.render(result) if is_html(path) else markdown.render(result), force=config.force,
                     flag="--report")
