"""The request journal: what each worker was asked and answered, written to
the shared store in small batches.

Writing one SQLite transaction per request cost 8% of the status call's
time (py-spy), so rows are buffered and flushed at most `FLUSH_DELAY`
seconds later, or as soon as `FLUSH_SIZE` are waiting. Reading the journal
through the control API flushes the answering worker first, so with one
worker the journal is always exact; with several, another worker's last
rows appear within `FLUSH_DELAY`.

While the state cannot be reached (a PostgreSQL outage), rows wait in memory,
the newest `BACKLOG` of them, and are written when it is back.

A row is kept as the request gave it (header pairs, the body's bytes) and
encoded for the store only when its batch is written, off the request's
path. No token reaches the store: the credential headers are dropped when
the row is made (`Journal.headers`), and any other header value or query
string holding a compact JWS has it replaced by `<token>`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from mockserver.errors import StateUnavailable
from mockserver.state.store import Store

FLUSH_DELAY = 0.05
FLUSH_SIZE = 256
#: Rows kept while the state cannot be reached, and seconds between two tries.
BACKLOG, RETRY_DELAY = 10_000, 1.0
#: Headers that carry credentials: never journaled (the vendor's auth header is added per contract).
CREDENTIAL_HEADERS = frozenset({b"authorization", b"proxy-authorization", b"x-mockserver-admin-token", b"cookie"})
_JWS = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
TOKEN_SHOWN_AS = "<token>"

log = logging.getLogger("mockserver")


class JournalRow(NamedTuple):
    """One request and its answer, as the front door saw them."""

    time_ms: int
    method: str
    path: str
    query: bytes
    headers: tuple[tuple[bytes, bytes], ...]  # credential headers already dropped
    body: bytes | None  # as received, when the mock read it
    status: int  # 0: the connection was dropped
    response_body: bytes | None  # with --journal-bodies
    app_id: str | None
    operation_id: str | None
    fault: dict[str, Any] | None
    request_id: str | None
    rate_limited: dict[str, Any] | None = None  # the rate limit's 429: why (`OverLimit.public()`)


def _scrub(text: str) -> str:
    return _JWS.sub(TOKEN_SHOWN_AS, text) if "eyJ" in text else text


@functools.lru_cache(maxsize=1024)
def encode_headers(pairs: tuple[tuple[bytes, bytes], ...]) -> str:
    """Header pairs as a JSON object; a repeated header's values joined with ', ' (RFC 9110).
    (Cached: a client on a kept-alive connection sends the same headers each time.)"""
    headers: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        name, value = raw_name.decode("latin-1"), _scrub(raw_value.decode("latin-1"))
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return json.dumps(headers)


def encode(row: JournalRow) -> tuple[Any, ...]:
    """The row as the store writes it (`store.JOURNAL_WRITTEN` but the worker)."""
    return (
        row.time_ms, row.method, row.path, _scrub(row.query.decode("latin-1")), encode_headers(row.headers),
        row.body, row.status, row.response_body, row.app_id, row.operation_id,
        json.dumps(row.fault) if row.fault is not None else None, row.request_id,
        json.dumps(row.rate_limited) if row.rate_limited is not None else None,
    )


class Journal:
    def __init__(self, store: Store, *, keep: int = 0, auth_header: str = ""):
        """`keep`: the journal's row cap (0: none), applied as each batch is written;
        `auth_header`: the contract's token header, never journaled."""
        self.store, self.keep = store, keep
        self.hidden = CREDENTIAL_HEADERS | {auth_header.lower().encode()}
        self._rows: list[JournalRow] = []
        self._backlog: list[tuple[Any, ...]] = []  # encoded, waiting for the state to be reachable
        self._scheduled: asyncio.TimerHandle | None = None

    def headers(self, raw: Iterable[tuple[bytes, bytes]]) -> tuple[tuple[bytes, bytes], ...]:
        """A request's headers without the credentials."""
        return tuple((name, value) for name, value in raw if name not in self.hidden)

    def append(self, row: JournalRow) -> None:
        self._rows.append(row)
        if len(self._rows) >= FLUSH_SIZE:
            self.flush()
        elif self._scheduled is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop (a synchronous caller): write now
                self.flush()
                return
            self._scheduled = loop.call_later(FLUSH_DELAY, self.flush)

    def flush(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        rows, self._rows = self._rows, []
        encoded, self._backlog = self._backlog + [encode(row) for row in rows], []
        if not encoded:
            return
        try:
            self.store.record(encoded, keep=self.keep)
        except StateUnavailable:
            # Kept for when the state is back (the newest `BACKLOG` rows), tried again
            # then or with the next batch, whichever comes first.
            self._backlog = encoded[-BACKLOG:]
            self._schedule(RETRY_DELAY)
        except Exception:  # noqa: BLE001 - the journal must never break an answer
            log.exception("could not write %d journal rows", len(encoded))

    def _schedule(self, delay: float) -> None:
        if self._scheduled is None:
            try:
                self._scheduled = asyncio.get_running_loop().call_later(delay, self.flush)
            except RuntimeError:  # no loop: the next append or flush tries again
                pass

    def discard(self) -> None:
        """Forget unwritten rows (the journal is being cleared)."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        self._rows, self._backlog = [], []
