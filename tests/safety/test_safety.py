"""The runner is safe to point at staging: what it sends, and what it refuses."""

from __future__ import annotations

import json
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from contracts.bounded_memo import Memo
from contracts.cli import main
from contracts.core.redaction import Redactor
from contracts.core.spec import load_spec
from contracts.core.vocabulary import Vocabulary
from contracts.safety.policy import BodyPolicy
from contracts.safety.target import Target
from tests.support import ACME, SECRETS, credential_args

#: One worker runs the in-process contract runs: they share its memo of draws (`contracts.planning.planner`).
pytestmark = pytest.mark.xdist_group("in-process-runs")
VOCABULARY = Vocabulary.of(load_spec())
CREATE = VOCABULARY.create[0].path
STATUS_PREFIX = VOCABULARY.status[0].path.split("{")[0]


class Lenient(BaseHTTPRequestHandler):
    """A loopback stand-in for a remote deployment that acknowledges every create,
    whatever its body (a lenient deployment would erase what it names), and
    records every request."""

    calls: list[dict] = []

    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        self.calls.append({"method": self.command, "path": self.path, "body": body})
        if self.path == CREATE and self.command in ("DELETE", "POST"):
            status, payload = 200, {"requestId": f"eud-{uuid.uuid4()}", "status": "in-progress"}
        elif self.path.startswith(STATUS_PREFIX) and not VOCABULARY.request_id.matches(self.path[len(STATUS_PREFIX):]):
            status, payload = 400, VOCABULARY.error_body(400, "Malformed request id")
        else:
            status, payload = 404, VOCABULARY.error_body(404, "Not found")
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
def lenient() -> Iterator[tuple[str, list[dict]]]:
    calls: list[dict] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (Lenient,), {"calls": calls}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", calls
    finally:
        server.shutdown()
        server.server_close()


def erasing_creates(calls: list[dict]) -> list[dict]:
    policy = BodyPolicy(VOCABULARY, True, ())
    return [json.loads(c["body"]) for c in calls
            if c["path"] == CREATE and c["method"] in ("DELETE", "POST") and policy.may_erase(c["body"])]


def user_strings(calls: list[dict]) -> set[str]:
    """Every string of every create body, bot ids in their place excepted."""
    found: set[str] = set()

    def walk(value: object, key: str = "") -> None:
        if isinstance(value, str) and not (key == VOCABULARY.fields.bot_ids and VOCABULARY.bot_id.matches(value)):
            found.add(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)

    for call in calls:
        if call["path"] == CREATE and call["body"]:
            walk(json.loads(call["body"]))
    return found - {""}


