"""`contracts`: the command-line face of the contract tooling.

A thin layer: each command turns options into a config and calls the
library. Exit codes (`contracts.errors`): 0 success, 1 contract violations,
2 usage or configuration error, 3 target unreachable.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from contracts import report as reports
from contracts.config import DENIED_HOSTS, SUITES, TARGET_KINDS, Credentials, RunConfig, default
from contracts.core.clikit import OneLineErrors
from contracts.core.errors import EXIT_USAGE, ContractsError
from contracts.core.spec import Spec, SpecError, bundle, load_spec

spec_option = click.option(
    "--spec",
    "spec_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="KORE_ERASE_SPEC",
    default=None,
    help="Contract to use [env KORE_ERASE_SPEC; default: the shipped openapi.yaml].",
)


class ConfigError(click.ClickException):
    """A one-line configuration error, exit code 2."""

    exit_code = EXIT_USAGE


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
        raise ConfigError(f"cannot write to {out_dir}: {exc.strerror or exc}") from None
    for path in written:
        click.echo(f"wrote {path}")


def _load(spec_path: Path | None) -> Spec:
    try:
        return load_spec(spec_path)
    except SpecError as exc:
        raise ConfigError(str(exc)) from None


def _credential_options(prefix: str, env: str, what: str) -> Callable[[Any], Any]:
    flag = f"--{prefix}-" if prefix else "--"
    dest = f"{prefix.replace('-', '_')}_" if prefix else ""

    def decorate(command: Any) -> Any:
        command = click.option(f"{flag}client-secret", f"{dest}client_secret", envvar=f"CONTRACTS_{env}CLIENT_SECRET",
                               help=f"Client secret of {what} [env CONTRACTS_{env}CLIENT_SECRET].")(command)
        return click.option(f"{flag}client-id", f"{dest}client_id", envvar=f"CONTRACTS_{env}CLIENT_ID",
                            help=f"Client id of {what} [env CONTRACTS_{env}CLIENT_ID].")(command)

    return decorate


@main.command("run")
@click.option("--base-url", required=True, envvar="CONTRACTS_BASE_URL",
              help="Deployment to test, e.g. http://127.0.0.1:8080 [env CONTRACTS_BASE_URL].")
@_credential_options("", "", "the app under test (tokens are signed fresh per request)")
@click.option("--token", envvar="CONTRACTS_TOKEN",
              help="A ready token instead of client id/secret [env CONTRACTS_TOKEN].")
@_credential_options("other-tenant", "OTHER_TENANT_", "an app of another account (enables the isolation check)")
@_credential_options("unscoped", "UNSCOPED_", "an app without the scope (enables the 403 check)")
@spec_option
@click.option("--max-examples", type=click.IntRange(1), default=default("max_examples"), show_default=True,
              help="Generated cases per operation and mode.")
@click.option("--seed", type=int, default=None, help="Seed for a reproducible run (printed at the end).")
@click.option("--workers", type=click.IntRange(1, 16), default=default("workers"), show_default=True,
              help="Threads for the conformance suite: N-1 send coverage cases beside the generated ones.")
@click.option("--timeout", type=click.FloatRange(0.1), default=default("timeout"), show_default=True,
              help="Seconds per request.")
@click.option("--include", multiple=True, help="Only these operations (operationId; repeatable).")
@click.option("--exclude", multiple=True, help="Not these operations (operationId; repeatable).")
@click.option("--suite", "suites", multiple=True, type=click.Choice(SUITES),
              help="Only these suites (repeatable) [default: all].")
@click.option("--hypothesis-database", type=click.Path(file_okay=False), default=None,
              help="Directory for Hypothesis's example database [default: none].")
@click.option("--target-kind", type=click.Choice(TARGET_KINDS), default="auto", show_default=True,
              help="remote: strict erase safety even on localhost (e.g. your own gateway).")
@click.option("--erase-user-id", multiple=True, envvar="CONTRACTS_ERASE_USER_IDS",
              help="User id that may be erased on a remote target (repeatable) [env, space-separated].")
@click.option("--erase-user-ids-file", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="File with allow-listed user ids, one per line.")
@click.option("--max-erase-requests", type=click.IntRange(0), default=None,
              help="Create calls allowed per run [default: 5 on a remote target, unlimited locally].")
@click.option("--allow-denied-host", is_flag=True,
              help=f"Allow a host on the deny-list ({', '.join(DENIED_HOSTS)}).")
@click.option("--dry-run", is_flag=True, help="Print the planned calls; send nothing.")
@click.option("--wait-for-completion", "wait_for_completion", type=click.FloatRange(0), default=None,
              metavar="SECONDS", help="Poll until every created request is final; fail after SECONDS.")
@click.option("--junit-xml", type=click.Path(dir_okay=False, path_type=Path), help="Write a JUnit XML report.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a Markdown (.md) or HTML (.html) report.")
@click.option("--audit-log", type=click.Path(dir_okay=False, path_type=Path),
              default=default("audit_log"), show_default=True,
              help="Append every created requestId (with user ids and time) here.")
def run_command(**options: Any) -> None:
    """Property-test a deployment against the contract."""
    from contracts.runner import plan, run

    allow = list(options["erase_user_id"])
    if options["erase_user_ids_file"]:
        allow += [line.strip() for line in options["erase_user_ids_file"].read_text().splitlines() if line.strip()]
    config = RunConfig(
        base_url=options["base_url"],
        credentials=Credentials(options["client_id"], options["client_secret"], options["token"]),
        other_tenant=Credentials(options["other_tenant_client_id"], options["other_tenant_client_secret"]),
        unscoped=Credentials(options["unscoped_client_id"], options["unscoped_client_secret"]),
        spec_path=options["spec_path"],
        max_examples=options["max_examples"],
        seed=options["seed"],
        workers=options["workers"],
        timeout=options["timeout"],
        include=tuple(options["include"]),
        exclude=tuple(options["exclude"]),
        suites=tuple(options["suites"]) or SUITES,
        hypothesis_database=options["hypothesis_database"],
        target_kind=options["target_kind"],
        erase_user_ids=tuple(dict.fromkeys(u for value in allow for u in value.split())),
        max_erase_requests=options["max_erase_requests"],
        allow_denied_host=options["allow_denied_host"],
        dry_run=options["dry_run"],
        wait_for_completion=options["wait_for_completion"],
        junit_xml=options["junit_xml"],
        report=options["report_path"],
        audit_log=options["audit_log"],
    )
    try:
        if config.dry_run:
            click.echo(plan(config), nl=False)
            return
        result = run(config)
    except (ContractsError, SpecError) as exc:
        click.echo(f"Error: {reports.redact(str(exc), config.secrets())}", err=True)
        sys.exit(getattr(exc, "exit_code", EXIT_USAGE))
    reports.write(result)
    click.echo(reports.terminal(result), nl=False)
    sys.exit(result.exit_code)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
