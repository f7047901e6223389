"""A stateful, spec-driven mock of the Kore.ai erase users data API.

`MockServer` runs a real server process for integration tests; `create_app`
builds the ASGI application; the `mockserver` command runs it.
"""

import warnings

# Connexion imports Starlette's TestClient at import time, which warns about httpx;
# the mock never uses it, and the warning would greet every `mockserver run`.
warnings.filterwarnings("ignore", message=r"Using `httpx` with `starlette.testclient`")

from mockserver.server import MockServer  # noqa: E402

__all__ = ["MockServer"]
