"""The vendor's rate limit in the mock (issue 21): per account, both operations
together, 60 calls per rolling minute and 1800 per rolling hour from the
contract's `x-rate-limit`, on the mock's manual clock; configurable per account
and globally. In-process (`MockApp`), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from contracts.core.platform import Refusal
from mockserver.testing.mock_app import MockApp
from tests.support import (
    ACME_UNSCOPED,
    CREATE,
    GLOBEX_ADMIN,
    STATUS,
    assert_error,
    vocabulary,
)

UNKNOWN = "eud-00000000-0000-4000-8000-000000000000"
BODY = {"userIds": ["u-rate"], "RemoveDataFromAllBots": True}
LIMIT = vocabulary().rate_limit
RATE_LIMITED = vocabulary().answer(Refusal.RATE_LIMITED)


def _call(mock: MockApp, index: int, token: str) -> httpx.Response:
    """A call of one of the four operations, in turn: creates and status reads alike."""
    operation = list(vocabulary().operations.values())[index % len(vocabulary().operations)]
    path = operation.url_path(reqId=UNKNOWN)
    body = BODY if operation.has_body else None
    return mock.http.request(operation.method, path, json=body, headers={"auth": token})


def _use(mock: MockApp, calls: int, app: str = GLOBEX_ADMIN) -> list[int]:
    token = mock.token(app)
    return [_call(mock, index, token).status_code for index in range(calls)]


def assert_rate_limited(response: httpx.Response, operation_id: str | None = None) -> None:
    """The platform's 429: documented by the operation, the contract's error body, the vendor's message."""
    assert_error(response, RATE_LIMITED.status, refusal=Refusal.RATE_LIMITED)
    assert response.json() == {"errors": [{"msg": RATE_LIMITED.message, "code": RATE_LIMITED.code}]}
    assert int(response.headers["Retry-After"]) >= 1
    if operation_id is not None:
        assert vocabulary().operation(operation_id).documents(RATE_LIMITED.status)


@pytest.mark.both_backends
def test_the_61st_call_of_an_account_within_a_minute_is_429_whichever_operation(mock: MockApp) -> None:
    statuses = _use(mock, LIMIT.per_minute)
    assert RATE_LIMITED.status not in statuses and set(statuses) <= {200, 404}
    token = mock.token(GLOBEX_ADMIN)
    for index, operation in enumerate(vocabulary().operations.values()):
        response = _call(mock, index, token)
        assert_rate_limited(response, operation.operation_id)
        assert response.headers["Retry-After"] == "60"  # every counted call is of this second
    state = mock.rate_limit("globex")
    assert state == {"account": "globex", "limit": {"perMinute": LIMIT.per_minute, "perHour": LIMIT.per_hour},
                     "usedLastMinute": LIMIT.per_minute, "usedLastHour": LIMIT.per_minute, "limited": True,
                     "retryAfter": 60, "window": "minute"}


@pytest.mark.both_backends
def test_another_account_is_unaffected_and_a_minute_later_calls_are_accepted_again(mock: MockApp) -> None:
    _use(mock, LIMIT.per_minute)
    assert _use(mock, 1)[0] == RATE_LIMITED.status
    assert _use(mock, 3, app=None) == [200, 200, 404]  # acme, the default app's account
    mock.advance(59)
    assert _use(mock, 1)[0] == RATE_LIMITED.status
    mock.advance(1)
    assert _use(mock, 1) == [200]
    assert mock.rate_limit("globex")["usedLastMinute"] == 1


