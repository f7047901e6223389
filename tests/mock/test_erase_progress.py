"""Erase requests move through their lifecycle with the manual clock."""

from __future__ import annotations

from datetime import datetime

import pytest

from mockserver import MockServer
from mockserver.testing.mock_app import MockApp
from tests.support import (
    ACME_BOTS,
    GLOBEX_BOT,
    PRELOADED,
    assert_matches,
    create,
    status,
    vocabulary,
)

#: The state's semantics hold on both backends (tests/conftest.py).
pytestmark = pytest.mark.both_backends

END_USER = "u-3c8c0a52-6d1e-4f7b-9c0a-2b1e7d5f4a90"
EMAIL_USER = "jane.doe@example.com"
ACCOUNT_OWNER = "owner@acme.example"
BOT_OWNER = "u-9d2f4b61-0c3a-4e5d-8f7a-6b1c2d3e4f50"
CO_DEVELOPER = "dev@acme.example"


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _new(server: MockServer, **body) -> str:
    response = create(server, body)
    assert response.status_code == 200, response.text
    assert_matches("EraseRequestAccepted", response.json())
    assert response.json()["status"] == "in-progress"
    request_id = response.json()["requestId"]
    assert vocabulary().request_id.matches(request_id)
    return request_id


def _read(server: MockServer, request_id: str) -> dict:
    response = status(server, request_id)
    assert response.status_code == 200, response.text
    assert_matches("EraseRequestStatus", response.json())
    return response.json()


def test_create_then_in_progress_then_success(mock: MockApp) -> None:
    request_id = _new(mock, userIds=[END_USER, EMAIL_USER], RemoveDataFromAllBots=True)
    first = _read(mock, request_id)
    assert first["_id"] == request_id
    assert [r["status"] for r in first["response"]] == ["IN_PROGRESS", "IN_PROGRESS"]
    assert first["lastUpdatedOn"] == first["createdOn"]

    mock.advance(1)  # the default delay is 2 s
    assert [r["status"] for r in _read(mock, request_id)["response"]] == ["IN_PROGRESS"] * 2

    mock.advance(1)
    done = _read(mock, request_id)
    assert done["response"] == [
        {"userId": END_USER, "status": "SUCCESS"},
        {"userId": EMAIL_USER, "status": "SUCCESS"},
    ]
    assert done["createdOn"] == first["createdOn"]
    assert _at(done["lastUpdatedOn"]) > _at(done["createdOn"])
    assert (_at(done["lastUpdatedOn"]) - _at(done["createdOn"])).total_seconds() == 2

    mock.advance(3600)  # final statuses never change, nor does lastUpdatedOn
    assert _read(mock, request_id) == done


def test_forbidden_users_end_in_failure_with_a_reason(mock: MockApp) -> None:
    users = [ACCOUNT_OWNER, BOT_OWNER, CO_DEVELOPER, END_USER]
    request_id = _new(mock, userIds=users, botIds=ACME_BOTS[:1])
    mock.advance(5)
    results = _read(mock, request_id)["response"]
    assert [r["userId"] for r in results] == users
    assert [r["status"] for r in results] == ["FAILURE", "FAILURE", "FAILURE", "SUCCESS"]
    assert "account owner" in results[0]["reason"]
    assert "owner of one or more bots" in results[1]["reason"]
    assert "co-developer" in results[2]["reason"]
    assert "reason" not in results[3]


def test_unknown_users_end_in_success(mock: MockApp) -> None:
    request_id = _new(mock, userIds=["nobody@example.com"], RemoveDataFromAllBots=True)
    mock.advance(5)
    assert _read(mock, request_id)["response"][0]["status"] == "SUCCESS"


def test_remove_from_all_bots_covers_every_bot_and_ignores_bot_ids(mock: MockApp) -> None:
    request_id = _new(mock, userIds=[END_USER], botIds=[GLOBEX_BOT], RemoveDataFromAllBots=True)
    assert _read(mock, request_id)["RemoveDataFromAllBots"] is True
    assert mock.stored(request_id)["botIds"] == ACME_BOTS


def test_listed_bots_only_and_unknown_bots_ignored(mock: MockApp) -> None:
    request_id = _new(mock, userIds=[END_USER], botIds=[ACME_BOTS[1], GLOBEX_BOT],
                      RemoveDataFromAllBots=False)
    assert _read(mock, request_id)["RemoveDataFromAllBots"] is False
    assert mock.stored(request_id)["botIds"] == [ACME_BOTS[1]]


def test_remove_from_all_bots_defaults_to_false(mock: MockApp) -> None:
    request_id = _new(mock, userIds=[END_USER], botIds=ACME_BOTS)
    assert _read(mock, request_id)["RemoveDataFromAllBots"] is False


def test_post_aliases_behave_like_the_documented_methods(mock: MockApp) -> None:
    response = create(mock, {"userIds": [END_USER], "RemoveDataFromAllBots": True}, method="POST")
    request_id = response.json()["requestId"]
    via_post = status(mock, request_id, method="POST")
    assert via_post.status_code == 200
    assert via_post.json() == _read(mock, request_id)


def test_preloaded_request_starts_half_done(mock: MockApp) -> None:
    before = _read(mock, PRELOADED)
    assert [r["status"] for r in before["response"]] == ["SUCCESS", "FAILURE", "IN_PROGRESS"]
    mock.advance(3600)
    after = _read(mock, PRELOADED)
    assert [r["status"] for r in after["response"]] == ["SUCCESS", "FAILURE", "SUCCESS"]
    assert _at(after["lastUpdatedOn"]) > _at(before["lastUpdatedOn"])


def test_fixtures_loaded_at_run_time_preload_requests(mock: MockApp) -> None:
    document = mock.fixtures.document
    request_id = "eud-00000000-0000-4000-8000-000000000001"
    mock.load_fixtures(dict(document, requests=[{
        "requestId": request_id, "account": "acme", "createdSecondsAgo": 10,
        "users": [{"userId": BOT_OWNER, "status": "IN_PROGRESS", "completesInSeconds": 5},
                  {"userId": END_USER, "status": "SUCCESS"}],
    }]))
    assert status(mock, PRELOADED).status_code == 404  # replaced by the new fixtures
    assert [r["status"] for r in _read(mock, request_id)["response"]] == ["IN_PROGRESS", "SUCCESS"]
    mock.advance(5)
    assert [r["status"] for r in _read(mock, request_id)["response"]] == ["FAILURE", "SUCCESS"]
