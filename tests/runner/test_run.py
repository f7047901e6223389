"""`contracts run` against the mock and against deliberately broken variants of
it: it passes the mock and names the right check for each defect."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from junitparser import JUnitXml

from contracts import reporting
from contracts.reporting import terminal
from mockserver import MockServer
from mockserver.testing.mock_app import MockApp
from tests import broken_mock
from tests.support import SECRETS, credential_args, run_against, run_config


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    state = tmp_path_factory.mktemp("contracts") / "state.db"
    with MockServer(state=state, clock="real", progress_delay=0.3) as server:
        yield server


@pytest.mark.xdist_group("live-run")  # the module's `live` server, built once
def test_full_default_run_against_a_real_mock_process_passes(live: MockServer, tmp_path: Path) -> None:
    junit, report, audit = tmp_path / "junit.xml", tmp_path / "report.html", tmp_path / "audit.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "contracts.cli", "run", "--base-url", live.base_url, *credential_args(),
         "--refused-user-id", "owner@acme.example",
         "--junit-xml", str(junit), "--report", str(report), "--audit-log", str(audit)],
        capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Result: PASSED (0 violations; every selected check ran)" in output
    for suite in ("conformance", "stateful", "auth", "request-ids", "lifecycle"):
        assert f"PASS  {suite}  (" in output
    assert "UserEraseStatus" not in output  # every documented status value was observed
    parsed = JUnitXml.fromfile(str(junit))
    assert parsed.tests >= 40 and parsed.failures == 0 and parsed.skipped == 0
    created = audit.read_text().splitlines()
    assert created and all('"requestId": "eud-' in line for line in created)
    for text in (output, junit.read_text(), report.read_text(), audit.read_text()):
        assert not any(secret in text for secret in SECRETS) and "eyJ" not in text


def test_parallel_run_with_workers_passes() -> None:
    with MockApp(clock="manual") as mock:
        report, _ = run_against(mock.asgi, workers=3, sleep=mock.advance)
    assert report.verdict == "PASSED", terminal.render(report)


#: Each defect, the check that must name it, and the suites that send the calls it shows in (the
#: other suites' few hundred calls would show it again, or not at all).
EXPECTED_CHECK = {
    "auth-disabled": ("auth_rejected", ("auth",)),
    "alg-none-accepted": ("auth_rejected", ("auth",)),
    "expired-accepted": ("auth_rejected", ("auth",)),
    "other-tenant-readable": ("tenant_isolation", ("auth",)),
    "request-id-format": ("request_id_format", ("request-ids",)),
    "500-on-malformed-reqid": ("not_a_server_error", ("request-ids",)),
    "missing-required-field": ("response_schema_conformance", ("stateful", "lifecycle")),
    "undocumented-status-value": ("response_schema_conformance", ("stateful", "lifecycle")),
    "wrong-content-type": ("content_type_conformance", ("stateful",)),
}


@pytest.mark.parametrize("defect", broken_mock.DEFECTS)
def test_each_defect_fails_the_run_and_names_its_check(defect: str, tmp_path: Path) -> None:
    check, suites = EXPECTED_CHECK[defect]
    app = broken_mock.build(defect, str(tmp_path / "state.db"))
    junit = tmp_path / "junit.xml"
    report, _ = run_against(app, run_config(junit_xml=junit, suites=suites))
    reporting.write(report)
    output = terminal.render(report)
    assert report.exit_code == 1, output
    assert f"[{check}]" in output, output
    assert "reproduce: curl " in output and "$CONTRACTS_TOKEN" in output
    assert "Result: FAILED" in output
    failing = {case.name.split(" [")[0] for suite in JUnitXml.fromfile(str(junit)) for case in suite if case.result
               and case.result[0]._tag == "failure"}
    assert check in failing
    assert not any(secret in output + junit.read_text() for secret in SECRETS) and "eyJ" not in output


def test_a_request_that_never_completes_makes_the_run_incomplete() -> None:
    with MockApp(clock="manual", progress_delay=3600) as mock:
        report, _ = run_against(mock.asgi, suites=("request-ids", "lifecycle"), wait_for_completion=30,
                                sleep=mock.advance)
    output = terminal.render(report)
    assert report.verdict == "INCOMPLETE" and report.exit_code == 4, output
    assert "… incomplete completion [getEraseRequestStatus]: not final by the deadline" in output
    assert "still in the initial status after" in output and "--wait-for-completion 30" in output


def test_allow_incomplete_accepts_an_incomplete_run() -> None:
    with MockApp(clock="manual", progress_delay=3600) as mock:
        report, _ = run_against(mock.asgi, suites=("request-ids", "lifecycle"), wait_for_completion=5,
                                allow_incomplete=True, sleep=mock.advance)
    assert report.verdict == "INCOMPLETE" and report.exit_code == 0
    assert "accepted by --allow-incomplete" in terminal.render(report)


def test_retry_after_is_honoured_not_hammered() -> None:
    waits: list[float] = []
    with MockApp(clock="manual") as mock:
        mock.inject("status", status=429, retryAfter=2, count=2, operationId="getEraseRequestStatus")

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            mock.advance(seconds)

        report, wire = run_against(mock.asgi, suites=("request-ids",), sleep=sleep)
        journal = mock.journal(limit=10_000)
    assert report.verdict == "PASSED", terminal.render(report)
    limited = [i for i, entry in enumerate(journal) if entry["status"] == 429]
    assert len(limited) == 2 and waits.count(2.0) == 2
    for index in limited:  # each 429 was waited for, then the same request sent again, until it passed
        retry = journal[index + 1]
        assert (retry["method"], retry["path"]) == (journal[index]["method"], journal[index]["path"])
    assert journal[limited[-1] + 1]["status"] != 429
    assert "waited 4.0 s for Retry-After" in terminal.render(report)


@pytest.mark.xdist_group("live-run")  # the module's `live` server, built once
def test_a_terminal_sees_progress_while_the_run_sends(live: MockServer, tmp_path: Path) -> None:
    import os
    import pty

    master, slave = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "contracts.cli", "run", "--base-url", live.base_url, *credential_args(),
         "--suite", "request-ids", "--max-examples", "5", "--audit-log", str(tmp_path / "a.jsonl")],
        stdout=subprocess.PIPE, stderr=slave, text=True,
    )
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    stdout, _ = process.communicate(timeout=120)
    os.close(master)
    assert process.returncode == 0, stdout
    assert b"request-ids" in seen and b"\x1b[" in seen  # a live display, drawn on the terminal
    assert "\x1b[" not in stdout  # the report itself stays plain
