"""`mockserver proxy`: the command line over `mockserver.proxy.server`."""

from __future__ import annotations

from typing import Any

import click

from contracts.core.clikit import Fail
from contracts.core.errors import SpecError
from mockserver.errors import MockserverError
from mockserver.proxy.settings import ProxySettings

DEFAULTS = ProxySettings(upstream="")


@click.command()
@click.option("--upstream", required=True, envvar="MOCKSERVER_UPSTREAM",
              help="The deployment to forward to, e.g. https://staging.example.com [env MOCKSERVER_UPSTREAM].")
@click.option("--host", default=DEFAULTS.host, show_default=True, help="Interface to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULTS.port, show_default=True,
              help="TCP port to listen on (0 picks a free one).")
@click.option("--record", type=click.Path(dir_okay=False), default=None,
              help="Append every exchange (redacted, JSON lines) to this file, for `contracts verify`.")
@click.option("--strict", is_flag=True, help="Answer 502 with the violations instead of an answer that breaks"
                                             " the contract.")
@click.option("--allow-denied-host", is_flag=True,
              help="Allow a production host of the vendor (the contract's x-production-hosts).")
@click.option("--spec", default=None, help="Contract to judge by [default: the shipped openapi.yaml].")
@click.option("--state", default=DEFAULTS.state, show_default=True,
              help="Where the journal is kept: a SQLite file, a postgresql:// URL, or :memory:.")
@click.option("--timeout", type=click.FloatRange(0.1), default=DEFAULTS.timeout, show_default=True,
              help="Seconds the upstream has to connect and for each read or write.")
@click.option("--max-response-bytes", type=click.IntRange(1), default=DEFAULTS.max_response_bytes,
              show_default=True, help="Largest upstream answer passed on; 502 beyond.")
@click.option("--admin-token", default=None, help="Token that opens the control API to non-loopback clients.")
@click.option("--public-host", default=None,
              help="Comma-separated host names, besides --host and localhost, the control API answers to.")
@click.option("--trust-proxy", is_flag=True,
              help="Behind a reverse proxy: loopback clients need the admin token too.")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              default=DEFAULTS.log_level, show_default=True, help="Log level.")
def proxy(**options: Any) -> None:
    """Forward to --upstream and judge every exchange against the contract."""
    from mockserver.proxy.server import serve_proxy

    try:
        serve_proxy(ProxySettings(**options))
    except (MockserverError, SpecError) as exc:
        raise Fail(str(exc)) from None
