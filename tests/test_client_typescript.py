"""TypeScript clients, as docs/clients.md tells: types from openapi-typescript, the fetch wrapper
tests/tools/ts/usage.ts type-checked with `tsc --noEmit --strict`, wrong uses refused by tsc, and
the compiled wrapper run against the live mock."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from contracts.cli import main
from mockserver import MockServer
from tests.conftest import ROOT

#: One worker runs this module: its module-scoped fixture is built once, not once per worker.
pytestmark = pytest.mark.xdist_group("typescript")

TOOLS = ROOT / "tests" / "tools"
BIN = TOOLS / "node_modules" / ".bin"
USAGE = TOOLS / "ts" / "usage.ts"


def doc_commands() -> dict[str, str]:
    """The doc's `npx openapi-typescript ...` and `npx tsc ...` lines, run with tests/tools' binaries."""
    doc = (ROOT / "docs" / "clients.md").read_text()
    block = next(b for b in re.findall(r"^```sh\n(.*?)^```", doc, re.S | re.M) if "npx openapi-typescript" in b)
    commands = {}
    for line in block.splitlines():
        if line.startswith("npx "):
            tool = line.split()[1]
            commands[tool] = f"{BIN}/{line.removeprefix('npx ')}"
    assert set(commands) == {"openapi-typescript", "tsc"}, block
    return commands


def run(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", command], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module", autouse=True)
def _node_tools() -> None:
    for tool in ("openapi-typescript", "tsc"):
        assert (BIN / tool).exists(), "run `npm ci --prefix tests/tools --no-audit --no-fund` first"


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ts-bundle")
    result = CliRunner().invoke(main, ["spec", "bundle", "--out", str(out / "dist")])
    assert result.exit_code == 0, result.output
    return out / "dist"


def project(where: Path, bundled: Path, *, generate: str | None = None) -> Path:
    """`where/` with dist/ (the bundled contract), usage.ts, and schema.d.ts made by `generate`."""
    where.mkdir(parents=True, exist_ok=True)
    shutil.copytree(bundled, where / "dist", dirs_exist_ok=True)
    shutil.copy(USAGE, where / "usage.ts")
    result = run(generate or doc_commands()["openapi-typescript"], where)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (where / "schema.d.ts").is_file()
    return where


@pytest.fixture(scope="module")
def ts_project(tmp_path_factory: pytest.TempPathFactory, bundled: Path) -> Path:
    return project(tmp_path_factory.mktemp("ts") / "app", bundled)


def tsc(where: Path, *files: str) -> subprocess.CompletedProcess[str]:
    """The doc's tsc command, on `files` instead of usage.ts."""
    command = doc_commands()["tsc"]
    assert command.endswith(" usage.ts")
    return run(command.removesuffix("usage.ts") + " ".join(files), where)


def test_doc_commands_generate_types_and_type_check_usage(ts_project: Path, wrong_uses_checked: str) -> None:
    assert "--noEmit" in doc_commands()["tsc"] and "--strict" in doc_commands()["tsc"]
    # The doc's tsc command ran on usage.ts (and the files below, in the same start): no error in usage.ts.
    assert "usage.ts(" not in wrong_uses_checked and "error TS" in wrong_uses_checked, wrong_uses_checked
    check = run(doc_commands()["openapi-typescript"] + " --check", ts_project)
    assert check.returncode == 0, check.stdout + check.stderr


WRONG_USES = {
    # the status body has `_id`, not the create answer's `requestId`
    "status-has-no-requestId": ("export const id = (s: EraseRequestStatus): string => s.requestId;", "TS2339"),
    # the field is spelled `RemoveDataFromAllBots`, capital R
    "misspelled-body-field": (
        "export const go = (c: KoreConfig) => createEraseRequest(c, { userIds: ['u'], removeDataFromAllBots: true });",
        "TS2561",
    ),
    # `userIds` is required
    "body-without-userIds": ("export const go = (c: KoreConfig) => createEraseRequest(c, { botIds: [] });", "TS2345"),
    # no such status value in the contract
    "unlisted-status-value": (
        "export const done = (s: EraseRequestStatus) => s.response[0].status === 'DONE';", "TS2367",
    ),
    # an exhaustive switch breaks when a case is missing (here: FAILURE)
    "non-exhaustive-switch": (
        "export const f = (s: EraseRequestStatus['response'][number]['status']): string => { switch (s) {"
        " case 'IN_PROGRESS': return 'a'; case 'SUCCESS': return 'b';"
        " default: { const x: never = s; return x; } } };",
        "TS2322",
    ),
}


