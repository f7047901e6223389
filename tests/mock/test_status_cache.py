"""Issue 13: what the status call's speed-ups must never change.

- The front door remembers Connexion's verdict on a request line it accepted
  (`middleware.FrontDoor`): a repeated line still gets every auth rule, jti
  once, faults, the journal, and anything else on it (a query parameter, a
  body) still goes through Connexion's validation.
- Each worker keeps rendered status bodies (`Runtime.status_of`) and learns of
  shared changes from a counter in shared memory (`Store.changes()`): no
  worker may ever answer a status that is no longer true, after a manual
  clock advance, a reset, a fixtures load, a fault, or retention forgetting
  a request, whichever worker made the change.

The two-worker tests open a new connection per read, so the kernel spreads
the reads over both workers; the journal (each row names its worker) shows
that both answered.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mockserver import MockServer
from mockserver.testing.mock_app import MockApp
from tests.support import (
    ACME_JTI,
    CREATE,
    PRELOADED,
    STATUS,
    assert_error,
    connection,
    create,
    over_both_workers,
    sign,
    status,
)

BODY = {"userIds": ["u-cache"], "RemoveDataFromAllBots": True}
READS = 24  # per round, each on its own connection


# -- one process: the remembered verdict keeps every check ---------------------------------------------


def test_a_remembered_request_line_still_checks_every_token(mock: MockApp) -> None:
    assert status(mock, PRELOADED).status_code == 200
    assert status(mock, PRELOADED).status_code == 200  # the line is remembered now
    assert_error(status(mock, PRELOADED, token="not-a-jwt"), 401)
    assert_error(status(mock, PRELOADED, token=sign(mock, secret="wrong-secret")), 401, "bad signature")
    assert_error(status(mock, PRELOADED, token=sign(mock, exp=1)), 401, "expired")
    assert_error(mock.http.get(STATUS.format(PRELOADED)), 401, "Missing token")
    strict = sign(mock, ACME_JTI)
    assert status(mock, PRELOADED, token=strict).status_code == 200
    assert_error(status(mock, PRELOADED, token=strict), 401, "already used")  # jti once, on a remembered line


def test_a_remembered_request_line_does_not_stand_for_other_requests(mock: MockApp) -> None:
    assert status(mock, PRELOADED).status_code == 200
    http, headers = mock.http, {"auth": mock.token()}
    # strict validation: an undeclared query parameter, every time
    for _ in range(2):
        assert_error(http.get(STATUS.format(PRELOADED) + "?x=1", headers=headers), 400)
    # the POST alias with a body (ignored, but not a request line alone)
    answer = http.post(STATUS.format(PRELOADED), headers=headers, content=b"{}")
    assert answer.status_code == 200 and answer.json()["_id"] == PRELOADED
    # an id the contract refuses is never accepted, however often it comes
    for _ in range(2):
        assert_error(http.get(STATUS.format("eud-not-a-uuid"), headers=headers), 400)


def test_faults_and_the_journal_apply_to_remembered_lines(mock: MockApp) -> None:
    for _ in range(3):
        assert status(mock, PRELOADED).status_code == 200
    mock.inject("status", status=429, retryAfter=3, count=1)
    assert_error(status(mock, PRELOADED), 429)
    assert status(mock, PRELOADED).status_code == 200
    entries = [e for e in mock.journal() if e["path"] == STATUS.format(PRELOADED)]
    assert [e["status"] for e in entries] == [200, 200, 200, 429, 200]
    assert {e["operationId"] for e in entries} == {"getEraseRequestStatus"}
    assert all(e["appId"] for e in entries)


def test_without_the_shared_counter_every_change_is_still_read(tmp_path: Path) -> None:
    """A state whose counter file cannot be made (here: taken by a directory) reads
    the control row on every request, as before the counter."""
    (tmp_path / "state.db-changes").mkdir()
    with MockApp(state=tmp_path / "state.db", clock="manual") as mock:
        assert mock.service.store.changes() is None
        request_id = create(mock, BODY).json()["requestId"]
        assert status(mock, request_id).json()["response"][0]["status"] == "IN_PROGRESS"
        mock.service.store.advance_manual_clock(5_000)  # behind the service's back: only the row says it
        assert status(mock, request_id).json()["response"][0]["status"] == "SUCCESS"


# -- two workers sharing a state file --------------------------------------------------------------------


#: The module's two-worker server is built once, on one pytest worker.
pytestmark = pytest.mark.xdist_group("status-cache")


@pytest.fixture(scope="module")
def two_workers_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MockServer]:
    state = tmp_path_factory.mktemp("two-workers") / "state.db"
    with MockServer(state=state, workers=2, clock="manual") as server:
        yield server


@pytest.fixture
def two_workers(two_workers_session: MockServer) -> MockServer:
    """One two-worker server for the module, back to its fixtures (and clock, and no
    faults) before each test: a reset is itself one of the changes every worker must see."""
    two_workers_session.reset()
    return two_workers_session


def _reads(server: MockServer, request_id: str, token: str | None = None) -> list[httpx.Response]:
    """Reads of the request, READS to a round, each on a connection of its own, until both
    workers have answered some."""
    token, path = token or server.token(), STATUS.format(request_id)

    def one_round() -> list[httpx.Response]:
        answers = []
        for _ in range(READS):
            with connection(server.base_url) as http:
                answers.append(http.get(path, headers={"auth": token}))
        return answers

    return over_both_workers(server, one_round, path=path)


def _statuses(answers: list[httpx.Response]) -> set[object]:
    return {(a.status_code, a.json()["response"][0]["status"] if a.status_code == 200 else None) for a in answers}


def _both_workers_answered(server: MockServer, request_id: str) -> None:
    workers = {e["worker"] for e in server.journal(limit=10_000) if e["path"] == STATUS.format(request_id)}
    assert len(workers) == 2, "both workers answered status reads"


def test_no_worker_serves_a_status_from_before_a_clock_advance(two_workers: MockServer) -> None:
    server = two_workers
    request_id = create(server, BODY).json()["requestId"]
    for _ in range(3):  # every worker caches the body and remembers the line
        assert _statuses(_reads(server, request_id)) == {(200, "IN_PROGRESS")}
    server.advance(1)
    assert _statuses(_reads(server, request_id)) == {(200, "IN_PROGRESS")}
    server.advance(1)  # the default delay is 2 s: final from now on, in every worker
    assert _statuses(_reads(server, request_id)) == {(200, "SUCCESS")}
    _both_workers_answered(server, request_id)


def test_no_worker_serves_a_status_from_before_a_reset_or_a_fixtures_load(two_workers: MockServer) -> None:
    server = two_workers
    request_id = create(server, BODY).json()["requestId"]
    token = sign(server, exp=None)  # one token for all reads: only the state changes
    assert _statuses(_reads(server, request_id, token)) == {(200, "IN_PROGRESS")}
    server.reset()
    assert _statuses(_reads(server, request_id, token)) == {(404, None)}
    assert len(preloaded := _statuses(_reads(server, PRELOADED, token))) == 1 and (404, None) not in preloaded
    _both_workers_answered(server, PRELOADED)
    server.load_fixtures(dict(server.fixtures.document, requests=[]))  # the preloaded request goes too
    assert _statuses(_reads(server, PRELOADED, token)) == {(404, None)}


def test_a_fault_injected_through_one_worker_applies_in_every_worker_at_once(two_workers: MockServer) -> None:
    server = two_workers
    before = _statuses(_reads(server, PRELOADED))
    assert len(before) == 1 and (404, None) not in before
    server.inject("status", status=503, retryAfter=1)
    assert {a.status_code for a in _reads(server, PRELOADED)} == {503}
    server.clear_faults()
    assert _statuses(_reads(server, PRELOADED)) == before


def test_a_request_retention_forgot_is_not_served_from_any_worker_cache(tmp_path: Path) -> None:
    with MockServer(state=tmp_path / "state.db", workers=2, clock="manual",
                    extra_args=["--retain-finished-seconds", "60"]) as server:
        request_id = create(server, BODY).json()["requestId"]
        server.advance(5)
        assert _statuses(_reads(server, request_id)) == {(200, "SUCCESS")}  # cached, final, in both workers
        server.advance(120)
        seen: list[set[object]] = []
        for _ in range(40):  # housekeeping runs within a second of a request, in either worker
            seen.append(_statuses(_reads(server, request_id)))
            if seen[-1] == {(404, None)}:
                break
        assert seen[-1] == {(404, None)}, seen
        gone = next(i for i, answers in enumerate(seen) if (404, None) in answers)
        assert all(answers == {(404, None)} for answers in seen[gone + 1:])
        assert _statuses(_reads(server, request_id)) == {(404, None)}


def test_a_create_on_one_worker_is_read_on_the_other_at_once(two_workers: MockServer) -> None:
    server = two_workers
    for _ in range(10):
        with connection(server.base_url) as http:
            answer = http.request("DELETE", CREATE, json=BODY, headers={"auth": server.token()})
        assert _statuses(_reads(server, answer.json()["requestId"])) == {(200, "IN_PROGRESS")}
