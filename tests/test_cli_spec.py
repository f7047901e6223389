"""`contracts spec check|bundle` as a user sees them: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from contracts.cli import main
from contracts.core.spec import Spec, iter_refs


def test_check_reports_ok(spec: Spec) -> None:
    result = CliRunner().invoke(main, ["spec", "check", "--spec", str(spec.path)])
    assert result.exit_code == 0
    assert result.output == f"{spec.path}: OK (OpenAPI 3.0.3, 4 operations)\n"


def test_check_missing_file_is_a_one_line_error_with_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["spec", "check", "--spec", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert result.output == f"Error: {tmp_path / 'nope.yaml'}: no such file\n"


def test_check_invalid_spec_names_the_location(spec: Spec, tmp_path: Path) -> None:
    broken = json.loads(json.dumps(spec.document))
    broken["paths"]["/api/public/bot/eraseUsersData"]["delete"]["responses"] = "none"
    target = tmp_path / "broken.yaml"
    target.write_text(yaml.safe_dump(broken))
    result = CliRunner().invoke(main, ["spec", "check", "--spec", str(target)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1
    assert "invalid OpenAPI at paths/" in result.output


def test_bundle_writes_equal_json_and_yaml(spec: Spec, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["spec", "bundle", "--out", str(tmp_path)])
    assert result.exit_code == 0
    as_json = json.loads((tmp_path / "openapi.json").read_text())
    as_yaml = yaml.safe_load((tmp_path / "openapi.yaml").read_text())
    assert as_json == as_yaml == spec.document
    assert all(ref.startswith("#/") for ref in iter_refs(as_json)), "bundle must be self-contained"

