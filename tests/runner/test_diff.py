"""`contracts diff`: two deployments, the same calls in lockstep, and only the
differences that matter, each naming its contract decision and its fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from contracts.cli import main
from contracts.config import Credentials
from contracts.diff.comparison import spec_notes
from contracts.diff.lockstep import DiffConfig, DiffReport
from contracts.pipeline import diff
from contracts.reporting import html, json_report, junit, terminal
from contracts.reporting import markdown as markdown_report
from mockserver import MockServer
from mockserver.testing.mock_app import MockApp
from tests import broken_mock
from tests.support import ROOT, SECRETS, credential_args, deployment, run_config

#: One worker runs the in-process contract runs: they share its memo of draws (`contracts.planning.planner`).
pytestmark = pytest.mark.xdist_group("in-process-runs")
NOBODY = Credentials()


def reference_config(**overrides: Any) -> Any:
    """The reference: a mockserver whose identities the diff reads from its control API."""
    return run_config(credentials=NOBODY, other_tenant=NOBODY, unscoped=NOBODY, refused_user_ids=(), **overrides)


@contextmanager
def compared(real_app: Any, reference_app: Any, ignore: tuple[str, ...] = (), slower_by: float = 1.0,
             **real: Any) -> Iterator[DiffReport]:
    with ExitStack() as stack:
        real_wire = stack.enter_context(deployment(real_app))
        reference_wire = stack.enter_context(deployment(reference_app))
        config = DiffConfig(run_config(refused_user_ids=(), **real), reference_config(), ignore, slower_by)
        yield diff(config, real_transport=real_wire, reference_transport=reference_wire)


def other_fixtures(tmp_path: Path) -> Path:
    """The default fixtures with every id changed (accounts, apps, bots, preloaded
    request) and the same users and roles."""
    document = yaml.safe_load((ROOT / "mockserver" / "vendor" / "default_fixtures.yaml").read_text())
    for n, account in enumerate(document["accounts"]):
        account["id"] = f"tenant-{n}"
        for app in account["apps"]:
            app["clientId"] = app["clientId"][:-4] + "beef"
            app["clientSecret"] = "another-" + app["clientSecret"]
        for bot in account.get("bots", []):
            bot["id"] = bot["id"][:-4] + "cafe"
    for request in document.get("requests", []):
        request["account"] = "tenant-0"
        request["requestId"] = request["requestId"][:-4] + "f00d"
    path = tmp_path / "other-fixtures.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


#: Where a fault shows: "stateful" creates a request and reads it through both status operations,
#: "lifecycle" polls it until final, "request-ids" reads malformed and unknown ids (error answers).
#: Each test diffs only those suites: every call of a diff is compared the same way, and the other
#: suites' few hundred calls would show the same difference again.
READS = ("stateful",)
POLLS = ("stateful", "lifecycle")
ERRORS = ("request-ids",)


@pytest.mark.parametrize("seed", [1, 2])
def test_two_clean_mocks_with_other_seeds_and_fixture_ids_show_no_drift(seed: int, tmp_path: Path) -> None:
    with MockApp(clock="real", progress_delay=0.2) as real, \
            MockApp(clock="real", progress_delay=0.2, fixtures=other_fixtures(tmp_path)) as reference:
        with compared(real.asgi, reference.asgi, seed=seed) as report:
            output = terminal.render(report)
    assert report.verdict == "NO DRIFT" and report.exit_code == 0, output
    assert report.compared > 150


def test_a_poll_that_comes_after_the_erase_finished_is_not_drift(tmp_path: Path) -> None:
    """The real side finishes before its first poll, the reference is still in progress
    at its own: the same behaviour seen at other moments, not a difference."""
    with MockApp(clock="real", progress_delay=0) as real, MockApp(clock="real", progress_delay=0.2) as reference:
        with compared(real.asgi, reference.asgi, suites=POLLS) as report:
            output = terminal.render(report)
        created = {e["requestId"] for e in reference.journal(operation_id="createEraseRequest") if e["requestId"]}
        first_seen = {}
        for entry in reference.journal(operation_id="getEraseRequestStatus"):
            request_id = entry["path"].rsplit("/", 1)[1]
            if request_id in created and entry["status"] == 200:
                first_seen.setdefault(request_id, entry["responseBody"]["response"][0]["status"])
        real_first = {e["responseBody"]["response"][0]["status"]
                      for e in real.journal(operation_id="getEraseRequestStatus") if e["status"] == 200}
    assert report.verdict == "NO DRIFT" and report.exit_code == 0, output
    assert "IN_PROGRESS" in first_seen.values() and "IN_PROGRESS" not in real_first  # the case above happened


#: Each defect, the contract decision its difference names, and the suites that show it.
EXPECTED = {
    "request-id-format": ("row 9, request id format", ("stateful",)),
    "undocumented-status-value": ("row 8, per-user status values", ("stateful", "lifecycle")),
    "auth-disabled": ("row 21, security scheme", ("auth",)),
    "other-tenant-readable": ("row 20, tenant isolation", ("auth",)),
    "500-on-malformed-reqid": ("row 18, error status codes", ("request-ids",)),
    "missing-required-field": ("documented by the vendor (fields)", ("stateful",)),
    "wrong-content-type": ("documented by the vendor", ("stateful",)),
}


@pytest.mark.parametrize("defect", sorted(EXPECTED))
def test_a_deployment_unlike_the_mock_is_drift_naming_its_decision(defect: str, tmp_path: Path) -> None:
    decision, suites = EXPECTED[defect]
    with MockApp(clock="real", progress_delay=0.2) as reference:
        with compared(broken_mock.build(defect, str(tmp_path / "s.db")), reference.asgi, suites=suites) as report:
            output = terminal.render(report)
    assert report.verdict == "DRIFT" and report.exit_code == 1, output
    assert any(d.decision.startswith(decision) for d in report.drift.open), output
    assert not any(secret in output for secret in SECRETS)


def test_the_request_id_format_drift_says_what_each_side_answered(tmp_path: Path) -> None:
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    spec["components"]["schemas"]["RequestId"].update(
        pattern="^eud-[0-9a-f]{24}$", minLength=28, maxLength=28)
    spec_path = tmp_path / "openapi-24hex.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    fixtures = yaml.safe_load((ROOT / "mockserver" / "vendor" / "default_fixtures.yaml").read_text())
    fixtures["requests"] = []  # its preloaded request has an id of the other format
    (tmp_path / "fixtures.yaml").write_text(yaml.safe_dump(fixtures))
    with MockApp(clock="real", progress_delay=0.2, spec=str(spec_path), fixtures=tmp_path / "fixtures.yaml") as real, \
            MockApp(clock="real", progress_delay=0.2) as reference:
        with compared(real.asgi, reference.asgi, suites=READS + ERRORS) as report:
            output = terminal.render(report)
    assert report.exit_code == 1, output
    ids = [d for d in report.drift.open if d.where.endswith(".requestId")]
    assert ids and ids[0].real == "<eud- + 24 hex characters>" and ids[0].reference == "<request id>"
    assert ids[0].decision == "row 9, request id format"
    assert "the contract" in ids[0].fix  # the deployment follows its own format: the decision looks wrong
    assert all(d.decision.startswith("row 9") for d in report.drift.open), output


def test_accepted_differences_are_listed_not_counted(tmp_path: Path) -> None:
    with MockApp(clock="real", progress_delay=0.2) as reference:
        with compared(broken_mock.build("wrong-content-type", str(tmp_path / "s.db")), reference.asgi,
                      ignore=("header/*",), suites=READS) as report:
            output = terminal.render(report)
    assert report.exit_code == 0 and report.drift.accepted and not report.drift.open, output
    assert "[accepted by --ignore 'header/*']" in output


def test_the_real_side_keeps_the_safety_rules_of_a_remote_target(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    with MockApp(clock="real", progress_delay=0.2) as real, MockApp(clock="real", progress_delay=0.2) as reference:
        with ExitStack() as stack:
            real_wire = stack.enter_context(deployment(real.asgi))
            reference_wire = stack.enter_context(deployment(reference.asgi))
            config = DiffConfig(run_config(target_kind="remote", erase_user_ids=("qa@example.com",), rate=6000,
                                           refused_user_ids=(), audit_log=audit), reference_config())
            report = diff(config, real_transport=real_wire, reference_transport=reference_wire)
    assert report.exit_code == 0, terminal.render(report)
    creates = [json.loads(r.content) for r in real_wire.requests
               if r.url.path == "/api/public/bot/eraseUsersData" and r.content]
    for body in creates:
        users = body.get("userIds", []) if isinstance(body, dict) else []
        users = users if isinstance(users, list) else [users]
        assert all(u in ("qa@example.com", "") for u in users if isinstance(u, str)), body
    assert report.real.budget.sent <= 5
    logged = [json.loads(line) for line in audit.read_text().splitlines()]
    assert logged and all(entry["target"] == "http://deployment.test" for entry in logged)


def test_every_decision_the_diff_can_name_is_a_row_of_the_spec_notes() -> None:
    from contracts.diff.comparison import ROWS

    notes = spec_notes(str(ROOT / "docs" / "spec-notes.md"))
    for topic, row in ROWS.items():
        assert row in notes, topic
    assert notes[9] == "request id format" and notes[19] == "error body" and notes[8] == "per-user status values"
    assert (notes[24], notes[25], notes[26]) == ("rate limits", "unknown methods", "body validation")


@pytest.mark.parametrize(("aspect", "status", "statuses", "row"), [
    ("status", 429, (429, 200), "row 24, rate limits"),
    ("status", 412, (400, 412), "row 26, body validation"),
    ("body", 412, (412, 412), "row 19, error body"),  # a body difference is the error body's, whatever the error
    ("status", 405, (404, 405), "row 25, unknown methods"),
    ("body", 401, (401, 401), "row 19, error body"),
])
def test_a_difference_in_the_platform_s_answers_names_its_row(aspect: str, status: int, statuses: tuple[int, int],
                                                              row: str) -> None:
    """A deployment that answers the rate limit, body validation or an unknown method unlike the
    contract points at the spec-notes row that made that choice (from x-error-answers' statuses)."""
    from contracts.core.spec import load_spec
    from contracts.core.vocabulary import Vocabulary
    from contracts.diff.comparison import Aspect, decision_of, topic_of
    from contracts.planning.model import PlannedCall

    vocabulary = Vocabulary.of(load_spec(ROOT / "openapi.yaml"))
    create = vocabulary.create[0]
    call = PlannedCall(0, "conformance", "conformance", create.operation_id, create.method, create.path)
    assert decision_of(topic_of(call, vocabulary, Aspect(aspect), "$", status, statuses)) == (row, True)


def test_the_cli_compares_two_mock_processes_and_writes_every_report(tmp_path: Path) -> None:
    with MockServer(clock="real", progress_delay=0.2, state=":memory:") as real, \
            MockServer(clock="real", progress_delay=0.2, state=":memory:") as reference:
        real.inject("status", status=418, operationId="getEraseRequestStatus", count=1)
        result = CliRunner().invoke(main, [
            "diff", "--base-url", real.base_url, "--reference-url", reference.base_url, *credential_args(),
            *(arg for suite in POLLS for arg in ("--suite", suite)),  # the CLI and its reports, not every suite
            "--report", str(tmp_path / "drift.html"), "--junit-xml", str(tmp_path / "drift.xml"),
            "--audit-log", str(tmp_path / "a.jsonl")])
    assert result.exit_code in (0, 1), result.output
    assert (tmp_path / "drift.html").read_text().startswith("<!doctype html>")
    assert "<testsuite name=\"drift\"" in (tmp_path / "drift.xml").read_text()
    assert "Result: " in result.output and not any(s in result.output for s in SECRETS)


def test_every_report_format_names_each_difference_its_decision_and_fix() -> None:
    from xml.etree import ElementTree

    with MockApp(clock="real", progress_delay=0.2) as real, MockApp(clock="real", progress_delay=0.2) as reference:
        real.inject(kind="statusValue", operationId="getEraseRequestStatus")
        real.inject(kind="contentType", operationId="createEraseRequest")  # one fault per request: another operation
        with compared(real.asgi, reference.asgi, ignore=("header/*",), suites=POLLS) as report:
            pass
    assert report.verdict == "DRIFT" and report.drift.open and report.drift.accepted
    status_values = [d for d in report.drift.open if d.decision.startswith("row 8, per-user status values")]
    assert status_values

    data = json.loads(json_report.render(report))
    assert data["verdict"] == "DRIFT" and data["compared"] == report.compared
    listed = {(d["rule"], d["where"], d["accepted"]) for d in data["differences"]}
    assert {(d.rule, d.where, False) for d in report.drift.open} <= listed
    assert {(d.rule, d.where, True) for d in report.drift.accepted} <= listed

    markdown = markdown_report.render(report)
    assert markdown.startswith("# Drift: `http://deployment.test` against") and "**DRIFT (" in markdown
    assert f"| {status_values[0].decision} |" in markdown and " (accepted) |" in markdown

    suites = ElementTree.fromstring(junit.render(report))
    cases = suites.findall("./testsuite/testcase")
    causes = report.drift.root_causes()
    assert len([c for c in cases if c.find("failure") is not None]) == sum(1 for c in causes if not c.accepted)
    assert len([c for c in cases if c.find("skipped") is not None]) == sum(1 for c in causes if c.accepted)

    page = html.render(report)
    assert page.startswith("<!doctype html>") and status_values[0].decision in page
    for text in (terminal.render(report), markdown, page, json.dumps(data)):
        assert not any(secret in text for secret in SECRETS)


def test_an_unreachable_reference_is_a_one_line_error_exit_3() -> None:
    result = CliRunner().invoke(main, ["diff", "--base-url", "http://127.0.0.1:1", "--reference-url",
                                       "http://127.0.0.1:1", *credential_args()])
    assert result.exit_code == 3 and result.output.count("\n") == 1
    assert "does not answer HTTP" in result.output and "--reference-client-id" not in result.output


STATUS_OP = "getEraseRequestStatus"
DRIFT_FAULTS = {
    "an undocumented status value": ({"kind": "statusValue", "operationId": STATUS_OP},
                                     "row 8, per-user status values", POLLS),
    "a missing field": ({"kind": "missingField", "field": "lastUpdatedOn", "operationId": STATUS_OP},
                        "documented by the vendor (fields)", READS),
    "a renamed field": ({"kind": "renamedField", "field": "response", "renameTo": "results",
                         "operationId": STATUS_OP}, "documented by the vendor (fields)", READS),
    "an extra field": ({"kind": "extraField", "field": "region", "value": "eu"}, "documented by the vendor (fields)",
                       READS),
    "another request-id format": ({"kind": "requestIdFormat"}, "row 9, request id format", READS),
    "another error body shape": ({"kind": "errorShape"}, "row 19, error body", ERRORS),
    "a gateway page": ({"kind": "gateway", "operationId": STATUS_OP + "ViaPost"}, "row 1", READS),  # rows 18, 19
    # The content type of answers: the vendor's JSON (2xx), the contract's error body (4xx).
    "a wrong content type": ({"kind": "contentType", "operationId": STATUS_OP}, ("documented by the vendor",
                                                                                "row 19, error body"), READS),
    "a slow first byte": ({"kind": "slowFirstByte", "delayMs": 600, "operationId": STATUS_OP},
                          "documented by the vendor (response times", POLLS),
}


@pytest.mark.parametrize("name", sorted(DRIFT_FAULTS))
def test_each_drift_fault_of_the_mock_is_reported_as_that_difference(name: str) -> None:
    fault, decision, suites = DRIFT_FAULTS[name]
    # A 600 ms first byte is latency drift only with a threshold below it; the other faults keep the
    # default, so that a call slowed by a busy machine is not reported beside them.
    slower_by = 0.3 if fault["kind"] == "slowFirstByte" else 1.0
    with MockApp(clock="real", progress_delay=0.2) as real, MockApp(clock="real", progress_delay=0.2) as reference:
        real.inject(**fault)
        with compared(real.asgi, reference.asgi, slower_by=slower_by, suites=suites) as report:
            output = terminal.render(report)
    assert report.exit_code == 1, output
    assert report.drift.open and all(d.decision.startswith(decision) for d in report.drift.open), output


def test_the_real_side_of_a_diff_is_planned_approved_and_applied_like_a_run(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    args = ["diff", "--base-url", "https://staging.example.com", "--reference-url", "http://127.0.0.1:1",
            *credential_args(), "--erase-user-id", "qa@example.com", "--max-examples", "5",
            "--reference-client-id", "cs-00000000-0000-4000-8000-000000000000", "--reference-client-secret", "x" * 16]
    result = CliRunner().invoke(main, [*args, "--dry-run", "--plan-out", str(plan)])
    assert result.exit_code == 0 and result.output.startswith("Dry run: nothing is sent to https://staging.example.com")
    data = json.loads(plan.read_text())
    assert data["eraseBudget"] == 5 and data["totals"]["maxErasing"] <= 5
    approved = data["digest"]
    packed = data["calls"]  # call 3's method becomes another one
    row, method = packed["rows"][3], packed["columns"].index("method")
    row[method] = next(i for i, v in enumerate(packed["values"]) if v in ("GET", "POST") and i != row[method])
    plan.write_text(json.dumps(data))
    result = CliRunner().invoke(main, ["diff", "--plan", str(plan), "--expect-digest", approved, *args[3:]])
    assert result.exit_code == 2 and "edited after it was written" in result.output


def test_two_drifts_on_one_operation_are_both_reported() -> None:
    """Faults compose: a status value drift and a missing field on the same status reads are two
    differences (with only the first fault applied, the second went unseen)."""
    with MockApp(clock="real", progress_delay=0.2) as real, MockApp(clock="real", progress_delay=0.2) as reference:
        real.inject(kind="statusValue", operationId=STATUS_OP)
        real.inject(kind="missingField", field="lastUpdatedOn", operationId=STATUS_OP)
        with compared(real.asgi, reference.asgi, suites=POLLS) as report:
            output = terminal.render(report)
    decisions = {d.decision for d in report.drift.open}
    assert any(d.startswith("row 8, per-user status values") for d in decisions), output
    assert any(d.startswith("documented by the vendor (fields)") for d in decisions), output
