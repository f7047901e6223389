"""Fixtures: the accounts (tenants), their apps, bots and users, preloaded
erase requests and scripted outcomes (`vendor/outcomes.py`) that a mock
server starts from.

The format is the `Fixtures` schema of the control API's document
(`control.yaml`), whose id and status formats are the contract's.
`load_fixtures(path, documents)` reads a YAML or JSON file and returns
`Fixtures`, or raises `FixturesError` listing every problem, schema and
cross-reference alike, each with its location inside the file.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from contracts.core import cache, tokens
from contracts.core.identities import APP_UNDER_TEST, OTHER_TENANT, UNSCOPED, Identity
from contracts.core.spec import parse_yaml
from contracts.core.vocabulary import TokenRecipe
from mockserver.common.openapi_documents import Documents
from mockserver.errors import FixturesError
from mockserver.vendor import outcomes
from mockserver.vendor.outcomes import OutcomeRule


class AppKind(StrEnum):
    """The kinds of app (control.yaml's `App.kind`): only admin console apps may call the API."""

    ADMIN_CONSOLE = "admin_console"
    BOT = "bot"


#: Roles whose deletion the documented business rule forbids, with the reason shown.
FORBIDDEN_ROLES = {
    "account_owner": "The user is an account owner.",
    "bot_owner": "The user is the owner of one or more bots.",
    "bot_codeveloper": "The user is a co-developer of one or more bots.",
}
DEFAULT_FIXTURES = "default_fixtures.yaml"
#: Cache kind: a fixtures document that passed its schema (the key covers the schema too).
VALID_FIXTURES = "valid-fixtures"


@functools.cache
def fixtures_validator() -> Any:
    """OAS30Validator with the contract's patterns (user ids, bot ids) read as ECMA-262
    reads them. Imported when first needed: openapi-schema-validator and what it
    pulls in are slow to import, and a warm start (fixtures that passed before,
    `contracts.core.cache`) never needs it."""
    from openapi_schema_validator import OAS30Validator

    from contracts.core.ecma_patterns import with_ecma_patterns

    return with_ecma_patterns(OAS30Validator)


def _schema_problems(schema: dict[str, Any], document: Any) -> list[Any]:
    try:
        key: str | None = cache.key_of(cache.canonical({"schema": schema, "document": document}))
    except (TypeError, ValueError):
        key = None
    if key is not None and cache.seen(VALID_FIXTURES, key):
        return []
    errors = sorted(fixtures_validator()(schema).iter_errors(document), key=lambda e: list(e.absolute_path))
    if not errors and key is not None:
        cache.remember(VALID_FIXTURES, key)
    return errors


@dataclass(frozen=True)
class App:
    """Owns one app of the fixtures: its credentials, account, kind, scopes, JTI rule
    and algorithms, and whether it may erase."""

    client_id: str
    name: str
    client_secret: str = field(repr=False)
    account_id: str
    kind: AppKind
    scopes: tuple[str, ...]
    enforce_jti: bool
    algorithms: tuple[str, ...]
    may_erase: bool  # an admin-console app with the scope the contract requires

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
    """Owns one account (tenant) of the fixtures: its bots and its users' roles."""

    id: str
    name: str
    bot_ids: tuple[str, ...]
    user_roles: dict[str, str]
    #: Its own rate limit as the fixtures give it (`rateLimit`), if any: `mockserver.vendor.rate_limit`.
    rate_limit: dict[str, Any] | None = None

    def refusal(self, user_id: str) -> str | None:
        """Why the business rule refuses to erase this user, if it does."""
        return FORBIDDEN_ROLES.get(self.user_roles.get(user_id, "end_user"))


@dataclass(frozen=True)
class PreloadedUser:
    """Owns one user of a preloaded request: its status at load, and when and why it ends."""

    user_id: str
    status: str
    completes_in: float = 0.0
    reason: str | None = None


@dataclass(frozen=True)
class PreloadedRequest:
    """Owns one erase request the fixtures preload, placed relative to the time they load."""

    request_id: str
    account_id: str
    created_seconds_ago: float
    remove_from_all_bots: bool
    bot_ids: tuple[str, ...]
    users: tuple[PreloadedUser, ...]


@dataclass(frozen=True)
class Fixtures:
    """Owns a validated fixtures document: the accounts, apps and preloaded requests,
    the scripted outcomes, the document as given, and the recipe tokens are made with."""

    accounts: dict[str, Account]
    apps: dict[str, App]
    requests: tuple[PreloadedRequest, ...]
    source: str
    document: dict[str, Any] = field(repr=False)
    recipe: TokenRecipe = field(repr=False)
    outcomes: tuple[OutcomeRule, ...] = ()

    def contract_apps(self) -> dict[Identity, App]:
        """Apps for a contract run: the default app, one of another account that
        may erase, one of the default account without the scope (when present)."""
        main = self.default_app()
        chosen = {APP_UNDER_TEST: main}
        for app in self.apps.values():
            if app.enforce_jti:
                continue
            if OTHER_TENANT not in chosen and app.account_id != main.account_id and app.may_erase:
                chosen[OTHER_TENANT] = app
            if UNSCOPED not in chosen and app.account_id == main.account_id and app.kind is AppKind.ADMIN_CONSOLE \
                    and not app.may_erase:
                chosen[UNSCOPED] = app
        return chosen

    def refused_users(self, account_id: str) -> list[str]:
        """The users of an account whose erasure the business rule refuses."""
        account = self.accounts[account_id]
        return [user for user in account.user_roles if account.refusal(user)]

    def default_app(self) -> App:
        """The first app that may erase: what `mockserver token` signs for by default."""
        for app in self.apps.values():
            if app.may_erase and not app.enforce_jti:
                return app
        return next(iter(self.apps.values()))

    def app(self, name_or_id: str | None = None) -> App:
        """An app by client id or name (default: the default app). Raises `KeyError`."""
        if name_or_id is None:
            return self.default_app()
        for app in self.apps.values():
            if name_or_id in (app.client_id, app.name):
                return app
        raise KeyError(f"no app {name_or_id!r} in {self.source}; known client ids: {', '.join(sorted(self.apps))}")

    def token(self, app: App, *, expires_in: float | None = 3600, jti: bool = True, now: float | None = None) -> str:
        """A token for `app`, made the vendor's way. A negative `expires_in` makes an expired token."""
        return tokens.mint(self.recipe, app.client_id, app.client_secret, expires_in=expires_in, jti=jti, now=now,
                           subject="mockserver")


def default_fixtures_path() -> Path:
    return Path(str(resources.files("mockserver.vendor") / DEFAULT_FIXTURES))


def load_fixtures(path: str | Path | None, documents: Documents) -> Fixtures:
    """Read and validate a fixtures file (the shipped defaults when `path` is None)."""
    source = Path(path) if path else default_fixtures_path()
    try:
        document = parse_yaml(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FixturesError(str(source), [f"cannot read: {exc.strerror or exc}"]) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise FixturesError(str(source), [f"{where}not valid YAML/JSON"]) from None
    return parse_fixtures(document, documents, str(source))


def parse_fixtures(document: Any, documents: Documents, source: str = "<fixtures>") -> Fixtures:
    """Validate an already-parsed fixtures document (e.g. one posted to the control API).
    Raises `FixturesError` listing every problem, schema and cross-reference alike."""
    control = documents.control
    schema = dict(control.schema("Fixtures"), components=control.document["components"])
    problems = [
        f"{_location(error.absolute_path)}: {error.message}"
        for error in _schema_problems(schema, document)
    ]
    recipe = documents.vocabulary.token
    top = document if isinstance(document, dict) else {}
    accounts, apps = _accounts_and_apps(top.get("accounts"), recipe, problems)
    requests = _preloaded_requests(top.get("requests"), accounts, problems)
    rules = []
    for index, raw in _records(top.get("outcomes")):
        found = outcomes.problems(raw, documents.vocabulary.user_status, accounts)
        problems.extend(f"outcomes[{index}]: {problem}" for problem in found)
        if not found:
            rules.append(outcomes.rule(raw))
    if problems:
        raise FixturesError(source, problems)
    return Fixtures(accounts, apps, tuple(requests), source, document, recipe, tuple(rules))


def _accounts_and_apps(raw_accounts: Any, recipe: TokenRecipe, problems: list[str]
                       ) -> tuple[dict[str, Account], dict[str, App]]:
    """The accounts and their apps, by id; duplicate ids added to `problems`."""
    accounts: dict[str, Account] = {}
    apps: dict[str, App] = {}
    for a_index, raw in _records(raw_accounts):
        where = f"accounts[{a_index}]"
        if not isinstance(raw.get("id"), str):
            continue
        if raw["id"] in accounts:
            problems.append(f"{where}.id: duplicate account id {raw['id']!r}")
        accounts[raw["id"]] = _account(raw)
        for p_index, app in _records(raw.get("apps")):
            client_id = app.get("clientId")
            if not isinstance(client_id, str):
                continue
            if client_id in apps:
                problems.append(f"{where}.apps[{p_index}].clientId: duplicate client id {client_id!r}")
            apps[client_id] = _app(app, raw["id"], recipe)
    return accounts, apps


def _account(raw: dict[str, Any]) -> Account:
    users = {
        u["id"]: u.get("role", "end_user") for _, u in _records(raw.get("users")) if isinstance(u.get("id"), str)
    }
    bots = tuple(b["id"] for _, b in _records(raw.get("bots")) if isinstance(b.get("id"), str))
    own_limit = raw.get("rateLimit") if isinstance(raw.get("rateLimit"), dict) else None
    return Account(raw["id"], str(raw.get("name", raw["id"])), bots, users, own_limit)


def _app(raw: dict[str, Any], account_id: str, recipe: TokenRecipe) -> App:
    try:
        kind = AppKind(raw.get("kind", AppKind.ADMIN_CONSOLE))
    except (ValueError, TypeError):  # the schema reports it, and fixtures with a problem are never used
        kind = AppKind.BOT
    scopes = tuple(raw.get("scopes", [recipe.scope]))
    return App(
        client_id=raw["clientId"],
        name=str(raw.get("name", raw["clientId"])),
        client_secret=str(raw.get("clientSecret", "")),
        account_id=account_id,
        kind=kind,
        scopes=scopes,
        enforce_jti=raw.get("enforceJti", False) is True,
        algorithms=tuple(raw.get("algorithms", [recipe.algorithm])),
        may_erase=kind is AppKind.ADMIN_CONSOLE and recipe.scope in scopes,
    )


def _preloaded_requests(raw_requests: Any, accounts: dict[str, Account], problems: list[str]
                        ) -> list[PreloadedRequest]:
    """The preloaded requests (none once there is a problem); unknown accounts and
    duplicate request ids added to `problems`."""
    requests: list[PreloadedRequest] = []
    seen: set[str] = set()
    for r_index, raw in _records(raw_requests):
        where = f"requests[{r_index}]"
        account, request_id = raw.get("account"), raw.get("requestId")
        if isinstance(account, str) and account not in accounts:
            problems.append(f"{where}.account: unknown account {account!r} (known: {', '.join(sorted(accounts))})")
        if isinstance(request_id, str):
            if request_id in seen:
                problems.append(f"{where}.requestId: duplicate request id {request_id!r}")
            seen.add(request_id)
        if not problems:
            requests.append(_preloaded(raw))
    return requests


def _preloaded(raw: dict[str, Any]) -> PreloadedRequest:
    return PreloadedRequest(
        request_id=raw["requestId"],
        account_id=raw["account"],
        created_seconds_ago=raw.get("createdSecondsAgo", 0),
        # The keys of control.yaml's PreloadedRequest, which mirror the create body's.
        remove_from_all_bots=raw.get("RemoveDataFromAllBots", False),
        bot_ids=tuple(raw.get("botIds", [])),
        users=tuple(
            PreloadedUser(u["userId"], u["status"], u.get("completesInSeconds", 0), u.get("reason"))
            for u in raw["users"]
        ),
    )


def _records(value: Any) -> list[tuple[int, dict[str, Any]]]:
    """The objects of a list that may be malformed, with their index (the schema
    reports the rest), so that cross-references are checked beside schema errors."""
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)] if isinstance(value, list) else []


def _location(path: Any) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")
    return text or "(top level)"
