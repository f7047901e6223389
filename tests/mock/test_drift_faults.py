"""Vendor drift on demand, and per-request forcing with `Prefer`: what a client
under test sees when the real deployment drifts from the contract."""

from __future__ import annotations

import time

import pytest

from mockserver.testing.mock_app import MockApp
from tests.support import CREATE, PRELOADED, STATUS, assert_error, assert_matches, client, create, status, vocabulary

BODY = {"userIds": ["drift-user"], "RemoveDataFromAllBots": True}
STATUS_OP = vocabulary().status[0].operation_id
CREATE_OP = vocabulary().create[0].operation_id


def test_an_undocumented_status_value(mock: MockApp) -> None:
    mock.inject("statusValue", operationId=STATUS_OP)
    answer = status(mock, PRELOADED)
    assert answer.status_code == 200
    assert {r["status"] for r in answer.json()["response"]} == {"QUEUED"}
    mock.clear_faults()
    assert {r["status"] for r in status(mock, PRELOADED).json()["response"]} != {"QUEUED"}


def test_a_missing_a_renamed_and_an_extra_field(mock: MockApp) -> None:
    mock.inject("missingField", field="lastUpdatedOn", operationId=STATUS_OP, count=1)
    assert "lastUpdatedOn" not in status(mock, PRELOADED).json()
    mock.inject("renamedField", field="response", renameTo="results", operationId=STATUS_OP, count=1)
    renamed = status(mock, PRELOADED).json()
    assert "results" in renamed and "response" not in renamed
    mock.inject("extraField", field="region", value="eu-1", operationId=STATUS_OP, count=1)
    assert status(mock, PRELOADED).json()["region"] == "eu-1"
    assert_matches("EraseRequestStatus", status(mock, PRELOADED).json())  # count=1 each: then the contract again


def test_another_request_id_format_that_can_still_be_read(mock: MockApp) -> None:
    mock.inject("requestIdFormat")
    request_id = create(mock, BODY).json()["requestId"]
    assert len(request_id) == len("eud-") + 32 and "-" not in request_id[4:]
    assert not vocabulary().request_id.matches(request_id)
    read = status(mock, request_id)
    assert read.status_code == 200 and read.json()["_id"] == request_id
    mock.clear_faults()
    assert_error(status(mock, request_id), 400)  # without the fault, it is just a malformed id


def test_another_error_body_shape(mock: MockApp) -> None:
    mock.inject("errorShape")
    with client(mock) as http:
        answer = http.get(STATUS.format(PRELOADED))  # no token
    assert answer.status_code == 401
    assert answer.json() == {"error": {"message": answer.json()["error"]["message"], "status": 401}}


def test_a_gateway_page_and_a_wrong_content_type(mock: MockApp) -> None:
    mock.inject("gateway", operationId=CREATE_OP, count=1)
    answer = create(mock, BODY)
    assert answer.status_code == 502 and answer.headers["content-type"] == "text/html"
    assert "<h1>502 Bad Gateway</h1>" in answer.text
    mock.inject("contentType", contentType="text/plain; charset=utf-8", count=1)
    answer = status(mock, PRELOADED)
    assert answer.status_code == 200 and answer.headers["content-type"] == "text/plain; charset=utf-8"


def test_a_slow_first_byte(mock: MockApp) -> None:
    mock.inject("slowFirstByte", delayMs=300, count=1)
    started = time.monotonic()
    assert status(mock, PRELOADED).status_code == 200
    assert time.monotonic() - started >= 0.3  # a lower bound only: the delay happened
    assert mock.journal()[-1]["status"] == 200


def test_drift_is_narrowed_like_any_fault(mock: MockApp) -> None:
    mock.inject("statusValue", operationId=STATUS_OP, fraction=0.0)
    assert {r["status"] for r in status(mock, PRELOADED).json()["response"]} != {"QUEUED"}
    mock.clear_faults()
    mock.inject("statusValue", method="POST")
    assert {r["status"] for r in status(mock, PRELOADED).json()["response"]} != {"QUEUED"}
    assert {r["status"] for r in status(mock, PRELOADED, method="POST").json()["response"]} == {"QUEUED"}


@pytest.mark.parametrize("fault", [{"kind": "missingField"}, {"kind": "renamedField", "field": "x"}])
def test_a_drift_fault_without_its_parameters_is_refused(mock: MockApp, fault: dict) -> None:
    with client(mock) as http:
        assert_error(http.post("/__mockserver/faults", json=fault), 400, "needs")


# -- Prefer ---------------------------------------------------------------------------------------


def test_prefer_code_answers_the_documented_response(mock: MockApp) -> None:
    with client(mock) as http:
        answer = http.get(STATUS.format(PRELOADED), headers={"auth": mock.token(), "Prefer": "code=429"})
    assert_error(answer, 429)
    assert answer.headers["retry-after"] == "30" and answer.headers["preference-applied"] == "code=429"


def test_prefer_example_answers_the_named_example(mock: MockApp) -> None:
    with client(mock) as http:
        answer = http.get(STATUS.format(PRELOADED), headers={"auth": mock.token(), "Prefer": "example=mixed"})
    assert answer.status_code == 200 and answer.headers["preference-applied"] == "example=mixed"
    assert [r["status"] for r in answer.json()["response"]] == ["IN_PROGRESS", "FAILURE"]
    assert_matches("EraseRequestStatus", answer.json())


def test_prefer_never_stands_in_for_auth_or_validation(mock: MockApp) -> None:
    with client(mock) as http:
        assert_error(http.get(STATUS.format(PRELOADED), headers={"Prefer": "code=200"}), 401)
        assert_error(http.request("DELETE", CREATE, json={"userIds": []},
                                  headers={"auth": mock.token(), "Prefer": "code=200"}), 412)


def test_prefer_for_an_undocumented_code_or_example_names_what_is_documented(mock: MockApp) -> None:
    with client(mock) as http:
        answer = http.get(STATUS.format(PRELOADED), headers={"auth": mock.token(), "Prefer": "code=418"})
        assert_error(answer, 400, "documented: 200, 400, 401, 404, 429, 500, 503")
        answer = http.get(STATUS.format(PRELOADED), headers={"auth": mock.token(), "Prefer": "example=nope"})
        assert_error(answer, 400,
                     "examples: completed, invalidCredentials, invalidToken, mixed, scope, scopeAsDocumented")
