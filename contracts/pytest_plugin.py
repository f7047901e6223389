"""pytest plugin: run the contract checks inside your own pytest run.

Installed with the package (entry point `pytest11`). Pass the target and
credentials as options (or the `CONTRACTS_*` environment variables the CLI
reads), and use the `contract_report` fixture:

    def test_deployment_honours_the_contract(contract_report):
        assert contract_report.ok, contract_report.text

The run happens once per session; without `--contract-base-url` tests that
use the fixture are skipped with that reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from contracts import report as reports
from contracts.config import Credentials, RunConfig, default
from contracts.runner import Report, run

OPTIONS = {
    "base-url": "CONTRACTS_BASE_URL",
    "client-id": "CONTRACTS_CLIENT_ID",
    "client-secret": "CONTRACTS_CLIENT_SECRET",
    "token": "CONTRACTS_TOKEN",
    "other-tenant-client-id": "CONTRACTS_OTHER_TENANT_CLIENT_ID",
    "other-tenant-client-secret": "CONTRACTS_OTHER_TENANT_CLIENT_SECRET",
    "unscoped-client-id": "CONTRACTS_UNSCOPED_CLIENT_ID",
    "unscoped-client-secret": "CONTRACTS_UNSCOPED_CLIENT_SECRET",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contracts", "Kore.ai erase API contract checks")
    for name, env in OPTIONS.items():
        group.addoption(f"--contract-{name}", default=None, help=f"[env {env}]")
    group.addoption("--contract-max-examples", type=int, default=default("max_examples"),
                    help="Cases per operation and mode.")
    group.addoption("--contract-seed", type=int, default=None, help="Seed of the run.")
    group.addoption("--contract-target-kind", default="auto", choices=("auto", "local", "remote"))
    group.addoption("--contract-erase-user-id", action="append", default=[],
                    help="User id that may be erased on a remote target (repeatable).")
    group.addoption("--contract-junit-xml", default=None, help="Also write the runner's JUnit XML here.")


@dataclass
class ContractReport:
    report: Report

    @property
    def ok(self) -> bool:
        return self.report.ok

    @property
    def text(self) -> str:
        """The terminal report (secrets redacted)."""
        return reports.terminal(self.report)


def _value(config: pytest.Config, name: str) -> str | None:
    return config.getoption(f"--contract-{name}") or os.environ.get(OPTIONS[name]) or None


@pytest.fixture(scope="session")
def contract_report(pytestconfig: pytest.Config) -> ContractReport:
    base_url = _value(pytestconfig, "base-url")
    if not base_url:
        pytest.skip("contract checks need --contract-base-url (or CONTRACTS_BASE_URL)")
    junit = pytestconfig.getoption("--contract-junit-xml")
    config = RunConfig(
        base_url=base_url,
        credentials=Credentials(_value(pytestconfig, "client-id"), _value(pytestconfig, "client-secret"),
                                _value(pytestconfig, "token")),
        other_tenant=Credentials(_value(pytestconfig, "other-tenant-client-id"),
                                 _value(pytestconfig, "other-tenant-client-secret")),
        unscoped=Credentials(_value(pytestconfig, "unscoped-client-id"),
                             _value(pytestconfig, "unscoped-client-secret")),
        max_examples=pytestconfig.getoption("--contract-max-examples"),
        seed=pytestconfig.getoption("--contract-seed"),
        target_kind=pytestconfig.getoption("--contract-target-kind"),
        erase_user_ids=tuple(pytestconfig.getoption("--contract-erase-user-id")),
        junit_xml=Path(junit) if junit else None,
    )
    result = run(config)
    reports.write(result)
    return ContractReport(result)
