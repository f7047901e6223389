"""Schemathesis's own CLI, every check and negative data on, finds no failure
in the live mock."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mockserver import MockServer

SCHEMATHESIS = [sys.executable, "-m", "schemathesis.cli"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("schemathesis") / "state.db"
    with MockServer(state=state, clock="real", progress_delay=0.2) as live:
        yield live


def _run(server: MockServer, tmp_path: Path, *extra: str) -> str:
    token = server.token(expires_in=24 * 3600)
    result = subprocess.run(
        [*SCHEMATHESIS, "run", f"{server.base_url}/openapi.json",
         "--checks", "all", "--mode", "all", "--seed", "20261128",
         "--header", f"auth: {token}",
         "--report", "junit", "--report-junit-path", str(tmp_path / "junit.xml"), *extra],
        capture_output=True, text=True, timeout=600,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert token not in (tmp_path / "junit.xml").read_text()
    return output


def test_every_phase_and_check_passes(server: MockServer, tmp_path: Path) -> None:
    output = _run(server, tmp_path, "--max-examples", "40")
    for phase in ("Examples", "Coverage", "Fuzzing", "Stateful"):
        assert re.search(rf"✅\s+{phase}", output), output
    assert "4 selected / 4 total" in output
    assert re.search(r"Test cases:\s+\n?\s*\d+ generated, \d+ passed", output), output


def test_stateful_phase_follows_the_create_to_status_link(server: MockServer, tmp_path: Path) -> None:
    # Without the deprecated POST-status alias, schemathesis picks the creates as
    # roots of its state machine and follows the spec's links from them.
    output = _run(server, tmp_path, "--phases", "stateful", "--exclude-deprecated",
                  "--max-examples", "30")
    assert re.search(r"API Links:\s+1 covered / 1 selected", output), output
