"""The runner is safe to point at staging: what it sends, and what it refuses."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from contracts.cli import main
from contracts.config import RunConfig
from contracts.safety import EraseGuard, Target
from tests.support import spec
from tests.test_contracts_run import ACME, SECRETS, credential_args

CREATE = "/api/public/bot/eraseUsersData"


class Recorder(BaseHTTPRequestHandler):
    """A loopback stand-in for a remote deployment: records every request and
    acknowledges creates like the vendor does."""

    calls: list[dict] = []

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.calls.append({"method": self.command, "path": self.path, "body": body})
        if self.path == CREATE and self.command in ("DELETE", "POST"):
            status, payload = 200, {"requestId": f"eud-{uuid.uuid4()}", "status": "in-progress"}
        else:
            status, payload = 404, {"errors": [{"msg": "Not found", "code": 404}]}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_OPTIONS = do_TRACE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict]]]:
    calls: list[dict] = []
    handler = type("Handler", (Recorder,), {"calls": calls})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", calls
    finally:
        server.shutdown()
        server.server_close()


def _guard() -> EraseGuard:
    config = RunConfig(base_url="http://127.0.0.1:1", target_kind="remote")
    return EraseGuard.of(config, spec(), Target.of(config))


def _erasing_creates(calls: list[dict]) -> list[dict]:
    guard = _guard()
    found = []
    for call in calls:
        if call["path"] == CREATE and call["method"] in ("DELETE", "POST"):
            try:
                body = json.loads(call["body"])
            except ValueError:
                continue
            if guard.would_erase(body):
                found.append(body)
    return found


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["run", *args])
    return result.exit_code, result.output


def test_remote_target_without_allow_list_sends_no_erasing_create(recorder, tmp_path: Path) -> None:
    base_url, calls = recorder
    code, output = run("--base-url", base_url, "--target-kind", "remote", *credential_args(),
                       "--max-examples", "15", "--audit-log", str(tmp_path / "audit.jsonl"))
    creates = [c for c in calls if c["path"] == CREATE]
    assert creates, "negative create calls (bodies the contract rejects) are still sent"
    assert _erasing_creates(calls) == []
    assert "erase requests sent: 0 (skipped for safety:" in output
    # The stand-in acknowledges even rejected bodies; those are audited, none could erase.
    audit = tmp_path / "audit.jsonl"
    logged = [json.loads(line) for line in audit.read_text().splitlines()] if audit.exists() else []
    guard = _guard()
    for entry in logged:
        assert not guard.would_erase(entry["body"]), entry
    assert code in (0, 1)  # the stand-in is no full deployment; safety is what is tested


def test_remote_target_with_allow_list_erases_only_those_users_up_to_the_cap(recorder, tmp_path: Path) -> None:
    base_url, calls = recorder
    allowed = {"qa-user-1@example.com", "qa-user-2@example.com"}
    audit = tmp_path / "audit.jsonl"
    run("--base-url", base_url, "--target-kind", "remote", *credential_args(), "--max-examples", "15",
        "--erase-user-id", "qa-user-1@example.com", "--erase-user-id", "qa-user-2@example.com",
        "--max-erase-requests", "3", "--audit-log", str(audit))
    erasing = _erasing_creates(calls)
    assert 1 <= len(erasing) <= 3
    assert all(set(body["userIds"]) <= allowed for body in erasing)
    logged = [json.loads(line) for line in audit.read_text().splitlines()]
    assert all(entry["requestId"].startswith("eud-") for entry in logged)
    guard = _guard()
    logged_erasing = [entry for entry in logged if guard.would_erase(entry["body"])]
    assert len(logged_erasing) == len(erasing)
    assert all(set(entry["userIds"]) <= allowed for entry in logged_erasing)


def test_localhost_is_local_by_default_and_remote_on_request() -> None:
    assert not Target.of(RunConfig(base_url="http://localhost:8080")).remote
    assert not Target.of(RunConfig(base_url="http://127.0.0.1:8080")).remote
    assert Target.of(RunConfig(base_url="http://127.0.0.1:8080", target_kind="remote")).remote
    assert Target.of(RunConfig(base_url="https://staging.example.com")).remote
    assert Target.of(RunConfig(base_url="http://10.0.0.5:8080")).remote


def test_guard_rewrites_valid_bodies_and_passes_invalid_ones() -> None:
    guard = _guard()
    assert guard.admit({"userIds": ["victim"], "RemoveDataFromAllBots": True}) == (False, {
        "userIds": ["victim"], "RemoveDataFromAllBots": True})
    invalid = {"userIds": [], "RemoveDataFromAllBots": True}
    assert guard.admit(invalid) == (True, invalid)
    assert guard.admit("not json") == (True, "not json")


def test_dry_run_prints_planned_calls_for_a_real_remote_url() -> None:
    code, output = run("--base-url", "https://staging.kore.example", *credential_args(), "--dry-run")
    assert code == 0
    assert output.startswith("Dry run: nothing is sent to https://staging.kore.example\n")
    assert "no create call that could erase is sent (no --erase-user-id allow-list)" in output
    assert "conformance  DELETE /api/public/bot/eraseUsersData" in output
    assert "GET /api/public/bot/eraseUsersData/status/<malformed>" in output
    assert not any(secret in output for secret in SECRETS)


def test_dry_run_with_allow_list_shows_the_cap() -> None:
    code, output = run("--base-url", "https://staging.kore.example", *credential_args(), "--dry-run",
                       "--erase-user-id", "qa@example.com")
    assert code == 0 and "allow-list ['qa@example.com'], at most 5" in output


@pytest.mark.parametrize("host", ["platform.kore.ai", "bots.kore.ai", "PLATFORM.KORE.AI"])
def test_production_hosts_are_refused(host: str) -> None:
    code, output = run("--base-url", f"https://{host}", *credential_args())
    assert code == 2
    assert "production host of the vendor (deny-list)" in output and output.count("\n") == 1


def test_unreachable_target_exits_3() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, output = run("--base-url", f"http://127.0.0.1:{port}", *credential_args())
    assert code == 3
    assert output == f"Error: http://127.0.0.1:{port} is unreachable: connection refused\n"


@pytest.mark.parametrize(("args", "message"), [
    (["--base-url", "http://127.0.0.1:1"], "credentials are required"),
    (["--base-url", "ftp://example.com", "--token", "x"], "is not an http(s) URL"),
    (["--base-url", "http://127.0.0.1:1", "--token", "x", "--include", "nope"], "unknown operation 'nope'"),
    (["--client-id", ACME[0]], "Missing option '--base-url'"),
])
def test_usage_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    code, output = run(*args)
    assert code == 2
    assert message in output and output.count("\n") == 1


def test_trailing_dot_does_not_dodge_the_deny_list() -> None:
    code, output = run("--base-url", "https://platform.kore.ai./", *credential_args(), "--dry-run")
    assert code == 2 and "deny-list" in output


def test_redirects_are_never_followed(tmp_path: Path) -> None:
    """A target that redirects must not lead the runner (its creates, its token) elsewhere."""
    elsewhere_calls: list[dict] = []
    elsewhere = ThreadingHTTPServer(("127.0.0.1", 0), type("E", (Recorder,), {"calls": elsewhere_calls}))

    class Redirect(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            self.send_response(307)
            self.send_header("Location", f"http://127.0.0.1:{elsewhere.server_address[1]}{self.path}")
            self.send_header("content-length", "0")
            self.end_headers()

        do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_OPTIONS = do_TRACE = _answer

        def log_message(self, *args: object) -> None:
            pass

    redirecting = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    for server in (elsewhere, redirecting):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        run("--base-url", f"http://127.0.0.1:{redirecting.server_address[1]}", *credential_args(),
            "--max-examples", "3", "--audit-log", str(tmp_path / "audit.jsonl"))
    finally:
        for server in (elsewhere, redirecting):
            server.shutdown()
            server.server_close()
    assert [(c["method"], c["path"]) for c in elsewhere_calls] == []
