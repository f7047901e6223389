"""The runner fits inside the platform's rate limit: it paces itself against a remote
target, plans what fits its request budget, and never judges a 429 as a violation.

Time is a manual clock: the runner's pace reads it, its `sleep` advances it and the
in-process mock's clock together, so the mock's rate limit sees the same minutes."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from contracts.core.errors import ConfigError
from contracts.execution.pacing import Pace
from contracts.execution.transport import Exchange, Transport
from contracts.judging.outcome import CallOutcome
from contracts.reporting import terminal
from mockserver.testing.mock_app import MockApp
from mockserver.vendor.fixtures import default_fixtures_path
from tests.support import deployment, run_config

ERASABLE = "qa-pacing@example.com"


class ManualTime:
    """The test's clock: sleeping advances it (and the mock's clock with it)."""

    def __init__(self, mock: MockApp | None = None):
        self.now = 0.0
        self.mock = mock
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if self.mock is not None:
            self.mock.advance(seconds)


class Stamped(httpx.BaseTransport):
    """Records the manual clock's time and the answer's status of every request on the wire."""

    def __init__(self, inner: httpx.BaseTransport, time: ManualTime):
        self.inner, self.time = inner, time
        self.sent: list[tuple[float, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        self.sent.append((self.time.now, response.status_code))
        return response


def most_in_a_minute(times: list[float]) -> int:
    return max((sum(1 for t in times if start <= t < start + 60) for start in times), default=0)


# -- the limiter ----------------------------------------------------------------------------------


def test_the_pace_never_sends_more_than_its_rate_in_any_rolling_minute() -> None:
    time = ManualTime()
    pace = Pace(30, None, clock=time.clock, sleep=time.sleep)
    stamps = []
    for _ in range(100):
        answered = pace.acquire()
        stamps.append(time.now)
        time.now += 0.1  # each request takes a little while
        answered()
    assert most_in_a_minute(stamps) == 30
    assert stamps[29] < 60 and stamps[30] >= 61.1  # the 31st waits for the first answer's minute (and a margin)
    assert pace.sent == 100 and pace.waited == pytest.approx(sum(time.slept))


def test_a_request_s_minute_counts_from_its_answer() -> None:
    """However long a request took on the way, the deployment (which stamps it somewhere
    between send and answer) never sees more than the pace in its own 60 s."""
    time = ManualTime()
    pace = Pace(2, None, clock=time.clock, sleep=time.sleep)
    answered = pace.acquire()
    time.now += 5.0  # a slow answer
    answered()
    pace.acquire()()
    pace.acquire()  # the third waits for the first answer's minute to pass
    assert time.now == pytest.approx(66.0)  # 5 s, a minute and the margin


def test_a_sleep_that_does_not_move_the_clock_still_ends_the_wait() -> None:
    slept: list[float] = []
    pace = Pace(2, None, clock=lambda: 100.0, sleep=slept.append)
    for _ in range(5):
        pace.acquire()()
    assert slept == pytest.approx([61.0, 61.0])  # the 3rd and 5th waited a (virtual) minute


def test_the_run_total_is_counted_and_an_unpaced_run_never_waits() -> None:
    time = ManualTime()
    pace = Pace(None, 3, clock=time.clock, sleep=time.sleep)
    for _ in range(3):
        assert not pace.exhausted()
        pace.acquire()
    assert pace.exhausted() and time.slept == []


def test_retry_after_junk_is_absent_and_the_back_off_follows_the_pace() -> None:
    transport = Transport("http://deployment.test", 1.0, 30.0, pace=Pace(30, None))
    try:
        def delay(status: int, retry_after: str | None, attempts: int = 1) -> float | None:
            headers = {"retry-after": retry_after} if retry_after is not None else {}
            return transport.retry_delay(Exchange("GET", "/", {}, None, status, headers, b"", 0.0, attempts))

        assert delay(429, "5") == 5.0 and delay(503, "0") == 0.0
        assert delay(429, "nan") == delay(429, None) == delay(429, "soon") == 4.0  # twice 60 s / 30
        assert delay(429, "nan", attempts=2) == 8.0 and delay(429, "inf") == 4.0
        assert delay(429, "3600") == 30.0  # capped by --max-retry-after's default
        assert delay(400, "5") is None
    finally:
        transport.close()
    assert not any(math.isnan(v) for v in (Pace(None, None).backoff(1),))


@pytest.mark.parametrize(("given", "rate"), [("30/min", 30), ("12", 12), (" 5/minute", 5)])
def test_rate_option_is_requests_per_minute(given: str, rate: int) -> None:
    assert run_config(rate=None).rate is None
    from contracts.config import parse_rate

    assert parse_rate(given) == rate


@pytest.mark.parametrize("given", ["0/min", "fast", "-3", "1.5/min", "30/h"])
def test_a_rate_that_is_not_one_is_refused(given: str) -> None:
    from contracts.config import parse_rate

    with pytest.raises(ConfigError, match="not a rate"):
        parse_rate(given)


# -- against the in-process mock at the contract's limit ----------------------------------------


@pytest.fixture
def contract_limited(tmp_path: Path) -> Iterator[MockApp]:
    """The mock with the contract-testing app's account at the contract's rate limit
    (60 a minute, 1800 an hour), as a staging deployment of the vendor would be."""
    fixtures = yaml.safe_load(default_fixtures_path().read_text())
    for account in fixtures["accounts"]:
        account.pop("rateLimit", None)
    path = tmp_path / "fixtures.yaml"
    path.write_text(yaml.safe_dump(fixtures))
    with MockApp(fixtures=path, clock="manual", progress_delay=2) as mock:
        yield mock


def remote_run(mock: MockApp, time: ManualTime, tmp_path: Path, **overrides: Any) -> tuple[Any, Stamped]:
    from contracts.pipeline import run

    config = run_config(target_kind="remote", erase_user_ids=(ERASABLE,), max_examples=50,
                        audit_log=tmp_path / "audit.jsonl", **overrides)
    with deployment(mock.asgi) as wire:
        stamped = Stamped(wire, time)
        report = run(config, transport=stamped, sleep=time.sleep, clock=time.clock)
    return report, stamped


def test_a_remote_run_stays_within_half_the_limit_and_passes(contract_limited: MockApp, tmp_path: Path) -> None:
    mock = contract_limited
    assert mock.rate_limit("acme")["limit"]["perMinute"] == 60
    time = ManualTime(mock)
    report, wire = remote_run(mock, time, tmp_path)
    output = terminal.render(report)
    statuses = [status for _, status in wire.sent]
    assert 429 not in statuses, output
    assert most_in_a_minute([t for t, _ in wire.sent]) <= 30
    assert report.verdict == "PASSED", output
    assert len(wire.sent) <= 180 and time.now < 6 * 60  # the request budget, at the pace
    cut = [r for r in report.outcome.records.values() if r.reason.startswith("cut by the request budget")]
    assert cut and all(r.outcome is CallOutcome.CUT for r in cut)


def test_rate_sets_another_pace(contract_limited: MockApp, tmp_path: Path) -> None:
    time = ManualTime(contract_limited)
    report, wire = remote_run(contract_limited, time, tmp_path, rate=12, suites=("request-ids",))
    assert most_in_a_minute([t for t, _ in wire.sent]) <= 12
    assert report.outcome.plan.request_budget == 72  # 6 minutes at 12 a minute
    assert 429 not in [status for _, status in wire.sent]


def test_answers_429_are_retried_never_violations(contract_limited: MockApp, tmp_path: Path) -> None:
    """A deployment that answers some calls 429 (no Retry-After): each is waited for with
    the pace's back-off and sent again; none is judged as the check's violation."""
    mock = contract_limited
    mock.inject("status", status=429, count=3, operationId="getEraseRequestStatusViaPost")
    time = ManualTime(mock)
    report, wire = remote_run(mock, time, tmp_path, suites=("request-ids", "auth"))
    output = terminal.render(report)
    assert [status for _, status in wire.sent].count(429) == 3
    assert report.verdict == "PASSED" and not len(report.findings), output
    assert {4.0, 8.0, 16.0} <= set(time.slept)  # the back-off of a 30-a-minute pace, doubled


def test_a_call_that_stays_rate_limited_is_incomplete_not_failed(contract_limited: MockApp, tmp_path: Path) -> None:
    mock = contract_limited
    mock.inject("status", status=429, retryAfter=1, operationId="getEraseRequestStatusViaPost")
    time = ManualTime(mock)
    report, _ = remote_run(mock, time, tmp_path, suites=("request-ids", "auth"))
    output = terminal.render(report)
    assert report.verdict == "INCOMPLETE" and not len(report.findings), output
    reasons = [item.reason for item in report.incomplete if item.operation == "getEraseRequestStatusViaPost"]
    assert reasons and all("rate limited: HTTP 429 after 3 retries" in reason for reason in reasons)


def test_a_local_run_is_not_paced(tmp_path: Path) -> None:
    time = ManualTime()
    with MockApp(clock="manual") as mock:
        from contracts.pipeline import run

        with deployment(mock.asgi) as wire:
            report = run(run_config(suites=("request-ids",)), transport=wire, sleep=time.sleep, clock=time.clock)
    assert report.verdict == "PASSED" and report.outcome.plan.request_budget is None
    assert report.outcome.transport.pace.per_minute is None and time.slept == []
