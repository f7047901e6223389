"""The `Store` interface, proven the same on both backends (SQLite and PostgreSQL,
`tests/conftest.py`): two store objects on one location stand for two
instances. Then the schema's versions: a state file of the first release opens
and keeps its requests; a newer one, or one that is no state at all, gets a
one-line message."""

from __future__ import annotations

import concurrent.futures
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockserver.errors import StartupError
from mockserver.state.backends import open_store
from mockserver.state.journal import JournalRow, encode
from mockserver.state.journal_query import JournalFilter, render
from mockserver.state.location import redact
from mockserver.state.migrations import LATEST, MIGRATIONS
from mockserver.state.records import StoredRequest, UserPlan
from mockserver.state.store import Store
from mockserver.testing.mock_app import MockApp
from tests.conftest import ROOT
from tests.postgres import Postgres
from tests.support import status, wait_until

pytestmark = pytest.mark.both_backends
FIXTURES = {"accounts": []}
MAIN_STATE = ROOT / "tests" / "data" / "state-main.sql"
KEPT_REQUEST = "eud-069e6034-7074-4886-a807-fa841c934653"  # created in that file


@pytest.fixture
def stores(state_location: str) -> Iterator[tuple[Store, Store]]:
    """Two instances' stores on one new state."""
    first = open_store(state_location)
    first.initialize(FIXTURES, None)
    second = open_store(state_location)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


def _request(request_id: str, done_ms: int = 1_000) -> StoredRequest:
    return StoredRequest(request_id, "acme", 0, True, ("bot",), (UserPlan("u", "SUCCESS", done_ms),))


def _rows(*statuses: int) -> list[tuple]:
    return [encode(JournalRow(1, "GET", "/p", b"", (), b'{"a": 1}', code, None, None, None, None, None))
            for code in statuses]


def test_a_create_is_committed_when_acknowledged(stores: tuple[Store, Store]) -> None:
    first, second = stores
    assert first.insert_request(_request("r-1"))
    assert second.get_request("r-1") == _request("r-1")  # no flush, no wait: committed
    assert not second.insert_request(_request("r-1")) and second.count_requests() == 1


def test_a_jti_is_accepted_once_among_racing_instances(state_location: str, stores: tuple[Store, Store]) -> None:
    racers = [open_store(state_location) for _ in range(6)]
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
            accepted = list(pool.map(lambda store: store.use_jti("app", "jti-1"), racers))
    finally:
        for store in racers:
            store.close()
    assert sorted(accepted) == [False] * 5 + [True]
    assert stores[0].use_jti("other-app", "jti-1")  # per app


def test_every_shared_change_moves_the_generation(stores: tuple[Store, Store]) -> None:
    first, second = stores
    seen = [second.generation_and_clock()[0]]
    first.set_fixtures({"accounts": [{"id": "x"}]})
    first.set_manual_now(5_000)
    first.advance_manual_clock(1_000)
    fault = first.add_fault({"kind": "status"}, 1)
    first.clear_faults()
    first.reset(FIXTURES, 42)
    for _ in range(6):
        seen.append(second.generation_and_clock()[0])
    assert len(set(seen)) == 2  # read after all: moved, and the same for every reader
    assert second.generation_and_clock() == (seen[0] + 6, 42)
    assert second.control().fixtures == FIXTURES and fault >= 1


def test_a_counted_fault_is_taken_exactly_as_often_as_it_was_counted(stores: tuple[Store, Store]) -> None:
    first, second = stores
    fault = first.add_fault({"kind": "status", "status": 429}, 3)
    taken = [store.take_fault(fault) for store in (first, second, first, second, first)]
    assert taken == [True, True, True, False, False]
    assert second.faults() == [(fault, {"kind": "status", "status": 429}, 0)]


def test_journal_ids_are_never_reused_and_the_cap_keeps_the_newest(stores: tuple[Store, Store]) -> None:
    first, second = stores
    first.record(_rows(200, 201, 202))
    before = [row[0] for row in second.journal()[0]]
    first.reset(FIXTURES, None)
    second.record(_rows(*range(300, 330)), keep=10)
    rows, cursor, more = first.journal()
    assert [row[7] for row in rows] == list(range(320, 330)) and not more
    assert rows[0][0] > max(before) and cursor == rows[-1][0]
    assert first.journal_count(JournalFilter(json={"a": 1})) == 10 == first.journal_count()


def test_a_row_the_backend_refuses_is_the_only_one_lost(stores: tuple[Store, Store]) -> None:
    first, second = stores
    unstorable = encode(JournalRow(2, "GET", "/\x00\ud800", b"", (), None, 200, None, "\ud800", None, None, None))
    first.record([*_rows(200), unstorable, *_rows(2**80), *_rows(201)])
    entries = [render(row) for row in second.journal()[0]]
    assert [(e["path"], e["status"]) for e in entries] == [("/p", 200), ("/\\x00\\ud800", 200), ("/p", 201)]
    assert entries[1]["appId"] == "\\ud800"
    assert first.use_jti("app", "\x00") and not second.use_jti("app", "\x00")


