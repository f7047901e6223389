"""Issue 22's "Why", each through the CLI against a real mock process: what a
run tells people must not contradict itself (a pass mark on a failing check,
unselected suites passed, a cut check green, false violations on bodies the
safety rules changed, `--plan` ignoring what it must refuse, `--suite
lifecycle` alone, a diff's unreachable reference, `.hypothesis/` in the cwd)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml, Skipped

from mockserver import MockServer
from tests.support import credential_args


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    state = tmp_path_factory.mktemp("story") / "state.db"
    with MockServer(state=state, clock="real", progress_delay=0.2) as server:
        yield server


def contracts(*args: str, cwd: Path, cache: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, KORE_ERASE_CACHE_DIR=str(cache or cwd / "cache"))
    return subprocess.run([sys.executable, "-m", "contracts.cli", *args], capture_output=True, text=True,
                          timeout=600, cwd=cwd, env=env)


def run(server: MockServer, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return contracts("run", "--base-url", server.base_url, *credential_args(), "--seed", "7",
                     "--wait-for-completion", "5", *args, cwd=cwd)


class _Cells(HTMLParser):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.cells: dict[tuple[str, str, str], str] = {}
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "td" and a.get("data-state"):
            self.cells[(a["data-suite"] or "", a["data-check"] or "", a["data-operation"] or "")] = \
                a["data-state"] or ""


def junit_cells(path: Path) -> dict[tuple[str, str], str]:
    cells = {}
    for suite in JUnitXml.fromfile(str(path)):
        for case in suite:
            kinds = {type(r) for r in case.result}
            cells[(suite.name, case.name)] = "failed" if Failure in kinds else \
                "incomplete" if Skipped in kinds else "passed"
    return cells


@pytest.mark.xdist_group("story")
def test_a_failing_check_is_failed_everywhere_and_unselected_suites_are_absent(live: MockServer,
                                                                              tmp_path: Path) -> None:
    live.reset()
    live.inject("statusValue")
    try:
        result = run(live, "--suite", "stateful", "--suite", "lifecycle", "--max-examples", "5",
                     "--report", "f.html", "--junit-xml", "f.xml", cwd=tmp_path)
    finally:
        live.clear_faults()
    assert result.returncode == 1, result.stdout + result.stderr
    junit = junit_cells(tmp_path / "f.xml")
    html = _Cells((tmp_path / "f.html").read_text()).cells
    failed_junit = {name for (suite, name), state in junit.items() if state == "failed"
                    and name.startswith("response_schema_conformance")}
    assert failed_junit
    for (suite, check, op), state in html.items():
        if check == "response_schema_conformance" and f"{check} [{op}]" in failed_junit:
            assert state == junit[(suite, f"{check} [{op}]")]
    assert "failed" in {state for (_, check, _), state in html.items() if check == "response_schema_conformance"}
    assert not any(suite == "conformance" for suite, _ in junit)
    assert not any(suite == "conformance" for suite, _, _ in html)
    assert "conformance  (" not in result.stdout


@pytest.mark.xdist_group("story")
def test_a_check_the_erase_budget_cut_entirely_is_incomplete(live: MockServer, tmp_path: Path) -> None:
    result = run(live, "--suite", "stateful", "--max-examples", "20", "--max-erase-requests", "1",
                 "--report", "f.html", "--junit-xml", "f.xml", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 4, output
    name = "resource_available [createEraseRequestViaPost]"
    assert junit_cells(tmp_path / "f.xml")[("stateful", name)] == "incomplete"
    assert _Cells((tmp_path / "f.html").read_text()).cells[
        ("stateful", "resource_available", "createEraseRequestViaPost")] == "incomplete"
    assert "every selected check ran" not in output
    assert "cut by the erase budget" in output


@pytest.mark.xdist_group("story")
def test_bodies_stripped_of_users_are_no_violation_but_incomplete_naming_the_flag(live: MockServer,
                                                                                  tmp_path: Path) -> None:
    result = run(live, "--target-kind", "remote", "--rate", "6000/min", "--suite", "conformance",  # acme: raised
                 "--max-examples", "10", "--json", cwd=tmp_path)
    assert result.returncode == 4, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["verdict"] == "INCOMPLETE" and not data["violations"]
    cells = {(c["check"], c["operation"]): c for c in data["cells"]}
    cell = cells[("positive_data_acceptance", "createEraseRequest")]
    assert cell["state"] == "incomplete" and "--erase-user-id" in cell["reason"]


@pytest.mark.xdist_group("story")
def test_plan_refuses_options_that_change_it(live: MockServer, tmp_path: Path) -> None:
    written = run(live, "--suite", "stateful", "--max-examples", "5", "--max-erase-requests", "2", "--dry-run",
                  "--plan-out", "plan.json", cwd=tmp_path)
    assert written.returncode == 0, written.stdout + written.stderr
    approved = json.loads((tmp_path / "plan.json").read_text())["digest"]
    for extra, flag in ((["--max-erase-requests", "0"], "--max-erase-requests"),
                        (["--suite", "lifecycle"], "--suite"), (["--max-examples", "6"], "--max-examples"),
                        (["--seed", "8"], "--seed")):
        args = ["--plan", "plan.json", "--expect-digest", approved, *credential_args(), *extra]
        if extra[0] != "--seed":
            args += ["--seed", "7"]
        refused = contracts("run", *args, cwd=tmp_path)
        assert refused.returncode == 2, (extra, refused.stdout + refused.stderr)
        assert flag in refused.stderr and "approved plan" in refused.stderr
        assert refused.stderr.count("\n") == 1
    same = contracts("run", "--plan", "plan.json", "--expect-digest", approved, *credential_args(),
                     "--max-erase-requests", "2",
                     "--suite", "stateful", "--wait-for-completion", "5", cwd=tmp_path)
    assert same.returncode == 0, same.stdout + same.stderr


@pytest.mark.xdist_group("story")
def test_lifecycle_alone_plans_its_own_create(live: MockServer, tmp_path: Path) -> None:
    result = run(live, "--suite", "lifecycle", "--refused-user-id", "owner@acme.example", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert "--erase-user-id" not in output
    assert result.returncode in (0, 4), output
    assert "completion" in output and "INCOMPLETE  lifecycle" not in output, output


def test_an_unreachable_reference_exits_3(live: MockServer, tmp_path: Path) -> None:
    result = contracts("diff", "--base-url", live.base_url, *credential_args(), "--reference-url",
                       "http://127.0.0.1:9", "--max-examples", "2", cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "--reference-client-id" not in result.stderr


def test_run_leaves_no_hypothesis_folder_in_the_current_directory(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    work = tmp_path / "work"
    work.mkdir()
    result = contracts("run", "--base-url", "http://127.0.0.1:9", *credential_args(), "--dry-run",
                       "--suite", "conformance", "--max-examples", "2", cwd=work, cache=cache)
    assert result.returncode == 0, result.stderr
    assert not (work / ".hypothesis").exists()
    assert (cache / "hypothesis").is_dir()


def test_diff_names_one_root_cause_for_the_error_shape_drift_and_one_rule_accepts_it(tmp_path: Path) -> None:
    with MockServer(clock="real", progress_delay=0.2) as real, MockServer(clock="real", progress_delay=0.2) as ref:
        real.inject("errorShape")
        args = ["diff", "--base-url", real.base_url, *credential_args(), "--reference-url", ref.base_url,
                "--seed", "7", "--suite", "conformance", "--suite", "auth", "--wait-for-completion", "3"]
        drift = contracts(*args, cwd=tmp_path)
        output = drift.stdout + drift.stderr
        assert drift.returncode == 1, output
        assert drift.stdout.splitlines()[2] == "Root causes (1):", output
        rules = set(re.findall(r"--ignore '([^']+)'", drift.stdout))
        assert len(rules) == 1, output
        rule = rules.pop()
        sent = int(re.search(r"Requests sent: (\d+) to the real", drift.stdout).group(1))  # type: ignore[union-attr]
        differ = int(re.search(r"(\d+) calls differ", drift.stdout).group(1))  # type: ignore[union-attr]
        assert differ <= sent
        accepted = contracts(*args, "--ignore", rule, cwd=tmp_path)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert f"[accepted by --ignore '{rule}']" in accepted.stdout


@pytest.mark.xdist_group("story")
def test_the_plan_lists_the_erasing_calls_it_sends_and_stays_reviewable(live: MockServer, tmp_path: Path) -> None:
    remote = ["--target-kind", "remote", "--erase-user-id", "qa@example.com", "--audit-log", "audit.jsonl",
              "--rate", "6000/min"]  # acme's raised limit: no need for the default pace
    dry = run(live, *remote, "--dry-run", "--plan-out", "plan.json", cwd=tmp_path)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    plan = tmp_path / "plan.json"
    assert plan.stat().st_size < 200_000
    data = json.loads(plan.read_text())
    assert list(data)[:6] == ["format", "target", "remote", "seed", "eraseBudget", "erasing"]
    kept = data["erasing"]["kept"]
    assert 0 < len(kept) <= data["eraseBudget"] == 5
    assert all(k["method"] and k["path"] and k["body"] and k["identity"] and k["why"] for k in kept)
    assert sum(row["erasingCalls"] for row in data["summary"]) == data["totals"]["erasingCalls"] == len(kept)
    assert f"Erasing calls that will be sent, in order ({len(kept)}):" in dry.stdout
    assert "Erasing calls the budget cuts" in dry.stdout
    sent = run(live, "--plan", "plan.json", "--expect-digest", data["digest"], "--audit-log", "audit.jsonl",
               "--report", "r.html", cwd=tmp_path)
    assert sent.returncode in (0, 4), sent.stdout + sent.stderr
    assert f"erasing requests sent: {len(kept)} " in sent.stdout
    assert f"Erasing calls the plan sends ({len(kept)})" in (tmp_path / "r.html").read_text()


@pytest.mark.xdist_group("story")
@pytest.mark.parametrize("suite", ["conformance", "stateful", "auth", "request-ids"])
def test_every_suite_alone_passes_against_the_mock(live: MockServer, suite: str, tmp_path: Path) -> None:
    result = run(live, "--suite", suite, "--max-examples", "5", "--refused-user-id", "owner@acme.example",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"PASS  {suite}  (" in result.stdout
