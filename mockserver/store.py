"""The shared state of a mock server: one SQLite file (WAL mode) that every
worker process opens, so they all see the same erase requests, clock, faults,
used JTIs and journal.

Text: UTF-8 cannot encode a lone surrogate (`"\ud800"`), which Python strings
may hold, so every text value is stored through `storable()`, which escapes
such characters (`\ud800`, literally): a value the checks upstream let by
can never make a write fail.

Space: the file is in incremental auto-vacuum mode, so that what retention
(`forget_finished`, the journal's row cap) and a reset delete is given back
to the file system by `reclaim()`, not only kept for reuse; the WAL is
truncated to `WAL_SIZE_LIMIT` after each checkpoint.

Durability: a create is committed before it is acknowledged. In WAL mode
with `synchronous=NORMAL` a committed transaction survives the process being
killed (`kill -9`); only a power loss can drop the last commits.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mockserver.journal_search import JournalFilter

log = logging.getLogger("mockserver")
WAL_SIZE_LIMIT = 4 * 1024 * 1024
#: Free pages (4 KiB each) left in the file before `reclaim()` gives them back.
RECLAIM_AFTER_PAGES = 256

SCHEMA = """
CREATE TABLE IF NOT EXISTS control (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL,
    fixtures TEXT NOT NULL,
    manual_now_ms INTEGER
);
CREATE TABLE IF NOT EXISTS requests (
    id TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    remove_all INTEGER NOT NULL,
    bot_ids TEXT NOT NULL,
    users TEXT NOT NULL,
    done_ms INTEGER  -- when its last user reaches a final status; NULL: never forgotten (preloaded)
);
CREATE TABLE IF NOT EXISTS used_jti (
    app TEXT NOT NULL,
    jti TEXT NOT NULL,
    PRIMARY KEY (app, jti)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS faults (
    id INTEGER PRIMARY KEY,
    spec TEXT NOT NULL,
    remaining INTEGER
);
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY,
    time_ms INTEGER NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    status INTEGER NOT NULL,
    app_id TEXT,
    operation_id TEXT,
    request_id TEXT,
    worker INTEGER,
    query TEXT,
    headers TEXT,
    body BLOB,
    response_body BLOB,
    fault TEXT
);
"""


def storable(value: Any) -> Any:
    """`value`, with any text UTF-8 cannot encode (lone surrogates) escaped."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


INCREMENTAL = 2  # PRAGMA auto_vacuum
#: The columns of a journal row as the store returns them, in this order.
JOURNAL_COLUMNS = (
    "id", "time_ms", "method", "path", "query", "headers", "body", "status", "response_body",
    "app_id", "operation_id", "fault", "request_id", "worker",
)
#: The columns a journal row is written with (`Journal` builds the rows), the worker last.
JOURNAL_WRITTEN = JOURNAL_COLUMNS[1:]
JOURNAL_INSERT = f"INSERT INTO journal ({', '.join(JOURNAL_WRITTEN)}) VALUES ({', '.join('?' * len(JOURNAL_WRITTEN))})"
JOURNAL_SELECT = f"SELECT {', '.join(JOURNAL_COLUMNS)} FROM journal"
#: Rows read at a time while a body filter is applied in Python.
JOURNAL_SCAN_CHUNK = 500
#: Journal columns a state file of the first release lacks.
JOURNAL_ADDED = {"query": "TEXT", "headers": "TEXT", "body": "BLOB", "response_body": "BLOB", "fault": "TEXT"}


@dataclass(frozen=True)
class UserPlan:
    """One user's part of an erase request: its final status and when it is reached."""

    user_id: str
    final_status: str
    due_ms: int
    reason: str | None = None


@dataclass(frozen=True)
class StoredRequest:
    request_id: str
    account_id: str
    created_ms: int
    remove_from_all_bots: bool
    bot_ids: tuple[str, ...]
    users: tuple[UserPlan, ...]


@dataclass(frozen=True)
class Control:
    generation: int
    fixtures: dict[str, Any]
    manual_now_ms: int | None


