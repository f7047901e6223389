"""`MockApp`: the mock server's ASGI app in this process, behind an httpx
client, with the same control methods as `MockServer`. No process, no
port: for tests of the mock itself and for clients that accept an httpx
transport (`mock.http` is an `httpx.Client`; `mock.transport` its transport).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

with warnings.catch_warnings():  # Starlette prefers httpx2 for its TestClient; httpx is what we use
    warnings.simplefilter("ignore", DeprecationWarning)
    from starlette.testclient import TestClient

from mockserver.app import create_app
from mockserver.client import ControlClient
from mockserver.documents import load_documents
from mockserver.settings import Settings

#: The client address the app sees: loopback, so the control API answers.
LOOPBACK_CLIENT = ("127.0.0.1", 50000)
BASE_URL = "http://mock.test"


class MockApp(ControlClient):
    """The mock in this process.

    >>> with MockApp(clock="manual") as mock:
    ...     mock.http.get(path, headers={"auth": mock.token()})
    ...     mock.advance(5)
    """

    def __init__(
        self,
        *,
        fixtures: str | os.PathLike[str] | None = None,
        state: str | os.PathLike[str] = ":memory:",
        clock: str = "manual",
        spec: str | None = None,
        **settings: Any,
    ):
        super().__init__(fixtures_path=str(fixtures) if fixtures else None, spec_path=spec)
        self.settings = Settings(state=str(state), clock=clock, fixtures=self.fixtures_path, spec=spec).with_overrides(
            **settings
        )
        self._documents = load_documents(spec)
        self.asgi = create_app(self.settings, documents=self.documents)
        self._client: TestClient | None = None

    @property
    def service(self) -> Any:
        """The running service (store, fixtures, clock), for white-box assertions."""
        return self.asgi.service

    @property
    def transport(self) -> Any:
        return self.http._transport

    def start(self) -> MockApp:
        self._client = TestClient(self.asgi, base_url=BASE_URL, client=LOOPBACK_CLIENT, raise_server_exceptions=True)
        self._client.__enter__()
        self.connect(BASE_URL, http=self._client)
        return self

    def stop(self) -> None:
        if self._client is not None:
            self._client.__exit__(None, None, None)
            self._client = None
        self._http = None

    def __enter__(self) -> MockApp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.asgi.service.store.close()
