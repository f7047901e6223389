"""pytest plugin: a real mock server for your integration tests.

Installed with the package (entry point `pytest11`), it adds:

- `mockserver_session`: one `MockServer` process for the whole test session
  (manual clock), started on a free loopback port;
- `mockserver`: the same server, reset to its fixtures before each test.

Options: `--mockserver-fixtures PATH` (your fixtures file) and
`--mockserver-clock real|manual` (default manual).

The server code is imported when a test first asks for a fixture, so the
plugin costs nothing to test sessions that do not use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from mockserver.settings import Clock

if TYPE_CHECKING:
    from mockserver.testing.mock_server import MockServer


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockserver", "Kore.ai erase API mock server")
    group.addoption("--mockserver-fixtures", default=None, help="Fixtures file for the mock server.")
    group.addoption(
        "--mockserver-clock",
        default=Clock.MANUAL.value,
        choices=(Clock.MANUAL.value, Clock.REAL.value),
        help="Clock of the mock server (default: manual).",
    )


@pytest.fixture(scope="session")
def mockserver_session(request: pytest.FixtureRequest) -> Iterator[MockServer]:
    from mockserver.testing.mock_server import MockServer

    server = MockServer(
        fixtures=request.config.getoption("--mockserver-fixtures"),
        clock=request.config.getoption("--mockserver-clock"),
    )
    with server:
        yield server


@pytest.fixture
def mockserver(mockserver_session: MockServer) -> MockServer:
    mockserver_session.reset()
    return mockserver_session
