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

The options are the `contracts run` options marked for pytest in
`contracts.config.OPTIONS`, spelled `--contract-<option>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from contracts.config import BY_NAME, Command, Kind, Option, options_for, resolve

PREFIX = "--contract-"


def _flag(option: Option) -> str:
    return PREFIX + option.flag.removeprefix("--")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("contracts", "Kore.ai erase API contract checks")
    for option in options_for(Command.PYTEST):
        if option.kind is Kind.FLAG:
            group.addoption(_flag(option), action="store_true", default=None, help=option.help)
        elif option.multiple:
            group.addoption(_flag(option), action="append", default=[], help=option.help)
        else:
            kind = {Kind.INT: int, Kind.FLOAT: float}.get(option.kind)
            choices = [str(c) for c in option.choices] if option.choices else None
            group.addoption(_flag(option), type=kind, choices=choices, default=None, help=option.help)


@dataclass
class ContractReport:
    """What the `contract_report` fixture gives a test: the run's report and its text."""

    report: Any

    @property
    def ok(self) -> bool:
        return bool(self.report.ok)

    @property
    def text(self) -> str:
        """The terminal report (secrets redacted)."""
        from contracts.reporting import terminal

        return terminal.render(self.report)


@pytest.fixture(scope="session")
def contract_report(pytestconfig: pytest.Config) -> ContractReport:
    given = {option.name: pytestconfig.getoption(_flag(option)) for option in options_for(Command.PYTEST)}
    if not resolve(given)["base_url"]:
        pytest.skip(f"contract checks need --contract-base-url (or {BY_NAME['base_url'].env})")
    from contracts import pipeline

    result = pipeline.run(pipeline.configure(given))
    pipeline.report(result)
    return ContractReport(result)
