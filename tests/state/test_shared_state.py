"""Issue 12: several mock instances, as separate processes on separate ports
(as separate hosts would run them), share one state in a real PostgreSQL
server that the tests start themselves (tests/postgres.py).

The instances of this module are started once and shared by its tests, in
order (one xdist group: one worker runs them all); the kill test comes last.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from contracts.core.platform import Refusal
from mockserver import MockServer
from tests.postgres import Postgres
from tests.support import (
    ACME_JTI,
    CREATE,
    GLOBEX_ADMIN,
    PRELOADED,
    STATUS,
    assert_error,
    connection,
    sign,
    wait_until,
)

pytestmark = pytest.mark.xdist_group("shared-state")
BODY = {"userIds": ["u-shared"], "RemoveDataFromAllBots": True}


def _start_all(servers: list[MockServer]) -> list[MockServer]:
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(servers)) as pool:
        return list(pool.map(MockServer.start, servers))


@pytest.fixture(scope="module")
def instances(postgres: Postgres) -> Iterator[list[MockServer]]:
    url = postgres.database()
    servers = [MockServer(state=url, clock="manual") for _ in range(3)]
    try:
        yield _start_all(servers)
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def trio(instances: list[MockServer]) -> list[MockServer]:
    instances[0].reset()
    return instances


def _create(server: MockServer, token: str | None = None) -> httpx.Response:
    """A create on a new connection (`token`: minted beforehand, as a client that
    must not depend on the control API would)."""
    with connection(server.base_url) as http:
        return http.request("DELETE", CREATE, json=BODY, headers={"auth": token or server.token()})


def _status(server: MockServer, request_id: str, token: str | None = None) -> httpx.Response:
    with connection(server.base_url) as http:
        return http.get(STATUS.format(request_id), headers={"auth": token or server.token()})


def _readable(server: MockServer, request_ids: list[str]) -> set[int]:
    """The status codes of reading each request on `server` (one connection)."""
    with connection(server.base_url) as http:
        headers = {"auth": server.token()}
        return {http.get(STATUS.format(request_id), headers=headers).status_code for request_id in request_ids}


def test_each_instance_has_its_own_port_and_all_report_the_shared_state(trio: list[MockServer]) -> None:
    assert len({server.base_url for server in trio}) == 3
    states = [server.health()["state"] for server in trio]
    assert {(s["backend"], s["status"], s["location"]) for s in states} == {("postgresql", "ok", trio[0].state)}


def test_a_request_created_on_one_instance_is_read_on_the_others(trio: list[MockServer]) -> None:
    a, b, c = trio
    request_id = _create(a).json()["requestId"]
    assert [_status(server, request_id).status_code for server in (b, c)] == [200, 200]
    assert _status(b, request_id).json()["response"][0]["status"] == "IN_PROGRESS"


def test_a_jti_sent_to_all_instances_at_once_is_accepted_once(trio: list[MockServer]) -> None:
    token = sign(trio[0], ACME_JTI)
    barrier = threading.Barrier(len(trio))

    def send(server: MockServer) -> httpx.Response:
        with connection(server.base_url) as http:
            barrier.wait()
            return http.get(STATUS.format(PRELOADED), headers={"auth": token})

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(trio)) as pool:
        answers = list(pool.map(send, trio))
    assert sorted(answer.status_code for answer in answers) == [200, 401, 401]
    for refused in (answer for answer in answers if answer.status_code == 401):
        assert_error(refused, 401, "already used")


def test_a_clock_advance_through_one_instance_moves_every_instance(trio: list[MockServer]) -> None:
    a, b, c = trio
    request_id = _create(b).json()["requestId"]
    a.advance(5)
    assert len({server.clock()["nowMs"] for server in trio}) == 1
    assert _status(c, request_id).json()["response"][0]["status"] == "SUCCESS"


def test_a_fault_through_one_instance_applies_on_the_others(trio: list[MockServer]) -> None:
    a, b, c = trio
    a.inject("status", status=429, retryAfter=2, count=1, operationId="getEraseRequestStatus")
    limited = _status(b, PRELOADED)
    assert_error(limited, 429)
    assert limited.headers["retry-after"] == "2"
    assert _status(c, PRELOADED).status_code == 200  # its one hit was used on b
    wait_until(lambda: c.count(status=429) == 1)  # one journal for all (b writes its rows within 50 ms)


def test_a_reset_and_a_fixtures_load_through_one_instance_are_seen_by_all(trio: list[MockServer]) -> None:
    a, b, c = trio
    request_id = _create(a).json()["requestId"]
    a.reset()
    assert _status(b, request_id).status_code == 404
    document = a.fixtures.document
    renamed = dict(document, accounts=[dict(account, apps=[dict(app, clientSecret=app["clientSecret"] + "-v2")
                                                           for app in account["apps"]])
                                       for account in document["accounts"]])
    a.load_fixtures(renamed)
    token = a.token()  # signed with the new secret
    assert _status(c, PRELOADED, token).status_code == 200
    assert_error(_status(b, PRELOADED, b.token()), 401, "bad signature")  # b's client still has the old one
    a.reset()  # the original fixtures again, for the tests after this one


def test_the_rate_limit_is_one_count_per_account_across_instances(trio: list[MockServer]) -> None:
    """An account's calls through any instance count against one limit (the count is in the
    database): 60 spread over three instances, then the 61st is 429 on each of them."""
    limit = trio[0].rate_limit("globex")["limit"]["perMinute"]
    token = sign(trio[0], GLOBEX_ADMIN)
    statuses = [_status(trio[i % len(trio)], PRELOADED, token).status_code for i in range(limit)]
    assert set(statuses) == {404}  # the preloaded request is acme's
    for server in trio:
        assert_error(_status(server, PRELOADED, token), 429, refusal=Refusal.RATE_LIMITED)
    assert {server.rate_limit("globex")["usedLastMinute"] for server in trio} == {limit}
    trio[1].advance(60)
    assert _status(trio[2], PRELOADED, token).status_code == 404
    assert trio[0].rate_limit("acme")["usedLastMinute"] == 0  # another account, untouched


def test_kill_9_of_one_instance_during_a_burst_loses_no_acknowledged_create(trio: list[MockServer]) -> None:
    a, b, c = trio
    acknowledged: list[str] = []
    lock = threading.Lock()
    tokens = {server.base_url: server.token() for server in trio}

    def burst(server: MockServer) -> None:
        for _ in range(40):
            try:
                answer = _create(server, tokens[server.base_url])
            except httpx.TransportError:
                return  # killed under us: whatever it had not answered was never acknowledged
            if answer.status_code == 200:
                with lock:
                    acknowledged.append(answer.json()["requestId"])

    threads = [threading.Thread(target=burst, args=(server,)) for server in (a, a, b, c)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(acknowledged) >= 20, timeout=60)
    a.kill()
    for thread in threads:
        thread.join(timeout=120)
    assert len(acknowledged) >= 20
    for server in (b, c):
        assert _readable(server, acknowledged) == {200}


def test_a_database_outage_answers_503_then_recovers_and_loses_nothing() -> None:
    postgres = Postgres()  # its own server: the other tests' keeps running
    try:
        with MockServer(state=postgres.database(), clock="manual") as server:
            token = server.token()
            before = [_create(server, token).json()["requestId"] for _ in range(5)]
            answers: list[httpx.Response] = []
            stop = threading.Event()

            def traffic() -> None:
                while not stop.is_set():
                    answers.append(_create(server, token))
                    time.sleep(0.01)

            thread = threading.Thread(target=traffic)
            thread.start()
            try:
                wait_until(lambda: len(answers) >= 3)
                postgres.stop()
                wait_until(lambda: any(answer.status_code == 503 for answer in answers))
                assert server.health()["state"]["status"] == "unavailable"
                with connection(server.base_url, timeout=5) as http:  # httpx's default
                    assert_error(http.get("/__mockserver/ready"), 503, "Not ready")
                postgres.start()
                wait_until(lambda: answers[-1].status_code == 200, timeout=30)
                wait_until(server.ready)
            finally:
                stop.set()
                thread.join()
            refused = [answer for answer in answers if answer.status_code != 200]
            assert refused and {answer.status_code for answer in refused} == {503}
            for answer in refused:
                assert_error(answer, 503, "state database cannot be reached")
                assert answer.headers["retry-after"] == "1"
            acknowledged = before + [answer.json()["requestId"] for answer in answers if answer.status_code == 200]
            assert _readable(server, acknowledged) == {200}
            # The journal kept what it saw while the database was away, 503s included.
            assert server.count(status=503, operation_id="createEraseRequest") == len(refused)
    finally:
        postgres.close()
