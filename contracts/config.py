"""What a contract run is told: one table of options, one `RunConfig`.

`OPTIONS` declares every option once (its name, type, default, environment
variable, help text and whether it changes the planned calls or the erase
safety). The command line (`contracts run`, `contracts diff`), the pytest
plugin (`--contract-*`) and a plan file all go through it:

    values = resolve(given)      # defaults < environment < what was given
    config = build(values)       # the one place a `RunConfig` is made
    config = with_plan(config, plan_file_data)   # --plan: the plan file's settings win

A leaf: it imports only `contracts.core`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from contracts.core.errors import ConfigError
from contracts.core.identities import (
    BASE_URL_ENV,
    ERASE_USER_IDS_ENV,
    IDENTITIES,
    REFUSED_USER_IDS_ENV,
    TOKEN_ENV,
    Identity,
    Speaker,
)

#: Bytes of one answer's body the runner keeps (after decoding) when no --max-response-bytes is given.
DEFAULT_MAX_RESPONSE_BYTES = 2 * 1024 * 1024
#: Erasing calls allowed per run against a remote target when no --max-erase-requests is given.
DEFAULT_MAX_ERASE_REMOTE = 5
#: Where the created erase requests are logged against a remote target when no --audit-log is given.
REMOTE_AUDIT_LOG = Path("contracts-audit.jsonl")
SPEC_ENV = "KORE_ERASE_SPEC"
REFERENCE_URL_ENV = "CONTRACTS_REFERENCE_URL"
RATE_ENV = "CONTRACTS_RATE"


class TargetKind(StrEnum):
    """How strictly erase safety applies: by the host (`AUTO`), or as told."""

    AUTO = "auto"
    LOCAL = "local"
    REMOTE = "remote"


class Profile(StrEnum):
    """Which calls the suites plan: `RUN` as `contracts run` sends them; `DIFF` one
    example of each kind, for comparing two deployments call by call."""

    RUN = "run"
    DIFF = "diff"


class Kind(StrEnum):
    """The type of an option's value."""

    TEXT = "text"
    INT = "int"
    FLOAT = "float"
    FLAG = "flag"
    PATH = "path"  # a file to write
    EXISTING_PATH = "existing path"  # a file to read
    CHOICE = "choice"


class Command(StrEnum):
    """Where an option is offered."""

    RUN = "run"  # `contracts run` and, for the side under test, `contracts diff`
    DIFF = "diff"  # `contracts diff` only
    PYTEST = "pytest"  # also a `--contract-*` option of the pytest plugin


@dataclass(frozen=True)
class Option:
    """One option: how it is spelled, typed, defaulted and read from the environment,
    what it means, and whether it changes the planned calls or the erase safety
    (`plans`: a plan file fixes it)."""

    name: str  # the value's key (the click parameter; the `RunConfig` field unless `build` combines it)
    flag: str
    kind: Kind = Kind.TEXT
    default: Any = None
    help: str = ""
    env: str | None = None
    plans: bool = False
    multiple: bool = False
    choices: tuple[str, ...] | None = None  # None for Kind.CHOICE: the registry's names, given by the surface
    minimum: int | float | None = None
    maximum: int | None = None
    metavar: str | None = None
    show_default: bool = False
    required: bool = False  # for its surface (the side under test may take its URL from a plan file)
    commands: frozenset[Command] = frozenset({Command.RUN})

    def parse_env(self, text: str) -> Any:
        """An environment variable's text as this option's value."""
        return tuple(text.split()) if self.multiple else self.convert(text)

    def convert(self, value: Any) -> Any:
        """A given value as this option's type (a surface may give a path as text)."""
        if self.kind in (Kind.PATH, Kind.EXISTING_PATH) and isinstance(value, str):
            return Path(value)
        return value


_RUN_AND_PYTEST = frozenset({Command.RUN, Command.PYTEST})
_DIFF = frozenset({Command.DIFF})


