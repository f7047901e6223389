"""`MockApp`: the mock server's ASGI app in this process, behind an httpx
client, with the same control methods as `MockServer`. No process, no
port: for tests of the mock itself and for clients that accept an httpx
transport (`mock.http` is an `httpx.Client`; `mock.transport` its transport).
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from mockserver.app.build import create_app
from mockserver.common.openapi_documents import load_documents
from mockserver.settings import Clock, Settings
from mockserver.testing.control_client import ControlClient
from mockserver.testing.loop_transport import LoopTransport
from mockserver.vendor.runtime import Runtime

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
        clock: str = Clock.MANUAL.value,
        spec: str | None = None,
        **settings: Any,
    ):
        super().__init__(fixtures_path=str(fixtures) if fixtures else None, spec_path=spec)
        self.settings = Settings(state=str(state), clock=clock, fixtures=self.fixtures_path, spec=spec).with_overrides(
            **settings
        )
        self._documents = load_documents(spec)
        self.asgi = create_app(self.settings, documents=self.documents)
        self._transport: LoopTransport | None = None

    @property
    def service(self) -> Runtime:
        """The running state: the app's `Runtime` (store, fixtures, clock), for white-box
        assertions (named `service` in the README's API)."""
        return self.asgi.runtime

    @property
    def transport(self) -> Any:
        """The httpx transport that calls the app (`mockserver.testing.loop_transport.LoopTransport`)."""
        return self.http._transport

    def start(self) -> MockApp:
        self._transport = LoopTransport(self.asgi, client=LOOPBACK_CLIENT).start()
        self.connect(BASE_URL, http=httpx.Client(transport=self._transport, base_url=BASE_URL))
        return self

    def stop(self) -> None:
        if self._transport is not None:
            self.disconnect()
            self._transport.close()
            self._transport = None
        self._http = None

    def __enter__(self) -> MockApp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.asgi.runtime.store.close()
