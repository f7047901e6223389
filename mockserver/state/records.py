"""The records the state holds, as the rest of the mock sees them: an erase
request and its users' plans, the control row, and how text is made storable
in either backend."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: Any) -> Any:
    """`value`, with any text UTF-8 cannot encode (lone surrogates) or PostgreSQL
    cannot hold (NUL) escaped as `\\ud800`, `\\x00`."""
    if isinstance(value, str) and _UNSTORABLE.search(value):
        return _UNSTORABLE.sub(lambda m: m.group().encode("utf-8", "backslashreplace").decode()
                               if m.group() != "\x00" else "\\x00", value)
    return value


@dataclass(frozen=True)
class UserPlan:
    """One user's part of an erase request: its final status and when it is reached."""

    user_id: str
    final_status: str
    due_ms: int
    reason: str | None = None


@dataclass(frozen=True)
class StoredRequest:
    """Owns an erase request as stored: who created it when, the bots it covers, and
    each user's plan (final status, due time, reason)."""

    request_id: str
    account_id: str
    created_ms: int
    remove_from_all_bots: bool
    bot_ids: tuple[str, ...]
    users: tuple[UserPlan, ...]


@dataclass(frozen=True)
class Control:
    """Owns the control row: the generation counter, the fixtures document, and the
    manual clock (None for a real one)."""

    generation: int
    fixtures: dict[str, Any]
    manual_now_ms: int | None


def stored_from_row(row: Any) -> StoredRequest:
    return StoredRequest(
        row[0], row[1], row[2], bool(row[3]), tuple(json.loads(row[4])),
        tuple(UserPlan(*user) for user in json.loads(row[5])),
    )


def now_ms() -> int:
    return int(time.time() * 1000)


@lru_cache(maxsize=4096)
def iso(ms: int) -> str:
    """ISO-8601 UTC with milliseconds and `Z`, as the vendor sends timestamps.
    (Cached: a request's timestamps are formatted on every status read. The
    cache is small on purpose: every created request adds two timestamps, so a
    large cache grows with the requests; hot requests' bodies are cached whole
    by the runtime anyway.)"""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