def test_a_rolling_minute_frees_the_calls_as_they_age(mock: MockApp) -> None:
    _use(mock, LIMIT.per_minute // 2)
    mock.advance(30)
    _use(mock, LIMIT.per_minute - LIMIT.per_minute // 2)
    refused = mock.http.get(STATUS.format(UNKNOWN), headers={"auth": mock.token(GLOBEX_ADMIN)})
    assert refused.status_code == RATE_LIMITED.status and refused.headers["Retry-After"] == "30"
    mock.advance(30)  # the first half left the window; the second half is still in it
    statuses = _use(mock, LIMIT.per_minute // 2 + 1)
    assert statuses[-1] == RATE_LIMITED.status and RATE_LIMITED.status not in statuses[:-1]


def test_the_1801st_call_within_an_hour_is_429_even_when_the_minute_has_room(mock: MockApp) -> None:
    minutes = LIMIT.per_hour // LIMIT.per_minute
    for _ in range(minutes):
        assert RATE_LIMITED.status not in _use(mock, LIMIT.per_minute)
        mock.advance(60)
    refused = mock.http.request("DELETE", CREATE, json=BODY, headers={"auth": mock.token(GLOBEX_ADMIN)})
    assert_rate_limited(refused)
    assert mock.rate_limit("globex")["window"] == "hour"
    assert int(refused.headers["Retry-After"]) == 3600 - minutes * 60
    mock.advance(int(refused.headers["Retry-After"]))
    assert _use(mock, 1)[0] == 200


@pytest.mark.both_backends
def test_refused_calls_do_not_count_and_a_reset_clears_the_count(mock: MockApp) -> None:
    mock.http.get(STATUS.format(UNKNOWN))  # no token: refused before its account is known
    mock.http.get(STATUS.format(UNKNOWN), headers={"auth": mock.token(ACME_UNSCOPED)})
    assert mock.rate_limit("acme")["usedLastMinute"] == 0
    _use(mock, LIMIT.per_minute + 5)  # five 429s, not counted
    assert mock.rate_limit("globex")["usedLastMinute"] == LIMIT.per_minute
    mock.reset()
    assert mock.rate_limit("globex")["usedLastMinute"] == 0
    assert _use(mock, 1) == [200]


def test_the_journal_marks_a_rate_limited_answer(mock: MockApp) -> None:
    _use(mock, LIMIT.per_minute + 1)
    entries = mock.journal()
    marked = [entry for entry in entries if entry["rateLimited"]]
    assert len(marked) == 1 and marked[0] is entries[-1]
    assert marked[0]["rateLimited"] == {"window": "minute", "perMinute": LIMIT.per_minute,
                                        "perHour": LIMIT.per_hour, "retryAfter": 60}
    assert marked[0]["status"] == RATE_LIMITED.status and marked[0]["appId"] == mock.app(GLOBEX_ADMIN).client_id
    assert all(entry["rateLimited"] is None for entry in entries[:-1])


def test_the_control_api_lists_every_account_and_refuses_an_unknown_one(mock: MockApp) -> None:
    listed = mock.http.get("/__mockserver/rate-limits").json()["accounts"]
    assert [state["account"] for state in listed] == ["acme", "globex"]
    assert listed[0]["limit"] == {"perMinute": 1_000_000, "perHour": 60_000_000}  # the staging account's own
    for state in listed:
        assert_matches_control(mock, "RateLimitState", state)
    missing = mock.http.get("/__mockserver/rate-limits/initech")
    assert_error(missing, 404, "No account 'initech' in the fixtures (known: acme, globex)")
    apps = mock.http.get("/__mockserver/apps").json()["apps"]
    assert {app["account"]: app["rateLimit"]["perMinute"] for app in apps} == {"acme": 1_000_000, "globex": 60}


def assert_matches_control(mock: MockApp, schema: str, payload: Any) -> None:
    from openapi_schema_validator import OAS30Validator

    control = mock.documents.control
    root = dict(control.schema(schema), components=control.document["components"])
    assert not list(OAS30Validator(root).iter_errors(payload)), payload


def test_an_account_s_own_limit_from_the_fixtures() -> None:
    with MockApp() as mock:
        document = json.loads(json.dumps(mock.fixtures.document))
        accounts = {account["id"]: account for account in document["accounts"]}
        accounts["globex"]["rateLimit"] = {"perMinute": 3, "perHour": 5}
        accounts["acme"]["rateLimit"] = {"unlimited": True}
        mock.load_fixtures(document)
        assert _use(mock, 4) == [200, 200, 404, RATE_LIMITED.status]
        mock.advance(60)
        assert _use(mock, 3) == [200, 200, RATE_LIMITED.status]  # five in the hour
        assert mock.rate_limit("globex")["window"] == "hour"
        assert mock.rate_limit("acme")["limit"] is None
        assert RATE_LIMITED.status not in _use(mock, 200, app=None)


@pytest.mark.parametrize(("setting", "globex", "acme"), [
    ("off", None, None),
    ("5/7", {"perMinute": 5, "perHour": 7}, {"perMinute": 1_000_000, "perHour": 60_000_000}),
])
def test_the_global_setting(setting: str, globex: dict[str, int] | None, acme: dict[str, int] | None) -> None:
    with MockApp(rate_limit=setting) as mock:
        assert mock.rate_limit("globex")["limit"] == globex
        assert mock.rate_limit("acme")["limit"] == acme  # its own limit wins over a default, not over off
        statuses = _use(mock, 6)
        assert (RATE_LIMITED.status in statuses) is (globex is not None)


def test_a_bad_setting_is_refused_with_what_to_write() -> None:
    from mockserver.errors import SettingsError

    with pytest.raises(SettingsError, match=r"--rate-limit 'fast': use contract, off, or PER_MINUTE/PER_HOUR"):
        MockApp(rate_limit="fast")
