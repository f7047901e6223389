"""The shared state of a mock server: every worker and every instance reads and
writes the same erase requests, manual clock, fixtures, faults, outcome rules, used JTIs and
journal through a `Store`.

Two backends implement it, with the same semantics, written once here in the
SQL both speak (`?` placeholders, `ON CONFLICT`, `RETURNING`):

- `SqliteStore` (`mockserver.state.sqlite`): one file in WAL mode, shared by the
  workers of one host (`--state FILE`, or `:memory:`);
- `PostgresStore` (`mockserver.state.postgres`): a PostgreSQL database, shared by
  instances on any number of hosts (`--state postgresql://...`).

`open_store(location)` (`mockserver.state.backends`) picks one. The schema is versioned
(`mockserver.state.migrations`): a state from an earlier release is brought up to date
when it opens, one from a later release is refused with a one-line message.

Semantics both keep:
- a create is committed before it is acknowledged; a `jti` is accepted once
  (a primary key, not a read-then-write);
- the generation counter in the control row moves with every change to the
  fixtures, the faults or the manual clock, and when retention forgets
  requests, so a worker re-reads them (and drops the status bodies it
  cached) when, and only when, it moved;
- `changes()`, where the backend offers it (a SQLite file: a counter in
  shared memory beside it, `SqliteStore`), moves after every commit that
  moved the generation, so a worker need not read the control row on every
  request to know it did not.
- journal rows get ids in the order they are committed and ids are never
  reused, not even after a reset, so a reader's cursor (`since`) never
  skips a row; the row cap keeps the newest rows;
- text is stored through `storable()`, which escapes what UTF-8 or
  PostgreSQL cannot hold (lone surrogates, NUL): a value the checks upstream
  let by never makes a write fail.

A backend that cannot be reached raises `StateUnavailable` (the server then
answers 503); nothing else about a store is backend-specific to its callers.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from mockserver.errors import StateUnavailable
from mockserver.state.location import Backend, redact
from mockserver.state.records import Control, StoredRequest, storable, stored_from_row

if TYPE_CHECKING:
    from mockserver.state.journal_query import JournalFilter

log = logging.getLogger("mockserver")


class StateStatus(StrEnum):
    """Whether the state can be reached, as the health check shows it."""

    OK = "ok"
    UNAVAILABLE = "unavailable"


#: The columns of a journal row as the store returns them, in this order.
JOURNAL_COLUMNS = (
    "id", "time_ms", "method", "path", "query", "headers", "body", "status", "response_body",
    "app_id", "operation_id", "fault", "request_id", "violations", "rate_limit", "worker",
)
#: The columns a journal row is written with (`Journal` builds the rows), the worker last.
JOURNAL_WRITTEN = JOURNAL_COLUMNS[1:]
JOURNAL_INSERT = f"INSERT INTO journal ({', '.join(JOURNAL_WRITTEN)}) VALUES ({', '.join('?' * len(JOURNAL_WRITTEN))})"
#: Journal rows per INSERT statement (SQLite allows 32,766 parameters per statement).
JOURNAL_ROWS_PER_INSERT = 256
JOURNAL_SELECT = f"SELECT {', '.join(JOURNAL_COLUMNS)} FROM journal"
#: Rows read at a time while a body filter is applied in Python.
JOURNAL_SCAN_CHUNK = 500


@functools.lru_cache(maxsize=8)
def _journal_insert(rows: int) -> str:
    """One INSERT of `rows` journal rows."""
    one = f"({', '.join('?' * len(JOURNAL_WRITTEN))})"
    return f"INSERT INTO journal ({', '.join(JOURNAL_WRITTEN)}) VALUES {', '.join([one] * rows)}"


class Cursor(Protocol):
    """What the store reads of a query's result, in either backend."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Database(Protocol):
    """A connection of either backend, SQL written with `?` placeholders."""

    def execute(self, sql: str, params: Any = (), /) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[Any], /) -> Any: ...


