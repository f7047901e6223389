"""The request journal: what each worker answered, written to the shared
store in small batches.

Writing one SQLite transaction per request cost 8% of the status call's
time (py-spy), so rows are buffered and flushed at most `FLUSH_DELAY`
seconds later, or as soon as `FLUSH_SIZE` are waiting. Reading the journal
through the control API flushes the answering worker first, so with one
worker the journal is always exact; with several, another worker's last
rows appear within `FLUSH_DELAY`.
"""

from __future__ import annotations

import asyncio
import logging

from mockserver.store import Store

FLUSH_DELAY = 0.05
FLUSH_SIZE = 256

JournalRow = tuple[int, str, str, int, "str | None", "str | None", "str | None"]
log = logging.getLogger("mockserver")


class Journal:
    def __init__(self, store: Store, *, keep: int = 0):
        """`keep`: the journal's row cap (0: none), applied as each batch is written."""
        self.store, self.keep = store, keep
        self._rows: list[JournalRow] = []
        self._scheduled: asyncio.TimerHandle | None = None

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
        if not rows:
            return
        try:
            self.store.record(rows, keep=self.keep)
        except Exception:  # noqa: BLE001 - the journal must never break an answer
            log.exception("could not write %d journal rows", len(rows))

    def discard(self) -> None:
        """Forget unwritten rows (the journal is being cleared)."""
        if self._scheduled is not None:
            self._scheduled.cancel()
            self._scheduled = None
        self._rows = []
