"""One table of the mock server's settings: name, default, env var, help.

Precedence: these defaults, then `MOCKSERVER_*` environment variables, then
CLI flags. The CLI's options and the environment variables are both built
from `SETTINGS`; the server gets the resolved `Settings` object in-process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from enum import StrEnum
from typing import Any

from mockserver.errors import SettingsError

ENV_PREFIX = "MOCKSERVER_"


class Clock(StrEnum):
    """The mock's clock: `real` (time passes) or `manual` (only the control API advances it)."""

    REAL = "real"
    MANUAL = "manual"


class TokenClock(StrEnum):
    """The clock tokens' `exp` and `nbf` are judged by: the wall clock, or the mock's own."""

    REAL = "real"
    SERVER = "server"


class LogLevel(StrEnum):
    """The server's log levels, as uvicorn names them."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    DEBUG = "debug"


def _choices(kind: type[StrEnum]) -> tuple[str, ...]:
    """An enum's values as plain strings (click would match an enum member by its name)."""
    return tuple(member.value for member in kind)


@dataclass(frozen=True)
class Setting:
    """Owns one row of the settings table: its name, default, type, help and allowed values."""

    name: str
    default: Any
    type: type
    help: str
    choices: tuple[str, ...] | None = None

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name.upper()


def _setting(default: Any, kind: type, help: str, choices: tuple[str, ...] | None = None) -> Any:
    return field(default=default, metadata={"type": kind, "help": help, "choices": choices})


@dataclass(frozen=True)
class Settings:
    """The resolved settings; each field's default, type and help is its row of the table."""

    host: str = _setting("127.0.0.1", str, "Interface to listen on.")
    port: int = _setting(8080, int, "TCP port to listen on (0 picks a free one).")
    state: str = _setting(":memory:", str, "SQLite state file kept across restarts, or a postgresql://USER@HOST:PORT/DB"
                          " URL that several instances share [default: in memory, nothing written; with"
                          " several workers, a temporary file removed at exit].")
    fixtures: str | None = _setting(None, str, "Fixtures file (YAML/JSON) [default: the shipped fixtures].")
    spec: str | None = _setting(None, str, "Contract to serve [default: the shipped openapi.yaml].")
    log_level: str = _setting(LogLevel.INFO.value, str, "Log level.", _choices(LogLevel))
    workers: int = _setting(1, int, "Worker processes; they share the state.")
    clock: str = _setting(Clock.REAL.value, str, "real: time passes; manual: only the control API advances it.",
                          _choices(Clock))
    progress_delay: float = _setting(2.0, float, "Seconds an erase takes from in-progress to a final status.")
    leeway: float = _setting(5.0, float, "Seconds of clock skew allowed on exp and nbf.")
    token_clock: str = _setting(TokenClock.REAL.value, str, "The clock tokens' exp and nbf are checked against: real"
                                " (the wall clock, so advancing the manual clock never expires a client's token) or"
                                " server (the mock's clock, manual or not).", _choices(TokenClock))
    admin_token: str | None = _setting(None, str, "Token that opens the control API to non-loopback clients.")
    public_host: str | None = _setting(None, str, "Comma-separated host names the control API answers to besides"
                                       " IP addresses, localhost and --host (a request whose Host names anything"
                                       " else is refused: DNS rebinding).")
    trust_proxy: bool = _setting(False, bool, "Loopback is a reverse proxy or sidecar, not trust: the control API"
                                 " and the page answer the admin token only.")
    max_body_bytes: int | None = _setting(None, int, "Largest accepted request body, 413 beyond"
                                          " [default: the contract's x-max-body-bytes].")
    max_control_body_bytes: int = _setting(8 * 1024 * 1024, int, "Largest accepted control API body (a fixtures"
                                           " document), 413 beyond.")
    header_timeout: float = _setting(10.0, float, "Seconds a client has to send a request's headers; 408 and the"
                                     " connection closed after.")
    body_timeout: float = _setting(30.0, float, "Seconds a client has to send a request's body once its headers"
                                   " are in; 408 and the connection closed after.")
    rate_limit: str = _setting("contract", str, "Calls per account and rolling minute/hour: contract (the contract's"
                               " x-rate-limit; an account's rateLimit in the fixtures wins), off (no limit at all),"
                               " or PER_MINUTE/PER_HOUR (e.g. 600/18000) for every account without its own.")
    journal: bool = _setting(True, bool, "Record each request (never its token) in the journal.")
    journal_bodies: bool = _setting(True, bool, "Record each answer's body in the journal too (request bodies"
                                    " always are).")
    retain_journal_rows: int = _setting(100_000, int, "Journal rows kept; the oldest go first (0: no limit).")
    retain_finished_seconds: float | None = _setting(None, float, "Forget a created erase request this many seconds"
                                                     " after its last user reached a final status [default: never].")
    retain_finished_requests: int | None = _setting(None, int, "Keep at most this many finished created requests,"
                                                    " forgetting those that finished first [default: all].")

    def with_overrides(self, **values: Any) -> Settings:
        """A copy with every value that is not None applied."""
        return replace(self, **{k: v for k, v in values.items() if v is not None})


#: The table the CLI's options and the environment variables are built from.
SETTINGS: tuple[Setting, ...] = tuple(
    Setting(f.name, f.default, f.metadata["type"], f.metadata["help"], f.metadata["choices"])
    for f in fields(Settings)
)


def _convert(setting: Setting, raw: str) -> Any:
    try:
        if setting.type is bool:
            if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(raw)
            return raw.lower() in ("1", "true", "yes")
        value = setting.type(raw)
    except ValueError:
        raise SettingsError(
            f"{setting.env_var}={raw!r} is not a valid {setting.type.__name__}"
        ) from None
    if setting.choices and value not in setting.choices:
        raise SettingsError(f"{setting.env_var}={raw!r}: choose one of {', '.join(setting.choices)}")
    return value


def from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Defaults overridden by the `MOCKSERVER_*` environment variables."""
    source: Mapping[str, str] = os.environ if environ is None else environ
    values = {s.name: _convert(s, source[s.env_var]) for s in SETTINGS if source.get(s.env_var)}
    return Settings().with_overrides(**values)