def _identity_options(identity: Identity, *, reference: bool = False) -> list[Option]:
    if reference:
        flag = f"--reference-{identity.flag}" if identity.flag else "--reference"
        return [
            Option(f"reference_{identity.key}_client_id", f"{flag}-client-id", commands=_DIFF,
                   help=f"On the reference: {identity.purpose} [default: a mockserver's own apps, read through its"
                        " control API]."),
            Option(f"reference_{identity.key}_client_secret", f"{flag}-client-secret", commands=_DIFF,
                   help="Its client secret."),
        ]
    return [
        Option(f"{identity.key}_client_id", identity.option("client-id"), env=identity.client_id_env,
               plans=identity.key != "credentials", commands=_RUN_AND_PYTEST,
               help=f"Client id of {identity.purpose} [env {identity.client_id_env}]."),
        Option(f"{identity.key}_client_secret", identity.option("client-secret"), env=identity.client_secret_env,
               commands=_RUN_AND_PYTEST,
               help=f"Client secret of {identity.purpose} [env {identity.client_secret_env}]."),
    ]


OPTIONS: tuple[Option, ...] = (
    Option("base_url", "--base-url", env=BASE_URL_ENV, plans=True, commands=_RUN_AND_PYTEST,
           help=f"Deployment to test, e.g. http://127.0.0.1:8080 [env {BASE_URL_ENV}]."),
    *[option for identity in IDENTITIES for option in _identity_options(identity)],
    Option("token", "--token", env=TOKEN_ENV, plans=True, commands=_RUN_AND_PYTEST,
           help=f"A ready token instead of client id/secret [env {TOKEN_ENV}]; the broken-token checks then"
                " cannot run."),
    Option("spec_path", "--spec", Kind.PATH, env=SPEC_ENV, plans=True,
           help=f"Contract to use [env {SPEC_ENV}; default: the shipped openapi.yaml]."),
    Option("max_examples", "--max-examples", Kind.INT, 50, "Generated cases per operation and mode.", plans=True,
           minimum=1, show_default=True, commands=_RUN_AND_PYTEST),
    Option("seed", "--seed", Kind.INT, None, "Seed: the same seed and options make the same plan.", plans=True,
           commands=_RUN_AND_PYTEST),
    Option("workers", "--workers", Kind.INT, 1, "Calls sent at once (calls that depend on another wait for it).",
           minimum=1, maximum=16, show_default=True),
    Option("timeout", "--timeout", Kind.FLOAT, 10.0, "Seconds for each whole exchange (connect, send, the answer's"
           " headers and body), however slowly the target answers.", minimum=0.1, show_default=True),
    Option("max_response_bytes", "--max-response-bytes", Kind.INT, DEFAULT_MAX_RESPONSE_BYTES,
           "Bytes of an answer's body kept (decoded); the rest is cut and the call judged on what was kept.",
           minimum=1024, show_default=True),
    Option("include", "--include", help="Only these operations (operationId; repeatable).", plans=True,
           multiple=True),
    Option("exclude", "--exclude", help="Not these operations (operationId; repeatable).", plans=True,
           multiple=True),
    Option("suites", "--suite", Kind.CHOICE, help="Only these suites (repeatable) [default: all].", plans=True,
           multiple=True, commands=_RUN_AND_PYTEST),
    Option("target_kind", "--target-kind", Kind.CHOICE, TargetKind.AUTO, plans=True,
           choices=tuple(TargetKind), show_default=True, commands=_RUN_AND_PYTEST,
           help="remote: strict erase safety even on localhost (e.g. your own gateway)."),
    Option("erase_user_id", "--erase-user-id", env=ERASE_USER_IDS_ENV, plans=True, multiple=True,
           commands=_RUN_AND_PYTEST,
           help=f"User id that may be named in erasing calls on a remote target (repeatable) [env"
                f" {ERASE_USER_IDS_ENV}, space-separated]."),
    Option("erase_user_ids_file", "--erase-user-ids-file", Kind.EXISTING_PATH, plans=True,
           help="File with allow-listed user ids, one per line."),
    Option("refused_user_id", "--refused-user-id", env=REFUSED_USER_IDS_ENV, plans=True, multiple=True,
           commands=_RUN_AND_PYTEST,
           help="A user the business rule refuses to erase (an account owner, bot owner or co-developer): lets the"
                f" run observe FAILURE (repeatable) [env {REFUSED_USER_IDS_ENV}, space-separated]."),
    Option("max_erase_requests", "--max-erase-requests", Kind.INT, None, plans=True, minimum=0,
           help="Erasing requests allowed on the wire, retries included [default: 5 on a remote target, unlimited"
                " locally]."),
    Option("rate", "--rate", env=RATE_ENV, plans=True, metavar="N/min",
           help=f"Requests per rolling minute [env {RATE_ENV}; default: half the contract's x-rate-limit per minute"
                " on a remote target, unpaced locally]; a remote run also stays within a quarter of the hourly"
                " limit, and plans what fits in 6 minutes at this pace."),
    Option("allow_denied_host", "--allow-denied-host", Kind.FLAG, False, plans=True,
           help="Allow a production host of the vendor (the contract's x-production-hosts)."),
    Option("dry_run", "--dry-run", Kind.FLAG, False,
           help="Print the plan: every suite and operation, the most requests and erasing requests; send nothing."),
    Option("as_json", "--json", Kind.FLAG, False, "Print the result as JSON (with --dry-run: the plan)."),
    Option("plan_out", "--plan-out", Kind.PATH, help="Write every planned call (no secrets) to this file, for"
                                                     " approval."),
    Option("plan_in", "--plan", Kind.EXISTING_PATH,
           help="Send exactly the calls of this approved plan file (refused if edited or for another target);"
                " needs --expect-digest."),
    Option("expect_digest", "--expect-digest", metavar="DIGEST",
           help="With --plan: the digest --plan-out printed when the plan was approved; a plan file with another"
                " digest (retargeted, its budget raised, any edit) is refused."),
    Option("wait_for_completion", "--wait-for-completion", Kind.FLOAT, 60.0, plans=True, minimum=0,
           show_default=True, metavar="SECONDS",
           help="Poll created requests until every user is final, for at most SECONDS."),
    Option("allow_incomplete", "--allow-incomplete", Kind.FLAG, False, commands=_RUN_AND_PYTEST,
           help="Exit 0 when the run is incomplete (a check cut), with the note shown."),
    Option("junit_xml", "--junit-xml", Kind.PATH, help="Write a JUnit XML report.", commands=_RUN_AND_PYTEST),
    Option("report", "--report", Kind.PATH, help="Write a Markdown (.md) or HTML (.html) report."),
    Option("force", "--force", Kind.FLAG, False, help="Write --report, --junit-xml and --plan-out even where a"
           " symlink stands at their path (through it)."),
    Option("audit_log", "--audit-log", Kind.PATH, plans=True,
           help="Append every created requestId (with the body sent and the time) here [default:"
                " contracts-audit.jsonl against a remote target, none against a local one]."),
    # `contracts diff`: the reference and how the two sides are compared.
    Option("reference_url", "--reference-url", env=REFERENCE_URL_ENV, required=True, commands=_DIFF,
           help=f"The deployment to compare with, e.g. a mockserver [env {REFERENCE_URL_ENV}]."),
    Option("slower_by", "--slower-by", Kind.FLOAT, 1.0, minimum=0, show_default=True, metavar="SECONDS",
           commands=_DIFF,
           help="Report a side whose median response time per operation is this much (and 5 times) slower."),
    Option("ignore", "--ignore", multiple=True, metavar="RULE", commands=_DIFF,
           help="Accept a known, reviewed difference (its rule as the report prints it; * matches anything); it is"
                " listed as accepted (repeatable)."),
    *[option for identity in IDENTITIES for option in _identity_options(identity, reference=True)],
)
BY_NAME = {option.name: option for option in OPTIONS}


