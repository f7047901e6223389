"""What a run writes, and through what it refuses to write: real `contracts run`
processes against a real mock. A symlink at `--report`, `--junit-xml` or `--plan-out`
is refused (exit 2, nothing sent, the link's target untouched) unless `--force`; a
symlink at `--audit-log` always; a new audit log is readable by its owner only."""

from __future__ import annotations

import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockserver import MockServer
from tests.support import credential_args


@pytest.fixture(scope="module")
def live() -> Iterator[MockServer]:
    with MockServer(clock="real", progress_delay=0.2) as server:
        yield server


def contracts(server: MockServer, *args: str) -> tuple[int, str]:
    result = subprocess.run([sys.executable, "-m", "contracts.cli", "run", "--base-url", server.base_url,
                             *credential_args(), "--suite", "request-ids", "--max-examples", "2", *args],
                            capture_output=True, text=True, timeout=300)
    return result.returncode, result.stdout + result.stderr


@pytest.mark.parametrize("option", ["--report", "--junit-xml", "--plan-out", "--audit-log"])
def test_a_symlink_at_an_output_path_is_refused_before_anything_is_sent(live: MockServer, tmp_path: Path,
                                                                        option: str) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / ("out.html" if option == "--report" else "out")
    link.symlink_to(victim)
    before = live.count()
    extra = ["--dry-run"] if option == "--plan-out" else []
    code, output = contracts(live, option, str(link), *extra)
    assert code == 2 and "is a symlink" in output and output.strip().count("\n") == 0, output
    assert victim.read_text() == "precious\n" and live.count() == before


def test_force_writes_a_report_through_a_symlink_but_never_the_audit_log(live: MockServer, tmp_path: Path) -> None:
    victim = tmp_path / "report.md"
    victim.write_text("old\n")
    link = tmp_path / "link.md"
    link.symlink_to(victim)
    code, output = contracts(live, "--report", str(link), "--force", "--audit-log", str(tmp_path / "a.jsonl"))
    assert code == 0, output
    assert victim.read_text().startswith("# Contract run against")
    audit_link = tmp_path / "audit-link.jsonl"
    audit_link.symlink_to(tmp_path / "a.jsonl")
    code, output = contracts(live, "--force", "--audit-log", str(audit_link))
    assert code == 2 and "is a symlink" in output


def test_a_new_audit_log_is_readable_by_its_owner_only(live: MockServer, tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    code, output = contracts(live, "--audit-log", str(audit))
    assert code == 0, output
    assert audit.read_text().count("requestId") >= 1
    assert stat.S_IMODE(audit.stat().st_mode) == 0o600
