"""The shared count of each account's calls, for rate limits: one row per
account and second of the mock's clock (`rate_calls`), so that every worker
and every instance on the same state counts against the same windows.

`claim()` is one transaction (serialized across workers: SQLite's write lock,
PostgreSQL's advisory `RATE_LOCK`): it reads the calls counted in the rolling
minute and hour, and, if both leave room, counts `wanted` more calls (fewer
when less room is left) in the current second. It also gives back calls a
worker claimed earlier and did not use (`mockserver.vendor.rate_limit`).
"""

from __future__ import annotations

from dataclasses import dataclass

from mockserver.state.records import storable
from mockserver.state.store import Database, Store

SECOND_MS, MINUTE, HOUR = 1000, 60, 3600

USAGE = (
    "SELECT coalesce(sum(CASE WHEN bucket > ? THEN calls ELSE 0 END), 0), coalesce(sum(calls), 0),"
    " min(CASE WHEN bucket > ? THEN bucket END), min(bucket)"
    " FROM rate_calls WHERE account = ? AND bucket > ? AND calls > 0"
)
COUNT = (
    "INSERT INTO rate_calls (account, bucket, calls) VALUES (?, ?, ?)"
    " ON CONFLICT (account, bucket) DO UPDATE SET calls = rate_calls.calls + excluded.calls"
)
GIVE_BACK = "UPDATE rate_calls SET calls = calls - ? WHERE account = ? AND bucket = ? AND calls >= ?"


@dataclass(frozen=True)
class Usage:
    """An account's counted calls at a moment: in the rolling minute and hour, and
    the seconds (buckets) of the oldest calls of each window, None when empty."""

    minute: int
    hour: int
    oldest_in_minute: int | None
    oldest_in_hour: int | None


@dataclass(frozen=True)
class Share:
    """How many calls one claim may count: one while fewer than `exact_below` are
    left (so that the call that crosses a limit is judged exactly, whichever worker
    makes it); else as many as wanted, but at most a `divisor`-th of the room left
    and at most `most`."""

    exact_below: int
    divisor: int
    most: int

    def of(self, left: int, wanted: int) -> int:
        return 1 if left < self.exact_below else max(1, min(wanted, self.most, left // self.divisor))


@dataclass(frozen=True)
class Claim:
    """What `claim()` did: the calls it counted (0: refused) and the usage before them."""

    granted: int
    usage: Usage


def bucket_of(now_ms: int) -> int:
    return now_ms // SECOND_MS


def usage(store: Store, account: str, now_ms: int) -> Usage:
    with store._connect() as db:
        return _usage(db, account, bucket_of(now_ms))


def claim(store: Store, account: str, now_ms: int, *, per_minute: int, per_hour: int, share: Share,
          wanted: int = 1, give_back: tuple[int, int] | None = None) -> Claim:
    """Count calls of `account` now, if the minute and the hour both leave room:
    `wanted` of them, as far as `share` allows. `give_back`: (bucket, calls)
    claimed before and not used."""
    bucket = bucket_of(now_ms)
    with store._transaction(lock=store.RATE_LOCK) as db:
        if give_back is not None and give_back[1] > 0:
            returned, where = give_back[1], give_back[0]
            db.execute(GIVE_BACK, (returned, storable(account), where, returned))
        seen = _usage(db, account, bucket)
        left = min(per_minute - seen.minute, per_hour - seen.hour)
        if left <= 0:
            return Claim(0, seen)
        granted = share.of(left, wanted)
        db.execute(COUNT, (storable(account), bucket, granted))
    return Claim(granted, seen)


def _usage(db: Database, account: str, bucket: int) -> Usage:
    minute_start, hour_start = bucket - MINUTE, bucket - HOUR
    row = db.execute(USAGE, (minute_start, minute_start, storable(account), hour_start)).fetchone()
    return Usage(int(row[0]), int(row[1]), row[2], row[3])


def forget_before(store: Store, now_ms: int) -> None:
    """Drop the counts that left every window (older than an hour)."""
    with store._connect() as db:
        db.execute("DELETE FROM rate_calls WHERE bucket <= ?", (bucket_of(now_ms) - HOUR,))
