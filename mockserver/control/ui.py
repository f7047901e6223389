"""The inspector page served at `/__mockserver/ui/`: one self-contained HTML
file (`ui/index.html`: no build step, no external assets) that reads the
control API."""

from __future__ import annotations

import functools
from importlib import resources


@functools.cache
def ui_page() -> bytes:
    """The mock's page (`mockserver/control/ui/index.html`: no build step, no external assets)."""
    return (resources.files("mockserver.control") / "ui" / "index.html").read_bytes()