class Store(ABC):
    """All reads and writes of the shared state. Safe to share between threads.

    Subclasses provide connections (`_connect`, `_transaction`); every query is
    here, so both backends behave the same. Any method raises `StateUnavailable`
    while the backend cannot be reached."""

    backend: Backend
    #: Whether a commit waits for another process's disk flush (a network round trip and
    #: an fsync): then the server runs writes on the request path off its event loop.
    slow_commits: bool = False
    #: Advisory locks (PostgreSQL): journal writers, schema migrations, rate-limit counts.
    JOURNAL_LOCK, MIGRATION_LOCK, RATE_LOCK = 7_411_001, 7_411_002, 7_411_003

    def __init__(self, location: str):
        self.location = location

    # -- what a backend provides -----------------------------------------------------------------

    @abstractmethod
    def _connect(self) -> AbstractContextManager[Database]:
        """A connection in autocommit mode (each statement its own transaction)."""

    @abstractmethod
    def _transaction(self, *, lock: int | None = None) -> AbstractContextManager[Database]:
        """A connection inside a write transaction, committed when the block ends
        without an exception; `lock` serializes the writers that take it."""

    @abstractmethod
    def close(self) -> None: ...

    def changes(self) -> int | None:
        """A number that moves after every commit that moved the generation, read
        without a query; None where the backend has none (then read the control row)."""
        return None

    def _changed(self) -> None:  # noqa: B027 - only a backend with `changes()` has one to move
        """Move `changes()`: called after each commit that moved the generation."""

    def reclaim(self, *, at_least_pages: int = 0) -> None:  # noqa: B027 - only a file has space to give back
        """Give space that retention and resets freed back to the file system (SQLite)."""

    def describe(self) -> dict[str, Any]:
        """The backend and its state, for the health check: `status` is `ok`, or
        `unavailable` with the `error`."""
        state: dict[str, Any] = {"backend": self.backend, "location": redact(self.location),
                                 "status": StateStatus.OK}
        try:
            state["schemaVersion"] = self.ping()
        except StateUnavailable as exc:
            state.update(status=StateStatus.UNAVAILABLE, error=str(exc))
        return state

    def ping(self) -> int:
        """One round trip to the backend: the schema version. Raises `StateUnavailable`."""
        with self._connect() as db:
            return int(db.execute("SELECT max(version) FROM schema_version").fetchone()[0])

    # -- control row: fixtures, generation, manual clock ------------------------------------

    def initialize(self, fixtures: dict[str, Any], manual_now_ms: int | None) -> bool:
        """Install fixtures and clock if this state is new. True if it was new."""
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO control (id, generation, fixtures, manual_now_ms) VALUES (1, 1, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (json.dumps(fixtures), manual_now_ms),
            )
            return cursor.rowcount == 1

    def control(self) -> Control:
        with self._connect() as db:
            generation, fixtures, manual = db.execute(
                "SELECT generation, fixtures, manual_now_ms FROM control WHERE id = 1"
            ).fetchone()
        return Control(generation, json.loads(fixtures), manual)

    def generation_and_clock(self) -> tuple[int, int | None]:
        """The cheap per-request read: has anything changed, and the manual time."""
        with self._connect() as db:
            generation, manual = db.execute("SELECT generation, manual_now_ms FROM control WHERE id = 1").fetchone()
        return generation, manual

    def set_fixtures(self, fixtures: dict[str, Any]) -> None:
        with self._connect() as db:
            db.execute("UPDATE control SET fixtures = ?, generation = generation + 1 WHERE id = 1",
                       (json.dumps(fixtures),))
        self._changed()

    def set_manual_now(self, now_ms: int | None) -> None:
        with self._connect() as db:
            db.execute("UPDATE control SET manual_now_ms = ?, generation = generation + 1 WHERE id = 1", (now_ms,))
        self._changed()

    def advance_manual_clock(self, milliseconds: int) -> int | None:
        with self._connect() as db:
            (now,) = db.execute(
                "UPDATE control SET manual_now_ms = manual_now_ms + ?, generation = generation + 1 WHERE id = 1"
                " RETURNING manual_now_ms",
                (milliseconds,),
            ).fetchone()
        self._changed()
        return now

    def reset(self, fixtures: dict[str, Any], manual_now_ms: int | None) -> None:
        """Forget every request, JTI, fault, outcome rule, journal row and counted call; install the fixtures."""
        with self._transaction(lock=self.JOURNAL_LOCK) as db:
            for table in ("requests", "used_jti", "faults", "outcomes", "journal", "rate_calls"):
                db.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
            db.execute(
                "UPDATE control SET fixtures = ?, manual_now_ms = ?, generation = generation + 1 WHERE id = 1",
                (json.dumps(fixtures), manual_now_ms),
            )
        self._changed()
        self.reclaim(at_least_pages=1)  # a reset is a good time to give all the space back

    # -- erase requests ------------------------------------------------------------------------

    def insert_request(self, request: StoredRequest, *, replace: bool = False, preloaded: bool = False) -> bool:
        """Store a request (committed on return). False if the id exists and not `replace`.
        A `preloaded` request belongs to the fixtures: retention never forgets it."""
        users = [[u.user_id, u.final_status, u.due_ms, u.reason] for u in request.users]
        done_ms = None if preloaded else max(u.due_ms for u in request.users)
        conflict = (
            "ON CONFLICT (id) DO UPDATE SET account = excluded.account, created_ms = excluded.created_ms,"
            " remove_all = excluded.remove_all, bot_ids = excluded.bot_ids, users = excluded.users,"
            " done_ms = excluded.done_ms"
            if replace else "ON CONFLICT DO NOTHING"
        )
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO requests (id, account, created_ms, remove_all, bot_ids, users, done_ms)"
                f" VALUES (?, ?, ?, ?, ?, ?, ?) {conflict}",
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
        with self._connect() as db:
            row = db.execute(
                "SELECT id, account, created_ms, remove_all, bot_ids, users FROM requests WHERE id = ?",
                (storable(request_id),),
            ).fetchone()
        return None if row is None else stored_from_row(row)

    def recent_requests(self, limit: int) -> list[StoredRequest]:
        """The most recently created requests, newest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, account, created_ms, remove_all, bot_ids, users FROM requests"
                " ORDER BY created_ms DESC, id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [stored_from_row(row) for row in rows]

    def forget_finished(self, now_ms: int, *, older_than_ms: int | None, keep: int | None) -> int:
        """Delete finished requests (not preloaded ones): those finished more than
        `older_than_ms` before `now_ms`, and all but the `keep` most recently
        finished. Returns how many were deleted. Moves the generation when it deleted
        any: every worker's cached status bodies must go."""
        deleted = 0
        with self._transaction() as db:
            if older_than_ms is not None:
                deleted += db.execute("DELETE FROM requests WHERE done_ms <= ?", (now_ms - older_than_ms,)).rowcount
            if keep is not None:
                deleted += db.execute(
                    "DELETE FROM requests WHERE done_ms <= ? AND id NOT IN"
                    " (SELECT id FROM requests WHERE done_ms <= ? ORDER BY done_ms DESC LIMIT ?)",
                    (now_ms, now_ms, keep),
                ).rowcount
            if deleted:
                db.execute("UPDATE control SET generation = generation + 1 WHERE id = 1")
        if deleted:
            self._changed()
        return deleted

    def count_requests(self) -> int:
        with self._connect() as db:
            return int(db.execute("SELECT count(*) FROM requests").fetchone()[0])

    # -- JTI replay protection -----------------------------------------------------------------

    def use_jti(self, app_id: str, jti: str) -> bool:
        """Record a JTI as used. False if this app has used it before (a replay)."""
        with self._connect() as db:
            cursor = db.execute("INSERT INTO used_jti (app, jti) VALUES (?, ?) ON CONFLICT DO NOTHING",
                                (storable(app_id), storable(jti)))
            return cursor.rowcount == 1

    # -- faults ----------------------------------------------------------------------------------

    def add_fault(self, spec: dict[str, Any], remaining: int | None) -> int:
        with self._transaction() as db:
            (fault_id,) = db.execute(
                "INSERT INTO faults (spec, remaining) VALUES (?, ?) RETURNING id", (json.dumps(spec), remaining)
            ).fetchone()
            db.execute("UPDATE control SET generation = generation + 1 WHERE id = 1")
        self._changed()
        return int(fault_id)

    def faults(self) -> list[tuple[int, dict[str, Any], int | None]]:
        with self._connect() as db:
            rows = db.execute("SELECT id, spec, remaining FROM faults ORDER BY id").fetchall()
        return [(row[0], json.loads(row[1]), row[2]) for row in rows]

    def take_fault(self, fault_id: int) -> bool:
        """Use one of a counted fault's remaining hits; False when none is left."""
        with self._connect() as db:
            cursor = db.execute("UPDATE faults SET remaining = remaining - 1 WHERE id = ? AND remaining > 0",
                                (fault_id,))
            return cursor.rowcount == 1

    def clear_faults(self) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM faults")
            db.execute("UPDATE control SET generation = generation + 1 WHERE id = 1")
        self._changed()

    # -- scripted outcomes ---------------------------------------------------------------------

    def add_outcome(self, spec: dict[str, Any]) -> int:
        with self._transaction() as db:
            (rule_id,) = db.execute("INSERT INTO outcomes (spec) VALUES (?) RETURNING id",
                                    (json.dumps(spec),)).fetchone()
            db.execute("UPDATE control SET generation = generation + 1 WHERE id = 1")
        self._changed()
        return int(rule_id)

    def outcomes(self) -> list[tuple[int, dict[str, Any]]]:
        """The outcome rules added through the control API, oldest first."""
        with self._connect() as db:
            rows = db.execute("SELECT id, spec FROM outcomes ORDER BY id").fetchall()
        return [(row[0], json.loads(row[1])) for row in rows]

    def clear_outcomes(self) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM outcomes")
            db.execute("UPDATE control SET generation = generation + 1 WHERE id = 1")
        self._changed()

    # -- journal ---------------------------------------------------------------------------------

    def record(self, rows: Iterable[Sequence[Any]], *, keep: int = 0) -> None:
        """Append journal rows (values of `JOURNAL_WRITTEN` but the worker), tagged
        with this worker's process id, and keep the newest `keep` rows only (0:
        all). In one transaction, or, if that fails, row by row, so that a row the
        backend refuses is the only one lost (logged by its place in the batch,
        never its content). Raises `StateUnavailable` with nothing written."""
        worker = os.getpid()
        values = [tuple(storable(value) for value in (*row, worker)) for row in rows]
        try:
            with self._transaction(lock=self.JOURNAL_LOCK) as db:
                # Many rows per statement: one call into the backend (which lets go of
                # the GIL once, not once per row) instead of an executemany.
                for start in range(0, len(values), JOURNAL_ROWS_PER_INSERT):
                    chunk = values[start:start + JOURNAL_ROWS_PER_INSERT]
                    db.execute(_journal_insert(len(chunk)), [value for row in chunk for value in row])
                self._trim_journal(db, keep)
            return
        except StateUnavailable:
            raise
        except Exception:  # noqa: BLE001 - any refused row: retry one by one
            pass
        for index, row in enumerate(values):
            try:
                with self._transaction(lock=self.JOURNAL_LOCK) as db:
                    db.execute(JOURNAL_INSERT, row)
            except StateUnavailable:
                raise
            except Exception as exc:  # noqa: BLE001 - the journal must never break an answer
                log.error("journal row %d of %d could not be written (%s); the others were",
                          index + 1, len(values), type(exc).__name__)
        with self._transaction(lock=self.JOURNAL_LOCK) as db:
            self._trim_journal(db, keep)

    @staticmethod
    def _trim_journal(db: Database, keep: int) -> None:
        # Ids only grow (rows leave oldest first, or all at once), so the newest
        # `keep` rows are those above max(id) - keep: one indexed delete.
        if keep > 0:
            db.execute("DELETE FROM journal WHERE id <= (SELECT max(id) FROM journal) - ?", (keep,))

    def journal(self, since_id: int = 0, limit: int = 1000,
                where: JournalFilter | None = None) -> tuple[list[tuple[Any, ...]], int, bool]:
        """Rows (`JOURNAL_COLUMNS`) with an id above `since_id` that pass the filter,
        oldest first, at most `limit` of them; the id to continue from; and
        whether more may follow."""
        condition, params = _condition(where)
        body_filter = where is not None and where.has_json
        chunk = max(limit, JOURNAL_SCAN_CHUNK) if body_filter else limit
        found: list[tuple[Any, ...]] = []
        with self._connect() as db:
            # The newest row now: a page that reaches it hands it out as the cursor,
            # so that the next page starts after the rows this one skipped.
            newest = int(db.execute("SELECT coalesce(max(id), 0) FROM journal").fetchone()[0])
            cursor = since_id
            while True:
                rows = db.execute(
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
        condition, params = _condition(where)
        with self._connect() as db:
            if where is None or not where.has_json:
                return int(db.execute(f"SELECT count(*) FROM journal WHERE {condition}", params).fetchone()[0])
            bodies = db.execute(f"SELECT body FROM journal WHERE {condition}", params).fetchall()
        return sum(1 for (body,) in bodies if where.matches_body(body))

    def clear_journal(self) -> None:
        with self._transaction(lock=self.JOURNAL_LOCK) as db:
            db.execute("DELETE FROM journal")


def _condition(where: JournalFilter | None) -> tuple[str, list[Any]]:
    if where is None:
        return "1 = 1", []
    condition, params = where.where()
    return condition, [storable(value) for value in params]
