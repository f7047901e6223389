"""A stateful, spec-driven mock of the Kore.ai erase users data API.

- `MockServer`: a real `mockserver run` process on a free loopback port,
  for integration tests (`mockserver.testing.mock_server`);
- `MockApp`: the same app in this process, behind an httpx client
  (`mockserver.testing.mock_app`);
- `ControlClient`: what both share, the control API's methods
  (`mockserver.testing.control_client`), raising `ControlError`;
- `create_app`: the ASGI application (`mockserver.app.build`);
- `Settings`: the server's settings (`mockserver.settings`);
- the exceptions (`mockserver.errors`);
- the `mockserver` command runs it (`mockserver.cli`).

`ARCHITECTURE.md` shows the layers below. Attributes are imported on first
use, so that importing the package (as pytest does for the plugin) costs
nothing.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

# Connexion imports Starlette's TestClient at import time, which warns about httpx;
# the mock never uses it that way, and the warning would greet every `mockserver run`.
warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")

_EXPORTS = {
    "MockServer": "mockserver.testing.mock_server",
    "MockApp": "mockserver.testing.mock_app",
    "ControlClient": "mockserver.testing.control_client",
    "create_app": "mockserver.app.build",
    "Settings": "mockserver.settings",
    "MockserverError": "mockserver.errors",
    "ControlError": "mockserver.errors",
    "FixturesError": "mockserver.errors",
    "SettingsError": "mockserver.errors",
    "StartupError": "mockserver.errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'mockserver' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
