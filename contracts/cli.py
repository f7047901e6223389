"""`contracts`: the command-line face of the contract tooling.

A thin layer: each command turns options into a config and calls the
library. Exit codes (`contracts.core.errors`): 0 passed, 1 contract
violations, 2 usage or configuration error, 3 target unreachable,
4 incomplete (a selected check did not run fully).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from contracts.config import TARGET_KINDS, Credentials, RunConfig, default
from contracts.core.clikit import Fail, OneLineErrors
from contracts.core.errors import ContractsError
from contracts.core.identities import (
    BASE_URL_ENV,
    ERASE_USER_IDS_ENV,
    IDENTITIES,
    REFUSED_USER_IDS_ENV,
    TOKEN_ENV,
    Identity,
)
from contracts.core.spec import Spec, SpecError, bundle, load_spec

spec_option = click.option(
    "--spec",
    "spec_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="KORE_ERASE_SPEC",
    default=None,
    help="Contract to use [env KORE_ERASE_SPEC; default: the shipped openapi.yaml].",
)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kore-erase-contract")
def main() -> None:
    """Contract tooling for the Kore.ai erase users data API."""


@main.group()
def spec() -> None:
    """Validate and publish the contract (openapi.yaml)."""


@spec.command("check")
@spec_option
def spec_check(spec_path: Path | None) -> None:
    """Validate the contract with openapi-spec-validator."""
    loaded = _load(spec_path)
    operations = list(loaded.operations())
    click.echo(f"{loaded.path}: OK (OpenAPI {loaded.version}, {len(operations)} operations)")


@spec.command("bundle")
@spec_option
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("dist"),
    show_default=True,
    help="Directory to write openapi.json and openapi.yaml into.",
)
def spec_bundle(spec_path: Path | None, out_dir: Path) -> None:
    """Write the validated contract as one self-contained openapi.json (and .yaml)."""
    loaded = _load(spec_path)
    try:
        written = bundle(loaded, out_dir)
    except OSError as exc:
        raise Fail(f"cannot write to {out_dir}: {exc.strerror or exc}") from None
    for path in written:
        click.echo(f"wrote {path}")


def _load(spec_path: Path | None) -> Spec:
    try:
        return load_spec(spec_path)
    except SpecError as exc:
        raise Fail(str(exc)) from None


def _identity_options(identity: Identity) -> Callable[[Any], Any]:
    dest = f"{identity.key}_"

    def decorate(command: Any) -> Any:
        command = click.option(identity.option("client-secret"), dest + "client_secret",
                               envvar=identity.client_secret_env,
                               help=f"Client secret of {identity.purpose} [env {identity.client_secret_env}].")(command)
        return click.option(identity.option("client-id"), dest + "client_id", envvar=identity.client_id_env,
                            help=f"Client id of {identity.purpose} [env {identity.client_id_env}].")(command)

    return decorate


def _suite_names() -> list[str]:
    from contracts.planning.suites import SUITES

    return list(SUITES)


def run_options(command: Any) -> Any:
    """The options of `contracts run` (and, for the side under test, `contracts diff`)."""
    options = [
        click.option("--base-url", envvar=BASE_URL_ENV,
                     help=f"Deployment to test, e.g. http://127.0.0.1:8080 [env {BASE_URL_ENV}]."),
        *[_identity_options(identity) for identity in IDENTITIES],
        click.option("--token", envvar=TOKEN_ENV,
                     help=f"A ready token instead of client id/secret [env {TOKEN_ENV}]; the broken-token"
                          " checks then cannot run."),
        spec_option,
        click.option("--max-examples", type=click.IntRange(1), default=default("max_examples"), show_default=True,
                     help="Generated cases per operation and mode."),
        click.option("--seed", type=int, default=None, help="Seed: the same seed and options make the same plan."),
        click.option("--workers", type=click.IntRange(1, 16), default=default("workers"), show_default=True,
                     help="Calls sent at once (calls that depend on another wait for it)."),
        click.option("--timeout", type=click.FloatRange(0.1), default=default("timeout"), show_default=True,
                     help="Seconds per request."),
        click.option("--include", multiple=True, help="Only these operations (operationId; repeatable)."),
        click.option("--exclude", multiple=True, help="Not these operations (operationId; repeatable)."),
        click.option("--suite", "suites", multiple=True, type=click.Choice(_suite_names()),
                     help="Only these suites (repeatable) [default: all]."),
        click.option("--target-kind", type=click.Choice(TARGET_KINDS), default="auto", show_default=True,
                     help="remote: strict erase safety even on localhost (e.g. your own gateway)."),
        click.option("--erase-user-id", multiple=True, envvar=ERASE_USER_IDS_ENV,
                     help=f"User id that may be named in erasing calls on a remote target (repeatable)"
                          f" [env {ERASE_USER_IDS_ENV}, space-separated]."),
        click.option("--erase-user-ids-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                     help="File with allow-listed user ids, one per line."),
        click.option("--refused-user-id", multiple=True, envvar=REFUSED_USER_IDS_ENV,
                     help="A user the business rule refuses to erase (an account owner, bot owner or co-developer):"
                          f" lets the run observe FAILURE (repeatable) [env {REFUSED_USER_IDS_ENV}, space-separated]."),
        click.option("--max-erase-requests", type=click.IntRange(0), default=None,
                     help="Erasing requests allowed on the wire, retries included [default: 5 on a remote target,"
                          " unlimited locally]."),
        click.option("--allow-denied-host", is_flag=True,
                     help="Allow a production host of the vendor (the contract's x-production-hosts)."),
        click.option("--dry-run", is_flag=True, help="Print the plan: every suite and operation, the most requests"
                                                     " and erasing requests; send nothing."),
        click.option("--json", "as_json", is_flag=True, help="With --dry-run: print the plan as JSON."),
        click.option("--plan-out", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write every planned call (no secrets) to this file, for approval."),
        click.option("--plan", "plan_in", type=click.Path(dir_okay=False, exists=True, path_type=Path),
                     help="Send exactly the calls of this approved plan file (refused if edited or for another"
                          " target)."),
        click.option("--wait-for-completion", type=click.FloatRange(0), default=default("wait_for_completion"),
                     show_default=True, metavar="SECONDS",
                     help="Poll created requests until every user is final, for at most SECONDS."),
        click.option("--allow-incomplete", is_flag=True,
                     help="Exit 0 when the run is incomplete (a check cut), with the note shown."),
        click.option("--junit-xml", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write a JUnit XML report."),
        click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write a Markdown (.md) or HTML (.html) report."),
        click.option("--audit-log", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Append every created requestId (with the body sent and the time) here [default:"
                          " contracts-audit.jsonl against a remote target, none against a local one]."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def config_from(options: dict[str, Any]) -> RunConfig:
    """A `RunConfig` from the options of `run_options`."""
    allow = list(options["erase_user_id"])
    if options["erase_user_ids_file"]:
        allow += [line.strip() for line in options["erase_user_ids_file"].read_text().splitlines() if line.strip()]
    base_url = options["base_url"]
    if not base_url and not options["plan_in"]:
        raise click.UsageError(f"Missing option '--base-url' (or {BASE_URL_ENV})")

    def words(values: Any) -> tuple[str, ...]:
        return tuple(dict.fromkeys(u for value in values for u in value.split()))

    config = RunConfig(
        base_url=base_url or "",
        credentials=Credentials(options["credentials_client_id"], options["credentials_client_secret"],
                                options["token"]),
        other_tenant=Credentials(options["other_tenant_client_id"], options["other_tenant_client_secret"]),
        unscoped=Credentials(options["unscoped_client_id"], options["unscoped_client_secret"]),
        spec_path=options["spec_path"],
        max_examples=options["max_examples"],
        seed=options["seed"],
        workers=options["workers"],
        timeout=options["timeout"],
        include=tuple(options["include"]),
        exclude=tuple(options["exclude"]),
        suites=tuple(options["suites"]),
        target_kind=options["target_kind"],
        erase_user_ids=words(allow),
        refused_user_ids=words(options["refused_user_id"]),
        max_erase_requests=options["max_erase_requests"],
        allow_denied_host=options["allow_denied_host"],
        dry_run=options["dry_run"],
        plan_out=options["plan_out"],
        plan_in=options["plan_in"],
        wait_for_completion=options["wait_for_completion"],
        allow_incomplete=options["allow_incomplete"],
        junit_xml=options["junit_xml"],
        report=options["report_path"],
        audit_log=options["audit_log"],
        progress=sys.stderr.isatty(),
    )
    if config.plan_in is not None:
        from contracts.execution.runner import plan_settings
        from contracts.planning.model import read_plan_file

        try:
            data = read_plan_file(config.plan_in)
        except ContractsError as exc:
            raise Fail(str(exc), exc.exit_code) from None
        config = plan_settings(config.with_overrides(base_url=config.base_url or data["target"]), data)
    return config


@main.command("run")
@run_options
def run_command(**options: Any) -> None:
    """Property-test a deployment against the contract."""
    from contracts.execution.progress_bar import progress_bar
    from contracts.execution.runner import run
    from contracts.reporting import run_report as reports
    from contracts.safety.redaction import Redactor

    config = config_from(options)
    try:
        with progress_bar(enabled=config.progress and not config.dry_run) as progress:
            result = run(config, progress=progress)
    except ContractsError as exc:
        raise Fail(Redactor(config.secrets())(str(exc)), exc.exit_code) from None
    if config.dry_run:
        click.echo(reports.dry_run_json(result) if options["as_json"] else reports.terminal(result), nl=False)
        return
    reports.write(result)
    click.echo(reports.terminal(result), nl=False)
    sys.exit(result.exit_code)


def _reference_options(command: Any) -> Any:
    options = [
        click.option("--reference-url", required=True, envvar="CONTRACTS_REFERENCE_URL",
                     help="The deployment to compare with, e.g. a mockserver [env CONTRACTS_REFERENCE_URL]."),
        click.option("--slower-by", type=click.FloatRange(0), default=1.0, show_default=True, metavar="SECONDS",
                     help="Report a side whose median response time per operation is this much (and 5 times)"
                          " slower."),
        click.option("--ignore", "ignore", multiple=True, metavar="RULE",
                     help="Accept a known, reviewed difference (its rule as the report prints it; * matches"
                          " anything); it is listed as accepted (repeatable)."),
    ]
    for identity in IDENTITIES:
        flag = f"reference-{identity.flag}" if identity.flag else "reference"
        dest = f"reference_{identity.key}_"
        options.append(click.option(f"--{flag}-client-id", dest + "client_id",
                                    help=f"On the reference: {identity.purpose} [default: a mockserver's own apps,"
                                         " read through its control API]."))
        options.append(click.option(f"--{flag}-client-secret", dest + "client_secret",
                                    help="Its client secret."))
    for option in reversed(options):
        command = option(command)
    return command


@main.command("diff")
@run_options
@_reference_options
def diff_command(**options: Any) -> None:
    """Compare a deployment (--base-url) with a reference (--reference-url), call by call."""
    from contracts.diff.lockstep import DiffConfig, diff
    from contracts.reporting import diff_report as drift_report
    from contracts.safety.redaction import Redactor

    real = config_from(options)
    reference = RunConfig(
        base_url=options["reference_url"],
        credentials=Credentials(options["reference_credentials_client_id"],
                                options["reference_credentials_client_secret"]),
        other_tenant=Credentials(options["reference_other_tenant_client_id"],
                                 options["reference_other_tenant_client_secret"]),
        unscoped=Credentials(options["reference_unscoped_client_id"], options["reference_unscoped_client_secret"]),
        spec_path=real.spec_path, timeout=real.timeout, target_kind="auto", audit_log=None,
        refused_user_ids=real.refused_user_ids, erase_user_ids=real.erase_user_ids,
        max_erase_requests=None, allow_denied_host=real.allow_denied_host,
    )
    secrets = real.secrets() + reference.secrets()
    try:
        result = diff(DiffConfig(real, reference, tuple(options["ignore"]), options["slower_by"]))
    except ContractsError as exc:
        raise Fail(Redactor(secrets)(str(exc)), exc.exit_code) from None
    if real.dry_run:
        from contracts.judging.verdict import judge
        from contracts.reporting import run_report as reports

        dry = judge(result.real, dry_run=True)
        click.echo(reports.dry_run_json(dry) if options["as_json"] else reports.terminal(dry), nl=False)
        return
    drift_report.write(result, real.report, None)
    if real.junit_xml:
        real.junit_xml.parent.mkdir(parents=True, exist_ok=True)
        real.junit_xml.write_text(drift_report.junit_xml(result), encoding="utf-8")
    click.echo(drift_report.as_json(result) if options["as_json"] else drift_report.terminal(result), nl=False)
    sys.exit(result.exit_code)


@main.command("verify")
@click.argument("recording", type=click.Path(dir_okay=False, path_type=Path))
@spec_option
@click.option("--junit-xml", type=click.Path(dir_okay=False, path_type=Path), help="Write a JUnit XML report.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write an HTML (.html) or JSON (.json) report.")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
def verify_command(recording: Path, spec_path: Path | None, junit_xml: Path | None, report_path: Path | None,
                   as_json: bool) -> None:
    """Judge a recording (mockserver proxy --record, or HAR 1.2) against the contract, offline.
    Exit 0 clean, 1 violations, 2 unreadable."""
    from contracts.judging.offline import verify
    from contracts.reporting import verify_report

    try:
        result = verify(recording, spec_path)
    except ContractsError as exc:
        raise Fail(str(exc), exc.exit_code) from None
    verify_report.write(result, junit=junit_xml, report=report_path, json_out=None)
    click.echo(verify_report.as_json(result) if as_json else verify_report.terminal(result), nl=False)
    sys.exit(result.exit_code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
