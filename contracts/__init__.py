"""Contract tooling for the Kore.ai erase users data API.

    from contracts import RunConfig, Credentials, run
    report = run(RunConfig(base_url="http://127.0.0.1:8080", credentials=Credentials(...)))
    assert report.ok, report.text

- `contracts.core`: the contract itself (loading and validating
  `openapi.yaml`, the vocabulary it defines, the vendor's token recipe),
  shared by the mock server and the runner and importing neither;
- the runner's layers below it (`ARCHITECTURE.md`): `safety`, `planning`,
  `judging`, `execution`, `diff`, `reporting`;
- at the root: `pipeline` (the stages of `run` and `diff`), `config` (the
  option table and `RunConfig`), `cli` and `pytest_plugin`.

The public names are listed in `__all__`; each is imported on first use, so
importing this package loads nothing heavy.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "run": "contracts.pipeline",
    "RunConfig": "contracts.config",
    "Credentials": "contracts.config",
    "TargetKind": "contracts.config",
    "Report": "contracts.judging.verdict",
    "Verdict": "contracts.judging.verdict",
    "diff": "contracts.pipeline",
    "DiffConfig": "contracts.diff.lockstep",
    "DiffReport": "contracts.diff.lockstep",
    "ContractsError": "contracts.core.errors",
    "ConfigError": "contracts.core.errors",
    "SpecError": "contracts.core.errors",
    "UnreachableError": "contracts.core.errors",
    "load_spec": "contracts.core.spec",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'contracts' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