#: A create with `userIds` alone: `RemoveDataFromAllBots` has a default, so it may be left out.
MINIMAL_BODY = ("import { createEraseRequest, type KoreConfig } from './usage';\n"
                "export const go = (c: KoreConfig) => createEraseRequest(c, { userIds: ['u'] });\n")


@pytest.fixture(scope="module")
def wrong_uses_checked(ts_project: Path) -> str:
    """tsc's output for usage.ts, every wrong use and the minimal body, at once (one tsc
    start instead of one per file): its errors name the file they are in."""
    imports = ("import { createEraseRequest, type EraseRequestStatus, type KoreConfig } from './usage';\n"
               "void createEraseRequest;\n")
    for name, (code, _) in WRONG_USES.items():
        (ts_project / f"wrong-{name}.ts").write_text(imports + code + "\n")
    (ts_project / "minimal-body.ts").write_text(MINIMAL_BODY)
    result = tsc(ts_project, "usage.ts", "minimal-body.ts", *(f"wrong-{name}.ts" for name in sorted(WRONG_USES)))
    assert result.returncode != 0, result.stdout
    return result.stdout


@pytest.mark.parametrize("name", sorted(WRONG_USES))
def test_tsc_refuses_a_wrong_use(wrong_uses_checked: str, name: str) -> None:
    code, error = WRONG_USES[name]
    errors = [line for line in wrong_uses_checked.splitlines() if line.startswith(f"wrong-{name}.ts(")]
    assert errors, f"tsc accepted {code}:\n{wrong_uses_checked}"
    assert any(f"error {error}:" in line for line in errors), wrong_uses_checked
    # ... and the same file without the mistake would be fine: the failure is the mistake's.
    assert "usage.ts(" not in wrong_uses_checked, wrong_uses_checked


def test_default_non_nullable_false_keeps_RemoveDataFromAllBots_optional(
    wrong_uses_checked: str, bundled: Path, tmp_path: Path
) -> None:
    assert "minimal-body.ts(" not in wrong_uses_checked, wrong_uses_checked
    # Without the flag, openapi-typescript makes every property with a `default` required.
    plain = doc_commands()["openapi-typescript"].replace(" --default-non-nullable false", "")
    other = project(tmp_path / "plain", bundled, generate=plain)
    (other / "minimal-body.ts").write_text(MINIMAL_BODY)
    result = tsc(other, "minimal-body.ts")
    assert result.returncode != 0 and "error TS2345:" in result.stdout and "RemoveDataFromAllBots" in result.stdout


def test_compiled_usage_works_against_the_mock(ts_project: Path, tmp_path: Path) -> None:
    """A JTI-enforcing app (fresh token per call), an injected 429 with Retry-After, a 404 and a 401."""
    out = tmp_path / "out"
    compiled = run(doc_commands()["tsc"].replace("--noEmit", f"--outDir {out}"), ts_project)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    (out / "package.json").write_text('{"type": "module"}\n')
    with MockServer(clock="manual") as server:
        app = server.app("Acme strict (enforces JTI)")
        server.inject("status", status=429, retryAfter=2, count=1, operationId="createEraseRequest")
        env = {**os.environ, "KORE_BASE_URL": server.base_url, "KORE_CLIENT_ID": app.client_id,
               "KORE_CLIENT_SECRET": app.client_secret}
        result = subprocess.run(["node", str(TOOLS / "ts" / "run-usage.mjs"), str(out / "usage.js")],
                                env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        report = json.loads(result.stdout)
        calls = [(row["method"], row["status"]) for row in server.journal() if row["path"].startswith("/api/")]
    assert report["lines"] == [
        "jane.doe@example.com: erased", "owner@acme.example: refused (The user is an account owner.)"]
    assert re.fullmatch(r"eud-[0-9a-f-]{36}", report["id"])
    assert report["waits"][0] == 2 and all(seconds == 1 for seconds in report["waits"][1:])
    assert report["notFound"] == {"status": 404, "message": "HTTP 404: Erase request not found"}
    assert report["unauthorized"] == {"status": 401, "message": "HTTP 401: Invalid token: bad signature"}
    assert calls[:2] == [("DELETE", 429), ("DELETE", 200)]
    assert calls[-2:] == [("GET", 404), ("GET", 401)]
    assert all(call == ("GET", 200) for call in calls[2:-2]) and len(calls) >= 5  # every poll got a fresh jti
