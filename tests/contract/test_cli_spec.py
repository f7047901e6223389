"""`contracts spec check|bundle` as a user sees them: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from contracts.cli import main
from contracts.core.spec import Spec, iter_refs
from tests.conftest import ROOT


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



@pytest.mark.parametrize(("write", "message"), [
    (lambda p: p.mkdir(), "cannot read"),
    (lambda p: p.write_bytes(b"openapi: \xff\xfe"), "cannot read"),
    (lambda p: p.write_text("openapi: [3.0"), "not valid YAML or JSON"),
    (lambda p: p.write_text("- just\n- a list\n"), "not an OpenAPI document (top level is not a mapping)"),
    (lambda p: p.write_text("openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n"), "is not 3.0.x"),
])
def test_a_contract_that_cannot_be_used_gets_one_line(tmp_path: Path, write: Any, message: str) -> None:
    from contracts.core.errors import SpecError
    from contracts.core.spec import load_spec

    path = tmp_path / "openapi.yaml"
    write(path)
    with pytest.raises(SpecError) as refused:
        load_spec(path)
    assert str(refused.value).startswith(f"{path}") and message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_contract_json_cannot_hold_is_still_validated(tmp_path: Path) -> None:
    """A YAML date (no JSON form, so no cache key) is checked every time, and passes."""
    from contracts.core.spec import load_spec

    path = tmp_path / "openapi.yaml"
    text = (ROOT / "openapi.yaml").read_text().replace("openapi: 3.0.3", "openapi: 3.0.3\nx-reviewed: 2026-11-29", 1)
    path.write_text(text)
    for _ in range(2):
        assert str(load_spec(path).document["x-reviewed"]) == "2026-11-29"


@pytest.mark.parametrize(("text", "where"), [
    ("openapi: 3.0.3\ninfo:\n  title: x\n  bad: key: v\n",
     ":4:11: not valid YAML or JSON: mapping values are not allowed"),
    ('{"openapi": "3.0.3",\n "info": {"title": "x",, }}', ":2:24: not valid YAML or JSON: expected the node content"),
])
def test_a_syntax_error_names_file_line_and_column(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "openapi.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["spec", "check", "--spec", str(path)])
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {path}{where}") and result.output.count("\n") == 1


def test_a_schema_error_names_the_json_path_and_the_rule_in_one_short_line(spec: Spec, tmp_path: Path) -> None:
    """A wrong `type` deep in the real contract: the failing keyword's path and rule, never the
    whole schema it sits in."""
    broken = json.loads(json.dumps(spec.document))
    broken["components"]["schemas"]["EraseRequestStatus"]["type"] = "objekt"
    path = tmp_path / "openapi.yaml"
    path.write_text(yaml.safe_dump(broken))
    result = CliRunner().invoke(main, ["spec", "check", "--spec", str(path)])
    assert result.exit_code == 2
    assert result.output == (f"Error: {path}: invalid OpenAPI at components/schemas/EraseRequestStatus/type: "
                             "'objekt' is not one of ['array', 'boolean', 'integer', 'number', 'object', 'string']"
                             " (rule: enum)\n")
