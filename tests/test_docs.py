"""The README's promises: its two first commands, and CI running the second one."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", readme)[:2]


def test_readme_opens_with_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    install_and_run, install_and_test = _readme_commands()
    assert readme.index(install_and_run) < 200
    assert "pip install" in install_and_run and "pip install" in install_and_test
    assert install_and_test.endswith(".venv/bin/pytest")


def test_ci_runs_the_readme_test_command_exactly() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _readme_commands()[1] in ci


def test_every_spec_decision_is_noted() -> None:
    notes = (ROOT / "docs" / "spec-notes.md").read_text()
    for topic in ("3.0.3", "ISODate", "stray quote", "IN_PROGRESS", "errors", "eud-", "1 MiB"):
        assert topic in notes
