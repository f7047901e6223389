"""The test helpers a team's integration tests lean on: waiting for an erase request
to end, asserting that nothing unmatched was sent, and the fixture app's fields."""

from __future__ import annotations

import pytest

from mockserver import ControlError, MockApp
from tests.support import create

BODY = {"userIds": ["jane.doe@example.com"], "RemoveDataFromAllBots": True}


def _created(mock: MockApp) -> str:
    response = create(mock, BODY)
    assert response.status_code == 200, response.text
    return str(response.json()["requestId"])


def test_wait_until_final_on_the_real_clock_returns_the_finished_request() -> None:
    with MockApp(clock="real", progress_delay=0.2) as mock:
        request_id = _created(mock)
        stored = mock.wait_until_final(request_id, timeout=30)
    assert [user["status"] for user in stored["users"]] == [user["finalStatus"] for user in stored["users"]]
    assert stored["requestId"] == request_id


def test_wait_until_final_on_the_manual_clock_says_to_advance_instead(mock: MockApp) -> None:
    request_id = _created(mock)
    with pytest.raises(ControlError) as refused:
        mock.wait_until_final(request_id, timeout=30)
    assert "clock is manual" in refused.value.message and "advance" in refused.value.message
    seconds = float(refused.value.message.rsplit("server.advance(", 1)[1].rstrip(")"))
    mock.advance(seconds)
    assert mock.wait_until_final(request_id)["requestId"] == request_id


def test_wait_until_final_times_out_with_what_is_pending() -> None:
    with MockApp(clock="real", progress_delay=3600) as mock:
        request_id = _created(mock)
        with pytest.raises(TimeoutError, match=r"1 of 1 users pending"):
            mock.wait_until_final(request_id, timeout=0.3)


def test_assert_no_unmatched_passes_on_documented_traffic_and_names_the_rest(mock: MockApp) -> None:
    _created(mock)
    mock.assert_no_unmatched()
    mock.http.put("/api/public/bot/eraseUsersData", json=BODY)
    with pytest.raises(AssertionError) as failed:
        mock.assert_no_unmatched()
    assert "1 did not" in str(failed.value) and "PUT /api/public/bot/eraseUsersData" in str(failed.value)


def test_app_exposes_the_fields_the_docs_name(mock: MockApp) -> None:
    app = mock.app()
    assert app.client_id.startswith("cs-") and app.client_secret and app.name and app.account_id
    assert app.public()["clientId"] == app.client_id and "clientSecret" not in app.public()
