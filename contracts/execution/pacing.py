"""The runner's own pace: how many requests it sends in any rolling minute, and in a run.

Against a remote target a run shares the account's rate limit (the contract's
`x-rate-limit`) with the team's real traffic, so by default it takes at most
half of the per-minute limit in any rolling 60 s and a quarter of the hourly
limit in the whole run; `--rate N/min` sets the pace (locally too, where
nothing is paced by default). Every request on the wire goes through one
`Pace`: pre-flight, suites, polls and retries alike. Time is read from an
injected clock and waited through an injected sleep, so a test drives it with
a manual clock.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

#: The rolling window the per-minute pace is judged on, in seconds.
WINDOW = 60.0
#: Added to the window: a deployment stamps a request by its own clock, at a moment of its
#: choosing, and may count whole seconds; a request leaves the pace's window this much later.
MARGIN = 1.0
#: The share of the contract's per-minute limit a remote run takes by default.
MINUTE_SHARE = 0.5
#: The share of the contract's hourly limit a run may use at most.
HOUR_SHARE = 0.25
#: The minutes a default remote run is planned to fit in at its pace (the request budget).
RUN_MINUTES = 6
#: The first back-off after a 429/503 without a usable `Retry-After` when nothing paces the run.
UNPACED_BACKOFF = 1.0
#: How often a full window is looked at again while its oldest request is still in flight (--workers).
IN_FLIGHT_POLL = 0.05
_EPSILON = 1e-6


def _nothing() -> None:
    return None


class Pace:
    """The requests one run may send: at most `per_minute` in any rolling `WINDOW`
    (None: no pace) and `total` in the run (None: no cap). Owns the answer times of
    the current window's requests and the count; thread-safe (senders wait in turn)."""

    def __init__(self, per_minute: int | None, total: int | None, *,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.per_minute = per_minute
        self.total = total
        self.clock = clock
        self.sleep = sleep
        self.sent = 0
        self.waited = 0.0
        self._unseen = 0.0  # time slept that the clock did not show
        self._window: deque[list[float | None]] = deque()  # each request's answer time; None: in flight
        self._lock = threading.Lock()

    def exhausted(self) -> bool:
        """True when the run may send no more requests."""
        with self._lock:
            return self.total is not None and self.sent >= self.total

    def acquire(self) -> Callable[[], None]:
        """Wait until one more request fits the pace, and count it (the caller asked
        `exhausted()` before deciding to send). Returns what to call once its answer
        is in: a request's minute is counted from then, so however long it took on
        the way, the deployment never sees more than `per_minute` in its own 60 s."""
        with self._lock:
            self.sent += 1
            if self.per_minute is None:
                return _nothing
            self._wait_for_room(self.per_minute)
            slot: list[float | None] = [None]
            self._window.append(slot)

        def answered() -> None:
            slot[0] = self.now()

        return answered

    def now(self) -> float:
        """The clock, never behind the time slept: a sleep that does not move the clock
        (a test's, advancing only the deployment's clock) still moves the pace's."""
        return self.clock() + self._unseen

    def _sleep(self, delay: float) -> None:
        before = self.now()
        self.waited += delay
        self.sleep(delay)
        self._unseen += max(0.0, before + delay - self.now())

    def _wait_for_room(self, limit: int) -> None:
        while True:
            now = self.now()
            while self._window and (done := self._window[0][0]) is not None and done + WINDOW + MARGIN <= now:
                self._window.popleft()
            if len(self._window) < limit:
                return
            oldest = self._window[0][0]
            self._sleep(oldest + WINDOW + MARGIN - now + _EPSILON if oldest is not None else IN_FLIGHT_POLL)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry `attempt` (1, 2, ...) when the answer named no
        usable `Retry-After`: twice the pace's interval, doubled every attempt."""
        interval = WINDOW / self.per_minute if self.per_minute else UNPACED_BACKOFF / 2
        return 2 * interval * 2 ** (attempt - 1)


def default_pace(remote: bool, rate: int | None, per_minute_limit: int, per_hour_limit: int) -> tuple[int | None,
                                                                                                     int | None]:
    """(requests per rolling minute, requests in the run) for a target: remote by
    default half the contract's per-minute limit and a quarter of its hourly one;
    `--rate` sets the pace anywhere; locally nothing is paced or capped by default."""
    cap = int(per_hour_limit * HOUR_SHARE)
    if rate is not None:
        return rate, cap if remote else None
    if not remote:
        return None, None
    return max(1, int(per_minute_limit * MINUTE_SHARE)), cap


def request_budget(per_minute: int | None, total: int | None) -> int | None:
    """The requests a plan may count on: `RUN_MINUTES` at the pace, within the run's total."""
    if per_minute is None:
        return total
    budget = per_minute * RUN_MINUTES
    return budget if total is None else min(budget, total)
