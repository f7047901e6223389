"""The one pipeline of `contracts run`, the pytest plugin and `contracts diff`:

    plan -> pre-flight -> approve -> execute -> judge -> report

1. **Plan.** Every selected suite (`contracts.planning.suites.SUITES`) adds the
   calls it will send to one `Plan`; the erase budget is spent on the erasing
   calls by priority.
2. **Pre-flight** (`contracts.execution.preflight`): the token, the base URL and
   the optional identities are tried first; a configuration problem stops the
   run with exit 2 before any generated call. It runs before the suites are
   planned, unless the plan must be approved (`--plan`) or only shown (`--dry-run`).
3. **Approve.** With `--plan`, nothing is sent unless the plan is exactly the
   approved file's; `--plan-out` writes it; `--dry-run` stops here.
4. **Execute.** A `Runner` sends the calls of one deployment; `contracts diff`'s
   `Lockstep` sends each to both deployments and compares the answers.
5. **Judge** (`contracts.judging.verdict`; the diff's differences for `contracts
   diff`): PASSED, FAILED or INCOMPLETE, or NO DRIFT, DRIFT or INCOMPLETE.
6. **Report** (`contracts.reporting`): the files the configuration asks for.

`run` and `diff` go through the same stage functions; `configure` turns the
options of any surface into a `RunConfig` (`contracts.config`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from contracts import config as options
from contracts.config import RunConfig
from contracts.core.errors import ConfigError, ContractsError
from contracts.diff.comparison import DriftFindings
from contracts.diff.lockstep import DiffConfig, DiffReport, Lockstep, reference_identities
from contracts.execution.runner import Runner
from contracts.judging.verdict import Missing, Report, judge
from contracts.planning.model import Plan, read_plan_file
from contracts.safety.files import check_paths

__all__ = ["approve", "configure", "diff", "execute", "plan", "preflight", "report", "run"]


class Executor(Protocol):
    """What sends a plan: one `Runner`, or `contracts diff`'s `Lockstep` of two."""

    def preflight(self, plan: Plan) -> None: ...

    def execute(self, plan: Plan) -> None: ...


