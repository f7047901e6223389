"""`contracts diff`: where does the mock behave unlike the real deployment?

    report = contracts.diff(DiffConfig(real=RunConfig(...), reference=RunConfig(...)))

The stages (plan, pre-flight, approve, execute, judge) are `contracts.pipeline`'s,
as for `contracts run`; this module is what `contracts diff` executes with: the
`Lockstep` of two `Runner`s.

Both deployments get the same planned calls, in lockstep: the pre-flight of
each, then create and poll to the end, every token defect, malformed and
unknown ids, the bodies the contract rejects, another tenant's read, the
unscoped app (the suites of `contracts run` in their "diff" profile: each
kind once). Each pair of answers is compared after normalising what may
differ (`contracts.diff.comparison`); the lifecycle is compared as the sequence of
per-user statuses and the time to a final status, as ranges.

The real side is held to the rules of `contracts run` against a remote
target: deny-list, allow-list, erase budget, plan and apply, audit log. A
call the real side does not send is not sent to the reference either.
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field

import httpx

from contracts.config import Credentials, RunConfig
from contracts.core.errors import ConfigError, ContractsError, UnreachableError
from contracts.diff.comparison import Aspect, Difference, DriftFindings, Normaliser, compare, decision_of, fix_for
from contracts.execution.preflight import run_preflight
from contracts.execution.runner import Runner
from contracts.judging.checks import Observation
from contracts.judging.outcome import CallOutcome, CallRecord, Outcome
from contracts.judging.verdict import Missing, Verdict
from contracts.planning.model import Cause, Plan, PlannedCall
from contracts.planning.suites import poll_schedule

#: A side is slower when its median response time exceeds the other's by `slower_by` seconds, and this many times.
SLOWER_RATIO = 5.0


@dataclass(frozen=True)
class DiffConfig:
    """What `contracts diff` is told: both sides' run configurations, the accepted
    differences (`--ignore`) and the latency threshold (`--slower-by`)."""

    real: RunConfig
    reference: RunConfig
    ignore: tuple[str, ...] = ()
    slower_by: float = 1.0


@dataclass
class Track:
    """The per-user statuses a side showed for one created request, and when."""

    sequences: dict[str, list[str]] = field(default_factory=dict)
    last_in_progress: float = 0.0
    first_final: float | None = None
    unreadable: bool = False  # an answer whose shape differs: the body comparison reports it


@dataclass
class DiffReport:
    """The result of `contracts diff`: both sides' outcomes, the differences found,
    what was not compared, and the verdict and exit code they make."""

    config: DiffConfig
    real: Outcome
    reference: Outcome | None
    drift: DriftFindings
    incomplete: list[Missing]
    compared: int
    duration: float
    dry_run: bool = False

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code(self.config.real.allow_incomplete)

    @property
    def verdict(self) -> Verdict:
        if self.dry_run:
            return Verdict.DRY_RUN
        if self.drift.open:
            return Verdict.DRIFT
        return Verdict.INCOMPLETE if self.incomplete and not self.config.real.allow_incomplete else Verdict.NO_DRIFT

    def redact(self, text: str) -> str:
        text = self.real.redactor(text)
        return self.reference.redactor(text) if self.reference is not None else text


def reference_identities(config: RunConfig, transport: httpx.BaseTransport | None = None) -> RunConfig:
    """The reference's credentials: as given, or, for a mockserver, its own
    fixture apps read through its control API."""
    if config.credentials.present:
        return config
    url = config.base_url.rstrip("/") + "/__mockserver/apps?secrets=true"
    try:
        with httpx.Client(transport=transport, timeout=config.timeout, trust_env=False) as client:
            answer = client.get(url)
    except httpx.TransportError as exc:
        raise UnreachableError(f"{config.base_url} does not answer HTTP ({type(exc).__name__})") from None
    needed = "the reference needs --reference-client-id/--reference-client-secret"
    if answer.status_code != 200:
        raise ConfigError(f"{needed} (it is no mockserver whose control API names its apps)")
    roles = _contract_apps(answer)
    if "app" not in roles:
        raise ConfigError(f"{needed} (its control API's {url.split('?')[0]} names no contract app with a client id"
                          " and secret)")
    return config.with_overrides(credentials=roles["app"], other_tenant=roles.get("otherTenant", Credentials()),
                                 unscoped=roles.get("unscoped", Credentials()))


def _contract_apps(answer: httpx.Response) -> dict[str, Credentials]:
    """The credentials a mockserver's `/__mockserver/apps?secrets=true` names per contract
    role; only roles with a client id and secret (text) count, whatever else the answer holds."""
    try:
        apps = answer.json()
    except ValueError:
        return {}
    roles = apps.get("contractApps") if isinstance(apps, dict) else None
    if not isinstance(roles, dict):
        return {}
    found = {}
    for role, app in roles.items():
        if isinstance(app, dict) and isinstance(app.get("clientId"), str) and isinstance(app.get("clientSecret"), str) \
                and app["clientId"] and app["clientSecret"]:
            found[role] = Credentials(app["clientId"], app["clientSecret"])
    return found


class Lockstep:
    """Sends every planned call to the real side, then (if it went out) to the
    reference, and owns what comparing them finds: the differences, what was not
    compared, and each side's lifecycle tracks and response times."""

    def __init__(self, real: Runner, reference: Runner, config: DiffConfig):
        self.real, self.reference, self.config = real, reference, config
        self.normaliser = Normaliser(real.vocabulary)
        self.drift = DriftFindings()
        self.incomplete: list[Missing] = []
        self.compared = 0
        self.clock = 0.0  # seconds of back-off waited: the time axis of both sides' lifecycles
        self.tracks: dict[int, tuple[Track, Track]] = {}
        self.latency: dict[str, tuple[list[float], list[float]]] = {}

    def preflight(self, plan: Plan) -> None:
        """Both sides' pre-flight; a problem of the reference says so."""
        calls = [c for c in plan.calls if c.suite == "preflight"]
        run_preflight(self.real, calls)
        try:
            run_preflight(self.reference, [c for c in calls if self._reference_can_send(c)])
        except ContractsError as exc:
            raise type(exc)(f"the reference: {exc}") from None

    def _reference_can_send(self, call: PlannedCall) -> bool:
        creds = self.reference.config.credentials_of(call.auth.identity)
        return creds is None or creds.present

    def execute(self, plan: Plan) -> None:
        """Every suite's calls in lockstep (the lifecycle's polled round by round),
        then the checks' end of run and the response times compared."""
        for call in plan.calls:
            if call.cut:
                self.real.records.setdefault(call.index, _cut(call))
        for name in self.real.suites:
            calls = [c for c in plan.calls if c.suite == name and not c.cut]
            if name == "lifecycle":
                for call in calls:
                    if not call.repeat:  # the anchor create, when the lifecycle runs alone
                        self.pair(call)
                self._poll(calls)
            else:
                for call in calls:
                    self.pair(call)
        for runner in (self.real, self.reference):
            for check in runner.checks:
                check.after_run(runner.context)
        self._compare_latency()

    def pair(self, call: PlannedCall) -> tuple[Observation | None, Observation | None]:
        """Send a call to the real side, then (if it went out) to the reference; compare."""
        real_before, reference_before = _violations(self.real), _violations(self.reference)
        mine = self.real.send(call)
        if mine is None:
            return None, None
        if not self._reference_can_send(call):
            self._missing(call, f"the reference has no {call.auth.identity.replace('_', ' ')} identity")
            return mine, None
        theirs = self.reference.send(call)
        if theirs is None:
            self._missing(call, self.reference.records[call.index].reason or "not sent to the reference")
            return mine, None
        conforms = (_violations(self.real) == real_before, _violations(self.reference) == reference_before)
        self.compared += 1
        times = self.latency.setdefault(call.operation_id, ([], []))
        times[0].append(mine.exchange.elapsed)
        times[1].append(theirs.exchange.elapsed)
        for difference in compare(call, mine, theirs, self.real.vocabulary, self.normaliser, conforms):
            difference.calls.add(call.index)
            self.drift.add(difference)
        return mine, theirs

    def _poll(self, calls: list[PlannedCall]) -> None:
        """Poll both sides' created requests, round by round, until both show every
        user final (or past the initial status) or the deadline passes."""
        pending = [c for c in calls if c.repeat]
        waits = iter(poll_schedule(self.real.config.wait_for_completion))
        while pending:
            for call in list(pending):
                mine, theirs = self.pair(call)
                if mine is None or theirs is None:
                    pending.remove(call)
                    continue
                tracks = self.tracks.setdefault(call.index, (Track(), Track()))
                done = [self._track(track, observation) for track, observation in zip(tracks, (mine, theirs),
                                                                                        strict=True)]
                if all(done):
                    pending.remove(call)
            wait = next(waits, None)
            if not pending or wait is None:
                break
            self.clock += wait
            self.real.sleep(wait)
        for call in pending:
            self._missing(call, f"not every user was final on both sides within"
                                f" {self.real.config.wait_for_completion:g} s")
        for index, (mine_track, their_track) in self.tracks.items():
            self._compare_tracks(self.real.records[index].call, mine_track, their_track)

    def _track(self, track: Track, observation: Observation) -> bool:
        f, statuses = self.real.vocabulary.fields, self.real.vocabulary.user_status
        try:
            results = observation.json()[f.results]
            current = {r[f.user_id]: r[f.user_status] for r in results}
        except (ValueError, KeyError, TypeError):
            track.unreadable = True
            return True
        for user, status in current.items():
            sequence = track.sequences.setdefault(user, [])
            if not sequence or sequence[-1] != status:
                sequence.append(status)
        moved = all(s != statuses.initial for s in current.values())
        if moved and track.first_final is None:
            track.first_final = self.clock
        elif not moved:
            track.last_in_progress = self.clock
        return moved

    def _compare_tracks(self, call: PlannedCall, mine: Track, theirs: Track) -> None:
        decision, choice = decision_of("user statuses")
        what = f"the request created by call {call.ref.call if call.ref else '?'}, polled until final"
        if mine.unreadable or theirs.unreadable:
            return  # the statuses could not be read on one side: the body's difference says why
        initial = self.real.vocabulary.user_status.initial

        def past_initial(sequence: list[str]) -> list[str]:
            """A side whose first poll came after the user left the initial status never
            saw it: that says when the poll came, not how the deployment behaves (the
            time comparison below judges how long each side took)."""
            return list(itertools.dropwhile(lambda status: status == initial, sequence))

        if mine.sequences != theirs.sequences:
            for user in sorted(set(mine.sequences) | set(theirs.sequences)):
                a, b = mine.sequences.get(user, []), theirs.sequences.get(user, [])
                if past_initial(a) != past_initial(b) or not a or not b:
                    self.drift.add(Difference(f"lifecycle/{call.operation_id}/sequence", what, Aspect.LIFECYCLE,
                                              f"{user}: statuses in order", " -> ".join(a) or "(none)",
                                              " -> ".join(b) or "(none)", "user statuses", decision,
                                              fix_for(True, True, choice)))
        if mine.first_final is not None and theirs.first_final is not None:
            low_a, high_a = mine.last_in_progress, mine.first_final
            low_b, high_b = theirs.last_in_progress, theirs.first_final
            if high_a < low_b or high_b < low_a:  # the ranges do not overlap
                self.drift.add(Difference(
                    f"lifecycle/{call.operation_id}/time", what, Aspect.LIFECYCLE, "time to a final status",
                    f"{low_a:g}-{high_a:g} s", f"{low_b:g}-{high_b:g} s", "progress timing",
                    "documented by the vendor (the erase is asynchronous; how long it takes is not documented)",
                    "the mock's behaviour: its --progress-delay"))

    def _compare_latency(self) -> None:
        """A side that answers much more slowly (over a second and five times slower, median
        per operation): a slow first byte the other side's clients never see."""
        for operation_id, (mine, theirs) in self.latency.items():
            a, b = statistics.median(mine), statistics.median(theirs)
            if abs(a - b) > self.config.slower_by and max(a, b) > SLOWER_RATIO * max(min(a, b), 0.001):
                self.drift.add(Difference(
                    f"latency/{operation_id}/median", f"every call of {operation_id}", Aspect.LATENCY,
                    "median response time", f"{a:.2f} s", f"{b:.2f} s", "response time",
                    "documented by the vendor (response times are not documented)",
                    "the mock's behaviour (a latency fault), or a slow deployment to report"))

    def _missing(self, call: PlannedCall, reason: str) -> None:
        self.incomplete.append(Missing(call.suite, call.check, call.operation_id, f"not compared: {reason}"))


def _violations(runner: Runner) -> int:
    return sum(f.count for f in runner.context.findings)


def _cut(call: PlannedCall) -> CallRecord:
    return CallRecord(call, outcome=CallOutcome.CUT, reason=call.cut or "", cause=Cause.ERASE_BUDGET)

