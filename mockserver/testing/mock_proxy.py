"""`MockProxy`: a real `mockserver proxy` process on a free loopback port, in
front of an upstream (a `MockServer`, or a staging deployment), for tests
that send their traffic through it and then assert that none of it broke
the contract."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mockserver.proxy.server import LISTENING
from mockserver.testing.mock_server import MockServer


class MockProxy(MockServer):
    """A real `mockserver proxy --upstream URL` process, for tests.

    >>> with MockServer() as upstream, MockProxy(upstream.base_url) as proxy:
    ...     proxy.http.get(path, headers={...})   # the upstream's answer, unchanged
    ...     proxy.assert_no_violations()

    Its journal holds every exchange with its `violations`; `token()` mints
    tokens for the fixtures the upstream mock serves (`fixtures=`).
    """

    _command = "proxy"
    _listening = LISTENING

    def __init__(self, upstream: str, *, record: str | os.PathLike[str] | None = None, strict: bool = False,
                 fixtures: str | os.PathLike[str] | None = None, allow_denied_host: bool = False,
                 extra_args: list[str] | None = None, startup_timeout: float = 30.0):
        super().__init__(fixtures=fixtures, startup_timeout=startup_timeout)
        self.upstream = upstream
        self.record = Path(record) if record is not None else None
        self.args = ["--upstream", upstream, "--host", "127.0.0.1", "--port", "0", "--state", self.state,
                     "--log-level", "warning"]
        self.args += ["--record", str(record)] if record is not None else []
        self.args += ["--strict"] if strict else []
        self.args += ["--allow-denied-host"] if allow_denied_host else []
        self.args += extra_args or []

    def violations(self, **filters: Any) -> list[dict[str, Any]]:
        """The journal entries (passing the filters of `journal()`) that broke the contract."""
        return [entry for entry in self.journal(**filters) if entry.get("violations")]

    def assert_no_violations(self, **filters: Any) -> None:
        """Assert that no exchange (passing the filters of `journal()`) broke the contract.
        Raises `AssertionError` listing each one's violations."""
        found = self.violations(**filters)
        if not found:
            return
        lines = [f"{len(found)} exchange(s) through the proxy broke the contract:"]
        for entry in found:
            lines.append(f"  #{entry['id']} {entry['method']} {entry['path']} -> {entry['status']}"
                         f" [{entry.get('operationId') or 'no operation'}]")
            lines += [f"      {v['side']} {v['where']}: {v['message']} [{v['rule']}: {v['contract']}]"
                      for v in entry["violations"]]
        raise AssertionError("\n".join(lines))
