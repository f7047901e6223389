"""`mockserver proxy` with real processes: a `mockserver run` upstream, a proxy in
front of it (and a strict one), traffic sent through them; the journal, the
recording and `contracts verify` read afterwards."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from contracts.cli import main as contracts_cli
from contracts.core.redaction import FRAGMENT, MARK
from mockserver import MockServer
from mockserver.testing.mock_proxy import MockProxy
from tests.support import CREATE, PRELOADED, STATUS, connection, vocabulary

pytestmark = pytest.mark.xdist_group("proxy")

STATUS_OP = vocabulary().status[0].operation_id
BODY = {"userIds": ["proxy-user"], "RemoveDataFromAllBots": True}


@pytest.fixture(scope="module")
def upstream() -> Iterator[MockServer]:
    with MockServer(clock="manual") as server:
        yield server


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("proxy") / "exchanges.jsonl"


@pytest.fixture(scope="module")
def proxy_session(upstream: MockServer, recording: Path) -> Iterator[MockProxy]:
    with MockProxy(upstream.base_url, record=recording) as proxy:
        yield proxy


@pytest.fixture
def proxy(proxy_session: MockProxy, upstream: MockServer) -> MockProxy:
    upstream.reset()
    proxy_session.reset()
    return proxy_session


@pytest.fixture(scope="module")
def strict(upstream: MockServer) -> Iterator[MockProxy]:
    with MockProxy(upstream.base_url, strict=True) as proxy:
        yield proxy


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def recorded_after(path: Path, before: int, count: int) -> list[dict[str, Any]]:
    """The `count` lines the recording gained after `before`, once they are written (each line
    is appended just after its answer is sent)."""
    for _ in range(2000):
        found = lines(path)
        if len(found) >= before + count:
            return found[before:before + count]
        subprocess.run(["sleep", "0.005"], check=True)  # a readiness poll, bounded by the count of tries
    raise AssertionError(f"the recording did not gain {count} lines")


def get_status(client: MockProxy | MockServer, request_id: str, token: str | None, **headers: str) -> httpx.Response:
    with connection(client.base_url) as http:
        sent = {"auth": token, **headers} if token else headers
        return http.get(STATUS.format(request_id), headers=sent)


def post_create(client: MockProxy | MockServer, body: Any, token: str) -> httpx.Response:
    with connection(client.base_url) as http:
        return http.request("DELETE", CREATE, json=body, headers={"auth": token})


def test_valid_traffic_passes_through_byte_for_byte(proxy: MockProxy, upstream: MockServer) -> None:
    token = upstream.token()
    through, direct = get_status(proxy, PRELOADED, token), get_status(upstream, PRELOADED, upstream.token())
    assert (through.status_code, through.content) == (direct.status_code, direct.content)
    assert through.headers["content-type"] == direct.headers["content-type"]
    created = post_create(proxy, BODY, upstream.token())
    assert created.status_code == 200
    upstream_entry = upstream.journal(operation_id=vocabulary().create[0].operation_id)[-1]
    assert created.json() == upstream_entry["responseBody"] and upstream_entry["body"] == BODY
    proxy.assert_no_violations()
    entries = proxy.journal()
    assert [e["status"] for e in entries] == [200, 200] and all(e["violations"] == [] for e in entries)
    assert entries[1]["requestId"] == created.json()["requestId"]


def test_the_request_reaches_the_upstream_unchanged(proxy: MockProxy, upstream: MockServer) -> None:
    with connection(proxy.base_url) as http:
        answer = http.get(STATUS.format(PRELOADED) + "?trace=a%2Fb", headers={"auth": upstream.token(),
                                                                               "x-team": "one"})
    seen = upstream.journal()[-1]
    assert seen["query"] == "trace=a%2Fb" and seen["headers"]["x-team"] == "one"
    assert answer.status_code == 400  # the upstream's own answer to an undefined query parameter
    (entry,) = proxy.violations()
    assert {(v["side"], v["rule"], v["where"]) for v in entry["violations"]} == {("request", "parameter",
                                                                                  "query.trace")}


def test_upstream_drift_is_flagged_on_its_entry_and_passed_through(proxy: MockProxy, upstream: MockServer) -> None:
    assert get_status(proxy, PRELOADED, upstream.token()).status_code == 200
    upstream.inject("statusValue", operationId=STATUS_OP, count=1)
    drifted = get_status(proxy, PRELOADED, upstream.token())
    assert drifted.status_code == 200 and {r["status"] for r in drifted.json()["response"]} == {"QUEUED"}
    upstream.inject("errorShape", count=1)
    shaped = get_status(proxy, PRELOADED, None)
    assert shaped.status_code == 401 and "error" in shaped.json()
    upstream.inject("requestIdFormat", count=1)
    other_id = post_create(proxy, BODY, upstream.token())
    assert other_id.status_code == 200
    clean, status_value, error_shape, id_format = proxy.journal()
    assert clean["violations"] == []
    users = len(drifted.json()["response"])
    assert [(v["rule"], v["where"]) for v in status_value["violations"]] == [
        ("enum", f"$.response[{i}].status") for i in range(users)]
    assert status_value["violations"][0]["contract"] == "#/components/schemas/UserEraseStatus/enum"
    assert {v["rule"] for v in error_shape["violations"] if v["side"] == "response"} == {"error-body"}
    assert ("id-format", "$.requestId") in {(v["rule"], v["where"]) for v in id_format["violations"]}
    with pytest.raises(AssertionError, match=r"3 exchange\(s\) through the proxy broke the contract"):
        proxy.assert_no_violations()


def test_a_request_that_breaks_the_contract_is_a_request_violation(proxy: MockProxy, upstream: MockServer) -> None:
    answer = post_create(proxy, {"userIds": []}, upstream.token())
    assert answer.status_code == 412  # the platform's answer to a body that fails validation
    (entry,) = proxy.violations()
    assert [(v["side"], v["rule"], v["where"]) for v in entry["violations"]] == [("request", "schema", "$.userIds")]


def test_strict_turns_drift_into_a_502_with_the_violations(strict: MockProxy, upstream: MockServer) -> None:
    upstream.reset()
    assert get_status(strict, PRELOADED, upstream.token()).status_code == 200
    upstream.inject("statusValue", operationId=STATUS_OP, count=1)
    answer = get_status(strict, PRELOADED, upstream.token())
    assert answer.status_code == 502 and answer.headers["content-type"] == "application/json"
    errors = answer.json()["errors"]  # one per violation: each user's status
    assert errors and all(e["code"] == 502 and "enum" in e["msg"] for e in errors)
    assert "$.response[0].status" in errors[0]["msg"] and "QUEUED" in errors[0]["msg"]
    assert strict.journal()[-1]["status"] == 502


def test_the_recording_holds_no_token_secret_or_fragment(proxy: MockProxy, upstream: MockServer,
                                                          recording: Path) -> None:
    before, token = len(lines(recording)), upstream.token()
    fragment = token[10:10 + FRAGMENT + 4]
    with connection(proxy.base_url) as http:
        http.request("DELETE", CREATE + f"?echo={fragment}", json={"userIds": [token[-30:]]},
                     headers={"auth": token, "x-echo": fragment})
    recorded_after(recording, before, 1)
    secret = upstream.app().client_secret
    for text in (recording.read_text(), json.dumps(proxy.journal())):
        windows = {s[i:i + FRAGMENT] for s in (token, secret) for i in range(len(s) - FRAGMENT + 1)}
        assert not [w for w in windows if w in text]
    line = lines(recording)[-1]
    assert ["auth", MARK] in line["request"]["headers"]
    assert line["contractDigest"] == vocabulary().spec.digest and line["durationMs"] >= line["upstreamMs"] >= 0


def test_contracts_verify_judges_the_recording(proxy: MockProxy, upstream: MockServer, recording: Path,
                                               tmp_path: Path) -> None:
    before = len(lines(recording))
    get_status(proxy, PRELOADED, upstream.token())
    post_create(proxy, BODY, upstream.token())
    clean = recorded_after(recording, before, 2)
    upstream.inject("statusValue", operationId=STATUS_OP, count=1)
    get_status(proxy, PRELOADED, upstream.token())
    drifted = recorded_after(recording, before + 2, 1)
    (tmp_path / "clean.jsonl").write_text("".join(json.dumps(line) + "\n" for line in clean))
    (tmp_path / "drift.jsonl").write_text("".join(json.dumps(line) + "\n" for line in clean + drifted))
    passed = CliRunner().invoke(contracts_cli, ["verify", str(tmp_path / "clean.jsonl")])
    assert passed.exit_code == 0, passed.output
    assert "Result: PASSED (0 violations in 2 exchanges)" in passed.output
    failed = CliRunner().invoke(contracts_cli, ["verify", str(tmp_path / "drift.jsonl"),
                                                "--junit-xml", str(tmp_path / "j.xml")])
    assert failed.exit_code == 1, failed.output
    assert "#3 (line 3) GET" in failed.output and "$.response[0].status" in failed.output
    assert "getEraseRequestStatus: exercised 200" in failed.output
    assert "[lifecycle_status]" in failed.output  # the runner's check across exchanges: SUCCESS became QUEUED
    assert "failures=\"2\"" in (tmp_path / "j.xml").read_text()


def test_an_unreachable_upstream_is_a_502_with_the_error_body_and_an_entry() -> None:
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]  # closed again before the proxy calls it: nothing listens
    with MockProxy(f"http://127.0.0.1:{port}") as proxy, connection(proxy.base_url) as http:
        answer = http.get(STATUS.format(PRELOADED))
        assert answer.status_code == 502
        assert "gave no answer" in answer.json()["errors"][0]["msg"]
        (entry,) = proxy.journal()
        assert entry["status"] == 502 and entry["operationId"] == STATUS_OP


def test_a_production_host_needs_the_explicit_flag() -> None:
    host = vocabulary().production_hosts[0]
    result = subprocess.run([sys.executable, "-m", "mockserver", "proxy", "--upstream", f"https://{host.upper()}./",
                             "--port", "0"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "production host of the vendor" in result.stderr and "--allow-denied-host" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_proxys_control_api_is_gated_like_the_mocks(proxy: MockProxy) -> None:
    """DNS rebinding and cross-site requests are refused; every control answer carries the
    browser security headers (the mock's own `ControlGate`)."""
    journal = f"{proxy.base_url}/__mockserver/journal"
    with httpx.Client(trust_env=False) as client:
        rebound = client.get(journal, headers={"host": "rebind.attacker.example"})
        cross_site = client.get(journal, headers={"sec-fetch-site": "cross-site"})
        allowed = client.get(journal)
    assert rebound.status_code == cross_site.status_code == 403
    assert "Host" in rebound.json()["errors"][0]["msg"] and "cross-site" in cross_site.json()["errors"][0]["msg"]
    assert allowed.status_code == 200
    assert allowed.headers["referrer-policy"] == "no-referrer" and allowed.headers["x-frame-options"] == "DENY"