class Store:
    """All reads and writes of the state file. Safe to share between threads."""

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        self._db.execute("PRAGMA busy_timeout = 30000")
        if path != ":memory:":
            if self._db.execute("PRAGMA auto_vacuum").fetchone()[0] != INCREMENTAL:
                # Takes effect at once on a new file; an older file is rebuilt once.
                self._db.execute("PRAGMA auto_vacuum = INCREMENTAL")
                self._db.execute("VACUUM")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        self._db.execute("PRAGMA synchronous = NORMAL")
        with self._lock:
            self._db.executescript(SCHEMA)
            self._migrate()

    def _migrate(self) -> None:
        """Bring a state file written by an older version up to this schema."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(requests)")}
        if "done_ms" not in columns:
            self._db.execute("ALTER TABLE requests ADD COLUMN done_ms INTEGER")
            self._db.execute(
                "UPDATE requests SET done_ms = (SELECT max(json_extract(value, '$[2]')) FROM json_each(users))"
            )
        self._db.execute("CREATE INDEX IF NOT EXISTS requests_done ON requests (done_ms)")
        journal = {row[1] for row in self._db.execute("PRAGMA table_info(journal)")}
        for name, kind in JOURNAL_ADDED.items():
            if name not in journal:
                self._db.execute(f"ALTER TABLE journal ADD COLUMN {name} {kind}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- control row: fixtures, generation, manual clock ------------------------------------

    def initialize(self, fixtures: dict[str, Any], manual_now_ms: int | None) -> bool:
        """Install fixtures and clock if this state file is new. True if it was new."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO control (id, generation, fixtures, manual_now_ms)"
                " VALUES (1, 1, ?, ?)",
                (json.dumps(fixtures), manual_now_ms),
            )
            return cursor.rowcount == 1

    def control(self) -> Control:
        with self._lock:
            generation, fixtures, manual = self._db.execute(
                "SELECT generation, fixtures, manual_now_ms FROM control WHERE id = 1"
            ).fetchone()
        return Control(generation, json.loads(fixtures), manual)

    def generation_and_clock(self) -> tuple[int, int | None]:
        """The cheap per-request read: has anything changed, and the manual time."""
        with self._lock:
            return self._db.execute(
                "SELECT generation, manual_now_ms FROM control WHERE id = 1"
            ).fetchone()

    def set_fixtures(self, fixtures: dict[str, Any]) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE control SET fixtures = ?, generation = generation + 1 WHERE id = 1",
                (json.dumps(fixtures),),
            )

    def set_manual_now(self, now_ms: int | None) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE control SET manual_now_ms = ?, generation = generation + 1 WHERE id = 1",
                (now_ms,),
            )

    def advance_manual_clock(self, milliseconds: int) -> int | None:
        with self._lock:
            self._db.execute(
                "UPDATE control SET manual_now_ms = manual_now_ms + ?, generation = generation + 1"
                " WHERE id = 1",
                (milliseconds,),
            )
            return self._db.execute("SELECT manual_now_ms FROM control WHERE id = 1").fetchone()[0]

    def reset(self, fixtures: dict[str, Any], manual_now_ms: int | None) -> None:
        """Forget every request, JTI, fault and journal row; install the fixtures."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for table in ("requests", "used_jti", "faults", "journal"):
                    self._db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
                self._db.execute(
                    "UPDATE control SET fixtures = ?, manual_now_ms = ?,"
                    " generation = generation + 1 WHERE id = 1",
                    (json.dumps(fixtures), manual_now_ms),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        self.reclaim(at_least_pages=1)  # a reset is a good time to give all the space back

    # -- erase requests ------------------------------------------------------------------------

    def insert_request(self, request: StoredRequest, *, replace: bool = False, preloaded: bool = False) -> bool:
        """Store a request (committed on return). False if the id exists and not `replace`.
        A `preloaded` request belongs to the fixtures: retention never forgets it."""
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        users = [[u.user_id, u.final_status, u.due_ms, u.reason] for u in request.users]
        done_ms = None if preloaded else max(u.due_ms for u in request.users)
        with self._lock:
            cursor = self._db.execute(
                f"{verb} INTO requests (id, account, created_ms, remove_all, bot_ids, users, done_ms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    storable(request.request_id),
                    storable(request.account_id),
                    request.created_ms,
                    int(request.remove_from_all_bots),
                    json.dumps(list(request.bot_ids)),
                    json.dumps(users),
                    done_ms,
                ),
            )
            return cursor.rowcount == 1

    def get_request(self, request_id: str) -> StoredRequest | None:
        with self._lock:
            row = self._db.execute(
                "SELECT id, account, created_ms, remove_all, bot_ids, users FROM requests"
                " WHERE id = ?",
                (storable(request_id),),
            ).fetchone()
        if row is None:
            return None
        return StoredRequest(
            row[0],
            row[1],
            row[2],
            bool(row[3]),
            tuple(json.loads(row[4])),
            tuple(UserPlan(*user) for user in json.loads(row[5])),
        )

    def forget_finished(self, now_ms: int, *, older_than_ms: int | None, keep: int | None) -> int:
        """Delete finished requests (not preloaded ones): those finished more than
        `older_than_ms` before `now_ms`, and all but the `keep` most recently
        finished. Returns how many were deleted."""
        deleted = 0
        with self._lock:
            if older_than_ms is not None:
                deleted += self._db.execute(
                    "DELETE FROM requests WHERE done_ms <= ?", (now_ms - older_than_ms,)
                ).rowcount
            if keep is not None:
                deleted += self._db.execute(
                    "DELETE FROM requests WHERE id IN (SELECT id FROM requests WHERE done_ms <= ?"
                    " ORDER BY done_ms DESC LIMIT -1 OFFSET ?)",
                    (now_ms, keep),
                ).rowcount
        return deleted

    def reclaim(self, *, at_least_pages: int = RECLAIM_AFTER_PAGES) -> None:
        """Give free pages back to the file system once there are `at_least_pages`
        of them, and truncate the WAL (as far as readers in other workers allow)."""
        if self.path == ":memory:":
            return
        with self._lock:
            if self._db.execute("PRAGMA freelist_count").fetchone()[0] < at_least_pages:
                return
            self._db.execute("PRAGMA incremental_vacuum").fetchall()
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def count_requests(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM requests").fetchone()[0]

    # -- JTI replay protection -----------------------------------------------------------------

    def use_jti(self, app_id: str, jti: str) -> bool:
        """Record a JTI as used. False if this app has used it before (a replay)."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO used_jti (app, jti) VALUES (?, ?)", (storable(app_id), storable(jti))
            )
            return cursor.rowcount == 1

    # -- faults ----------------------------------------------------------------------------------

    def add_fault(self, spec: dict[str, Any], remaining: int | None) -> int:
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO faults (spec, remaining) VALUES (?, ?)", (json.dumps(spec), remaining)
            )
            self._db.execute("UPDATE control SET generation = generation + 1 WHERE id = 1")
            return int(cursor.lastrowid or 0)

    def faults(self) -> list[tuple[int, dict[str, Any], int | None]]:
        with self._lock:
            rows = self._db.execute("SELECT id, spec, remaining FROM faults ORDER BY id").fetchall()
        return [(row[0], json.loads(row[1]), row[2]) for row in rows]

    def take_fault(self, fault_id: int) -> bool:
        """Use one of a counted fault's remaining hits; False when none is left."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE faults SET remaining = remaining - 1 WHERE id = ? AND remaining > 0",
                (fault_id,),
            )
            return cursor.rowcount == 1

    def clear_faults(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM faults")
            self._db.execute("UPDATE control SET generation = generation + 1 WHERE id = 1")

    # -- journal ---------------------------------------------------------------------------------

    def record(self, rows: Iterable[Sequence[Any]], *, keep: int = 0) -> None:
        """Append journal rows (values of `JOURNAL_WRITTEN` but the worker), tagged
        with this worker's process id, and keep the
        newest `keep` rows only (0: all). In one transaction, or, if that fails,
        row by row, so that a row SQLite refuses is the only one lost (logged by
        its place in the batch, never its content)."""
        worker = os.getpid()
        values = [tuple(storable(value) for value in (*row, worker)) for row in rows]
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(JOURNAL_INSERT, values)
                self._trim_journal(keep)
                self._db.execute("COMMIT")
                return
            except Exception:  # noqa: BLE001 - any refused row: retry one by one
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
            for index, row in enumerate(values):
                try:
                    self._db.execute(JOURNAL_INSERT, row)
                except Exception as exc:  # noqa: BLE001 - the journal must never break an answer
                    log.error("journal row %d of %d could not be written (%s); the others were",
                              index + 1, len(values), type(exc).__name__)
            self._trim_journal(keep)

    def _trim_journal(self, keep: int) -> None:
        # Ids only grow (rows leave oldest first, or all at once), so the newest
        # `keep` rows are those above max(id) - keep: one indexed delete.
        if keep > 0:
            self._db.execute("DELETE FROM journal WHERE id <= (SELECT max(id) FROM journal) - ?", (keep,))

    def journal(self, since_id: int = 0, limit: int = 1000,
                where: JournalFilter | None = None) -> tuple[list[tuple[Any, ...]], int, bool]:
        """Rows (`JOURNAL_COLUMNS`) with an id above `since_id` that pass the filter,
        oldest first, at most `limit` of them; the id to continue from; and
        whether more may follow."""
        condition, params = where.where() if where else ("1 = 1", [])
        body_filter = where is not None and where.has_json
        chunk = max(limit, JOURNAL_SCAN_CHUNK) if body_filter else limit
        found: list[tuple[Any, ...]] = []
        with self._lock:
            # The newest row now: a page that reaches it hands it out as the cursor,
            # so that the next page starts after the rows this one skipped.
            newest = self._db.execute("SELECT coalesce(max(id), 0) FROM journal").fetchone()[0]
            cursor = since_id
            while True:
                rows = self._db.execute(
                    f"{JOURNAL_SELECT} WHERE id > ? AND id <= ? AND {condition} ORDER BY id LIMIT ?",
                    (cursor, newest, *params, chunk),
                ).fetchall()
                for row in rows:
                    cursor = row[0]
                    if where is None or where.matches_body(row[6]):
                        found.append(tuple(row))
                        if len(found) == limit:
                            return found, cursor, cursor < newest
                if len(rows) < chunk:
                    return found, max(newest, since_id), False

    def journal_count(self, where: JournalFilter | None = None) -> int:
        """How many rows pass the filter."""
        condition, params = where.where() if where else ("1 = 1", [])
        with self._lock:
            if where is None or not where.has_json:
                return int(self._db.execute(f"SELECT count(*) FROM journal WHERE {condition}", params).fetchone()[0])
            bodies = self._db.execute(f"SELECT body FROM journal WHERE {condition}", params).fetchall()
        return sum(1 for (body,) in bodies if where.matches_body(body))

    def clear_journal(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM journal")


def now_ms() -> int:
    return int(time.time() * 1000)
