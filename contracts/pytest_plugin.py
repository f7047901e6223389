"""pytest plugin: run the contract checks inside your own pytest run.

Installed with the package (entry point `pytest11`). Pass the target and
credentials as options (or the `CONTRACTS_*` environment variables the CLI
reads), and use the `contract_report` fixture:

    def test_deployment_honours_the_contract(contract_report):
        assert contract_report.ok, contract_report.text

The run happens once per session; without `--contract-base-url` tests that
use the fixture are skipped with that reason. The runner (schemathesis,
Hypothesis) is imported only when a test asks for the fixture, so the plugin
costs nothing to test sessions that do not use it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from contracts.config import TARGET_KINDS, Credentials, RunConfig, default
from contracts.core.identities import BASE_URL_ENV, ERASE_USER_IDS_ENV, IDENTITIES, REFUSED_USER_IDS_ENV, TOKEN_ENV

OPTIONS = {"base-url": BASE_URL_ENV, "token": TOKEN_ENV}
for _identity in IDENTITIES:
    OPTIONS[_identity.option("client-id").removeprefix("--")] = _identity.client_id_env
    OPTIONS[_identity.option("client-secret").removeprefix("--")] = _identity.client_secret_env


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contracts", "Kore.ai erase API contract checks")
    for name, env in OPTIONS.items():
        group.addoption(f"--contract-{name}", default=None, help=f"[env {env}]")
    group.addoption("--contract-max-examples", type=int, default=default("max_examples"),
                    help="Cases per operation and mode.")
    group.addoption("--contract-seed", type=int, default=None, help="Seed of the run.")
    group.addoption("--contract-target-kind", default="auto", choices=TARGET_KINDS)
    group.addoption("--contract-erase-user-id", action="append", default=[],
                    help=f"User id that may be erased on a remote target (repeatable) [env {ERASE_USER_IDS_ENV}].")
    group.addoption("--contract-refused-user-id", action="append", default=[],
                    help=f"A user the business rule refuses to erase (repeatable) [env {REFUSED_USER_IDS_ENV}].")
    group.addoption("--contract-suite", action="append", default=[],
                    help="Only this suite (repeatable; the names of `contracts run --suite`) [default: all].")
    group.addoption("--contract-allow-incomplete", action="store_true", help="Accept an incomplete run.")
    group.addoption("--contract-junit-xml", default=None, help="Also write the runner's JUnit XML here.")


@dataclass
class ContractReport:
    report: Any

    @property
    def ok(self) -> bool:
        return bool(self.report.ok)

    @property
    def text(self) -> str:
        """The terminal report (secrets redacted)."""
        from contracts.reporting import run_report as reports

        return reports.terminal(self.report)


def _value(config: pytest.Config, name: str) -> str | None:
    return config.getoption(f"--contract-{name}") or os.environ.get(OPTIONS[name]) or None


def _ids(config: pytest.Config, name: str, env: str) -> tuple[str, ...]:
    given = list(config.getoption(f"--contract-{name}")) or os.environ.get(env, "").split()
    return tuple(dict.fromkeys(given))


@pytest.fixture(scope="session")
def contract_report(pytestconfig: pytest.Config) -> ContractReport:
    base_url = _value(pytestconfig, "base-url")
    if not base_url:
        pytest.skip("contract checks need --contract-base-url (or CONTRACTS_BASE_URL)")
    from contracts.execution.runner import run
    from contracts.reporting import run_report as reports

    junit = pytestconfig.getoption("--contract-junit-xml")

    def creds(identity_flag: str) -> Credentials:
        prefix = f"{identity_flag}-" if identity_flag else ""
        return Credentials(_value(pytestconfig, f"{prefix}client-id"), _value(pytestconfig, f"{prefix}client-secret"),
                           _value(pytestconfig, "token") if not identity_flag else None)

    config = RunConfig(
        base_url=base_url,
        credentials=creds(""),
        other_tenant=creds("other-tenant"),
        unscoped=creds("unscoped"),
        max_examples=pytestconfig.getoption("--contract-max-examples"),
        seed=pytestconfig.getoption("--contract-seed"),
        target_kind=pytestconfig.getoption("--contract-target-kind"),
        erase_user_ids=_ids(pytestconfig, "erase-user-id", ERASE_USER_IDS_ENV),
        refused_user_ids=_ids(pytestconfig, "refused-user-id", REFUSED_USER_IDS_ENV),
        suites=tuple(dict.fromkeys(pytestconfig.getoption("--contract-suite"))),
        allow_incomplete=pytestconfig.getoption("--contract-allow-incomplete"),
        junit_xml=Path(junit) if junit else None,
    )
    result = run(config)
    reports.write(result)
    return ContractReport(result)
