"""The request journal: what each worker was asked and answered, written to
the shared store in small batches.

One transaction per request would weigh on every call, so rows are buffered and flushed at most `FLUSH_DELAY`
seconds later, or as soon as `FLUSH_SIZE` are waiting. Reading the journal
through the control API flushes the answering worker first, so with one
worker the journal is always exact; with several, another worker's last
rows appear within `FLUSH_DELAY`.

While the state cannot be reached (a PostgreSQL outage), rows wait in memory,
the newest `BACKLOG` of them, and are written when it is back.

A row is kept as the request gave it (header pairs, the body's bytes) and
encoded for the store only when its batch is written, off the request's
path. No credential reaches the store: the credential headers are dropped
when the row is made (`Journal.headers`), and the path, the query string and
every other header value pass through `mockserver.common.scrubbing` (tokens,
credential parameters, the secrets the mock knows) when the row is encoded.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from mockserver.common.scrubbing import scrub
from mockserver.errors import StateUnavailable
from mockserver.state.store import Store

FLUSH_DELAY = 0.05
FLUSH_SIZE = 256
#: Rows kept while the state cannot be reached, and seconds between two tries.
BACKLOG, RETRY_DELAY = 10_000, 1.0
#: Headers that carry credentials: never journaled (the vendor's auth header is added per contract).
CREDENTIAL_HEADERS = frozenset({b"authorization", b"proxy-authorization", b"x-mockserver-admin-token", b"cookie"})

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
    faults: list[dict[str, Any]] | None  # the injected faults that applied, in stage order
    request_id: str | None
    #: Where the exchange breaks the contract (`mockserver proxy`; None from the mock).
    violations: list[dict[str, str]] | None = None
    rate_limited: dict[str, Any] | None = None  # the rate limit's 429: why (`OverLimit.public()`)


@functools.lru_cache(maxsize=1024)
def encode_headers(pairs: tuple[tuple[bytes, bytes], ...], secrets: tuple[str, ...] = ()) -> str:
    """Header pairs as a JSON object; a repeated header's values joined with ', ' (RFC 9110).
    (Cached: a client on a kept-alive connection sends the same headers each time.)"""
    headers: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        name, value = raw_name.decode("latin-1"), scrub(raw_value.decode("latin-1"), secrets)
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return json.dumps(headers)


def encode(row: JournalRow, secrets: tuple[str, ...] = ()) -> tuple[Any, ...]:
    """The row as the store writes it (`store.JOURNAL_WRITTEN` but the worker), with no
    credential in its path, query or headers (`secrets`: those the mock knows)."""
    return (
        row.time_ms, row.method, scrub(row.path, secrets), scrub(row.query.decode("latin-1"), secrets),
        encode_headers(row.headers, secrets),
        _scrubbed_body(row.body, secrets), row.status, _scrubbed_body(row.response_body, secrets), row.app_id,
        row.operation_id,
        json.dumps(row.faults) if row.faults is not None else None, row.request_id,
        json.dumps(row.violations) if row.violations is not None else None,
        json.dumps(row.rate_limited) if row.rate_limited is not None else None,
    )


def _scrubbed_body(body: bytes | None, secrets: tuple[str, ...]) -> bytes | None:
    """A body as received or sent, with the credentials in its text replaced (a body that is
    not UTF-8 text is kept as it is: the policy is about text a client could paste)."""
    if not body:
        return body
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return body
    scrubbed = scrub(text, secrets)
    return body if scrubbed == text else scrubbed.encode("utf-8")


class Journal:
    """Owns one worker's journal rows on their way to the store: the buffer, its
    scheduled flush, the backlog kept while the state is unreachable, and which
    headers are never written (credentials)."""

    def __init__(self, store: Store, *, keep: int = 0, auth_header: str = "",
                 secrets: Callable[[], tuple[str, ...]] = tuple):
        """`keep`: the journal's row cap (0: none), applied as each batch is written;
        `auth_header`: the contract's token header, never journaled; `secrets`: what
        the mock knows to be secret now (admin token, client secrets), never journaled."""
        self.store, self.keep, self.secrets = store, keep, secrets
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
        secrets = self.secrets() if rows else ()
        encoded, self._backlog = self._backlog + [encode(row, secrets) for row in rows], []
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
