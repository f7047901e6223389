"""Where rate limits are judged: the vendor's per-account limit on its admin
APIs, `x-rate-limit` of the contract (60 calls per rolling minute and 1800 per
rolling hour by default), on the mock's clock, so that advancing the manual
clock moves the windows.

Which limit an account has (`limit_for`): none with `--rate-limit off`; its
own `rateLimit` from the fixtures when it has one; else `--rate-limit
PER_MINUTE/PER_HOUR` when given; else the contract's. Every call an app of the
account makes that passes authentication counts, on every operation; a call
refused with `429` does not.

The count is shared by every worker and instance (`mockserver.state.rate_counts`).
A worker claims calls from it: one call per claim while an account has little
room left, so that the call that crosses a limit gets `429` exactly, whichever
worker answers it; a batch of calls while much room is left (an account with a
raised limit), used within the same second of the clock and given back when
not, so that a busy account does not cost a store write per call (the
batch doubles while calls keep coming within a second, up to `SHARE.most`).
The counts the control API shows include such claimed, not yet used calls.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from contracts.core.platform import RateLimit
from mockserver.errors import SettingsError
from mockserver.state import rate_counts
from mockserver.state.rate_counts import HOUR, MINUTE, SECOND_MS, Share, Usage
from mockserver.state.store import Store

T = TypeVar("T")
#: The settings' words: the contract's limit (and the fixtures'), or none at all.
CONTRACT, OFF = "contract", "off"
SHARE = Share(exact_below=256, divisor=64, most=1024)


class Window(enum.StrEnum):
    """The rolling window a call was refused in."""

    MINUTE = "minute"
    HOUR = "hour"


@dataclass(frozen=True)
class Limit:
    """Calls an account may make per rolling minute and per rolling hour."""

    per_minute: int
    per_hour: int

    def public(self) -> dict[str, int]:
        return {"perMinute": self.per_minute, "perHour": self.per_hour}


@dataclass(frozen=True)
class OverLimit:
    """A call over the limit: the window that is full, its limit, and the seconds
    until a counted call leaves it (`Retry-After`)."""

    window: Window
    limit: Limit
    retry_after: int

    def public(self) -> dict[str, Any]:
        return {"window": self.window.value, **self.limit.public(), "retryAfter": self.retry_after}


def parse_setting(text: str) -> Limit | str:
    """`--rate-limit`: `contract`, `off`, or `PER_MINUTE/PER_HOUR`. Raises `SettingsError`."""
    if text in (CONTRACT, OFF):
        return text
    minute, _, hour = text.partition("/")
    if minute.isdigit() and hour.isdigit() and int(minute) > 0 and int(hour) > 0:
        return Limit(int(minute), int(hour))
    raise SettingsError(f"--rate-limit {text!r}: use {CONTRACT}, {OFF}, or PER_MINUTE/PER_HOUR (e.g. 600/18000)")


def shown(limit: Mapping[str, int] | None) -> str:
    """A limit as `mockserver apps` prints it: `60/min,1800/h`, or `unlimited`."""
    return f"{limit['perMinute']}/min,{limit['perHour']}/h" if limit else "unlimited"


def limit_for(setting: str, contract: RateLimit, own: Mapping[str, Any] | None) -> Limit | None:
    """An account's limit (None: unlimited), from the setting, the contract and the
    account's own `rateLimit` in the fixtures (`own`)."""
    chosen = parse_setting(setting)
    if chosen == OFF:
        return None
    default = chosen if isinstance(chosen, Limit) else Limit(contract.per_minute, contract.per_hour)
    if own is None:
        return default
    if own.get("unlimited") is True:
        return None
    return Limit(int(own.get("perMinute", default.per_minute)), int(own.get("perHour", default.per_hour)))


@dataclass
class _Grant:
    """Calls this worker claimed for an account in one second, and how many are left."""

    bucket: int
    claimed: int
    left: int

    def wanted_at(self, bucket: int) -> int:
        """How many calls to claim next: twice as many when these ran out within their
        second, as many as were used when the last second was busy, else one."""
        if bucket == self.bucket:
            return 2 * self.claimed
        return max(1, self.claimed - self.left) if bucket == self.bucket + 1 else 1


class RateLimiter:
    """Judges each call of an account against its limit; owns the calls this worker
    claimed from the shared count and has not used yet."""

    def __init__(self, store: Store, limits: Callable[[str], Limit | None],
                 write: Callable[..., Awaitable[Any]]):
        """`limits(account)` is the account's limit; `write(call, *args)` runs a store write."""
        self.store, self.limits, self.write = store, limits, write
        self._grants: dict[str, _Grant] = {}

    async def admit(self, account: str, now_ms: int) -> OverLimit | None:
        """None if the call may proceed (it is counted), else why not."""
        limit = self.limits(account)
        if limit is None:
            return None
        bucket = rate_counts.bucket_of(now_ms)
        grant = self._grants.get(account)
        if grant is not None and grant.bucket == bucket and grant.left > 0:
            grant.left -= 1
            return None
        give_back = (grant.bucket, grant.left) if grant is not None and grant.left > 0 else None
        wanted = grant.wanted_at(bucket) if grant is not None else 1
        self._grants.pop(account, None)
        claimed = await self.write(functools.partial(
            rate_counts.claim, self.store, account, now_ms, per_minute=limit.per_minute, per_hour=limit.per_hour,
            share=SHARE, wanted=wanted, give_back=give_back))
        if claimed.granted:
            self._grants[account] = _Grant(bucket, claimed.granted, claimed.granted - 1)
            return None
        return refusal(limit, claimed.usage, now_ms)

    def forget(self) -> None:
        """Drop the unused claims (after a reset or a clock change: the counts they
        belong to may be gone)."""
        self._grants.clear()

    def state(self, account: str, now_ms: int) -> dict[str, Any]:
        """The account's limit and the calls counted in each window now (the control API's view)."""
        limit = self.limits(account)
        usage = rate_counts.usage(self.store, account, now_ms)
        shown: dict[str, Any] = {"account": account, "limit": limit.public() if limit else None,
                                 "usedLastMinute": usage.minute, "usedLastHour": usage.hour}
        refused = refusal(limit, usage, now_ms) if limit else None
        shown.update(limited=refused is not None, retryAfter=refused.retry_after if refused else None,
                     window=refused.window.value if refused else None)
        return shown


def refusal(limit: Limit, usage: Usage, now_ms: int) -> OverLimit | None:
    """Why a call now would be over `limit`, if it would: the window whose oldest
    counted call leaves last decides `Retry-After`."""
    full: list[tuple[int, Window]] = []
    if usage.hour >= limit.per_hour and usage.oldest_in_hour is not None:
        full.append((_seconds_until((usage.oldest_in_hour + HOUR) * SECOND_MS, now_ms), Window.HOUR))
    if usage.minute >= limit.per_minute and usage.oldest_in_minute is not None:
        full.append((_seconds_until((usage.oldest_in_minute + MINUTE) * SECOND_MS, now_ms), Window.MINUTE))
    if not full:
        return None
    retry_after, window = max(full)
    return OverLimit(window, limit, retry_after)


def _seconds_until(moment_ms: int, now_ms: int) -> int:
    return max(1, math.ceil((moment_ms - now_ms) / SECOND_MS))
