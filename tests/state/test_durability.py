"""Acknowledged requests survive restarts and `kill -9`; two workers share state."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from mockserver import MockServer
from tests.support import CREATE, STATUS, connection, create, over_both_workers, status, vocabulary, wait_until

BODY = {"userIds": ["u-durable"], "RemoveDataFromAllBots": True}
#: Retention switched on hard: a small journal cap, finished requests forgotten at once,
#: housekeeping running during the test. Nothing acknowledged and unfinished may go.
JOURNAL_CAP = 150
RETENTION = {
    "off": [],
    "on": ["--retain-journal-rows", str(JOURNAL_CAP), "--retain-finished-seconds", "0",
           "--retain-finished-requests", "0"],
}
retention = pytest.mark.parametrize("retention", sorted(RETENTION))


def test_state_file_uses_wal(tmp_path: Path) -> None:
    with MockServer(state=tmp_path / "state.db") as server:
        create(server, BODY)
        mode = sqlite3.connect(tmp_path / "state.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_requests_survive_a_restart(tmp_path: Path) -> None:
    with MockServer(state=tmp_path / "state.db") as server:
        request_id = create(server, BODY).json()["requestId"]
        server.restart()
        assert status(server, request_id).status_code == 200
        assert status(server, request_id).json()["response"][0]["userId"] == "u-durable"


@retention
def test_requests_survive_kill_minus_9(tmp_path: Path, retention: str) -> None:
    with MockServer(state=tmp_path / "state.db", extra_args=RETENTION[retention]) as server:
        ids = [create(server, BODY).json()["requestId"] for _ in range(20)]
        server.kill()
        server.start()
        for request_id in ids:
            assert status(server, request_id).status_code == 200


def test_an_empty_memory_state_forgets_on_restart(tmp_path: Path) -> None:
    with MockServer(state=":memory:") as server:
        request_id = create(server, BODY).json()["requestId"]
        server.restart()
        assert status(server, request_id).status_code == 404


def _create_one(server: MockServer) -> str:
    with connection(server.base_url) as http:  # a connection of its own: the kernel picks the worker
        response = http.request("DELETE", CREATE, json=BODY, headers={"auth": server.token()})
    assert response.status_code == 200, response.text
    return response.json()["requestId"]


def _read(server: MockServer, request_id: str) -> int:
    with connection(server.base_url) as http:
        return http.get(STATUS.format(request_id), headers={"auth": server.token()}).status_code


def _creators(server: MockServer) -> dict[str, int]:
    return {e["requestId"]: e["worker"] for e in server.journal(limit=10_000, operation_id="createEraseRequest")}


@retention
def test_two_workers_share_state_and_never_lose_or_duplicate(tmp_path: Path, retention: str) -> None:
    with MockServer(state=tmp_path / "state.db", workers=2, extra_args=RETENTION[retention]) as server:
        def one_round() -> list[str]:  # 200 concurrent creates, each on a connection of its own
            with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
                return list(pool.map(lambda _: _create_one(server), range(200)))

        ids = over_both_workers(server, one_round, rounds=10, operation_id="createEraseRequest")
        assert len(set(ids)) == len(ids) >= 200
        assert all(vocabulary().request_id.matches(i) for i in ids)
        with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
            assert set(pool.map(lambda i: _read(server, i), ids)) == {200}

        if retention == "on":  # only the newest rows are kept, oldest first out
            journal = server.journal(limit=10_000)
            assert len(journal) == JOURNAL_CAP
            assert [e["id"] for e in journal] == list(range(journal[0]["id"], journal[0]["id"] + JOURNAL_CAP))
            assert set(_creators(server)) <= set(ids)
            return
        created_by = _creators(server)
        assert set(created_by) == set(ids)
        assert len(set(created_by.values())) == 2, "both workers created requests"
        reads = server.journal(limit=100_000, operation_id="getEraseRequestStatus")
        read_by_other = [e for e in reads if e["worker"] != created_by[e["path"].rsplit("/", 1)[1]]]
        assert read_by_other, "some request was read through the worker that did not create it"
        assert all(e["status"] == 200 for e in read_by_other)


def _stat(path: Path) -> list[str] | None:
    """The fields of a /proc/PID/stat after the command name (which may hold spaces and
    parentheses): state, parent, group, ...; None if the process is gone."""
    try:
        return path.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _running(fields: list[str] | None) -> bool:
    """An exited process stays a zombie until its parent or init reaps it: dead already."""
    return fields is not None and fields[0] not in ("Z", "X")


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        fields = _stat(stat)
        if fields is not None and _running(fields) and int(fields[2]) == pgid:
            return True
    return False


@retention
def test_kill_takes_every_worker_down_and_nothing_acknowledged_is_lost(tmp_path: Path, retention: str) -> None:
    with MockServer(state=tmp_path / "state.db", workers=2, extra_args=RETENTION[retention]) as server:
        ids = [create(server, BODY).json()["requestId"] for _ in range(10)]
        assert server.process is not None
        group = server.process.pid
        server.kill()
        wait_until(lambda: not _group_alive(group))
        server.start()
        assert {status(server, request_id).status_code for request_id in ids} == {200}


def test_a_worker_ends_on_a_signal_like_any_process_and_is_replaced(tmp_path: Path) -> None:
    """Workers are forked from the supervisor (`mockserver.wire.server`); they must not keep
    its signal handlers, which only queue signals for the supervisor's own loop."""
    with MockServer(state=tmp_path / "state.db", workers=2) as server:
        def one_round() -> list[str]:
            return [_create_one(server) for _ in range(20)]

        ids = over_both_workers(server, one_round)
        workers = {e["worker"] for e in server.journal(limit=10_000)}
        victim = min(workers)
        os.kill(victim, signal.SIGUSR1)  # SIGUSR1's default action ends a process
        wait_until(lambda: not _running(_stat(Path(f"/proc/{victim}/stat"))))
        server.disconnect()  # the control client's kept-alive connection may have been the ended worker's
        server.connect(server.base_url)
        ids += over_both_workers(server, one_round)
        now = {e["worker"] for e in server.journal(limit=10_000)}
        assert victim in now and len(now - workers) == 1, "a new worker took the ended one's place"
        assert {_read(server, request_id) for request_id in ids} == {200}


def test_late_workers_never_undo_fixtures_loaded_at_run_time(tmp_path: Path) -> None:
    with MockServer(state=tmp_path / "state.db", workers=2) as server:
        document = dict(server.fixtures.document, requests=[])
        server.load_fixtures(document)
        for _ in range(40):  # both workers are up by now, whichever answered first
            assert server._control("GET", "/health")["requests"] == 0
        server.restart()  # a restart keeps what the state file holds... and re-installs the file's fixtures
        assert server._control("GET", "/health")["requests"] == 1
