"""The contract runner's exceptions and the exit code each maps to.

    ContractsError
    ├── ConfigError        exit 2: bad options, refused target, unreadable files
    └── UnreachableError   exit 3: the target does not answer

Contract violations are not exceptions: they are findings in the report,
and a report with findings exits 1.
"""

from __future__ import annotations

EXIT_OK, EXIT_VIOLATIONS, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


class ContractsError(Exception):
    exit_code = EXIT_USAGE


class ConfigError(ContractsError):
    exit_code = EXIT_USAGE


class UnreachableError(ContractsError):
    exit_code = EXIT_UNREACHABLE
