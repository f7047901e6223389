"""`contracts`: the command-line face of the contract tooling.

A thin layer: each command turns options into a config (`contracts.config`'s
table) and calls the pipeline (`contracts.pipeline`). Exit codes
(`contracts.core.errors`): 0 passed, 1 contract violations, 2 usage or
configuration error, 3 target unreachable, 4 incomplete (a selected check did
not run fully).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from enum import Enum
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from contracts.config import Command, Kind, MissingOption, Option, options_for
from contracts.core.clikit import Fail, OneLineErrors
from contracts.core.errors import ContractsError
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


# -- the options of `contracts run` and `contracts diff`, from the table ----------------------------


def _suite_names() -> list[str]:
    from contracts.planning.suites import SUITES

    return list(SUITES)


def _click_type(option: Option) -> Any:
    if option.kind is Kind.INT:
        return click.IntRange(int(option.minimum), option.maximum) if option.minimum is not None else int
    if option.kind is Kind.FLOAT:
        return click.FloatRange(option.minimum, option.maximum) if option.minimum is not None else float
    if option.kind is Kind.CHOICE:
        return click.Choice([str(c) for c in option.choices] if option.choices is not None else _suite_names())
    if option.kind in (Kind.PATH, Kind.EXISTING_PATH):
        return click.Path(dir_okay=False, exists=option.kind is Kind.EXISTING_PATH, path_type=Path)
    return None


def _click_option(option: Option) -> Callable[[Any], Any]:
    """The click option of a table row (its environment variable read and checked by
    click, with the same precedence as `contracts.config.resolve`)."""
    if option.kind is Kind.FLAG:
        return click.option(option.flag, option.name, is_flag=True, help=option.help)
    default = option.default.value if isinstance(option.default, Enum) else option.default
    return click.option(option.flag, option.name, type=_click_type(option), multiple=option.multiple,
                        default=default, show_default=option.show_default, metavar=option.metavar,
                        envvar=option.env, required=option.required, help=option.help)


def _options(command: Command) -> Callable[[Any], Any]:
    def decorate(function: Any) -> Any:
        for option in reversed(options_for(command)):
            function = _click_option(option)(function)
        return function

    return decorate


def _given(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options given on the command line or in the environment (the rest are the defaults)."""
    ctx = click.get_current_context()
    given = {name: value for name, value in options.items() if ctx.get_parameter_source(name) in
             (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)}
    given["progress"] = sys.stderr.isatty()
    return given


def _configure(given: Mapping[str, Any]) -> Any:
    from hypothesis.configuration import set_hypothesis_home_dir

    from contracts import pipeline
    from contracts.core.cache import hypothesis_home

    set_hypothesis_home_dir(hypothesis_home())

    try:
        return pipeline.configure(given)
    except MissingOption as exc:
        raise click.UsageError(str(exc)) from None
    except ContractsError as exc:
        raise Fail(str(exc), exc.exit_code) from None


def _finish(result: Any, config: Any, *, as_json: bool, write_reports: bool) -> None:
    """A command's last steps, alike for `run` and `diff`: the report files (one line and
    the error's exit code if one cannot be written), the result on stdout, the plan's digest."""
    from contracts import pipeline
    from contracts.reporting import json_report, terminal

    if write_reports:
        try:
            pipeline.report(result)
        except ContractsError as exc:
            raise Fail(str(exc), exc.exit_code) from None
    click.echo(json_report.render(result) if as_json else terminal.render(result), nl=False)
    _show_digest(config)


def _show_digest(config: Any) -> None:
    """After `--plan-out`: the digest that approving the plan means passing back (on stderr)."""
    if config.plan_out is None:
        return
    import json

    digest = json.loads(config.plan_out.read_text(encoding="utf-8"))["digest"]
    click.echo(f"plan digest: {digest} (approve it: --plan {config.plan_out} --expect-digest {digest})", err=True)


# -- the commands ---------------------------------------------------------------------------------------


@main.command("run")
@_options(Command.RUN)
def run_command(**options: Any) -> None:
    """Property-test a deployment against the contract."""
    from contracts import pipeline
    from contracts.core.redaction import Redactor
    from contracts.execution.progress_bar import progress_bar

    config = _configure(_given(options))
    try:
        with progress_bar(enabled=config.progress and not config.dry_run) as progress:
            result = pipeline.run(config, progress=progress)
    except ContractsError as exc:
        raise Fail(Redactor(config.secrets())(str(exc)), exc.exit_code) from None
    _finish(result, config, as_json=options["as_json"], write_reports=not config.dry_run)
    if not config.dry_run:
        sys.exit(result.exit_code)


@main.command("diff")
@_options(Command.RUN)
@_options(Command.DIFF)
def diff_command(**options: Any) -> None:
    """Compare a deployment (--base-url) with a reference (--reference-url), call by call."""
    from contracts import config as table
    from contracts import pipeline
    from contracts.core.redaction import Redactor
    from contracts.diff.lockstep import DiffConfig

    given = _given(options)
    real = _configure(given)
    values = table.resolve(given)
    reference = table.reference(values, real)
    secrets = real.secrets() + reference.secrets()
    try:
        result = pipeline.diff(DiffConfig(real, reference, tuple(values["ignore"]), values["slower_by"]))
    except ContractsError as exc:
        raise Fail(Redactor(secrets)(str(exc)), exc.exit_code) from None
    _finish(result, real, as_json=options["as_json"], write_reports=True)
    if not real.dry_run:
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
