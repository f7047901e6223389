"""What a contract run is told: one dataclass, its defaults in one place.

The CLI and the pytest plugin both build a `RunConfig`; precedence is the
defaults here, then `CONTRACTS_*` environment variables (read by the CLI's
options), then flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

TARGET_KINDS = ("auto", "local", "remote")
#: Erasing calls allowed per run against a remote target when no --max-erase-requests is given.
DEFAULT_MAX_ERASE_REMOTE = 5
#: Where the created erase requests are logged against a remote target when no --audit-log is given.
REMOTE_AUDIT_LOG = Path("contracts-audit.jsonl")


@dataclass(frozen=True)
class Credentials:
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
    base_url: str
    credentials: Credentials = Credentials()
    other_tenant: Credentials = Credentials()
    unscoped: Credentials = Credentials()
    spec_path: Path | None = None
    max_examples: int = 50
    seed: int | None = None
    workers: int = 1
    timeout: float = 10.0
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    suites: tuple[str, ...] = ()  # empty: every registered suite
    target_kind: str = "auto"
    erase_user_ids: tuple[str, ...] = ()
    refused_user_ids: tuple[str, ...] = ()
    max_erase_requests: int | None = None
    allow_denied_host: bool = False
    dry_run: bool = False
    plan_out: Path | None = None
    plan_in: Path | None = None
    wait_for_completion: float = 60.0
    allow_incomplete: bool = False
    max_retry_after: float = 30.0
    junit_xml: Path | None = None
    report: Path | None = None
    audit_log: Path | None = None  # None: REMOTE_AUDIT_LOG against a remote target, none against a local one
    progress: bool = False
    #: "run": the suites as `contracts run` sends them; "diff": one example of each kind, for comparing
    #: two deployments call by call (`contracts diff`).
    profile: str = "run"

    def secrets(self) -> list[str]:
        """Everything that must never appear in any output."""
        values = []
        for creds in (self.credentials, self.other_tenant, self.unscoped):
            values += [creds.client_secret or "", creds.token or ""]
        return [v for v in values if v]

    def with_overrides(self, **values: Any) -> RunConfig:
        return replace(self, **values)


def default(name: str) -> Any:
    """A `RunConfig` field's default, for the CLI's and the plugin's options."""
    return {f.name: f.default for f in fields(RunConfig)}[name]
