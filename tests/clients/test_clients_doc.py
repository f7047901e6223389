"""docs/clients.md works as written: its generation commands, and every Python block run as a
program against a live mock server, with the generated client next to it."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mockserver import MockServer
from tests.conftest import ROOT

DOC = ROOT / "docs" / "clients.md"
JTI_APP = "Acme strict (enforces JTI)"
UNKNOWN_ID = "eud-00000000-0000-4000-8000-000000000000"
#: An app of an account with the contract's rate limit (the shipped fixtures' `globex`).
LIMITED_APP = "Globex privacy automation"
STATUS_PATH = "/api/public/bot/eraseUsersData/status/"
SNIPPETS = {"static_token.py", "fresh_tokens.py", "errors.py", "retry.py", "unknown_status.py"}

#: One worker runs this module: its module-scoped fixtures are built once, not once per worker.
pytestmark = pytest.mark.xdist_group("clients-doc")

# Runs one doc block as `python BLOCK.py` would, except that time.sleep(s) advances the mock's
# manual clock by s (and notes it on stderr) instead of sleeping.
RUNNER = """\
import json, os, runpy, sys, time, urllib.request


def advance(seconds):
    request = urllib.request.Request(
        os.environ["KORE_BASE_URL"] + "/__mockserver/clock/advance", method="POST",
        data=json.dumps({"seconds": seconds}).encode(), headers={"content-type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()
    print(f"[slept {seconds:g}]", file=sys.stderr, flush=True)

time.sleep = advance
path = sys.argv[1]
sys.argv = [path]
sys.path.insert(0, os.path.dirname(path))
runpy.run_path(path, run_name="__main__")
"""


def _doc() -> str:
    return DOC.read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", _doc(), re.S | re.M)


def python_snippets() -> dict[str, str]:
    snippets = {}
    for block in blocks("python"):
        name = re.match(r"# (\w+\.py): ", block)
        assert name, f"a python block of docs/clients.md does not start with '# NAME.py: ':\n{block[:200]}"
        snippets[name.group(1)] = block
    return snippets


def generation_script() -> str:
    return next(block for block in blocks("sh") if "openapi-python-client generate" in block)


def _generate(work: Path, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-ec", script], cwd=work, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def client_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the doc's `sh` block puts `kore_erase_client/` (run twice: regenerating must work)."""
    work = tmp_path_factory.mktemp("clients-doc")
    (work / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    for _ in range(2):
        result = _generate(work, generation_script())
        output = result.stdout + result.stderr
        assert result.returncode == 0, output
        assert "Warning" not in output and "Error" not in output and "Unable to parse" not in output, output
    assert (work / "kore_erase_client" / "api" / "erase_users_data" / "create_erase_request.py").is_file()
    return work


@pytest.fixture(scope="module")
def server_session() -> Iterator[MockServer]:
    with MockServer(clock="manual") as server:
        yield server


@pytest.fixture
def server(server_session: MockServer) -> MockServer:
    server_session.reset()
    return server_session


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    slept: list[float]


def run_snippet(name: str, client_dir: Path, base_url: str, app_id: str, secret: str) -> Run:
    (client_dir / name).write_text(python_snippets()[name])
    (client_dir / "_run_doc_block.py").write_text(RUNNER)
    env = {key: value for key, value in os.environ.items() if not key.startswith("KORE_")}
    env.update(KORE_BASE_URL=base_url, KORE_CLIENT_ID=app_id, KORE_CLIENT_SECRET=secret)
    result = subprocess.run([sys.executable, "_run_doc_block.py", str(client_dir / name)], cwd=client_dir,
                            env=env, capture_output=True, text=True, timeout=300)
    slept = [float(value) for value in re.findall(r"^\[slept ([0-9.]+)\]$", result.stderr, re.M)]
    return Run(result.returncode, result.stdout, result.stderr, slept)


def run_on_mock(name: str, client_dir: Path, server: MockServer, app: str | None = None) -> Run:
    chosen = server.app(app)
    return run_snippet(name, client_dir, server.base_url, chosen.client_id, chosen.client_secret)


def api_calls(server: MockServer) -> list[tuple[str, int, str | None]]:
    return [(row["method"], row["status"], row["appId"]) for row in server.journal()
            if row["path"].startswith("/api/")]


def test_every_python_block_is_named_and_exercised() -> None:
    assert set(python_snippets()) == SNIPPETS
    assert len(blocks("python")) == len(SNIPPETS)


def test_the_readme_generates_the_package_every_example_imports(client_dir: Path) -> None:
    """One generation command, the same in the README and here; the package it writes (in the
    directory it runs in, never the checkout) is the one every example imports."""
    readme = (ROOT / "README.md").read_text()
    readme_block = next(b for b in re.findall(r"^```sh\n(.*?)^```", readme, re.S | re.M)
                        if "openapi-python-client generate" in b)
    assert readme_block == generation_script()
    assert " --meta none " in readme_block and " --output-path kore_erase_client " in readme_block
    assert (client_dir / "kore_erase_client" / "__init__.py").is_file()
    for name, snippet in python_snippets().items():
        assert "from kore_erase_client import " in snippet, name
    assert "repository root" not in _doc() and not (ROOT / "kore_erase_client").exists()


def test_generation_without_overwrite_fails_as_the_doc_says(client_dir: Path) -> None:
    again = _generate(client_dir, generation_script().replace(" --overwrite", ""))
    assert again.returncode == 1
    assert "Directory already exists. Delete it or use the --overwrite option." in again.stdout + again.stderr


def test_the_generated_client_imports_reads_and_talks_to_the_mock(client_dir: Path, server: MockServer) -> None:
    """The client the doc's commands generate (see `client_dir`), used from Python directly."""
    sys.path.insert(0, str(client_dir))
    try:
        api = importlib.import_module("kore_erase_client.api.erase_users_data")
        create = importlib.import_module(api.__name__ + ".create_erase_request")
        status = importlib.import_module(api.__name__ + ".get_erase_request_status")
        models = importlib.import_module("kore_erase_client.models")
        client_mod = importlib.import_module("kore_erase_client")
    finally:
        sys.path.remove(str(client_dir))
    for module in (create, status):
        for name in ("sync", "sync_detailed", "asyncio", "asyncio_detailed"):
            assert callable(getattr(module, name))
    assert hasattr(client_mod, "Client")

    body = models.EraseRequest(user_ids=["u-1"], remove_data_from_all_bots=True)
    assert body.to_dict() == {"userIds": ["u-1"], "RemoveDataFromAllBots": True}
    parsed = models.EraseRequestStatus.from_dict(
        {
            "_id": "eud-6f1c2e0a-3b7d-4c5e-9a8b-1d2e3f4a5b6c",
            "createdOn": "2019-09-26T08:42:53.552Z",
            "lastUpdatedOn": "2019-09-26T08:42:53.972Z",
            "RemoveDataFromAllBots": True,
            "response": [{"userId": "u-1", "status": "FAILURE", "reason": "bot owner"}],
        }
    )
    assert parsed.response[0].status == models.UserEraseStatus.FAILURE
    assert parsed.created_on.year == 2019

    # The generated client talks to the live mock: the raw JWT in `auth`, DELETE with a body.
    api = client_mod.AuthenticatedClient(
        base_url=server.base_url, token=server.token(), auth_header_name="auth", prefix=""
    )
    accepted = create.sync(client=api, body=models.EraseRequest(user_ids=["u-1"], remove_data_from_all_bots=True))
    assert isinstance(accepted, models.EraseRequestAccepted)
    server.advance(5)
    read = status.sync(client=api, req_id=accepted.request_id)
    assert isinstance(read, models.EraseRequestStatus)
    assert read.field_id == accepted.request_id
    assert read.response[0].status == models.UserEraseStatus.SUCCESS
    missing = status.sync_detailed(client=api, req_id="eud-00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404 and isinstance(missing.parsed, models.Error)


def test_static_token_works_for_an_app_without_jti(client_dir: Path, server: MockServer) -> None:
    run = run_on_mock("static_token.py", client_dir, server)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "created eud-" in run.stdout and "read eud-" in run.stdout
    assert [status for _, status, _ in api_calls(server)] == [200, 200]


def test_static_token_fails_on_the_second_call_of_a_jti_app(client_dir: Path, server: MockServer) -> None:
    run = run_on_mock("static_token.py", client_dir, server, JTI_APP)
    assert run.returncode != 0
    quoted = "RuntimeError: status failed: Error(errors=[ErrorDetail(code=4002, msg='Invalid SDK credentials',"
    assert quoted in run.stderr, run.stderr
    assert quoted in " ".join(_doc().split())  # what the doc says happens
    assert [status for _, status, _ in api_calls(server)] == [200, 401]


def test_fresh_tokens_make_every_call_of_a_jti_app_succeed(client_dir: Path, server: MockServer) -> None:
    run = run_on_mock("fresh_tokens.py", client_dir, server, JTI_APP)
    assert run.returncode == 0, run.stdout + run.stderr
    calls = api_calls(server)
    jti_app = server.app(JTI_APP).client_id
    assert calls[0] == ("DELETE", 200, jti_app)
    assert len(calls) >= 3 and all(call == ("GET", 200, jti_app) for call in calls[1:]), calls
    assert run.slept and all(seconds == 1 for seconds in run.slept)  # polled on the manual clock
    assert "  jane.doe@example.com: SUCCESS\n" in run.stdout
    assert "  owner@acme.example: FAILURE (The user is an account owner.)\n" in run.stdout
    assert re.search(r"^request eud-[0-9a-f-]{36}, created \d{4}-", run.stdout, re.M)


def test_errors_surface_a_404_and_a_401(client_dir: Path, server: MockServer) -> None:
    run = run_on_mock("errors.py", client_dir, server, JTI_APP)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines() == [
        f"{UNKNOWN_ID}: None",
        "refused: HTTP 401: Invalid SDK credentials",
    ]
    assert [status for _, status, _ in api_calls(server)] == [404, 401]


def test_retry_waits_out_the_mock_s_rate_limit_on_the_manual_clock(client_dir: Path, server: MockServer) -> None:
    """The account has used its minute (the mock's own rate limit, the contract's 60): the create gets
    429 with Retry-After 60; then an injected 503 on the status read."""
    app = server.app(LIMITED_APP)
    limit = server.rate_limit(app.account_id)["limit"]["perMinute"]
    token = server.token(app.client_id)
    for _ in range(limit):
        assert server.http.get(STATUS_PATH + UNKNOWN_ID, headers={"auth": token}).status_code == 404
    server.inject("status", status=503, retryAfter=3, count=1, operationId="getEraseRequestStatus")
    before = server.clock()["nowMs"]
    run = run_on_mock("retry.py", client_dir, server, LIMITED_APP)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.slept == [60, 3]
    assert server.clock()["nowMs"] - before >= 63000
    assert run.stdout.splitlines()[0] == "HTTP 429: retrying in 60 s"
    assert "HTTP 503: retrying in 3 s" in run.stdout and "read eud-" in run.stdout
    assert [(method, status) for method, status, _ in api_calls(server)][limit:] == [
        ("DELETE", 429), ("DELETE", 200), ("GET", 503), ("GET", 200)]
    assert [row["rateLimited"]["window"] for row in server.journal() if row["rateLimited"]] == ["minute"]


def test_unknown_status_reads_documented_values_normally(client_dir: Path, server: MockServer) -> None:
    run = run_on_mock("unknown_status.py", client_dir, server, JTI_APP)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout == "jane.doe@example.com: IN_PROGRESS\n"


@pytest.fixture
def undocumented_status_server(tmp_path: Path) -> Iterator[str]:
    """The mock, answering the status call with `QUEUED` for every user (tests/broken_mock.py)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.broken_mock", "undocumented-status-value", str(tmp_path / "state.db")],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line.startswith("listening on "), line
        base_url = line.split()[-1]
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base_url + "/__mockserver/health", timeout=5).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "the broken mock did not answer"
                time.sleep(0.05)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_unknown_status_value_is_handled(client_dir: Path, undocumented_status_server: str) -> None:
    server = MockServer()  # not started: only its fixtures, for the default app's credentials
    app = server.app()
    run = run_snippet("unknown_status.py", client_dir, undocumented_status_server, app.client_id, app.client_secret)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.splitlines() == [
        "the generated client could not parse the answer ('QUEUED' is not a valid UserEraseStatus); reading it raw",
        "jane.doe@example.com: undocumented status 'QUEUED', treated as not final; report it",
    ]
    assert "ValueError: 'QUEUED' is not a valid UserEraseStatus" in " ".join(_doc().split())


def test_python_blocks_type_check(client_dir: Path, tmp_path: Path) -> None:
    """The narrowing in the doc is what mypy accepts: no `Model | Error | None` left unhandled."""
    files = []
    for name, block in python_snippets().items():
        (tmp_path / name).write_text(block)
        files.append(str(tmp_path / name))
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", "--no-incremental",
         "--python-version", "3.11", *files],
        cwd=tmp_path, env={**os.environ, "MYPYPATH": str(client_dir)}, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_typescript_blocks_are_the_checked_files() -> None:
    """Each `ts` block is a file of tests/tools/ts, byte for byte: usage.ts, then main.ts."""
    files = [ROOT / "tests" / "tools" / "ts" / name for name in ("usage.ts", "main.ts")]
    assert blocks("ts") == [path.read_text() for path in files]
