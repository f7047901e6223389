"""The running mock's state in one process: the shared store plus what each
worker caches from it (fixtures and faults, re-read when the store's
generation moves) and the clock.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from mockserver.common.openapi_documents import Documents
from mockserver.errors import SettingsError, StateUnavailable
from mockserver.settings import Clock, Settings, TokenClock
from mockserver.state import rate_counts
from mockserver.state.backends import open_store
from mockserver.state.journal import Journal
from mockserver.state.records import StoredRequest, now_ms
from mockserver.state.store import Store
from mockserver.vendor.auth import Authenticator
from mockserver.vendor.erase_progress import LATEST_MS, EraseProgress, stable_window
from mockserver.vendor.faults import Drift, Fault
from mockserver.vendor.fixtures import Fixtures, load_fixtures, parse_fixtures
from mockserver.vendor.outcomes import OutcomeRule, rule
from mockserver.vendor.rate_limit import Limit, RateLimiter, limit_for, parse_setting

T = TypeVar("T")
STATUS_CACHE_SIZE = 10_000
#: Seconds (of real time) between two housekeeping runs of a worker.
HOUSEKEEPING_INTERVAL = 1.0
#: Seconds (of real time) a worker trusts `Store.changes()` before reading the control row all the same.
RECHECK_INTERVAL = 1.0


def longest_span_ms(documents: Documents) -> int:
    """The longest span of time the control API takes (its `Seconds` schema):
    how far past the clock a due time can be."""
    return int(documents.control.schema("Seconds")["maximum"] * 1000)


def check_bounds(settings: Settings, documents: Documents) -> None:
    """Refuse settings whose times could not be stored or shown, and negative
    retention limits. Raises `SettingsError`."""
    longest = longest_span_ms(documents) / 1000
    for name in ("progress_delay", "leeway", "retain_finished_seconds"):
        value = getattr(settings, name)
        if value is not None and not 0 <= value <= longest:  # NaN fails too
            raise SettingsError(f"{_flag(name)} must be between 0 and {longest:.0f} seconds, not {value}")
    for name in ("header_timeout", "body_timeout"):
        value = getattr(settings, name)
        if not 0 < value <= longest:
            raise SettingsError(f"{_flag(name)} must be more than 0 and at most {longest:.0f} seconds, not {value}")
    for name in ("retain_journal_rows", "retain_finished_requests"):
        value = getattr(settings, name)
        if value is not None and value < 0:
            raise SettingsError(f"{_flag(name)} cannot be negative")
    parse_setting(settings.rate_limit)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


class Runtime:
    """Owns one worker's view of the mock: the shared store, the fixtures and faults
    cached from it (re-read when its generation moves), the clock, the
    authenticator, the journal, the erase progress and the status bodies cached."""

    def __init__(self, settings: Settings, documents: Documents, fixtures: Fixtures, store: Store):
        self.settings, self.documents, self.store = settings, documents, store
        self.vocabulary = documents.vocabulary
        self.progress = EraseProgress(documents.vocabulary)
        self.fixtures = fixtures
        self.authenticator = self._authenticator()
        self.rate_limits = self._rate_limits()
        self.rate_limiter = RateLimiter(store, self.rate_limit_of, self.write)
        self.journal = Journal(store, keep=settings.retain_journal_rows, auth_header=self.vocabulary.auth_header,
                               secrets=self.known_secrets)
        self._next_housekeeping = 0.0
        # request id -> (stored request, rendered status body, window it is valid in)
        self._status_cache: dict[str, tuple[StoredRequest, bytes, int, float]] = {}
        self.faults: list[Fault] = []
        #: The outcome rules added through the control API (the fixtures' are in `fixtures.outcomes`).
        self.added_outcomes: list[OutcomeRule] = []
        self.drift = Drift(documents.vocabulary)
        self._generation = -1
        self._manual_now_ms: int | None = None
        self._changes_seen: int | None = None
        self._recheck_at = 0.0

    def known_secrets(self) -> tuple[str, ...]:
        """What this mock knows to be secret: the admin token and every app's client secret."""
        secrets = [app.client_secret for app in self.fixtures.apps.values()]
        if self.settings.admin_token:
            secrets.append(self.settings.admin_token)
        return tuple(sorted(set(secrets), key=len, reverse=True))

    def _authenticator(self) -> Authenticator:
        return Authenticator(
            self.vocabulary.token,
            self.fixtures.apps,
            leeway=self.settings.leeway,
            use_jti=lambda app, jti: self.store.use_jti(app.client_id, jti),
        )

    def _rate_limits(self) -> dict[str, Limit | None]:
        contract = self.vocabulary.rate_limit
        return {account.id: limit_for(self.settings.rate_limit, contract, account.rate_limit)
                for account in self.fixtures.accounts.values()}

    def rate_limit_of(self, account_id: str) -> Limit | None:
        """The account's rate limit (None: unlimited): `mockserver.vendor.rate_limit.limit_for`."""
        return self.rate_limits.get(account_id)

    @property
    def latest_clock_ms(self) -> int:
        """The manual clock stops here, so that every time it leads to (the clock
        plus any span) can still be shown: `iso()` ends with the year 9999."""
        return LATEST_MS - longest_span_ms(self.documents)

    @property
    def max_body_bytes(self) -> int:
        """The body limit: the setting, else the contract's documented one."""
        return self.settings.max_body_bytes or self.vocabulary.max_body_bytes

    @classmethod
    def open(cls, settings: Settings, documents: Documents, *, install: bool = True) -> Runtime:
        """Open the state file, installing the fixtures when it is new.

        A state file that exists keeps its requests (that is the point of it);
        its fixtures are replaced by the configured ones, and preloaded
        requests missing from it are added. With `install=False` (the workers
        of `mockserver run`, whose parent has installed them already) the
        state is only read: a worker that starts or restarts late must not
        undo fixtures a test loaded through the control API meanwhile.
        """
        check_bounds(settings, documents)
        if not install:
            store = open_store(settings.state)
            fixtures = parse_fixtures(store.control().fixtures, documents, settings.state)
            runtime = cls(settings, documents, fixtures, store)
            runtime.refresh()
            return runtime
        fixtures = load_fixtures(settings.fixtures, documents)  # before the file: bad fixtures create no state
        store = open_store(settings.state)
        manual = now_ms() if settings.clock == Clock.MANUAL else None
        if not store.initialize(fixtures.document, manual):
            store.set_fixtures(fixtures.document)
            current = store.control().manual_now_ms
            if (settings.clock == Clock.MANUAL) != (current is not None):
                store.set_manual_now(manual)
        runtime = cls(settings, documents, fixtures, store)
        runtime.refresh()
        runtime.preload()
        return runtime

    # -- clock -------------------------------------------------------------------------------

    def now_ms(self) -> int:
        return self._manual_now_ms if self._manual_now_ms is not None else now_ms()

    def token_now(self) -> float:
        """The time tokens are judged at (`--token-clock`)."""
        return time.time() if self.settings.token_clock == TokenClock.REAL else self.now()

    def now(self) -> float:
        return self.now_ms() / 1000 if self._manual_now_ms is not None else time.time()

    # -- shared state --------------------------------------------------------------------------

    def refresh(self) -> None:
        """Pick up what another worker or the control API changed: one memory read
        where the store counts its changes (`Store.changes()`), else one query. The
        control row is read anyway every `RECHECK_INTERVAL` seconds."""
        changes = self.store.changes()  # before the read: a change during it shows next time
        if changes is not None and changes == self._changes_seen and time.monotonic() < self._recheck_at:
            return
        generation, self._manual_now_ms = self.store.generation_and_clock()
        self._changes_seen, self._recheck_at = changes, time.monotonic() + RECHECK_INTERVAL
        if generation != self._generation:
            control = self.store.control()
            if control.fixtures != self.fixtures.document:
                self.fixtures = parse_fixtures(control.fixtures, self.documents, "state file")
                self.authenticator = self._authenticator()
                self.rate_limits = self._rate_limits()
            self.faults = [Fault.from_row(*row) for row in self.store.faults()]
            self.added_outcomes = [rule(dict(spec, id=rule_id)) for rule_id, spec in self.store.outcomes()]
            self._status_cache.clear()  # a reset or a clock change may have happened
            self.rate_limiter.forget()
            self._generation = generation

    @property
    def outcome_rules(self) -> tuple[OutcomeRule, ...]:
        """Every scripted outcome, oldest first: the fixtures', then those added since."""
        return (*self.fixtures.outcomes, *self.added_outcomes)

    def status_of(self, request_id: str) -> tuple[StoredRequest, bytes] | None:
        """A stored request and its status body now. Stored requests never change
        (a reset, which replaces them, moves the generation and clears this
        cache), and the body only changes when a user reaches a final status,
        so both are kept per worker for the window in which they hold."""
        now = self.now_ms()
        cached = self._status_cache.get(request_id)
        if cached is not None and cached[2] <= now < cached[3]:
            return cached[0], cached[1]
        stored = cached[0] if cached is not None else self.store.get_request(request_id)
        if stored is None:
            return None  # not cached: another worker may create it any moment
        body = json.dumps(self.progress.render_status(stored, now)).encode()
        if len(self._status_cache) >= STATUS_CACHE_SIZE:
            self._status_cache.clear()
        self._status_cache[request_id] = (stored, body, *stable_window(stored, now))
        return stored, body

    async def write(self, call: Callable[..., T], *args: Any) -> T:
        """A store write on a request's path. A backend whose commits wait on another
        process's disk (PostgreSQL) gets it off the event loop, so that the worker
        answers other requests meanwhile and concurrent commits share one flush;
        SQLite's are cheaper than the hop to a thread."""
        if self.store.slow_commits:
            return await asyncio.to_thread(call, *args)
        return call(*args)

    # -- retention -------------------------------------------------------------------------------

    def maybe_housekeep(self) -> None:
        """`housekeep()`, at most once per `HOUSEKEEPING_INTERVAL` (called after each request;
        while the state is unreachable, it waits for the next interval)."""
        if time.monotonic() >= self._next_housekeeping:
            try:
                self.housekeep()
            except StateUnavailable:
                pass

    def housekeep(self) -> None:
        """Apply the retention settings now: forget finished requests past their
        age or count limit, and give free space back to the file system. (The
        journal's row cap is applied as each batch is written.)"""
        self._next_housekeeping = time.monotonic() + HOUSEKEEPING_INTERVAL
        age, count = self.settings.retain_finished_seconds, self.settings.retain_finished_requests
        if age is not None or count is not None:
            older_than = None if age is None else int(age * 1000)
            self.store.forget_finished(self.now_ms(), older_than_ms=older_than, keep=count)
            # Any worker may have forgotten a request this one has cached.
            self._status_cache.clear()
        rate_counts.forget_before(self.store, self.now_ms())
        self.store.reclaim()

    def preload(self, *, replace: bool = False) -> int:
        """Store the fixtures' preloaded requests, relative to the current time."""
        stored = 0
        for request in self.fixtures.requests:
            account = self.fixtures.accounts[request.account_id]
            planned = self.progress.preloaded(request, account, self.now_ms())
            stored += self.store.insert_request(planned, replace=replace, preloaded=True)
        return stored

    def reset(self, fixtures: Fixtures | None = None) -> None:
        """Back to the fixtures' state: no requests but the preloaded ones, no faults,
        an empty journal, and the manual clock (if any) at the current real time."""
        fixtures = fixtures or self.fixtures
        manual = now_ms() if self.settings.clock == Clock.MANUAL else None
        self.journal.discard()
        self.store.reset(fixtures.document, manual)
        self.refresh()
        self.preload(replace=True)
