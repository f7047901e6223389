"""The control API: reset, clock, faults of each kind, journal."""

from __future__ import annotations

import json
import time
import warnings

import httpx
import pytest

from mockserver import MockServer
from mockserver.app.build import create_app
from mockserver.settings import Settings
from mockserver.testing.mock_app import MockApp
from tests.support import PRELOADED, STATUS, assert_error, client, create, status

#: The state's semantics hold on both backends (tests/conftest.py).
pytestmark = pytest.mark.both_backends

BODY = {"userIds": ["u-control"], "RemoveDataFromAllBots": True}


def test_reset_forgets_created_requests_and_keeps_preloaded(mock: MockApp) -> None:
    request_id = create(mock, BODY).json()["requestId"]
    mock.advance(10_000)
    assert mock.reset()["requests"] == 1
    assert status(mock, request_id).status_code == 404
    assert [r["status"] for r in status(mock, PRELOADED).json()["response"]][2] == "IN_PROGRESS"


def test_manual_clock_only_moves_when_advanced(mock: MockApp) -> None:
    before = mock.clock()
    time.sleep(0.05)
    assert mock.clock()["nowMs"] == before["nowMs"]
    after = mock.advance(1.5)
    assert after["nowMs"] == before["nowMs"] + 1500 and after["mode"] == "manual"


def test_advancing_a_real_clock_is_refused(tmp_path) -> None:
    with MockServer(clock="real", state=":memory:") as server:
        with client(server) as http:
            response = http.post("/__mockserver/clock/advance", json={"seconds": 1})
        assert_error(response, 409, "--clock manual")


def test_status_fault_with_retry_after_for_the_next_n_requests(mock: MockApp) -> None:
    fault = mock.inject("status", status=429, retryAfter=7, count=2,
                              operationId="getEraseRequestStatus")
    assert fault["remaining"] == 2
    for _ in range(2):
        response = status(mock, PRELOADED)
        assert_error(response, 429)
        assert response.headers["retry-after"] == "7"
    assert status(mock, PRELOADED).status_code == 200
    assert create(mock, BODY).status_code == 200  # other operations were never affected


def test_503_fault_on_every_matching_request_until_cleared(mock: MockApp) -> None:
    mock.inject("status", status=503, method="DELETE")
    for _ in range(3):
        assert_error(create(mock, BODY), 503)
    assert status(mock, PRELOADED).status_code == 200
    mock.clear_faults()
    assert create(mock, BODY).status_code == 200


def test_fractional_faults(mock: MockApp) -> None:
    mock.inject("status", status=500, fraction=0.0)
    assert {status(mock, PRELOADED).status_code for _ in range(20)} == {200}
    mock.clear_faults()
    mock.inject("status", status=500, fraction=1.0)
    assert {status(mock, PRELOADED).status_code for _ in range(5)} == {500}


def test_latency_fault_delays_then_answers(mock: MockApp) -> None:
    mock.inject("latency", latencyMs=300, count=1)
    started = time.monotonic()
    response = status(mock, PRELOADED)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.3  # a lower bound only: the delay happened
    assert mock.journal()[-1]["status"] == 200


def test_drop_fault_closes_the_connection_without_an_answer() -> None:
    # A real process: only a real connection can be closed without an answer.
    with MockServer(state=":memory:") as server:
        server.inject("drop", count=1)
        with pytest.raises(httpx.TransportError):
            status(server, PRELOADED)
        assert status(server, PRELOADED).status_code == 200
        assert [e["status"] for e in server.journal()][-2:] == [0, 200]


def test_invalid_fault_is_refused(mock: MockApp) -> None:
    with client(mock) as http:
        assert_error(http.post("/__mockserver/faults", json={"kind": "explode"}), 400)
        assert_error(http.post("/__mockserver/faults", json={"kind": "status", "operationId": "x"}), 400)


def test_journal_records_calls_without_tokens(mock: MockApp) -> None:
    token = mock.token()
    with client(mock) as http:
        http.get(STATUS.format(PRELOADED), headers={"auth": token})
        http.get(STATUS.format(PRELOADED), headers={"auth": token[:-3] + "abc"})
        http.get(STATUS.format(PRELOADED))
        raw = http.get("/__mockserver/journal").text
    entries = json.loads(raw)["entries"]
    assert [(e["method"], e["status"], e["operationId"]) for e in entries] == [
        ("GET", 200, "getEraseRequestStatus"),
        ("GET", 401, "getEraseRequestStatus"),
        ("GET", 401, "getEraseRequestStatus"),
    ]
    app_id = mock.app().client_id
    assert [e["appId"] for e in entries] == [app_id, app_id, None]
    assert entries[0]["path"] == STATUS.format(PRELOADED)
    assert token not in raw and token.split(".")[2] not in raw and "eyJ" not in raw


def test_journal_since(mock: MockApp) -> None:
    status(mock, PRELOADED)
    last = mock.journal()[-1]["id"]
    status(mock, PRELOADED)
    assert len(mock.journal(since=last)) == 1


def test_control_api_refuses_non_loopback_clients_without_the_admin_token(tmp_path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    app = create_app(Settings(state=str(tmp_path / "s.db"), admin_token="let-me-in"))
    # Starlette's TestClient connects as host "testclient": not loopback.
    with TestClient(app, base_url="http://mock.test") as http:
        assert_error(http.get("/__mockserver/health"), 403, "loopback")
        assert_error(http.get("/__mockserver/health", headers={"x-mockserver-admin-token": "nope"}), 403)
        ok = http.get("/__mockserver/health", headers={"x-mockserver-admin-token": "let-me-in"})
        assert ok.status_code == 200 and ok.json()["status"] == "ok"


@pytest.mark.parametrize(("path", "body"), [
    ("/__mockserver/clock/advance", {"seconds": 1e20}),
    ("/__mockserver/faults", {"kind": "status", "count": 10**23}),
])
def test_control_api_bounds_are_400_not_500(mock: MockApp, path: str, body: dict) -> None:
    with client(mock) as http:
        assert_error(http.post(path, json=body), 400)


def test_fixture_offsets_beyond_ten_years_are_refused(mock: MockApp) -> None:
    document = dict(mock.fixtures.document, requests=[{
        "requestId": "eud-00000000-0000-4000-8000-000000000009", "account": "acme",
        "createdSecondsAgo": 1e11, "users": [{"userId": "u", "status": "SUCCESS"}]}])
    with client(mock) as http:
        response = http.put("/__mockserver/fixtures", json=document)
        assert_error(response, 400, "createdSecondsAgo")
        assert http.get("/__mockserver/journal?since=99999999999999999999999").status_code == 400


def test_health_reports_the_backend_and_ready_answers(mock: MockApp, backend: str) -> None:
    health = mock.health()
    assert health["state"]["backend"] == backend and health["state"]["status"] == "ok"
    assert health["requests"] == 1 and "***" not in health["state"]["location"]  # no password in these URLs
    with client(mock) as http:
        assert http.get("/__mockserver/ready").json()["ready"] is True
    assert mock.ready()


def test_the_client_raises_what_the_server_said_and_knows_when_the_mock_is_down() -> None:
    from mockserver.errors import ControlError

    mock = MockApp(clock="real")
    assert not mock.ready()  # not started: no answer, not an exception
    with mock:
        assert mock.ready()
        with pytest.raises(ControlError) as refused:
            mock.advance(5)
        assert refused.value.status == 409 and "manual" in str(refused.value)
    with pytest.raises(ControlError, match="the mock is not running"):
        mock.health()
