"""An approval binds the whole plan: target, budgets, settings and calls. Real processes:
two mock servers and `contracts run` as a subprocess. A plan retargeted or given a larger
erase budget, its digest recomputed as an attacker would, is refused before anything is sent."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from mockserver import MockServer
from tests.support import credential_args


def contracts(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "contracts.cli", "run", *credential_args(), *args],
                          capture_output=True, text=True, timeout=600)


def rewritten(path: Path, **changes: object) -> None:
    """Edit the plan file and recompute its self-digest (anyone who can edit the file can)."""
    data = json.loads(path.read_text())
    data.update(changes)
    content = {k: v for k, v in data.items() if k != "digest"}
    data["digest"] = hashlib.sha256(json.dumps(content, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    path.write_text(json.dumps(data))


def test_a_retargeted_or_enlarged_plan_is_refused_and_the_approved_one_runs(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    with MockServer() as approved_target, MockServer() as other:
        shown = contracts("--base-url", approved_target.base_url, "--suite", "request-ids", "--max-examples", "3",
                          "--dry-run", "--plan-out", str(plan))
        assert shown.returncode == 0, shown.stderr
        digest = json.loads(plan.read_text())["digest"]
        assert f"--expect-digest {digest}" in shown.stderr
        original = plan.read_text()
        refusals = []
        for change in ({"target": other.base_url}, {"eraseBudget": 1000}):
            plan.write_text(original)
            rewritten(plan, **change)
            refused = contracts("--plan", str(plan), "--expect-digest", digest, "--audit-log", str(tmp_path / "a"))
            refusals.append((refused.returncode, refused.stderr.count("\n"), "not the approved one" in refused.stderr))
        plan.write_text(original)
        missing = contracts("--plan", str(plan), "--audit-log", str(tmp_path / "a"))
        assert missing.returncode == 2 and "--expect-digest" in missing.stderr and "Traceback" not in missing.stderr
        assert refusals == [(2, 1, True), (2, 1, True)]
        assert other.count() == 0 and approved_target.count() == 0  # nothing went out
        ran = contracts("--plan", str(plan), "--expect-digest", digest, "--audit-log", str(tmp_path / "a"))
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert approved_target.count() > 0 and other.count() == 0
