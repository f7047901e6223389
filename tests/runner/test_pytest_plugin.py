"""The contract checks inside a team's own pytest run, through the plugin."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from mockserver import MockServer
from tests.support import ACME, GLOBEX, SECRETS, UNSCOPED

TEST_FILE = '''
def test_deployment_honours_the_contract(contract_report):
    assert contract_report.ok, contract_report.text
'''


def _identities() -> list[str]:
    return ["--contract-client-id", ACME[0], "--contract-client-secret", ACME[1],
            "--contract-other-tenant-client-id", GLOBEX[0], "--contract-other-tenant-client-secret", GLOBEX[1],
            "--contract-unscoped-client-id", UNSCOPED[0], "--contract-unscoped-client-secret", UNSCOPED[1]]


def _pytest(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_contract.py").write_text(TEST_FILE)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_contract.py"), *args],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )


def test_plugin_runs_the_suite_against_the_mock(tmp_path: Path) -> None:
    with MockServer(state=tmp_path / "s.db", clock="real", progress_delay=0.3) as server:
        result = _pytest(tmp_path, "--contract-base-url", server.base_url, *_identities(),
                         "--contract-max-examples", "5")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_plugin_reports_violations_as_a_failing_test(tmp_path: Path) -> None:
    with MockServer(state=tmp_path / "s.db", clock="real", progress_delay=0.3) as server:
        server.inject("status", status=500, operationId="getEraseRequestStatus", fraction=1.0)
        result = _pytest(tmp_path, "--contract-base-url", server.base_url, *_identities(),
                         "--contract-max-examples", "5", "--contract-suite", "stateful",
                         "--contract-suite", "request-ids")
    assert result.returncode == 1
    assert "[not_a_server_error]" in result.stdout and "1 failed" in result.stdout
    assert not any(secret in result.stdout for secret in SECRETS)
    sent = {suite for suite, calls in re.findall(r"(?:PASS|FAIL|INCOMPLETE) {2}([a-z-]+) {2}\(\d+ checks, (\d+) calls",
                                                 result.stdout) if suite != "preflight" and int(calls)}
    assert sent == {"stateful", "request-ids"}, result.stdout  # --contract-suite chose them


def test_plugin_skips_without_a_target(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "-rs")
    assert result.returncode == 0 and "contract checks need --contract-base-url" in result.stdout
