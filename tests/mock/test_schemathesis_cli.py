"""Schemathesis's own CLI, every check and negative data on, finds no failure
in the live mock."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mockserver import MockServer
from tests.conftest import ROOT

#: One worker runs this module: its module-scoped fixture is built once, not once per worker.
pytestmark = pytest.mark.xdist_group("schemathesis-cli")

SCHEMATHESIS = [sys.executable, "-m", "schemathesis.cli"]
#: The runner's checks, loaded by `st run` as a hooks module.
WITH_OUR_CHECKS = {**os.environ, "SCHEMATHESIS_HOOKS": "contracts.st_checks"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("schemathesis") / "state.db"
    with MockServer(state=state, clock="real", progress_delay=0.2) as live:
        yield live


def _readme_st_config() -> str:
    """The README's `schemathesis.toml` for `st run` users (412 counts as rejecting invalid data)."""
    readme = (ROOT / "README.md").read_text()
    return re.search(r"```toml\n(\[checks\.negative_data_rejection\].*?)```", readme, re.S).group(1)


def _run(server: MockServer, tmp_path: Path, *extra: str, hooks: bool = False) -> str:
    (tmp_path / "schemathesis.toml").write_text(_readme_st_config())
    token = server.token(expires_in=24 * 3600)
    env = WITH_OUR_CHECKS if hooks else None
    result = subprocess.run(
        [*SCHEMATHESIS, "run", f"{server.base_url}/openapi.json",
         "--checks", "all", "--mode", "all", "--seed", "20261128",
         "--header", f"auth: {token}",
         "--report", "junit", "--report-junit-path", str(tmp_path / "junit.xml"), *extra],
        capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert token not in (tmp_path / "junit.xml").read_text()
    return output


def test_every_phase_and_check_passes_with_the_runners_checks_loaded(server: MockServer, tmp_path: Path) -> None:
    """Every phase, every check (schemathesis's, and the runner's as a hooks module: that they
    judge is shown below, where another request-id format fails them), positive and negative data."""
    output = _run(server, tmp_path, "--max-examples", "10", hooks=True)
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


def _with_st_config(directory: Path) -> Path:
    (directory / "schemathesis.toml").write_text(_readme_st_config())
    return directory


def _st_with_our_checks(base_url: str, token: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # every create it sends shows the format: its examples and fuzzing suffice
        [*SCHEMATHESIS, "run", f"{base_url}/openapi.json", "--checks", "all", "--seed", "20261128",
         "--header", f"auth: {token}", "--exclude-deprecated", "--phases", "examples,fuzzing",
         "--max-examples", "10"],
        capture_output=True, text=True, timeout=600, env=WITH_OUR_CHECKS, cwd=_with_st_config(tmp_path),
    )


def test_st_run_with_the_runners_checks_catches_a_wrong_request_id_format(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-m", "tests.broken_mock", "request-id-format",
                                str(tmp_path / "s.db")], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().split()[-1]
        from contracts.core import tokens
        from contracts.core.spec import load_spec
        from contracts.core.vocabulary import Vocabulary
        from tests.support import ACME

        token = tokens.mint(Vocabulary.of(load_spec()).token, *ACME, expires_in=24 * 3600)
        result = _st_with_our_checks(base_url, token, tmp_path)
    finally:
        process.terminate()
        process.wait(timeout=15)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "request_id_format" in output and "does not match the documented pattern" in output, output
