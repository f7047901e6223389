"""Fixtures: the accounts (tenants), their apps, bots and users, and preloaded
erase requests that a mock server starts from.

`load_fixtures(path)` reads a YAML or JSON file and returns `Fixtures`, or
raises `FixturesError` listing every problem with its location inside the
file. Id formats and status values are read from the contract, not repeated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

from contracts.spec import Spec

ERASE_SCOPE = "Delete Users Data"
ADMIN_CONSOLE, BOT_APP = "admin_console", "bot"
#: Roles whose deletion the documented business rule forbids, with the reason shown.
FORBIDDEN_ROLES = {
    "account_owner": "The user is an account owner.",
    "bot_owner": "The user is the owner of one or more bots.",
    "bot_codeveloper": "The user is a co-developer of one or more bots.",
}
ROLES = ("end_user", *FORBIDDEN_ROLES)

DEFAULT_FIXTURES = "default_fixtures.yaml"
#: Ten years: the largest time offset a fixture may use (timestamps stay printable).
MAX_SECONDS = 315360000


class FixturesError(Exception):
    """A fixtures file is unreadable or invalid; `problems` holds one line per error."""

    def __init__(self, source: str, problems: list[str]):
        self.source, self.problems = source, problems
        super().__init__(f"{source}: " + "; ".join(problems))


@dataclass(frozen=True)
class App:
    client_id: str
    name: str
    client_secret: str = field(repr=False)
    account_id: str
    kind: str
    scopes: tuple[str, ...]
    enforce_jti: bool
    algorithms: tuple[str, ...] = ("HS256",)

    @property
    def may_erase(self) -> bool:
        return self.kind == ADMIN_CONSOLE and ERASE_SCOPE in self.scopes

    def public(self, *, show_secret: bool = False) -> dict[str, Any]:
        """The app as `mockserver apps` shows it; the secret only on request."""
        shown = {
            "clientId": self.client_id,
            "name": self.name,
            "account": self.account_id,
            "kind": self.kind,
            "scopes": list(self.scopes),
            "enforceJti": self.enforce_jti,
        }
        if show_secret:
            shown["clientSecret"] = self.client_secret
        return shown


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    bot_ids: tuple[str, ...]
    user_roles: dict[str, str]


@dataclass(frozen=True)
class PreloadedUser:
    user_id: str
    status: str
    completes_in: float = 0.0
    reason: str | None = None


@dataclass(frozen=True)
class PreloadedRequest:
    request_id: str
    account_id: str
    created_seconds_ago: float
    remove_from_all_bots: bool
    bot_ids: tuple[str, ...]
    users: tuple[PreloadedUser, ...]


@dataclass(frozen=True)
class Fixtures:
    accounts: dict[str, Account]
    apps: dict[str, App]
    requests: tuple[PreloadedRequest, ...]
    source: str
    document: dict[str, Any] = field(repr=False)

    def contract_apps(self) -> dict[str, App]:
        """Apps for a contract run: the default app, one of another account that
        may erase, one of the default account without the scope (when present)."""
        main = self.default_app()
        chosen = {"": main}
        for app in self.apps.values():
            if "OTHER_TENANT_" not in chosen and app.account_id != main.account_id and app.may_erase \
                    and not app.enforce_jti:
                chosen["OTHER_TENANT_"] = app
            if "UNSCOPED_" not in chosen and app.account_id == main.account_id \
                    and app.kind == ADMIN_CONSOLE and ERASE_SCOPE not in app.scopes and not app.enforce_jti:
                chosen["UNSCOPED_"] = app
        return chosen

    def default_app(self) -> App:
        """The first app that may erase: what `mockserver token` signs for by default."""
        for app in self.apps.values():
            if app.may_erase and not app.enforce_jti:
                return app
        return next(iter(self.apps.values()))


def _fixtures_schema(spec: Spec) -> dict[str, Any]:
    patterns = {name: spec.schema(name)["pattern"] for name in ("RequestId", "BotId")}
    statuses = spec.schema("UserEraseStatus")["enum"]
    string = {"type": "string", "minLength": 1}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["accounts"],
        "properties": {
            "accounts": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["id", "apps"],
                    "properties": {
                        "id": string,
                        "name": string,
                        "bots": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["id"],
                                "properties": {
                                    "id": {"type": "string", "pattern": patterns["BotId"]},
                                    "name": string,
                                },
                            },
                        },
                        "users": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["id"],
                                "properties": {"id": string, "role": {"enum": list(ROLES)}},
                            },
                        },
                        "apps": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["clientId", "clientSecret"],
                                "properties": {
                                    "clientId": {"type": "string", "pattern": "^cs-[0-9a-f-]{36}$"},
                                    "clientSecret": {"type": "string", "minLength": 8},
                                    "name": string,
                                    "kind": {"enum": [ADMIN_CONSOLE, BOT_APP]},
                                    "scopes": {"type": "array", "items": string},
                                    "enforceJti": {"type": "boolean"},
                                    "algorithms": {
                                        "type": "array",
                                        "minItems": 1,
                                        "items": {"enum": ["HS256", "HS384", "HS512"]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
            "requests": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["requestId", "account", "users"],
                    "properties": {
                        "requestId": {"type": "string", "pattern": patterns["RequestId"]},
                        "account": string,
                        "createdSecondsAgo": {"type": "number", "minimum": 0, "maximum": MAX_SECONDS},
                        "RemoveDataFromAllBots": {"type": "boolean"},
                        "botIds": {"type": "array", "items": {"pattern": patterns["BotId"]}},
                        "users": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["userId", "status"],
                                "properties": {
                                    "userId": string,
                                    "status": {"enum": statuses},
                                    "completesInSeconds": {"type": "number", "minimum": 0,
                                                           "maximum": MAX_SECONDS},
                                    "reason": string,
                                },
                            },
                        },
                    },
                },
            },
        },
    }


def default_fixtures_path() -> Path:
    return Path(str(resources.files("mockserver") / DEFAULT_FIXTURES))


def load_fixtures(path: str | Path | None, spec: Spec) -> Fixtures:
    """Read and validate a fixtures file (the shipped defaults when `path` is None)."""
    source = Path(path) if path else default_fixtures_path()
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FixturesError(str(source), [f"cannot read: {exc.strerror or exc}"]) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise FixturesError(str(source), [f"{where}not valid YAML/JSON"]) from None
    return parse_fixtures(document, spec, str(source))


def parse_fixtures(document: Any, spec: Spec, source: str = "<fixtures>") -> Fixtures:
    """Validate an already-parsed fixtures document (e.g. one posted to the control API)."""
    validator = Draft7Validator(_fixtures_schema(spec))
    problems = [
        f"{_location(error.absolute_path)}: {error.message}"
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]
    if problems:
        raise FixturesError(source, problems)
    accounts, apps = {}, {}
    for a_index, raw in enumerate(document["accounts"]):
        where = f"accounts[{a_index}]"
        if raw["id"] in accounts:
            problems.append(f"{where}.id: duplicate account id {raw['id']!r}")
        users = {u["id"]: u.get("role", "end_user") for u in raw.get("users", [])}
        accounts[raw["id"]] = Account(
            raw["id"], raw.get("name", raw["id"]), tuple(b["id"] for b in raw.get("bots", [])), users
        )
        for p_index, app in enumerate(raw["apps"]):
            if app["clientId"] in apps:
                problems.append(
                    f"{where}.apps[{p_index}].clientId: duplicate client id {app['clientId']!r}"
                )
            apps[app["clientId"]] = App(
                client_id=app["clientId"],
                name=app.get("name", app["clientId"]),
                client_secret=app["clientSecret"],
                account_id=raw["id"],
                kind=app.get("kind", ADMIN_CONSOLE),
                scopes=tuple(app.get("scopes", [ERASE_SCOPE])),
                enforce_jti=app.get("enforceJti", False),
                algorithms=tuple(app.get("algorithms", ["HS256"])),
            )
    requests, seen = [], set()
    for r_index, raw in enumerate(document.get("requests", [])):
        where = f"requests[{r_index}]"
        if raw["account"] not in accounts:
            known = ", ".join(sorted(accounts))
            problems.append(f"{where}.account: unknown account {raw['account']!r} (known: {known})")
        if raw["requestId"] in seen:
            problems.append(f"{where}.requestId: duplicate request id {raw['requestId']!r}")
        seen.add(raw["requestId"])
        requests.append(
            PreloadedRequest(
                request_id=raw["requestId"],
                account_id=raw["account"],
                created_seconds_ago=raw.get("createdSecondsAgo", 0),
                remove_from_all_bots=raw.get("RemoveDataFromAllBots", False),
                bot_ids=tuple(raw.get("botIds", [])),
                users=tuple(
                    PreloadedUser(
                        u["userId"], u["status"], u.get("completesInSeconds", 0), u.get("reason")
                    )
                    for u in raw["users"]
                ),
            )
        )
    if problems:
        raise FixturesError(source, problems)
    return Fixtures(accounts, apps, tuple(requests), source, document)


def _location(path: Any) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return text or "(top level)"
