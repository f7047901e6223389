"""The journal as something to verify against (issue 11): what an entry holds,
its filters and count, the cursor, unmatched requests with their nearest
operation, and `assert_called` / `assert_not_called` with messages that show
the nearest entries. In this process, against `MockApp`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mockserver.testing.mock_app import MockApp
from tests.support import CREATE, GLOBEX_ADMIN, PRELOADED, STATUS, assert_error, client, create, status

#: The state's semantics hold on both backends (tests/conftest.py).
pytestmark = pytest.mark.both_backends

BODY = {"userIds": ["a@example.com", "b@example.com"], "RemoveDataFromAllBots": True}


def test_an_entry_holds_the_request_and_the_answer(mock: MockApp) -> None:
    with client(mock) as http:
        raw = json.dumps(BODY, indent=1).encode()  # stored as received: the bytes, not a re-encoding
        answer = http.request("DELETE", CREATE, content=raw, headers={
            "auth": mock.token(), "content-type": "application/json", "x-trace": "t-1"})
    [entry] = mock.journal()
    assert answer.status_code == 200
    assert (entry["method"], entry["path"], entry["query"], entry["status"]) == ("DELETE", CREATE, "", 200)
    assert entry["headers"]["x-trace"] == "t-1" and entry["headers"]["content-type"] == "application/json"
    assert entry["body"] == BODY and "bodyText" not in entry
    assert entry["responseBody"] == answer.json()
    assert entry["operationId"] == "createEraseRequest" and entry["appId"] == mock.app().client_id
    assert entry["requestId"] == answer.json()["requestId"] and entry["fault"] is None
    assert mock.service.store.journal()[0][0][6] == raw


def test_no_token_reaches_the_journal_in_any_header(mock: MockApp) -> None:
    token = mock.token()
    with client(mock) as http:
        http.get(STATUS.format(PRELOADED) + "?trace=" + token, headers={
            "auth": token, "authorization": f"Bearer {token}", "proxy-authorization": token,
            "cookie": f"session={token}", "x-forwarded-token": token, "x-mockserver-admin-token": "secret"})
        raw = http.get("/__mockserver/journal").text
    [entry] = json.loads(raw)["entries"]
    assert entry["status"] == 400  # the contract has no query parameter: journaled all the same
    assert not {"auth", "authorization", "proxy-authorization", "cookie", "x-mockserver-admin-token"} & set(
        entry["headers"])
    assert entry["headers"]["x-forwarded-token"] == "<token>" and entry["query"] == "trace=<token>"
    for fragment in (token, *token.split("."), "secret"):
        assert fragment not in raw


def test_a_body_that_is_not_json_is_kept_as_text(mock: MockApp) -> None:
    with client(mock) as http:
        answer = http.request("DELETE", CREATE, content=b"userIds=a", headers={
            "auth": mock.token(), "content-type": "application/json"})
    assert_error(answer, 400)
    [entry] = mock.journal()
    assert entry["body"] is None and entry["bodyText"] == "userIds=a"


def test_a_body_over_the_limit_is_not_kept(mock: MockApp) -> None:
    with client(mock) as http:
        answer = http.request("DELETE", CREATE, content=b"[" + b" " * 2_000_000 + b"]", headers={
            "auth": mock.token(), "content-type": "application/json"})
    assert_error(answer, 413)
    [entry] = mock.journal()
    assert entry["body"] is None and "bodyText" not in entry and entry["status"] == 413


def test_answer_bodies_stay_out_with_no_journal_bodies(tmp_path: Path) -> None:
    with MockApp(journal_bodies=False) as mock:
        create(mock, BODY)
        [entry] = mock.journal()
    assert entry["body"] == BODY and "responseBody" not in entry


def test_a_faulted_request_names_its_operation_app_and_fault(mock: MockApp) -> None:
    fault = mock.inject("status", status=429, retryAfter=3, count=1, operationId="getEraseRequestStatus")
    mock.inject("latency", latencyMs=1, count=1, method="DELETE")
    assert_error(status(mock, PRELOADED, GLOBEX_ADMIN), 429)
    assert create(mock, BODY).status_code == 200
    limited, slowed = mock.journal()
    assert limited["operationId"] == "getEraseRequestStatus"
    assert limited["appId"] == mock.app(GLOBEX_ADMIN).client_id
    assert limited["fault"] == {"kind": "status", "status": 429, "retryAfter": 3,
                                "operationId": "getEraseRequestStatus", "id": fault["id"]}
    assert limited["responseBody"]["errors"][0]["code"] == 429
    assert slowed["fault"]["kind"] == "latency" and slowed["operationId"] == "createEraseRequest"
    assert slowed["status"] == 200 and slowed["requestId"]


def _traffic(mock: MockApp) -> dict[str, str]:
    """Creates and reads by two tenants, a refused token and a wrong method, a
    manual-clock minute apart; returns the ISO times between them."""
    marks = {"start": mock.clock()["now"]}
    create(mock, {"userIds": ["a", "b"], "RemoveDataFromAllBots": True})
    create(mock, {"userIds": ["c"], "botIds": [], "RemoveDataFromAllBots": False}, method="POST")
    mock.advance(60)
    marks["middle"] = mock.clock()["now"]
    status(mock, PRELOADED)
    status(mock, PRELOADED, GLOBEX_ADMIN)
    with client(mock) as http:
        http.get(STATUS.format(PRELOADED), headers={"auth": "not-a-token"})
        http.put(CREATE, headers={"auth": mock.token()})
    return marks


@pytest.mark.parametrize(("filters", "expected"), [
    ({}, 6),
    ({"operation_id": "createEraseRequest"}, 1),
    ({"operation_id": "getEraseRequestStatus"}, 3),
    ({"method": "get"}, 3),
    ({"path": "/api/public/bot/eraseUsersData/status/"}, 3),
    ({"path": "/nowhere"}, 0),
    ({"status": 401}, 1),
    ({"status": 200, "method": "GET"}, 1),  # the other tenant's read is a 404
    ({"json": {"userIds": ["a"]}}, 1),
    ({"json": {"userIds": ["b", "a"], "RemoveDataFromAllBots": True}}, 1),
    ({"json": {"userIds": ["c"], "RemoveDataFromAllBots": True}}, 0),
    ({"json": {"botIds": []}}, 1),
    ({"json": {}}, 2),  # any JSON object: the two creates
    ({"json": {"RemoveDataFromAllBots": 1}}, 0),  # true is not 1
])
def test_filters_and_count_agree(mock: MockApp, filters: dict, expected: int) -> None:
    _traffic(mock)
    entries = mock.journal(**filters)
    assert len(entries) == expected == mock.count(**filters)


def test_filters_by_app_and_time(mock: MockApp) -> None:
    marks = _traffic(mock)
    globex = mock.app(GLOBEX_ADMIN).client_id
    assert [e["status"] for e in mock.journal(app_id=globex)] == [404]
    assert mock.count(from_=marks["middle"]) == 4 and mock.count(to=marks["middle"]) == 2
    assert mock.count(from_=marks["start"], to=marks["middle"], method="POST") == 1
    with client(mock) as http:
        assert_error(http.get("/__mockserver/journal?from=yesterday"), 400, "ISO-8601")
        assert_error(http.get("/__mockserver/journal/count?json={nope"), 400, "json filter")
    with pytest.raises(TypeError, match="operation_id"):
        mock.journal(operationId="createEraseRequest")


def test_pages_carry_a_cursor_instead_of_a_cap(mock: MockApp) -> None:
    for _ in range(25):
        status(mock, PRELOADED)
    with client(mock) as http:
        first = http.get("/__mockserver/journal?limit=10").json()
        assert len(first["entries"]) == 10 and first["more"] and first["next"] == first["entries"][-1]["id"]
        last = http.get(f"/__mockserver/journal?limit=10&since={first['next'] + 10}").json()
        assert len(last["entries"]) == 5 and not last["more"]
        # A filtered poll moves past what it skipped: the next poll sees only what is new.
        empty = http.get(f"/__mockserver/journal?status=404&since={first['next']}").json()
        assert empty["entries"] == [] and empty["next"] == last["next"] and not empty["more"]
    assert len(mock.journal(page_size=10)) == 25 and len(mock.journal(limit=12, page_size=5)) == 12
    status(mock, "eud-00000000-0000-4000-8000-000000000000")
    assert [e["status"] for e in mock.journal(since=empty["next"], status=404)] == [404]


def test_unmatched_requests_name_the_nearest_operation(mock: MockApp) -> None:
    token = mock.token()
    with client(mock) as http:
        http.put(CREATE, headers={"auth": token})
        http.get(STATUS.format(PRELOADED).replace("eraseUsersData", "eraseUserData"), headers={"auth": token})
        http.get(STATUS.format("eud%0a"), headers={"auth": token})
        http.get(STATUS.format(PRELOADED), headers={"auth": token})
    wrong_method, typo, malformed = mock.unmatched()
    assert (wrong_method["status"], typo["status"], malformed["status"]) == (405, 404, 400)
    assert wrong_method["nearest"] == {
        "operationId": "createEraseRequest", "method": "DELETE", "path": CREATE,
        "why": "PUT is not documented on this path (documented: DELETE, POST)"}
    assert typo["nearest"]["operationId"] == "getEraseRequestStatus"
    assert typo["nearest"]["why"].startswith("no documented path matches; the nearest is GET ")
    assert malformed["nearest"]["operationId"] == "getEraseRequestStatus"
    assert all(e["operationId"] is None and e["appId"] == mock.app().client_id for e in mock.unmatched())
    assert [e["status"] for e in mock.unmatched(method="PUT")] == [405]


def test_assert_called_passes_and_returns_the_entries(mock: MockApp) -> None:
    _traffic(mock)
    assert len(mock.assert_called("getEraseRequestStatus")) == 3
    mock.assert_called("getEraseRequestStatus", times=1, status=404, app_id=mock.app(GLOBEX_ADMIN).client_id)

    [entry] = mock.assert_called("createEraseRequest", times=1, json={"userIds": ["b"]})
    assert entry["body"]["userIds"] == ["a", "b"]
    mock.assert_not_called("createEraseRequest", json={"userIds": ["z"]})
    mock.assert_not_called("getEraseRequestStatusViaPost")


def test_assert_called_shows_the_same_operation_with_another_body(mock: MockApp) -> None:
    create(mock, {"userIds": ["b"], "RemoveDataFromAllBots": True})
    with pytest.raises(AssertionError) as failed:
        mock.assert_called("createEraseRequest", json={"userIds": ["a"]})
    message = str(failed.value)
    assert message.splitlines()[0] == (
        'expected createEraseRequest with a body containing {"userIds": ["a"]} at least once; the journal has 0')
    assert 'other body: $.userIds (["b"]) has no element "a"' in message
    assert "DELETE /api/public/bot/eraseUsersData -> 200 [createEraseRequest]" in message


def test_assert_called_shows_the_same_path_with_another_method(mock: MockApp) -> None:
    status(mock, PRELOADED)
    with client(mock) as http:
        http.put(CREATE, headers={"auth": mock.token()})
    with pytest.raises(AssertionError) as failed:
        mock.assert_called("getEraseRequestStatusViaPost")
    assert "The same path (/api/public/bot/eraseUsersData/status/{reqId}), another method:" in str(failed.value)
    assert "another operation (getEraseRequestStatus)" in str(failed.value)
    with pytest.raises(AssertionError) as failed:
        mock.assert_called("createEraseRequest")
    assert "PUT is not documented on this path (documented: DELETE, POST)" in str(failed.value)


def test_assert_called_counts_exactly_and_lists_what_it_found(mock: MockApp) -> None:
    status(mock, PRELOADED)
    status(mock, PRELOADED)
    with pytest.raises(AssertionError, match="expected getEraseRequestStatus 1 time; the journal has 2") as failed:
        mock.assert_called("getEraseRequestStatus", times=1)
    assert str(failed.value).count("-> 200 [getEraseRequestStatus]") == 2
    with pytest.raises(AssertionError, match="expected no getEraseRequestStatus status 200; the journal has 2"):
        mock.assert_not_called("getEraseRequestStatus", status=200)
    with pytest.raises(ValueError, match="did you mean 'getEraseRequestStatus'"):
        mock.assert_not_called("getEraseRequestStatuss")


def test_an_empty_journal_says_so(mock: MockApp) -> None:
    with pytest.raises(AssertionError, match="The journal holds no request at all"):
        mock.assert_called("createEraseRequest")


def test_assert_called_says_how_each_nearest_entry_differs_from_every_filter(mock: MockApp) -> None:
    token = mock.token()
    assert mock.http.get(f"/api/public/bot/eraseUsersData/status/{PRELOADED}", headers={"auth": token}).status_code \
        == 200
    with pytest.raises(AssertionError) as failed:
        mock.assert_called("getEraseRequestStatus", status=500, method="POST", app_id="cs-someone-else",
                           path="/elsewhere", from_="2000-01-01T00:00:00Z")
    message = str(failed.value)
    for reason in ("status 200, not 500", "method GET, not POST", "not cs-someone-else",
                   "path does not start with '/elsewhere'", " at "):
        assert reason in message, message
