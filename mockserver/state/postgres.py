"""The state in a PostgreSQL database (`--state postgresql://USER@HOST:PORT/DB`),
shared by any number of mock instances on any number of hosts.

psycopg 3 with a `psycopg_pool` connection pool, in autocommit mode: each
statement commits on its own (a create is durable when `insert_request`
returns), and the few multi-statement writes run in a transaction. Journal
writers and resets take a transaction-scoped advisory lock, so that journal
ids are committed in the order they are handed out and a reader's cursor
never passes a row still being written; migrations take another.

While the database cannot be reached (stopped, restarting, the network
down), every call raises `StateUnavailable` at once instead of waiting: the
server answers 503 with `Retry-After`. At most every `PROBE_INTERVAL`
seconds one call tries a fresh connection; when it succeeds, the pool is
replaced by a new one (no back-off left over from the outage) and the store
is back. Nothing acknowledged is lost: an answer is only given after its
commit.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from mockserver.errors import StartupError, StateUnavailable
from mockserver.state.location import Backend, redact, scrub
from mockserver.state.migrations import migrate
from mockserver.state.store import Cursor, Database, Store

log = logging.getLogger("mockserver")
# The pool logs every failed reconnection attempt; the store says once that the
# database is gone, and once that it is back.
logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)

POOL_SIZE = 8  # the event loop's queries, and creates committing in threads meanwhile
POOL_WAIT = 2.0  # seconds a call waits for a pooled connection
CONNECT_TIMEOUT = 2  # seconds (libpq's minimum)
PROBE_INTERVAL = 0.5  # seconds between two tries while the database is unreachable
UNREACHABLE = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)


@functools.lru_cache(maxsize=512)
def _dialect(sql: str) -> str:
    """The stores' SQL (`?` placeholders) as psycopg takes it (`%s`)."""
    return sql.replace("?", "%s")


class _Connection:
    """A pooled psycopg connection that speaks the stores' SQL."""

    def __init__(self, connection: psycopg.Connection[Any]):
        self.connection = connection

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Cursor:
        return self.connection.execute(_dialect(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany(_dialect(sql), rows)


def _reason(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class PostgresStore(Store):
    """A store in a PostgreSQL database, shared by instances on any number of hosts."""

    backend = Backend.POSTGRESQL
    slow_commits = True

    def __init__(self, url: str):
        super().__init__(url)
        self._lock = threading.Lock()
        self._down: str | None = None  # why, while the database is unreachable
        self._probe_at = 0.0
        try:
            self._pool = self._open_pool()
        except StateUnavailable as exc:
            raise StartupError(f"--state {redact(url)}: cannot connect to PostgreSQL ({scrub(str(exc), url)}); "
                               "start it, or check the URL") from None
        migrate(self)

    def _open_pool(self) -> ConnectionPool:
        """A new pool with one connection open. Raises `StateUnavailable`."""
        try:  # a first connection of our own: the pool would only say it timed out
            psycopg.connect(self.location, autocommit=True, connect_timeout=CONNECT_TIMEOUT).close()
            pool = ConnectionPool(self.location, min_size=1, max_size=POOL_SIZE, timeout=POOL_WAIT, open=False,
                                  name="mockserver-state",
                                  kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT})
            pool.open(wait=True, timeout=POOL_WAIT)
        except (psycopg.Error, PoolTimeout) as exc:
            raise StateUnavailable(self._reason(exc)) from None
        return pool

    def _reason(self, exc: BaseException) -> str:
        """What went wrong, in one line, without any password of the URL (a driver's message
        may quote the connection string)."""
        return scrub(_reason(exc), self.location)

    def _current_pool(self) -> ConnectionPool:
        if self._down is None:
            return self._pool
        with self._lock:
            if self._down is None:
                return self._pool
            if time.monotonic() < self._probe_at:
                raise StateUnavailable(self._down)
            self._probe_at = time.monotonic() + PROBE_INTERVAL
            try:
                pool = self._open_pool()
            except StateUnavailable as exc:
                self._down = str(exc)
                raise
            self._pool, self._down = pool, None
        log.warning("the state database is back: answering again")
        return pool

    def _lost(self, pool: ConnectionPool, exc: BaseException) -> str:
        with self._lock:
            if self._down is None:
                log.warning("the state database is unreachable (%s): answering 503 until it is back", self._reason(exc))
            self._down, self._probe_at = self._reason(exc), time.monotonic() + PROBE_INTERVAL
            if pool is self._pool:  # its connections are gone; a new pool comes with the database
                pool.close(timeout=0.1)
            return self._down

    @contextmanager
    def _connect(self) -> Iterator[Database]:
        pool = self._current_pool()
        try:
            with pool.connection(timeout=POOL_WAIT) as connection:
                yield _Connection(connection)
        except UNREACHABLE as exc:
            raise StateUnavailable(self._lost(pool, exc)) from None

    @contextmanager
    def _transaction(self, *, lock: int | None = None) -> Iterator[Database]:
        with self._connect() as db:
            assert isinstance(db, _Connection)
            with db.connection.transaction():
                if lock is not None:
                    db.execute("SELECT pg_advisory_xact_lock(?)", (lock,))
                yield db

    def close(self) -> None:
        self._pool.close()
