"""What both command-line tools share: one-line errors, each with its exit code.

A command raises `Fail("message", exit_code)` (or lets a click usage error
through); `OneLineErrors` prints `Error: message` on one line and exits
with the code, never a traceback or click's three-line usage banner.
"""

from __future__ import annotations

import sys
from typing import Any

import click


class Fail(click.ClickException):
    """A one-line error with its exit code (2 unless told otherwise)."""

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(" ".join(str(message).split()) if "\n" in str(message) else str(message))
        setattr(self, "exit_code", exit_code)  # noqa: B010 - click declares it a class variable


class OneLineErrors(click.Group):
    """A click group whose usage errors are one line (`Error: ... (see --help)`),
    not click's three-line usage banner, so CI logs show the cause at a glance."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.UsageError as exc:
            where = f" (see: {exc.ctx.command_path} --help)" if exc.ctx else ""
            click.echo(f"Error: {exc.format_message()}{where}", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        sys.exit(result if isinstance(result, int) else 0)
