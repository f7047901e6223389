"""The state in one SQLite file (WAL mode), shared by the workers of one host.

Space: the file is in incremental auto-vacuum mode, so that what retention
(`forget_finished`, the journal's row cap) and a reset delete is given back
to the file system by `reclaim()`, not only kept for reuse; the WAL is
truncated to `WAL_SIZE_LIMIT` after each checkpoint.

Durability: a create is committed before it is acknowledged. In WAL mode
with `synchronous=NORMAL` a committed transaction survives the process being
killed (`kill -9`); only a power loss can drop the last commits.

One connection per process, behind a lock; writers of several workers are
serialized by SQLite (`BEGIN IMMEDIATE`, a 30 s busy timeout), which also
makes journal ids follow commit order.

Changes (`Store.changes()`): a 64-bit counter in the file `<state>-changes`
beside the state, mapped into every worker's memory and moved (under
`flock`) after each commit that moved the generation, so that a worker learns
whether the control row changed from one memory read instead of a query per
request (a query that would cost every status call). An
in-memory state has one process: its counter is a plain attribute. Where the
file cannot be made (a read-only directory), `changes()` is None and the
control row is read every time, as before.
"""

from __future__ import annotations

import fcntl
import mmap
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from mockserver.errors import StartupError
from mockserver.state.location import Backend
from mockserver.state.migrations import migrate
from mockserver.state.store import Database, Store

WAL_SIZE_LIMIT = 4 * 1024 * 1024
#: Free pages (4 KiB each) left in the file before `reclaim()` gives them back.
RECLAIM_AFTER_PAGES = 256
INCREMENTAL = 2  # PRAGMA auto_vacuum
CHANGES_SUFFIX, CHANGES_BYTES = "-changes", 8


class SqliteStore(Store):
    """A store in one SQLite file in WAL mode (or `:memory:`), shared by the workers of one host."""

    backend = Backend.SQLITE

    def __init__(self, path: str):
        super().__init__(path)
        self.path = path
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
            self._db.execute("PRAGMA busy_timeout = 30000")
            if path != ":memory:":
                if self._db.execute("PRAGMA auto_vacuum").fetchone()[0] != INCREMENTAL:
                    # Takes effect at once on a new file; an older file is rebuilt once.
                    self._db.execute("PRAGMA auto_vacuum = INCREMENTAL")
                    self._db.execute("VACUUM")
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
            self._db.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            raise StartupError(f"--state {path}: not a usable SQLite state file ({exc}); "
                               "pass another --state, or move this file away") from None
        migrate(self)
        self._changes = 0
        self._changes_fd, self._changes_map = self._map_changes(path)

    @staticmethod
    def _map_changes(path: str) -> tuple[int, mmap.mmap | None]:
        if path == ":memory:":
            return -1, None
        try:
            fd = os.open(path + CHANGES_SUFFIX, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return -1, None
        try:
            if os.fstat(fd).st_size < CHANGES_BYTES:
                os.ftruncate(fd, CHANGES_BYTES)  # zeros; growing it twice is harmless
            return fd, mmap.mmap(fd, CHANGES_BYTES)
        except OSError:
            os.close(fd)
            return -1, None

    def changes(self) -> int | None:
        if self._changes_map is not None:
            return int.from_bytes(self._changes_map[:CHANGES_BYTES], "little")
        return self._changes if self.path == ":memory:" else None

    def _changed(self) -> None:
        if self._changes_map is None:
            self._changes += 1
            return
        fcntl.flock(self._changes_fd, fcntl.LOCK_EX)  # increments of several workers must not collide
        try:
            value = int.from_bytes(self._changes_map[:CHANGES_BYTES], "little") + 1
            self._changes_map[:CHANGES_BYTES] = (value % 2**64).to_bytes(CHANGES_BYTES, "little")
        finally:
            fcntl.flock(self._changes_fd, fcntl.LOCK_UN)

    @contextmanager
    def _connect(self) -> Iterator[Database]:
        with self._lock:
            yield self._db

    @contextmanager
    def _transaction(self, *, lock: int | None = None) -> Iterator[Database]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # one writer at a time, across workers too
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
            if self._changes_map is not None:
                self._changes_map.close()
                os.close(self._changes_fd)
                self._changes_map, self._changes_fd = None, -1

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
