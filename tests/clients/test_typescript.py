"""TypeScript clients, as docs/clients.md tells: types from openapi-typescript, the fetch wrapper
tests/tools/ts/usage.ts type-checked with `tsc --noEmit --strict`, wrong uses refused by tsc, and
the compiled wrapper run against the live mock."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from contracts.cli import main
from mockserver import MockServer
from mockserver.vendor.fixtures import default_fixtures_path
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
def workspace(tmp_path_factory: pytest.TempPathFactory, bundled: Path) -> Path:
    """app/, generated as the doc says, and plain/, generated without `--default-non-nullable false`."""
    root = tmp_path_factory.mktemp("ts")
    project(root / "app", bundled)
    project(root / "plain", bundled,
            generate=doc_commands()["openapi-typescript"].replace(" --default-non-nullable false", ""))
    return root


@pytest.fixture(scope="module")
def ts_project(workspace: Path) -> Path:
    return workspace / "app"


def tsc_errors(output: str, path: str) -> list[str]:
    """tsc's error lines about the file at `path` (relative to the workspace)."""
    return [line for line in output.splitlines() if line.startswith(f"{path}(")]


def test_doc_commands_generate_types_and_type_check_usage(ts_project: Path, checked: Checked) -> None:
    assert "--noEmit" in doc_commands()["tsc"] and "--strict" in doc_commands()["tsc"]
    # The doc's tsc command ran on usage.ts (and the files below, in the same start): no error in usage.ts.
    assert not tsc_errors(checked.output, "app/usage.ts") and "error TS" in checked.output, checked.output
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


@dataclass(frozen=True)
class Checked:
    output: str  # tsc's diagnostics, each naming its file relative to the workspace
    out: Path  # the JavaScript it emitted


@pytest.fixture(scope="module")
def checked(workspace: Path) -> Checked:
    """One tsc start for every test here (each start costs seconds): the doc's tsc command,
    emitting to out/ instead of `--noEmit` (the same type check), on app/usage.ts, each wrong
    use and the minimal body in app/, and the minimal body in plain/."""
    imports = ("import { createEraseRequest, type EraseRequestStatus, type KoreConfig } from './usage';\n"
               "void createEraseRequest;\n")
    files = ["app/usage.ts", "app/minimal-body.ts", "plain/minimal-body.ts"]
    for name, (code, _) in sorted(WRONG_USES.items()):
        (workspace / "app" / f"wrong-{name}.ts").write_text(imports + code + "\n")
        files.append(f"app/wrong-{name}.ts")
    for where in ("app", "plain"):
        (workspace / where / "minimal-body.ts").write_text(MINIMAL_BODY)
    command = doc_commands()["tsc"]
    assert command.endswith(" usage.ts") and " --noEmit " in command
    result = run(command.replace(" --noEmit ", " --outDir out ").removesuffix("usage.ts") + " ".join(files), workspace)
    assert result.returncode != 0, result.stdout
    return Checked(result.stdout, workspace / "out")


@pytest.mark.parametrize("name", sorted(WRONG_USES))
def test_tsc_refuses_a_wrong_use(checked: Checked, name: str) -> None:
    code, error = WRONG_USES[name]
    errors = tsc_errors(checked.output, f"app/wrong-{name}.ts")
    assert errors, f"tsc accepted {code}:\n{checked.output}"
    assert any(f"error {error}:" in line for line in errors), checked.output
    # ... and the same file without the mistake would be fine: the failure is the mistake's.
    assert not tsc_errors(checked.output, "app/usage.ts"), checked.output


def test_default_non_nullable_false_keeps_RemoveDataFromAllBots_optional(checked: Checked) -> None:
    assert not tsc_errors(checked.output, "app/minimal-body.ts"), checked.output
    # Without the flag, openapi-typescript makes every property with a `default` required.
    plain = tsc_errors(checked.output, "plain/minimal-body.ts")
    assert any("error TS2345:" in line and "RemoveDataFromAllBots" in line for line in plain), checked.output


