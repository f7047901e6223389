"""One plan, shown and executed: what `--dry-run` prints is what the run
sends, bounded per suite and operation; `--plan-out`/`--plan` approve and
apply exactly those calls."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from contracts.bounded_memo import Memo
from contracts.cli import main
from contracts.core.spec import load_spec
from contracts.core.vocabulary import Vocabulary
from contracts.pipeline import run
from contracts.planning.model import read_plan_file
from contracts.reporting import json_report, terminal
from contracts.safety.policy import BodyPolicy
from mockserver.testing.mock_app import MockApp
from tests.support import IN_PROCESS_URL, credential_args, deployment, run_against, run_config

#: One worker runs the in-process contract runs: they share its memo of draws (`contracts.planning.planner`).
pytestmark = pytest.mark.xdist_group("in-process-runs")
VOCABULARY = Vocabulary.of(load_spec())
POLICY = BodyPolicy(VOCABULARY, False, ())


def dry(**overrides: object) -> dict:
    report = run(run_config(dry_run=True, **overrides))
    return json.loads(json_report.render(report))


def test_the_run_never_exceeds_what_the_dry_run_announced() -> None:
    plan = dry(max_examples=10)
    with MockApp(clock="manual") as mock:
        report, wire = run_against(mock.asgi, max_examples=10, sleep=mock.advance)
    assert report.verdict == "PASSED", terminal.render(report)
    sent: Counter[str] = Counter()
    erasing: Counter[str] = Counter()
    for request in wire.requests:
        raw_path = request.url.raw_path.decode().split("?")[0]
        operation = VOCABULARY.operation_for(request.method, raw_path)
        # An undocumented method on a documented path: counted against every operation of the path.
        key = operation.operation_id if operation else "|".join(
            op.operation_id for op in (VOCABULARY.operations_at(raw_path) or {}).values())
        sent[key] += 1
        if operation is not None and operation.role == "create" and POLICY.may_erase(request.content):
            erasing[key] += 1
    announced: Counter[str] = Counter()
    announced_erasing: Counter[str] = Counter()
    for row in plan["summary"]:
        announced[row["operation"]] += row["maxRequests"]
        announced_erasing[row["operation"]] += row["erasingCalls"]
    for key, count in sent.items():
        operations = key.split("|")
        assert operations and all(op in announced for op in operations), key
        assert count <= sum(announced[op] for op in operations), key
        assert erasing[key] <= sum(announced_erasing[op] for op in operations), key
    assert sum(sent.values()) <= plan["totals"]["maxRequests"]
    planned_once = sum(1 for call in plan["calls"] if not call.get("cut") and "repeat" not in call)
    assert planned_once <= sum(sent.values())  # every call planned once was sent


def test_the_plan_depends_on_the_target_and_the_allow_list() -> None:
    local = dry()
    remote = dry(target_kind="remote")
    allowed = dry(target_kind="remote", erase_user_ids=("qa@example.com",))
    assert local["totals"]["erasingCalls"] > allowed["totals"]["erasingCalls"] > 0
    assert remote["totals"]["erasingCalls"] == 0 and remote["willNotRun"]
    assert allowed["totals"]["maxErasing"] == allowed["eraseBudget"] == 5
    assert {w["check"] for w in remote["willNotRun"]} >= {"completion"}


def test_a_plan_file_is_the_same_for_the_same_seed(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for path in (first, second):
        run(run_config(dry_run=True, plan_out=path, target_kind="remote", erase_user_ids=("qa@example.com",)))
    assert first.read_bytes() == second.read_bytes()
    data = read_plan_file(first, digest_of(first))
    assert data["calls"] and all("auth" not in call["headers"] or call["headers"]["auth"].startswith("<fresh token")
                                 or call["check"] == "conformance" for call in data["calls"])
    assert any(call["mayErase"] for call in data["calls"])


def test_a_plan_is_the_same_whether_its_draws_are_remembered_or_drawn_afresh(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from contracts.planning import planner

    def plan_file(name: str, seed: int = 7) -> bytes:
        path = tmp_path / name
        run(run_config(dry_run=True, plan_out=path, max_examples=5, seed=seed))
        return path.read_bytes()

    monkeypatch.setattr(planner, "_DRAWN", Memo(8))  # fewer than a plan makes: the least recently used go
    monkeypatch.setattr(planner, "_COVERAGE_CASES", Memo(64))
    afresh = plan_file("afresh.json")
    assert len(planner._DRAWN) == 8
    planner._DRAWN.limit = 256
    assert plan_file("filling.json") == afresh
    remembered = len(planner._DRAWN)
    assert plan_file("remembered.json") == afresh and len(planner._DRAWN) == remembered > 8
    # Another seed draws anew: none of its calls' values comes from the first seed's draws.
    plan_file("other.json", seed=8)
    calls = [json.dumps(call, sort_keys=True) for call in approved_calls(tmp_path / "afresh.json")]
    other = [json.dumps(call, sort_keys=True) for call in approved_calls(tmp_path / "other.json")]
    assert len(planner._DRAWN) > remembered and calls != other


def test_applying_a_plan_sends_exactly_its_calls(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    run(run_config(dry_run=True, plan_out=path))
    planned = read_plan_file(path, digest_of(path))["calls"]
    with MockApp(clock="manual") as mock, deployment(mock.asgi) as wire:
        report = run(run_config(plan_in=path, expect_digest=digest_of(path)), transport=wire, sleep=mock.advance)
    assert report.verdict == "PASSED", terminal.render(report)

    def key(method: str, path: str, body: bytes | None) -> tuple[str, str, str]:
        return method, path, (body or b"").decode("utf-8", "replace")[:100]

    on_the_wire = Counter(key(r.method, r.url.raw_path.decode().split("?")[0], r.content) for r in wire.requests)
    once = [c for c in planned if "repeat" not in c and "{call" not in c["path"]]
    for call in once:
        body = call["body"]
        raw = (json.dumps(body["json"], ensure_ascii=False).encode() if body and "json" in body else
               body["text"].encode() if body and "text" in body else b"")
        assert on_the_wire[key(call["method"], call["path"], raw)] >= 1, call
    assert sum(on_the_wire.values()) <= json.loads(path.read_text())["totals"]["maxRequests"]


def cli(*args: str) -> tuple[int, str]:
    """`contracts run` with the in-process runs' seed and size (`run_config`): their draws are remembered."""
    seed = [] if "--seed" in args or "--plan" in args else ["--seed", "7"]
    result = CliRunner().invoke(main, ["run", "--max-examples", "5", *seed, *args])
    return result.exit_code, result.output


