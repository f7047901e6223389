"""Scripted outcomes: rules in the fixtures or added through the control API that say
how matching users' erasures end, and when."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mockserver.errors import ControlError
from mockserver.testing.mock_app import MockApp
from mockserver.vendor.fixtures import parse_fixtures
from tests.support import ACME_BOTS, GLOBEX_ADMIN, assert_error, client, create, status, vocabulary

STATUSES = vocabulary().user_status
DAY = 86_400


def _statuses(mock: MockApp, request_id: str, app: str | None = None) -> dict[str, str]:
    answer = status(mock, request_id, app)
    assert answer.status_code == 200, answer.text
    return {r["userId"]: r["status"] for r in answer.json()["response"]}


def _erase(mock: MockApp, *users: str, app: str | None = None, **body: object) -> str:
    answer = create(mock, {"userIds": list(users), "RemoveDataFromAllBots": True, **body}, app)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["requestId"])


def test_a_user_whose_erase_takes_32_days(mock: MockApp) -> None:
    mock.outcome(STATUSES.erased, user="slow@example.com", after=timedelta(days=32))
    request_id = _erase(mock, "slow@example.com", "quick@example.com")
    mock.advance(31 * DAY)
    assert _statuses(mock, request_id) == {"slow@example.com": STATUSES.initial,
                                           "quick@example.com": STATUSES.erased}
    mock.advance(DAY)
    assert _statuses(mock, request_id)["slow@example.com"] == STATUSES.erased


def test_a_failure_with_its_reason_by_pattern(mock: MockApp) -> None:
    mock.outcome(STATUSES.refused, user_pattern=r".*@legal-hold\.example", reason="Legal hold", after=60)
    request_id = _erase(mock, "a@legal-hold.example", "b@example.com")
    mock.advance(60)
    results = {r["userId"]: r for r in status(mock, request_id).json()["response"]}
    assert results["a@legal-hold.example"]["status"] == STATUSES.refused
    assert results["a@legal-hold.example"]["reason"] == "Legal hold"
    assert results["b@example.com"]["status"] == STATUSES.erased and "reason" not in results["b@example.com"]


def test_rules_by_bot_and_by_account(mock: MockApp) -> None:
    mock.outcome(STATUSES.refused, bot=ACME_BOTS[1], reason="Bot frozen")
    mock.outcome(STATUSES.refused, account="globex", reason="Globex says no")
    only_first_bot = _erase(mock, "u1@example.com", RemoveDataFromAllBots=False, botIds=[ACME_BOTS[0]])
    all_bots = _erase(mock, "u1@example.com")
    globex = _erase(mock, "u1@example.com", app=GLOBEX_ADMIN)
    mock.advance(DAY)
    assert _statuses(mock, only_first_bot) == {"u1@example.com": STATUSES.erased}
    assert _statuses(mock, all_bots) == {"u1@example.com": STATUSES.refused}
    assert _statuses(mock, globex, GLOBEX_ADMIN) == {"u1@example.com": STATUSES.refused}


@pytest.mark.both_backends
def test_a_rule_applies_to_requests_created_after_it_and_the_last_rule_wins(mock: MockApp) -> None:
    before = _erase(mock, "jane@example.com")
    mock.outcome(STATUSES.refused, user="jane@example.com", reason="first")
    mock.outcome(STATUSES.refused, user="jane@example.com", reason="second")
    after = _erase(mock, "jane@example.com")
    mock.advance(DAY)
    assert _statuses(mock, before) == {"jane@example.com": STATUSES.erased}
    assert status(mock, after).json()["response"][0]["reason"] == "second"
    listed = mock.http.get("/__mockserver/outcomes").json()["outcomes"]
    assert [rule["reason"] for rule in listed] == ["first", "second"]
    mock.clear_outcomes()
    assert mock.http.get("/__mockserver/outcomes").json()["outcomes"] == []


def test_a_reset_forgets_added_rules(mock: MockApp) -> None:
    mock.outcome(STATUSES.refused, user="jane@example.com", reason="x")
    mock.reset()
    request_id = _erase(mock, "jane@example.com")
    mock.advance(DAY)
    assert _statuses(mock, request_id) == {"jane@example.com": STATUSES.erased}


@pytest.mark.parametrize(("rule", "problem"), [
    ({"outcome": STATUSES.initial}, "final status"),
    ({"outcome": STATUSES.erased, "reason": "why"}, "reason goes with"),
    ({"outcome": STATUSES.erased, "userPattern": "("}, "not a regular expression"),
    ({"outcome": STATUSES.erased, "account": "initech"}, "unknown account"),
    ({"outcome": "DONE"}, None),
    ({"outcome": STATUSES.erased, "completesInSeconds": -1}, None),
])
def test_a_bad_rule_is_refused(mock: MockApp, rule: dict, problem: str | None) -> None:
    with client(mock) as http:
        assert_error(http.post("/__mockserver/outcomes", json=rule), 400, problem)


def test_the_python_api_raises_the_servers_message(mock: MockApp) -> None:
    with pytest.raises(ControlError, match="outcome must be a final status"):
        mock.outcome(STATUSES.initial, user="jane@example.com")


def test_rules_in_the_fixtures(mock: MockApp) -> None:
    document = dict(mock.fixtures.document, outcomes=[
        {"user": "slow@example.com", "outcome": STATUSES.refused, "reason": "Held", "completesInSeconds": 32 * DAY}])
    mock.load_fixtures(document)
    request_id = _erase(mock, "slow@example.com")
    mock.advance(32 * DAY - 1)
    assert _statuses(mock, request_id) == {"slow@example.com": STATUSES.initial}
    mock.advance(1)
    assert _statuses(mock, request_id) == {"slow@example.com": STATUSES.refused}
    assert mock.http.get("/__mockserver/outcomes").json()["outcomes"][0]["reason"] == "Held"


def test_a_bad_rule_in_the_fixtures_names_where_it_is(mock: MockApp) -> None:
    from mockserver.errors import FixturesError

    document = dict(mock.fixtures.document, outcomes=[{"outcome": STATUSES.erased, "account": "nope"}])
    with pytest.raises(FixturesError, match=r"outcomes\[0\]: unknown account 'nope'"):
        parse_fixtures(document, mock.documents)
