"""pytest plugin: a real mock server for your integration tests.

Installed with the package (entry point `pytest11`), it adds:

- `mockserver_session`: one `MockServer` process for the whole test session
  (manual clock), started on a free loopback port;
- `mockserver`: the same server, reset to its fixtures before each test;
- `mockproxy_session`: one `MockProxy` for the session, in front of
  `--mockproxy-upstream URL` (your staging deployment) or, without it, of
  `mockserver_session`; `mockproxy`: the same, its journal emptied before
  each test. Send the traffic through `mockproxy.base_url`, then
  `mockproxy.assert_no_violations()`.

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
    from mockserver.testing.mock_proxy import MockProxy
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
    group.addoption("--mockproxy-upstream", default=None,
                    help="Deployment the mockproxy fixtures forward to (default: the mockserver fixture's server).")
    group.addoption("--mockproxy-record", default=None, help="Record the proxy's exchanges to this file.")
    group.addoption("--mockproxy-strict", action="store_true", help="The proxy answers 502 for a response that"
                                                                    " breaks the contract.")


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


@pytest.fixture(scope="session")
def mockproxy_session(request: pytest.FixtureRequest) -> Iterator[MockProxy]:
    from mockserver.testing.mock_proxy import MockProxy

    upstream = request.config.getoption("--mockproxy-upstream")
    if upstream is None:
        upstream = request.getfixturevalue("mockserver_session").base_url
    proxy = MockProxy(upstream, record=request.config.getoption("--mockproxy-record"),
                      strict=request.config.getoption("--mockproxy-strict"),
                      fixtures=request.config.getoption("--mockserver-fixtures"))
    with proxy:
        yield proxy


@pytest.fixture
def mockproxy(mockproxy_session: MockProxy) -> MockProxy:
    mockproxy_session.reset()
    return mockproxy_session