def test_retention_forgets_finished_requests_by_age_and_count(stores: tuple[Store, Store]) -> None:
    first, second = stores
    for index in range(5):
        first.insert_request(_request(f"r-{index}", done_ms=1_000 * (index + 1)))
    first.insert_request(_request("preloaded", done_ms=1), preloaded=True)
    assert second.forget_finished(10_000, older_than_ms=8_500, keep=None) == 1  # r-0 finished at 1 s
    assert second.forget_finished(10_000, older_than_ms=None, keep=2) == 2
    assert [r for r in ("r-2", "r-3", "r-4", "preloaded") if first.get_request(r)] == ["r-3", "r-4", "preloaded"]


def test_the_schema_version_is_recorded_and_a_newer_one_refused(state_location: str) -> None:
    store = open_store(state_location)
    assert store.describe()["schemaVersion"] == LATEST and store.describe()["status"] == "ok"
    with store._transaction() as db:
        db.execute("INSERT INTO schema_version (version, summary, applied_ms) VALUES (?, 'later', 0)", (LATEST + 1,))
    store.close()
    with pytest.raises(StartupError) as refused:
        open_store(state_location)
    assert str(refused.value) == (
        f"--state {redact(state_location)} has schema version {LATEST + 1}, newer than this mockserver knows"
        f" ({LATEST}): run the release that wrote it, or start with another --state")


# -- the previous release's state file ------------------------------------------------------------


def test_a_state_file_of_the_first_release_opens_and_keeps_its_requests(tmp_path: Path) -> None:
    state = tmp_path / "main.db"
    sqlite3.connect(state).executescript(MAIN_STATE.read_text()).close()
    with MockApp(state=state) as mock:
        assert status(mock, KEPT_REQUEST).json()["response"][0]["userId"] == "kept@example.com"
        assert mock.service.store.describe()["schemaVersion"] == LATEST
        old, new = mock.journal()[:2], mock.journal()[2:]
        assert [(e["id"], e["method"], e["requestId"]) for e in old] == [(1, "DELETE", KEPT_REQUEST), (2, "GET", None)]
        assert old[0]["body"] is None and old[0]["headers"] == {} and new[0]["id"] == 3
        assert old[0]["rateLimited"] is None
        mock.reset()
        assert status(mock, KEPT_REQUEST).status_code == 404  # a reset forgets created requests...
        assert mock.journal()[0]["id"] > 3  # ...and journal ids go on
    versions = sqlite3.connect(state).execute("SELECT version FROM schema_version").fetchall()
    assert versions == [(v.version,) for v in MIGRATIONS]


def test_a_file_that_is_no_state_gets_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database\n" * 100)
    result = subprocess.run([sys.executable, "-m", "mockserver", "run", "--port", "0", "--state", str(junk)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"Error: --state {junk}: not a usable SQLite state file (file is not a"
                                     " database); pass another --state, or move this file away")


def test_an_unreachable_database_at_start_gets_one_line(tmp_path: Path) -> None:
    url = f"postgresql://mock:secret@/mock?host={tmp_path}"
    with pytest.raises(StartupError) as refused:
        open_store(url)
    message = str(refused.value)
    assert message.startswith(f"--state postgresql://mock:***@/mock?host={tmp_path}: cannot connect to PostgreSQL (")
    assert message.endswith("); start it, or check the URL") and "secret" not in message


def test_a_database_password_is_never_printed() -> None:
    from mockserver.common.openapi_documents import load_documents
    from mockserver.settings import Settings
    from mockserver.vendor.fixtures import load_fixtures
    from mockserver.wire.server import banner

    documents = load_documents()
    url = "postgresql://mock:s3cret@db.internal:5432/mockserver"
    text = banner(Settings(state=url), "http://127.0.0.1:1", documents, load_fixtures(None, documents))
    assert "s3cret" not in text and "state: postgresql://mock:***@db.internal:5432/mockserver " in text
    assert redact("postgresql://db.internal/x") == "postgresql://db.internal/x" and redact("s.db") == "s.db"


@pytest.mark.parametrize("url", [
    "postgresql://mock@127.0.0.1:1/mock?password=hunter2-s3cret&connect_timeout=1",
    "postgresql://mock:hunter2-s3cret@[::1/mock",
    "postgresql://mock:hunter2-s3cret@127.0.0.1:99999999/mock",
    "postgres://127.0.0.1:1/mock?sslpassword=hunter2-s3cret",
])
def test_a_password_in_any_part_of_a_bad_url_stays_out_of_the_start_up_error(url: str) -> None:
    result = subprocess.run([sys.executable, "-m", "mockserver", "run", "--port", "0", "--state", url],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("Error: --state postgres") and result.stderr.count("\n") == 1
    assert "hunter2" not in result.stdout + result.stderr and "***" in result.stderr


@pytest.mark.postgres
def test_a_query_password_is_hidden_in_the_banner_health_and_ready(postgres: Postgres) -> None:
    """A password as a URL parameter (libpq reads `?password=`): the server accepts it (the
    test server trusts local connections) and never shows it."""
    from mockserver import MockServer

    url = postgres.database() + ("&" if "?" in postgres.database() else "?") + "password=hunter2-s3cret"
    with MockServer(state=url) as server:
        wait_until(lambda: "try: curl" in "".join(server.output))
        shown = "".join(server.output) + json.dumps(server.health()) + server.http.get("/__mockserver/ready").text
    assert "hunter2" not in shown and "password=***" in shown
