"""`contracts`: the command-line face of the contract tooling.

A thin layer: each command parses options and calls the library. Exit codes
(one table, used by every command): 0 success, 1 contract violations,
2 usage or configuration error, 3 target unreachable.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from contracts.clikit import OneLineErrors
from contracts.spec import SpecError, bundle, load_spec

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3

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


def _load(spec_path: Path | None):
    try:
        return load_spec(spec_path)
    except SpecError as exc:
        raise ConfigError(str(exc)) from None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