def run(*args: str) -> tuple[int, str]:
    """`contracts run`; the stand-ins have no rate limit, so a remote run is paced fast (`--rate`)."""
    result = CliRunner().invoke(main, ["run", "--rate", "6000/min", *args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def test_remote_target_without_allow_list_names_no_user_and_erases_nothing(lenient, tmp_path: Path) -> None:
    base_url, calls = lenient
    code, output = run("--base-url", base_url, "--target-kind", "remote", *credential_args(), "--max-examples", "15",
                       "--audit-log", str(tmp_path / "audit.jsonl"))
    assert [c for c in calls if c["path"] == CREATE], "create calls whose bodies the contract rejects are still sent"
    assert erasing_creates(calls) == []
    assert user_strings(calls) == set()  # no body names anybody, valid or not
    assert "erasing requests sent: 0 (budget 5;" in output
    assert code in (1, 4)  # the stand-in is no full deployment; what it was sent is what is tested


def test_remote_target_with_allow_list_names_only_those_users_up_to_the_cap(lenient, tmp_path: Path) -> None:
    base_url, calls = lenient
    allowed = {"qa-user-1@example.com", "qa-user-2@example.com"}
    audit = tmp_path / "audit.jsonl"
    run("--base-url", base_url, "--target-kind", "remote", *credential_args(), "--max-examples", "15",
        "--erase-user-id", "qa-user-1@example.com", "--erase-user-id", "qa-user-2@example.com",
        "--max-erase-requests", "3", "--audit-log", str(audit))
    erasing = erasing_creates(calls)
    assert 1 <= len(erasing) <= 3
    assert user_strings(calls) <= allowed
    logged = [json.loads(line) for line in audit.read_text().splitlines()]
    assert all(entry["requestId"].startswith("eud-") for entry in logged)
    assert len([e for e in logged if e["mayErase"]]) == len(erasing)


def test_localhost_is_local_by_default_and_remote_on_request() -> None:
    def of(url: str, kind: str = "auto") -> Target:
        return Target.of(url, kind=kind, denied_hosts=VOCABULARY.production_hosts, allow_denied=False)

    assert not of("http://localhost:8080").remote
    assert not of("http://127.0.0.1:8080").remote
    assert not of("http://[::1]:8080").remote
    assert of("http://127.0.0.1:8080", "remote").remote
    assert of("https://staging.example.com").remote
    assert of("http://10.0.0.5:8080").remote


def _resolves_to_loopback_only(name: str) -> bool:
    try:
        found = {info[4][0] for info in socket.getaddrinfo(name, None)}
    except OSError:
        return False
    return bool(found) and all(address in ("127.0.0.1", "::1") or address.startswith("127.") for address in found)


def test_a_localhost_name_is_judged_by_what_it_resolves_to_not_by_its_spelling() -> None:
    def of(url: str) -> Target:
        return Target.of(url, kind="auto", denied_hosts=VOCABULARY.production_hosts, allow_denied=False)

    assert not of("http://localhost:8080").remote
    for name in ("staging.localhost", "erase-staging.team.localhost"):
        assert of(f"https://{name}").remote is not _resolves_to_loopback_only(name), name


def test_body_policy_rewrites_every_string_of_a_remote_create_body() -> None:
    policy = BodyPolicy(VOCABULARY, True, ("qa@example.com",))
    bot = "st-7b0e3c1a-2f4d-4e8b-8a6c-5d9f1e2b3c4d"
    body = json.dumps({"userIds": ["victim", 0, "victim2", False], "botIds": [bot, "nope"], "extra": ["x"]}).encode()
    safe = json.loads(policy.safe(body, "application/json") or b"")
    assert safe == {"userIds": ["qa@example.com", 0, False], "botIds": [bot, "qa@example.com"],
                    "extra": ["qa@example.com"]}
    assert policy.safe(b"userIds=victim", "application/x-www-form-urlencoded") == b"{}"
    assert json.loads(policy.without_users(body) or b"") == {"botIds": [bot, "nope"], "extra": ["x"]}
    assert policy.may_erase(b'{"userIds": ["a"]}') and not policy.may_erase(b'{"userIds": []}')
    assert BodyPolicy(VOCABULARY, False, ()).safe(body, "application/json") == body  # locally, as generated


@pytest.mark.parametrize("host", ["platform.kore.ai", "bots.kore.ai", "PLATFORM.KORE.AI"])
def test_production_hosts_are_refused(host: str) -> None:
    code, output = run("--base-url", f"https://{host}", *credential_args())
    assert code == 2
    assert "production host of the vendor (deny-list)" in output and output.count("\n") == 1


def test_trailing_dot_does_not_dodge_the_deny_list() -> None:
    code, output = run("--base-url", "https://platform.kore.ai./", *credential_args(), "--dry-run")
    assert code == 2 and "deny-list" in output


def test_unreachable_target_exits_3() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, output = run("--base-url", f"http://127.0.0.1:{port}", *credential_args())
    assert code == 3
    assert output == f"Error: http://127.0.0.1:{port} is unreachable: connection refused\n"


@pytest.mark.parametrize(("args", "message"), [
    (["--base-url", "http://127.0.0.1:1"], "credentials are required"),
    (["--base-url", "ftp://example.com", "--token", "x"], "is not an http(s) URL"),
    (["--base-url", "http://user:pw@example.com", "--token", "x"], "must not carry credentials"),
    (["--base-url", "http://127.0.0.1:1", "--token", "x", "--include", "nope"], "unknown operation 'nope'"),
    (["--client-id", ACME[0]], "Missing option '--base-url'"),
])
def test_usage_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    code, output = run(*args)
    assert code == 2
    assert message in output and output.count("\n") == 1


def test_redirects_are_never_followed(tmp_path: Path) -> None:
    """A target that redirects must not lead the runner (its creates, its token) elsewhere."""
    elsewhere_calls: list[dict] = []
    elsewhere = ThreadingHTTPServer(("127.0.0.1", 0), type("E", (Lenient,), {"calls": elsewhere_calls}))

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
        code, output = run("--base-url", f"http://127.0.0.1:{redirecting.server_address[1]}", *credential_args(),
                           "--max-examples", "3", "--audit-log", str(tmp_path / "audit.jsonl"))
    finally:
        for server in (elsewhere, redirecting):
            server.shutdown()
            server.server_close()
    assert elsewhere_calls == []
    assert code == 2 and "does not serve the contract's paths" in output


def test_redaction_catches_any_cut_of_a_token_and_every_secret() -> None:
    token = "eyJhbGciOiJIUzI1NiJ9.eyJhcHBJZCI6ImNzLTEyMyIsImp0aSI6IjEyMyJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmU"
    redact = Redactor(["acme-admin-secret-do-not-use-in-production", "s3"])
    redact.remember(token)
    assert redact(f"echo {token[5:40]}…") == "echo [redacted]…"
    assert redact(f"x{token[30:47]}y") == "x[redacted]y"
    assert "acme" not in redact("secret acme-admin-secret-do-not-use-in-prod cut short")
    assert redact("s3 stands alone, not in its3lf") == "[redacted] stands alone, not in its3lf"
    assert redact("a harmless sentence stays as it was") == "a harmless sentence stays as it was"


def test_no_secret_appears_in_a_failing_run(lenient, tmp_path: Path) -> None:
    base_url, _ = lenient
    code, output = run("--base-url", base_url, *credential_args(), "--max-examples", "3", "--audit-log",
                       str(tmp_path / "a.jsonl"), "--junit-xml", str(tmp_path / "j.xml"))
    assert code == 1
    for text in (output, (tmp_path / "j.xml").read_text(), (tmp_path / "a.jsonl").read_text()):
        assert not any(secret in text for secret in SECRETS)
        assert not re.search(r"eyJ[\w-]{10,}\.", text)


def test_the_audit_log_is_written_by_default_only_for_a_remote_target(lenient, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    base_url, _ = lenient
    monkeypatch.chdir(tmp_path)
    run("--base-url", base_url, *credential_args(), "--max-examples", "3", "--suite", "request-ids")
    assert list(tmp_path.iterdir()) == []  # a local run writes nothing unless asked
    code, output = run("--base-url", base_url, *credential_args(), "--max-examples", "3", "--suite", "request-ids",
                       "--target-kind", "remote", "--erase-user-id", "qa@example.com")
    assert (tmp_path / "contracts-audit.jsonl").exists()
    assert "Audit log: contracts-audit.jsonl (" in output


def test_which_bodies_may_erase_is_remembered_within_its_byte_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from contracts.safety import policy as safety

    monkeypatch.setattr(safety, "_ERASING", Memo(200, cost=safety._ERASING.cost))
    policy = BodyPolicy(VOCABULARY, False, ())
    bodies = {json.dumps({"userIds": [f"user-{n}@example.com"]}).encode(): True for n in range(20)}
    bodies |= {b'{"userIds": []}': False, b"not json": False, None: False}
    for _ in range(2):  # asked again: the same answers, remembered or not
        assert {body: policy.may_erase(body) for body in bodies} == bodies
    assert safety._ERASING.total == sum(len(body or b"") for _, body in safety._ERASING) <= 200
    other = BodyPolicy(Vocabulary.of(load_spec()), False, ())  # the same schema: the same answers
    assert all(other.may_erase(body) == erases for body, erases in bodies.items())
