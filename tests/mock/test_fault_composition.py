"""Faults compose: every pair of kinds, injected in either order, applies both,
in the documented stages (delays, then one replacing answer, then each drift on
whatever answer resulted)."""

from __future__ import annotations

import itertools
import time
from typing import Any

import httpx
import pytest

from mockserver.testing.mock_app import MockApp
from mockserver.vendor.faults import FaultKind
from tests.support import PRELOADED, STATUS, vocabulary

DELAY_MS = 20
#: Each kind with parameters that make its effect visible on a status read.
PARAMETERS: dict[FaultKind, dict[str, Any]] = {
    FaultKind.STATUS: {"status": 503, "retryAfter": 7},
    FaultKind.LATENCY: {"latencyMs": DELAY_MS},
    FaultKind.DROP: {},
    FaultKind.GATEWAY: {},
    FaultKind.STATUS_VALUE: {},
    FaultKind.MISSING_FIELD: {"field": "lastUpdatedOn"},
    FaultKind.RENAMED_FIELD: {"field": "createdOn", "renameTo": "created"},
    FaultKind.EXTRA_FIELD: {"field": "region", "value": "eu-1"},
    FaultKind.REQUEST_ID_FORMAT: {},
    FaultKind.ERROR_SHAPE: {},
    FaultKind.CONTENT_TYPE: {"contentType": "text/plain"},
    FaultKind.SLOW_FIRST_BYTE: {"delayMs": DELAY_MS},
}
REPLACING = (FaultKind.STATUS, FaultKind.GATEWAY, FaultKind.DROP)


def _read(mock: MockApp, *, authenticated: bool) -> tuple[httpx.Response | None, float]:
    """A status read of the preloaded request (None: the connection was dropped), and how long it took."""
    headers = {"auth": mock.token()} if authenticated else {}
    started = time.monotonic()
    try:
        answer: httpx.Response | None = mock.http.get(STATUS.format(PRELOADED), headers=headers)
    except (httpx.TransportError, ConnectionAbortedError):
        answer = None
    return answer, time.monotonic() - started


def _expected_status(first: FaultKind, second: FaultKind, authenticated: bool) -> int | None:
    """The status the pair leaves: the earliest injected replacing fault's, else the mock's own."""
    replacing = next((kind for kind in (first, second) if kind in REPLACING), None)
    if replacing is FaultKind.DROP:
        return None
    if replacing is not None:
        return {FaultKind.STATUS: 503, FaultKind.GATEWAY: 502}[replacing]
    return 200 if authenticated else 401


def _assert_drift(kind: FaultKind, answer: httpx.Response) -> None:
    """`kind`'s change, where the answer it acts on has something to change."""
    fields = vocabulary().fields
    is_json = answer.headers.get("content-type", "").startswith(("application/json", "text/plain")) \
        and answer.text.startswith("{")
    body = answer.json() if is_json else None
    if kind is FaultKind.CONTENT_TYPE:
        assert answer.headers["content-type"] == "text/plain"
    elif kind is FaultKind.ERROR_SHAPE and body is not None and answer.status_code >= 400:
        assert set(body) == {"error"} and body["error"]["status"] == answer.status_code
    elif answer.status_code != 200:
        return  # the other drifts change successful answers only
    elif kind is FaultKind.STATUS_VALUE:
        assert {r[fields.user_status] for r in body[fields.results]} == {"QUEUED"}
    elif kind is FaultKind.MISSING_FIELD:
        assert fields.last_updated_on not in body
    elif kind is FaultKind.RENAMED_FIELD:
        assert "created" in body and fields.created_on not in body
    elif kind is FaultKind.EXTRA_FIELD:
        assert body["region"] == "eu-1"
    elif kind is FaultKind.REQUEST_ID_FORMAT:
        assert not vocabulary().request_id.matches(body[fields.id]) and "-" not in body[fields.id][4:]


def _assert_composed(mock: MockApp, first: FaultKind, second: FaultKind, authenticated: bool) -> None:
    answer, took = _read(mock, authenticated=authenticated)
    expected = _expected_status(first, second, authenticated)
    assert (answer.status_code if answer is not None else None) == expected
    delays = sum(DELAY_MS for kind in (first, second) if kind in (FaultKind.LATENCY, FaultKind.SLOW_FIRST_BYTE))
    assert took >= delays / 1000  # a lower bound only: each delay happened
    if answer is None:
        return
    if expected == 503:
        assert answer.headers["retry-after"] == "7"
    if expected == 502:
        assert "502 Bad Gateway" in answer.text
    for kind in (first, second):
        _assert_drift(kind, answer)
    entry = mock.journal()[-1]
    applied = [fault["kind"] for fault in entry["faults"]]
    both_replace = first in REPLACING and second in REPLACING
    assert applied == ([first] if both_replace else sorted([first, second], key=_stage_order))


def _stage_order(kind: FaultKind) -> int:
    from mockserver.vendor.faults import stage

    return stage(kind)


@pytest.mark.parametrize(("first", "second"), list(itertools.permutations(FaultKind, 2)),
                         ids=lambda kind: str(kind))
def test_every_pair_of_faults_composes(mock: MockApp, first: FaultKind, second: FaultKind) -> None:
    for kind in (first, second):
        mock.inject(kind, **PARAMETERS[kind])
    _assert_composed(mock, first, second, authenticated=True)
    _assert_composed(mock, first, second, authenticated=False)


def test_a_delayed_injected_error(mock: MockApp) -> None:
    """The WireMock habit: a stubbed error that also arrives late."""
    mock.inject("latency", latencyMs=50)
    mock.inject("status", status=503)
    answer, took = _read(mock, authenticated=True)
    assert answer is not None and answer.status_code == 503 and took >= 0.05


def test_drifts_stack_in_either_order(mock: MockApp) -> None:
    mock.inject("errorShape")
    mock.inject("statusValue")
    answer, _ = _read(mock, authenticated=True)
    assert answer is not None and {r["status"] for r in answer.json()["response"]} == {"QUEUED"}
    answer, _ = _read(mock, authenticated=False)
    assert answer is not None and answer.json()["error"]["status"] == 401


def test_a_second_replacing_fault_keeps_its_count(mock: MockApp) -> None:
    mock.inject("status", status=503, count=1)
    mock.inject("gateway", count=1)
    assert _read(mock, authenticated=True)[0].status_code == 503  # type: ignore[union-attr]
    assert _read(mock, authenticated=True)[0].status_code == 502  # type: ignore[union-attr]
    assert _read(mock, authenticated=True)[0].status_code == 200  # type: ignore[union-attr]


def test_the_fault_list_shows_what_is_left_and_marks_used_up_faults(mock: MockApp) -> None:
    mock.inject("status", status=503, count=2)
    mock.inject("extraField", field="region", value="eu-1")
    _read(mock, authenticated=True)
    listed = mock.http.get("/__mockserver/faults").json()["faults"]
    assert [(f["kind"], f["remaining"], f["active"]) for f in listed] == [("status", 1, True),
                                                                          ("extraField", None, True)]
    _read(mock, authenticated=True)
    listed = mock.http.get("/__mockserver/faults").json()["faults"]
    assert [(f["kind"], f["remaining"], f["active"]) for f in listed] == [("status", 0, False),
                                                                          ("extraField", None, True)]
