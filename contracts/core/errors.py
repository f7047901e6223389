"""The exceptions of the `contracts` package, and the exit code each maps to.

    ContractsError            exit 2: the root; anything the user must fix
    ├── SpecError             the contract cannot be found, read or validated, or lacks
    │                         what the toolkit relies on (contracts.core)
    ├── ConfigError           bad options, a refused target, an unreadable or edited plan,
    │                         credentials the deployment refused at pre-flight (contracts.execution.runner)
    └── UnreachableError      exit 3: the target does not answer HTTP

Contract violations and incomplete runs are not exceptions: they are the
verdict of a report (exit 1 and 4). Both CLIs map this tree to one-line
errors in one place (`contracts.core.clikit`).
"""

from __future__ import annotations

EXIT_PASSED, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_INCOMPLETE = 0, 1, 2, 3, 4


class ContractsError(Exception):
    """Root of the package's exceptions: a problem the user must fix (exit 2)."""

    exit_code = EXIT_USAGE


class SpecError(ContractsError):
    """The contract cannot be found, read or validated, or lacks what the toolkit relies on."""


class ConfigError(ContractsError):
    """Options that cannot work, a refused target, or an unusable plan file."""


class UnreachableError(ContractsError):
    """The target does not answer HTTP."""

    exit_code = EXIT_UNREACHABLE
