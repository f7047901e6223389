"""`mockserver`: the command line over `mockserver.wire.server` and the fixtures.

Options come from the one settings table (`mockserver.settings.SETTINGS`);
every misuse ends with a one-line `Error: ...` and exit code 2.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Callable
from typing import Any

import click

from contracts.core.clikit import Fail, OneLineErrors
from contracts.core.errors import SpecError
from contracts.core.identities import REFUSED_USER_IDS_ENV
from mockserver.common.openapi_documents import load_documents
from mockserver.errors import FixturesError, MockserverError, SettingsError
from mockserver.proxy.command import proxy
from mockserver.settings import SETTINGS, Setting, Settings, from_env
from mockserver.vendor import rate_limit
from mockserver.vendor.fixtures import Fixtures, load_fixtures


def _option(setting: Setting) -> Callable[[Any], Any]:
    flag = "--" + setting.name.replace("_", "-")
    kind: Any = click.Choice(setting.choices) if setting.choices else setting.type
    if setting.type is bool:
        flag = f"{flag}/--no-{setting.name.replace('_', '-')}"
        kind = None
    default = "" if setting.default is None else f" [default: {setting.default}]"
    return click.option(
        flag, setting.name, type=kind, default=None, help=f"{setting.help} [env {setting.env_var}]{default}"
    )


def settings_options(names: tuple[str, ...] | None = None) -> Callable[[Any], Any]:
    def decorate(command: Any) -> Any:
        for setting in reversed(SETTINGS):
            if names is None or setting.name in names:
                command = _option(setting)(command)
        return command

    return decorate


def _settings(**flags: Any) -> Settings:
    try:
        return from_env().with_overrides(**flags)
    except SettingsError as exc:
        raise Fail(str(exc)) from None


def _fixtures(settings: Settings) -> Fixtures:
    try:
        return load_fixtures(settings.fixtures, load_documents(settings.spec))
    except (FixturesError, SpecError) as exc:
        raise Fail(_one_line(exc)) from None


#: The exit status of a process ended by SIGINT, as shells report it (128 + 2).
EXIT_INTERRUPTED = 130


def _rate_limits(settings: Settings, fixtures: Fixtures) -> dict[str, dict[str, int] | None]:
    """Each account's rate limit, as the server started with these settings applies it."""
    contract = load_documents(settings.spec).vocabulary.rate_limit
    try:
        limits = {account.id: rate_limit.limit_for(settings.rate_limit, contract, account.rate_limit)
                  for account in fixtures.accounts.values()}
    except SettingsError as exc:
        raise Fail(str(exc)) from None
    return {account: limit.public() if limit else None for account, limit in limits.items()}


def _one_line(exc: Exception) -> str:
    if isinstance(exc, FixturesError):
        more = f" (+{len(exc.problems) - 1} more; run: mockserver fixtures check {exc.source})"
        return f"{exc.source}: {exc.problems[0]}" + (more if len(exc.problems) > 1 else "")
    return str(exc)


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kore-erase-contract")
def main() -> None:
    """A stateful mock of the Kore.ai erase users data API."""


@main.command()
@settings_options()
def run(**flags: Any) -> None:
    """Start the mock server (defaults: 127.0.0.1:8080, shipped fixtures)."""
    from mockserver.wire.server import serve

    settings = _settings(**flags)
    try:
        serve(settings)
    except (MockserverError, SpecError) as exc:
        raise Fail(_one_line(exc)) from None
    except KeyboardInterrupt:
        # uvicorn shuts down on Ctrl-C, then raises the signal again; click would say "Aborted."
        click.echo("mockserver stopped (interrupted)", err=True)
        sys.exit(EXIT_INTERRUPTED)


@main.command()
@click.option("--app", "app_id", help="Client id or name of a fixtures app [default: the default app].")
@click.option("--exp", "expires_in", type=int, default=3600, show_default=True,
              help="Seconds until the token expires; negative for an expired token.")
@click.option("--no-jti", is_flag=True, help="Leave out the jti claim.")
@settings_options(("fixtures", "spec"))
def token(app_id: str | None, expires_in: int, no_jti: bool, **flags: Any) -> None:
    """Print a JWT signed the vendor's way (HS256, client secret, appId)."""
    fixtures = _fixtures(_settings(**flags))
    try:
        app = fixtures.app(app_id)
    except KeyError as exc:
        raise Fail(exc.args[0]) from None
    click.echo(fixtures.token(app, expires_in=expires_in, jti=not no_jti))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--show-secrets", is_flag=True, help="Include client secrets.")
@click.option("--contracts-env", is_flag=True,
              help="Print `export CONTRACTS_*=...` lines (secrets included) that wire `contracts run` to these apps.")
@settings_options(("fixtures", "spec", "rate_limit"))
def apps(as_json: bool, show_secrets: bool, contracts_env: bool, **flags: Any) -> None:
    """List the fixture apps (client id, account, scopes, enforce-JTI, its account's rate limit)."""
    settings = _settings(**flags)
    fixtures = _fixtures(settings)
    if contracts_env:
        chosen = fixtures.contract_apps()
        for identity, app in chosen.items():
            click.echo(f"export {identity.client_id_env}={shlex.quote(app.client_id)}")
            click.echo(f"export {identity.client_secret_env}={shlex.quote(app.client_secret)}")
        refused = fixtures.refused_users(next(iter(chosen.values())).account_id)
        if refused:
            click.echo(f"export {REFUSED_USER_IDS_ENV}={shlex.quote(' '.join(refused))}")
        return
    limits = _rate_limits(settings, fixtures)
    shown = [dict(app.public(show_secret=show_secrets), rateLimit=limits[app.account_id])
             for app in fixtures.apps.values()]
    if as_json:
        click.echo(json.dumps(shown, indent=2))
        return
    for row in shown:
        line = (
            f"{row['clientId']}  account={row['account']}  kind={row['kind']}"
            f"  scopes={','.join(row['scopes']) or '-'}  enforceJti={str(row['enforceJti']).lower()}"
            f"  rateLimit={rate_limit.shown(row['rateLimit'])}  name={row['name']!r}"
        )
        if show_secrets:
            line += f"  secret={row['clientSecret']}"
        click.echo(line)


@main.group()
def fixtures() -> None:
    """Work with fixtures files."""


@fixtures.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
@settings_options(("spec",))
def fixtures_check(path: str, **flags: Any) -> None:
    """Validate a fixtures file; report every error with its location."""
    settings = _settings(**flags)
    try:
        loaded = load_fixtures(path, load_documents(settings.spec))
    except SpecError as exc:
        raise Fail(str(exc)) from None
    except FixturesError as exc:
        for problem in exc.problems:
            click.echo(f"{exc.source}: {problem}", err=True)
        raise Fail(f"{exc.source}: {len(exc.problems)} problem(s)") from None
    click.echo(
        f"{path}: OK ({len(loaded.accounts)} accounts, {len(loaded.apps)} apps,"
        f" {len(loaded.requests)} preloaded requests)"
    )


main.add_command(proxy)