def configure(given: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> RunConfig:
    """A run's configuration from the options of any surface (defaults < environment <
    given), the settings of its `--plan` file applied. Raises `ConfigError`."""
    config = options.build(options.resolve(given, environ))
    check_paths({"--report": config.report, "--junit-xml": config.junit_xml, "--plan-out": config.plan_out},
                config.audit_log, force=config.force)
    if config.plan_in is not None:
        data = read_plan_file(config.plan_in, config.expect_digest)
        options.refuse_against_plan(given, data, config.plan_in)
        config = options.with_plan(config, data)
    return config


# -- the stages ----------------------------------------------------------------------------------


def plan(runner: Runner, executor: Executor) -> Plan:
    """Plan every selected suite; the pre-flight goes first when nothing needs approving."""
    config = runner.config
    planner = runner.planner()
    if _preflight_first(config):
        preflight(executor, planner.plan)
    return runner.plan_suites(planner)


def preflight(executor: Executor, planned: Plan) -> None:
    """Send the pre-flight calls; raises `ConfigError` or `UnreachableError`."""
    executor.preflight(planned)


def approve(runner: Runner, planned: Plan) -> None:
    """With `--plan`, refuse to go on unless `planned` is exactly the plan file's (same
    target, same calls); with `--plan-out`, write it."""
    config = runner.config
    if config.plan_in is not None:
        approved(config, runner, planned)
    if config.plan_out is not None:
        planned.write(config.plan_out, runner.vocabulary.auth_header, force=config.force)


def approved(config: RunConfig, runner: Runner, planned: Plan) -> None:
    """Refuse to run unless `planned` is exactly the plan file's (same target, same calls)."""
    assert config.plan_in is not None
    data = read_plan_file(config.plan_in, config.expect_digest)
    if data["target"] != runner.target.base_url:
        raise ConfigError(f"--plan {config.plan_in} names another target ({data['target']}), not"
                          f" {runner.target.base_url}")
    mine = planned.as_json(runner.vocabulary.auth_header)
    if mine["calls"] != data["calls"]:
        first = next((i for i, (a, b) in enumerate(zip(mine["calls"], data["calls"], strict=False)) if a != b),
                     min(len(mine["calls"]), len(data["calls"])))
        raise ConfigError(f"--plan {config.plan_in}: this run would not send exactly the approved calls (first"
                          f" difference at call {first}); the contract, the options or the toolkit changed since"
                          " it was written: write and approve a new plan")


def execute(executor: Executor, planned: Plan, config: RunConfig) -> None:
    """The pre-flight when it did not go first, then every suite's calls."""
    if not _preflight_first(config):
        preflight(executor, planned)
    executor.execute(planned)


def report(result: Report | DiffReport) -> None:
    """Write the report files the configuration asks for (`--junit-xml`, `--report`)."""
    from contracts import reporting

    reporting.write(result)


def _preflight_first(config: RunConfig) -> bool:
    """A configuration problem stops the run before the (slower) planning; an approved
    plan is checked first: nothing is sent unless it is the approved one."""
    return not config.dry_run and config.plan_in is None


@dataclass
class _Stopwatch:
    """Seconds since a stage sequence started."""

    started: float

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


# -- contracts run -------------------------------------------------------------------------------


def run(config: RunConfig, *, transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
        progress: Any = None) -> Report:
    """Plan, pre-flight, approve, execute and judge a run; returns its `Report`.
    `sleep` and `clock` are what the run waits with and paces itself by.
    Raises `ConfigError` (exit 2) or `UnreachableError` (exit 3)."""
    runner = Runner(config, transport=transport, sleep=sleep, clock=clock, progress=progress)
    watch = _Stopwatch(time.monotonic())
    try:
        planned = plan(runner, runner)
        approve(runner, planned)
        if config.dry_run:
            return judge(runner.outcome(planned, watch.elapsed), dry_run=True)
        execute(runner, planned, config)
    finally:
        runner.http.close()
    return judge(runner.outcome(planned, watch.elapsed))


# -- contracts diff ------------------------------------------------------------------------------


def diff(config: DiffConfig, *, real_transport: httpx.BaseTransport | None = None,
         reference_transport: httpx.BaseTransport | None = None,
         sleep: Callable[[float], None] = time.sleep) -> DiffReport:
    """Drive both deployments in lockstep through the same stages and report how they
    differ. Raises `ConfigError` (exit 2, the side named) or `UnreachableError` (exit 3)."""
    clock = _Stopwatch(time.monotonic())
    real = Runner(config.real.with_overrides(profile=options.Profile.DIFF), transport=real_transport, sleep=sleep)
    try:
        reference_config = reference_identities(config.reference.with_overrides(profile=options.Profile.DIFF),
                                                reference_transport)
        reference = Runner(reference_config, transport=reference_transport, sleep=sleep)
    except ContractsError as exc:
        raise type(exc)(f"the reference: {exc}") from None
    lockstep = Lockstep(real, reference, config)
    try:
        planned = plan(real, lockstep)
        approve(real, planned)
        if config.real.dry_run:
            return DiffReport(config, real.outcome(planned, clock.elapsed), None, DriftFindings(), [], 0,
                              clock.elapsed, dry_run=True)
        execute(lockstep, planned, config.real)
    finally:
        real.http.close()
        reference.http.close()
    return _judge_diff(config, lockstep, planned, clock)


def _judge_diff(config: DiffConfig, lockstep: Lockstep, planned: Plan, clock: _Stopwatch) -> DiffReport:
    """The differences found, those `--ignore` accepts marked, and what was not compared."""
    lockstep.incomplete[:0] = [Missing(c.suite, c.check, c.operation_id, c.reason) for c in planned.cuts]
    lockstep.drift.accept(config.ignore)
    return DiffReport(config, lockstep.real.outcome(planned, clock.elapsed),
                      lockstep.reference.outcome(planned, clock.elapsed), lockstep.drift, lockstep.incomplete,
                      lockstep.compared, clock.elapsed)
