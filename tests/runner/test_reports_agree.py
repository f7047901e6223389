"""Every report states the one verdict model: for a run with failed, incomplete
(cut by the erase budget, missing an identity), passed and unselected cells, the
terminal, JUnit, HTML, Markdown and JSON say the same state for every cell, and
none of them shows a cell no selected suite planned."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml, Skipped

from contracts.config import Credentials
from contracts.judging.verdict import Cause, CellState, Report
from contracts.reporting import html, json_report, junit, markdown, terminal
from tests import broken_mock
from tests.support import run_against, run_config

pytestmark = pytest.mark.xdist_group("in-process-runs")

Cells = dict[tuple[str, str, str], str]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    """A status value the contract does not document (failed cells), an erase budget of 1
    (cut cells), no unscoped app (a cell that needs an identity), conformance not selected."""
    state = tmp_path_factory.mktemp("agree") / "state.db"
    app = broken_mock.build("undocumented-status-value", str(state))
    result, _ = run_against(app, run_config(suites=("stateful", "auth", "lifecycle"), max_erase_requests=1,
                                            unscoped=Credentials(), wait_for_completion=3.0,
                                            max_examples=20))
    return result


def _model(report: Report) -> Cells:
    return {row.key: str(row.state) for row in report.rows}


def _terminal(text: str) -> Cells:
    cells: Cells = {}
    suite = ""
    for line in text.splitlines():
        header = re.match(r"  (?:PASS|FAIL|INCOMPLETE)  (\S+)  \(", line)
        if header:
            suite = header.group(1)
            continue
        passed = re.match(r"      ✓ passed (\S+) \[(.*)\]$", line)
        if passed:
            cells.update({(suite, passed.group(1), op): "passed" for op in passed.group(2).split(", ")})
            continue
        other = re.match(r"      [✗…] (failed|incomplete) (\S+) \[(\S+)\]: ", line)
        if other:
            cells[(suite, other.group(2), other.group(3))] = other.group(1)
    return cells


def _junit(text: str, tmp_path: Path) -> Cells:
    path = tmp_path / "junit.xml"
    path.write_text(text)
    cells: Cells = {}
    for suite in JUnitXml.fromfile(str(path)):
        for case in suite:
            check, op = re.match(r"(\S+) \[(\S+)\]$", case.name).groups()  # type: ignore[union-attr]
            kinds = {type(r) for r in case.result}
            state = "failed" if Failure in kinds else "incomplete" if Skipped in kinds else "passed"
            cells[(suite.name, check, op)] = state
    return cells


class _Matrix(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: Cells = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "td" and a.get("data-state"):
            self.cells[(a["data-suite"] or "", a["data-check"] or "", a["data-operation"] or "")] = \
                a["data-state"] or ""


def _html(text: str) -> Cells:
    parser = _Matrix()
    parser.feed(text)
    return parser.cells


def _markdown(text: str) -> Cells:
    cells: Cells = {}
    for line in text.splitlines():
        parts = [p.strip() for p in line.strip().strip("|").split(" | ")]
        if len(parts) == 7 and parts[3] in ("passed", "failed", "incomplete"):
            cells[(parts[0], parts[1], parts[2])] = parts[3]
    return cells


def _json(text: str) -> Cells:
    return {(c["suite"], c["check"], c["operation"]): c["state"] for c in json.loads(text)["cells"]}


def test_every_report_states_the_same_state_for_every_cell(report: Report, tmp_path: Path) -> None:
    model = _model(report)
    states = set(model.values())
    assert {"passed", "failed", "incomplete"} <= states, model
    causes = {row.cause for row in report.rows if row.state is CellState.INCOMPLETE}
    assert {Cause.ERASE_BUDGET, Cause.NEEDS_INPUT} <= causes, causes
    rendered = {
        "terminal": _terminal(terminal.render(report)),
        "junit": _junit(junit.render(report), tmp_path),
        "html": _html(html.render(report)),
        "markdown": _markdown(markdown.render(report)),
        "json": _json(json_report.render(report)),
    }
    for name, cells in rendered.items():
        assert cells == model, (name, set(cells.items()) ^ set(model.items()))


def test_a_suite_not_selected_has_no_cell_in_any_report(report: Report, tmp_path: Path) -> None:
    assert report.state("conformance", "response_schema_conformance", "createEraseRequest") \
        is CellState.NOT_SELECTED
    assert not any(key[0] == "conformance" for key in _model(report))
    assert "conformance" not in {s.name for s in JUnitXml.fromstring(junit.render(report))}
    assert "data-suite='conformance'" not in html.render(report)
    assert "  conformance  (" not in terminal.render(report)


def test_a_failed_cell_is_failed_in_the_html_matrix_whatever_other_suites_judged(report: Report) -> None:
    failed = [row for row in report.rows if row.state is CellState.FAILED
              and row.check == "response_schema_conformance"]
    assert failed, _model(report)
    cells = _html(html.render(report))
    for row in failed:
        assert cells[row.key] == "failed"


def test_a_cell_every_call_of_which_was_cut_is_incomplete_with_its_cause(report: Report) -> None:
    cut = [row for row in report.rows if row.planned and not row.sent and row.state is not CellState.FAILED]
    assert cut
    for row in cut:
        assert row.state is CellState.INCOMPLETE, row
        assert row.cause is not None and row.reason
    assert "every selected check ran" not in terminal.render(report)