def options_for(command: Command) -> list[Option]:
    """The options a surface offers, in the table's order."""
    return [option for option in OPTIONS if command in option.commands]


def _default(name: str) -> Any:
    return BY_NAME[name].default


@dataclass(frozen=True)
class Credentials:
    """One identity's secrets: a client id and secret to sign tokens with, or a ready token."""

    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    @property
    def present(self) -> bool:
        return bool(self.token or (self.client_id and self.client_secret))

    @property
    def can_sign(self) -> bool:
        return bool(self.client_id and self.client_secret)


@dataclass(frozen=True)
class RunConfig:
    """Everything one run is told (its defaults are `OPTIONS`'); build it with `build`."""

    base_url: str
    credentials: Credentials = Credentials()
    other_tenant: Credentials = Credentials()
    unscoped: Credentials = Credentials()
    spec_path: Path | None = None
    max_examples: int = _default("max_examples")
    seed: int | None = None
    workers: int = _default("workers")
    timeout: float = _default("timeout")
    max_response_bytes: int = _default("max_response_bytes")
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    suites: tuple[str, ...] = ()  # empty: every registered suite
    target_kind: TargetKind = _default("target_kind")
    erase_user_ids: tuple[str, ...] = ()
    refused_user_ids: tuple[str, ...] = ()
    max_erase_requests: int | None = None
    rate: int | None = None  # requests per rolling minute; None: the target's default pace
    allow_denied_host: bool = False
    dry_run: bool = False
    plan_out: Path | None = None
    plan_in: Path | None = None
    expect_digest: str | None = None
    wait_for_completion: float = _default("wait_for_completion")
    allow_incomplete: bool = False
    max_retry_after: float = 30.0
    junit_xml: Path | None = None
    report: Path | None = None
    force: bool = False
    audit_log: Path | None = None  # None: REMOTE_AUDIT_LOG against a remote target, none against a local one
    progress: bool = False
    profile: Profile = Profile.RUN

    def secrets(self) -> list[str]:
        """Everything that must never appear in any output."""
        values = []
        for creds in (self.credentials, self.other_tenant, self.unscoped):
            values += [creds.client_secret or "", creds.token or ""]
        return [v for v in values if v]

    def credentials_of(self, speaker: Speaker) -> Credentials | None:
        """The credentials a call speaking as `speaker` is signed with (None: a literal header)."""
        for identity in IDENTITIES:
            if identity.speaker is speaker:
                return getattr(self, identity.key)
        return None

    def with_overrides(self, **values: Any) -> RunConfig:
        return replace(self, **values)


