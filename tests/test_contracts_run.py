"""`contracts run` against the live mock and against deliberately broken
variants of it: it passes the mock and names the right check for each defect."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from junitparser import JUnitXml

from contracts.cli import main
from mockserver import MockServer
from tests.broken_mock import DEFECTS

ACME = ("cs-7fc99739-c463-4006-8e64-d6c844a8b67f", "acme-admin-secret-do-not-use-in-production")
GLOBEX = ("cs-9cf9cc09-3579-404d-b568-c88b209076a2", "globex-admin-secret-do-not-use-in-production")
UNSCOPED = ("cs-9ce8b318-b267-483c-883f-b1672510b9e3", "acme-unscoped-secret-do-not-use-in-production")
SECRETS = [ACME[1], GLOBEX[1], UNSCOPED[1]]


def credential_args() -> list[str]:
    return [
        "--client-id", ACME[0], "--client-secret", ACME[1],
        "--other-tenant-client-id", GLOBEX[0], "--other-tenant-client-secret", GLOBEX[1],
        "--unscoped-client-id", UNSCOPED[0], "--unscoped-client-secret", UNSCOPED[1],
    ]


def contracts(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["run", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    state = tmp_path_factory.mktemp("contracts") / "state.db"
    with MockServer(state=state, clock="real", progress_delay=0.3) as server:
        yield server


def test_full_default_run_against_the_mock_passes(live: MockServer, tmp_path: Path) -> None:
    junit, report, audit = tmp_path / "junit.xml", tmp_path / "report.html", tmp_path / "audit.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "contracts.cli", "run", "--base-url", live.base_url, *credential_args(),
         "--junit-xml", str(junit), "--report", str(report), "--audit-log", str(audit),
         "--wait-for-completion", "30"],
        capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Result: PASSED (0 violations, 0 suites skipped)" in output
    for suite in ("conformance", "stateful", "auth: broken tokens", "auth: app without the scope",
                  "auth: tenant isolation", "request-ids: malformed ids rejected", "lifecycle"):
        assert f"PASS  {suite}" in output
    parsed = JUnitXml.fromfile(str(junit))
    assert parsed.tests >= 9 and parsed.failures == 0
    created = audit.read_text().splitlines()
    assert created and all('"requestId": "eud-' in line for line in created)
    for text in (output, junit.read_text(), report.read_text(), audit.read_text()):
        assert not any(secret in text for secret in SECRETS) and "eyJ" not in text


def test_parallel_run_with_workers_passes(live: MockServer, tmp_path: Path) -> None:
    code, output = contracts("--base-url", live.base_url, *credential_args(), "--workers", "3",
                             "--max-examples", "10", "--audit-log", str(tmp_path / "audit.jsonl"))
    assert code == 0, output
    assert "Result: PASSED (0 violations, 0 suites skipped)" in output


EXPECTED_CHECK = {
    "auth-disabled": "auth_rejected",
    "alg-none-accepted": "auth_rejected",
    "expired-accepted": "auth_rejected",
    "other-tenant-readable": "tenant_isolation",
    "request-id-format": "request_id_format",
    "500-on-malformed-reqid": "not_a_server_error",
    "missing-required-field": "response_schema_conformance",
    "undocumented-status-value": "response_schema_conformance",
    "wrong-content-type": "content_type_conformance",
}


@pytest.fixture(params=DEFECTS)
def broken(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.broken_mock", request.param, str(tmp_path / "state.db")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line.startswith("listening on "), line
        yield request.param, line.split()[-1]
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_each_defect_fails_the_run_and_names_its_check(broken: tuple[str, str], tmp_path: Path) -> None:
    defect, base_url = broken
    junit = tmp_path / "junit.xml"
    code, output = contracts("--base-url", base_url, *credential_args(), "--max-examples", "10",
                             "--seed", "7", "--audit-log", str(tmp_path / "audit.jsonl"),
                             "--junit-xml", str(junit))
    assert code == 1, output
    assert f"[{EXPECTED_CHECK[defect]}]" in output, output
    assert "reproduce: curl " in output and "$CONTRACTS_TOKEN" in output
    assert "Result: FAILED" in output
    failing = {case.name for suite in JUnitXml.fromfile(str(junit)) for case in suite if case.result}
    assert EXPECTED_CHECK[defect] in failing
    assert not any(secret in output + junit.read_text() for secret in SECRETS) and "eyJ" not in output


def test_wait_for_completion_fails_when_erasure_never_completes(tmp_path: Path) -> None:
    with MockServer(state=tmp_path / "s.db", clock="real", progress_delay=3600) as server:
        code, output = contracts("--base-url", server.base_url, *credential_args(), "--suite", "request-ids",
                                 "--suite", "lifecycle", "--wait-for-completion", "1", "--max-examples", "5",
                                 "--audit-log", str(tmp_path / "audit.jsonl"))
    assert code == 1, output
    assert "[completion]" in output and "erase request not complete within 1 s" in output
    assert "FAIL  lifecycle" in output


def test_retry_after_is_honoured_not_hammered(tmp_path: Path) -> None:
    with MockServer(state=tmp_path / "s.db", clock="real", progress_delay=0.2) as server:
        server.inject("status", status=429, retryAfter=1, count=2, operationId="getEraseRequestStatus")
        code, output = contracts("--base-url", server.base_url, *credential_args(), "--suite", "request-ids",
                                 "--max-examples", "5", "--audit-log", str(tmp_path / "audit.jsonl"))
        journal = server.journal(limit=10_000)
    assert code == 0, output
    limited = [e for e in journal if e["status"] == 429]
    assert len(limited) == 2
    # The reachability probe takes any answer; every later 429 is waited for and retried.
    waited = float(re.search(r"waited ([0-9.]+) s for Retry-After", output).group(1))
    assert waited == sum(1.0 for entry in limited if entry is not journal[0])
    for entry in limited:
        if entry is not journal[0]:
            retry = journal[journal.index(entry) + 1]
            assert (retry["method"], retry["path"]) == (entry["method"], entry["path"])
            assert retry["status"] != 429