def approved_calls(path: Path) -> list[dict[str, Any]]:
    """The calls of the plan file at `path`, read as `--plan` reads it (approved by its own digest)."""
    return list(read_plan_file(path, digest_of(path))["calls"])


def digest_of(path: Path) -> str:
    """The digest `--plan-out` printed for the plan file at `path` (the approver's copy)."""
    return str(json.loads(path.read_text())["digest"])


def test_an_edited_plan_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    code, _ = cli("--base-url", "https://staging.example.com", *credential_args(), "--dry-run", "--plan-out",
                  str(path), "--erase-user-id", "qa@example.com")
    assert code == 0
    data = json.loads(path.read_text())
    approved = data["digest"]
    packed = data["calls"]  # call 5's path becomes another one
    packed["values"].append("/somewhere/else")
    packed["rows"][5][packed["columns"].index("path")] = len(packed["values"]) - 1
    path.write_text(json.dumps(data))
    code, output = cli("--plan", str(path), "--expect-digest", approved, *credential_args())
    assert code == 2 and "was edited after it was written" in output and output.count("\n") == 1


def test_a_plan_for_another_target_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    cli("--base-url", "https://staging.example.com", *credential_args(), "--dry-run", "--plan-out", str(path))
    code, output = cli("--plan", str(path), "--expect-digest", digest_of(path), "--base-url",
                       "https://other.example.com", *credential_args())
    assert code == 2 and "--base-url https://other.example.com is not the approved plan's" in output
    assert "https://staging.example.com" in output


def test_a_plan_that_this_run_would_not_send_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    cli("--base-url", IN_PROCESS_URL, *credential_args(), "--dry-run", "--plan-out", str(path), "--target-kind",
        "local")
    code, output = cli("--plan", str(path), "--expect-digest", digest_of(path), "--client-id",
                       "cs-00000000-0000-4000-8000-000000000000",
                       "--client-secret", "x" * 20)
    assert code == 2 and "would not send exactly the approved calls" in output


def test_dry_run_prints_the_plan_as_text_and_json() -> None:
    code, output = cli("--base-url", "https://staging.kore.example", *credential_args(), "--dry-run")
    assert code == 0
    assert output.startswith("Dry run: nothing is sent to https://staging.kore.example\n")
    assert "no create call that could erase is sent (no --erase-user-id allow-list)" in output
    assert "conformance  DELETE  createEraseRequest" in output
    assert "Will not run fully:" in output and "completion" in output
    code, output = cli("--base-url", "https://staging.kore.example", *credential_args(), "--dry-run", "--json",
                       "--erase-user-id", "qa@example.com")
    data = json.loads(output)
    assert code == 0 and data["eraseBudget"] == 5 and data["totals"]["maxErasing"] == 5
    assert {row["suite"] for row in data["summary"]} >= {"preflight", "conformance", "auth", "request-ids"}