class MissingOption(ConfigError):
    """A required option was given neither as a flag nor in the environment."""


def resolve(given: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every option's value: what was given (None, or an empty list, is "not given"),
    else its environment variable, else its default. A given value the table does
    not name (the CLI's `progress`) is kept."""
    environ = os.environ if environ is None else environ
    values = {name: value for name, value in given.items() if name not in BY_NAME}  # e.g. "progress"
    for option in OPTIONS:
        value = given.get(option.name)
        if value is None or (option.multiple and not value):
            text = environ.get(option.env) if option.env else None
            value = option.parse_env(text) if text else option.default
        else:
            value = option.convert(value)
        values[option.name] = tuple(value or ()) if option.multiple else value
    return values


def _words(values: Any) -> tuple[str, ...]:
    return tuple(dict.fromkeys(u for value in values or () for u in str(value).split()))


def _credentials(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The identity -> credentials map: `RunConfig`'s credential fields from the options."""
    return {
        identity.key: Credentials(values.get(f"{prefix}{identity.key}_client_id"),
                                  values.get(f"{prefix}{identity.key}_client_secret"),
                                  values.get("token") if identity.speaker is Speaker.APP and not prefix else None)
        for identity in IDENTITIES
    }


def build(values: Mapping[str, Any]) -> RunConfig:
    """The run's `RunConfig` from resolved option values (`resolve`).
    Raises `MissingOption` without a base URL or a plan file to take it from."""
    if not values.get("base_url") and not values.get("plan_in"):
        raise MissingOption(f"Missing option '--base-url' (or {BASE_URL_ENV})")
    allow = list(values.get("erase_user_id") or ())
    ids_file = values.get("erase_user_ids_file")
    if ids_file:
        allow += [line.strip() for line in Path(ids_file).read_text().splitlines() if line.strip()]
    direct = {name: values[name] for name in _DIRECT if values.get(name) is not None}
    return RunConfig(
        base_url=values.get("base_url") or "",
        **_credentials(values),
        **direct,
        include=tuple(values.get("include") or ()),
        exclude=tuple(values.get("exclude") or ()),
        suites=tuple(dict.fromkeys(values.get("suites") or ())),
        target_kind=TargetKind(values.get("target_kind") or TargetKind.AUTO),
        erase_user_ids=_words(allow),
        refused_user_ids=_words(values.get("refused_user_id")),
        progress=bool(values.get("progress")),
        rate=parse_rate(values.get("rate")),
    )


def parse_rate(value: Any) -> int | None:
    """`--rate N/min` (or a bare N, or an int) as requests per minute; `ConfigError` otherwise."""
    if value is None or isinstance(value, int):
        rate = value
    else:
        text = str(value).strip().lower()
        number = text.removesuffix("/min").removesuffix("/minute").strip()
        rate = int(number) if number.isdigit() else 0
    if rate is not None and rate < 1:
        raise ConfigError(f"--rate {value!r} is not a rate: give requests per minute, e.g. 30/min")
    return rate


#: Options whose value is the `RunConfig` field of the same name, as given.
_DIRECT = ("spec_path", "max_examples", "seed", "workers", "timeout", "max_response_bytes", "max_erase_requests",
           "allow_denied_host", "dry_run", "plan_out", "plan_in", "expect_digest", "wait_for_completion",
           "allow_incomplete", "junit_xml", "report", "audit_log", "force")


def reference(values: Mapping[str, Any], real: RunConfig) -> RunConfig:
    """The reference side of `contracts diff`: its URL and identities from the
    `--reference-*` options; the contract, timeout and user ids the real side's;
    erase safety by its host, no budget, no audit log."""
    if not values.get("reference_url"):
        raise MissingOption("Missing option '--reference-url'.")
    return RunConfig(
        base_url=values["reference_url"], **_credentials(values, "reference_"), spec_path=real.spec_path,
        timeout=real.timeout, max_response_bytes=real.max_response_bytes, refused_user_ids=real.refused_user_ids,
        erase_user_ids=real.erase_user_ids,
        allow_denied_host=real.allow_denied_host,
    )


def _plan_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """What a plan file fixes, per option (`plans=True`), in the form the option's value takes."""
    s = data.get("settings", {})
    identities = s.get("identities", {})
    return {
        "base_url": data.get("target"), "seed": data.get("seed"), "suites": set(s.get("suites", ())),
        "include": set(s.get("operations", ())), "max_examples": s.get("maxExamples"),
        "erase_user_id": set(s.get("eraseUserIds", ())), "refused_user_id": set(s.get("refusedUserIds", ())),
        "max_erase_requests": s.get("eraseBudget"), "wait_for_completion": s.get("waitForCompletion"),
        "target_kind": TargetKind.REMOTE if data.get("remote") else TargetKind.LOCAL,
        "other_tenant_client_id": identities.get("otherTenant", False),
        "unscoped_client_id": identities.get("unscoped", False),
    }


def _given_value(name: str, value: Any, values: Mapping[str, Any]) -> Any:
    """A given option's value in the form `_plan_values` records it."""
    if name in ("suites", "include", "refused_user_id"):
        return set(_words(value))
    if name == "erase_user_id":
        return set(build(dict(values, base_url=values.get("base_url") or "x")).erase_user_ids)
    if name in ("other_tenant_client_id", "unscoped_client_id"):
        return True
    if name == "wait_for_completion":
        return float(value)
    return value


def refuse_against_plan(given: Mapping[str, Any], data: Mapping[str, Any], plan_path: Path) -> None:
    """With `--plan`, refuse (exit 2, naming it) every given option that changes the calls or their
    safety (`Option.plans`) unless it equals the plan's; a lower erase budget is refused like any other."""
    plan = _plan_values(data)
    values = resolve(given, environ={})
    for option in OPTIONS:
        value = given.get(option.name)
        if not option.plans or value is None or (option.multiple and not value):
            continue
        name = "erase_user_id" if option.name == "erase_user_ids_file" else option.name
        if option.name == "exclude":
            clash = set(value) & plan["include"]
            if clash:
                raise ConfigError(f"{option.flag} {sorted(clash)[0]} changes the approved plan {plan_path}, which"
                                  " sends calls to it: drop the option or write and approve a new plan")
            continue
        if name not in plan or (name == "target_kind" and value == TargetKind.AUTO):
            continue
        mine = _given_value(name, value, values)
        if mine != plan[name]:
            shown = ", ".join(sorted(map(str, mine))) if isinstance(mine, set) else mine
            expected = ", ".join(sorted(map(str, plan[name]))) if isinstance(plan[name], set) else plan[name]
            raise ConfigError(f"{option.flag} {shown} is not the approved plan's ({expected or 'none'}, in"
                              f" {plan_path}): with --plan, drop the option or write and approve a new plan")


def with_plan(config: RunConfig, data: Mapping[str, Any]) -> RunConfig:
    """The options a plan file was written with, for `--plan` (the target when none was
    given; credentials stay the caller's)."""
    s = data.get("settings", {})
    return config.with_overrides(
        base_url=config.base_url or data["target"],
        seed=data.get("seed"), suites=tuple(s.get("suites", ())),
        include=tuple(s.get("operations", ())), exclude=(),
        max_examples=int(s.get("maxExamples", config.max_examples)),
        erase_user_ids=tuple(s.get("eraseUserIds", ())), refused_user_ids=tuple(s.get("refusedUserIds", ())),
        max_erase_requests=s.get("eraseBudget"), rate=s.get("rate"),
        wait_for_completion=float(s.get("waitForCompletion", _default("wait_for_completion"))),
        target_kind=TargetKind.REMOTE if data.get("remote") else TargetKind.LOCAL,
    )