def test_compiled_usage_works_against_the_mock(checked: Checked, tmp_path: Path) -> None:
    """A JTI-enforcing app (fresh token per call) of an account with the contract's rate limit that has
    used its minute: the mock's 429 with Retry-After, waited out; then a 404 and a 401."""
    assert not tsc_errors(checked.output, "app/usage.ts"), checked.output
    out = checked.out
    (out / "package.json").write_text('{"type": "module"}\n')
    fixtures = yaml.safe_load(default_fixtures_path().read_text())
    for account in fixtures["accounts"]:
        account.pop("rateLimit", None)  # every account with the contract's limit
    (tmp_path / "fixtures.yaml").write_text(yaml.safe_dump(fixtures))
    with MockServer(clock="manual", fixtures=tmp_path / "fixtures.yaml") as server:
        app = server.app("Acme strict (enforces JTI)")
        limit = server.rate_limit(app.account_id)["limit"]["perMinute"]
        for _ in range(limit):
            unknown = "/api/public/bot/eraseUsersData/status/eud-00000000-0000-4000-8000-000000000000"
            assert server.http.get(unknown, headers={"auth": server.token()}).status_code == 404
        env = {**os.environ, "KORE_BASE_URL": server.base_url, "KORE_CLIENT_ID": app.client_id,
               "KORE_CLIENT_SECRET": app.client_secret}
        result = subprocess.run(["node", str(TOOLS / "ts" / "run-usage.mjs"), str(out / "app" / "usage.js")],
                                env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        report = json.loads(result.stdout)
        calls = [(row["method"], row["status"]) for row in server.journal() if row["path"].startswith("/api/")][limit:]
    assert report["lines"] == [
        "jane.doe@example.com: erased", "owner@acme.example: refused (The user is an account owner.)"]
    assert re.fullmatch(r"eud-[0-9a-f-]{36}", report["id"])
    assert report["waits"][0] == 60 and all(seconds == 1 for seconds in report["waits"][1:])
    assert report["notFound"] == {"status": 404, "message": "HTTP 404: Erase request not found"}
    assert report["unauthorized"] == {"status": 401, "message": "HTTP 401: Invalid SDK credentials"}
    assert calls[:2] == [("DELETE", 429), ("DELETE", 200)]
    assert calls[-2:] == [("GET", 404), ("GET", 401)]
    assert all(call == ("GET", 200) for call in calls[2:-2]) and len(calls) >= 5  # every poll got a fresh jti


MAIN = TOOLS / "ts" / "main.ts"


def doc_block(language: str, marker: str) -> str:
    doc = (ROOT / "docs" / "clients.md").read_text()
    return next(b for b in re.findall(rf"^```{language}\n(.*?)^```", doc, re.S | re.M) if marker in b)


def test_the_doc_shows_main_ts_byte_for_byte() -> None:
    assert doc_block("ts", "// main.ts:") == MAIN.read_text()


def test_the_runnable_example_runs_as_the_doc_says(ts_project: Path, tmp_path: Path) -> None:
    """docs/clients.md's "Running it": its two commands, in a directory of their own, against a mock."""
    for name in ("usage.ts", "schema.d.ts"):
        shutil.copy(ts_project / name, tmp_path / name)
    shutil.copy(MAIN, tmp_path / "main.ts")
    commands = doc_block("sh", "node build/main.js").strip().splitlines()
    assert [line.split()[0] for line in commands] == ["npx", "node"]
    with MockServer(clock="real", state=":memory:", progress_delay=0.2) as server:
        app = server.app()
        env = {**os.environ, "KORE_BASE_URL": server.base_url, "KORE_CLIENT_ID": app.client_id,
               "KORE_CLIENT_SECRET": app.client_secret}
        results = [subprocess.run(["bash", "-c", line.replace("npx ", f"{BIN}/", 1)], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=300) for line in commands]
    for result in results:
        assert result.returncode == 0, result.stdout + result.stderr
    lines = results[-1].stdout.splitlines()
    assert re.fullmatch(r"erase request eud-[0-9a-f-]{36}", lines[0])
    assert lines[1:] == ["jane.doe@example.com: erased", "owner@acme.example: refused (The user is an account owner.)"]
