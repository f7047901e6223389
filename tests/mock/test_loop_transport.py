"""`LoopTransport`, the in-process transport of `MockApp` and of the tests' contract
runs: what an ASGI app sees through it, and what the caller gets back."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from mockserver.testing.loop_transport import LoopTransport


class Recorder:
    """An ASGI app that answers with the scope it saw and the body it read."""

    def __init__(self) -> None:
        self.lifespan: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                self.lifespan.append(message["type"])
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        body = (await receive())["body"]
        if scope["path"] == "/boom":
            raise ValueError("the app failed")
        seen = {k: scope[k] for k in ("method", "path", "query_string", "client", "server", "scheme")}
        seen["raw_path"], seen["query_string"] = scope["raw_path"].decode(), scope["query_string"].decode()
        seen["headers"] = {k.decode(): v.decode() for k, v in scope["headers"]}
        seen["body"] = body.decode()
        payload = json.dumps(seen).encode()
        await send({"type": "http.response.start", "status": 207, "headers": [(b"x-a", b"1"), (b"x-a", b"2")]})
        await send({"type": "http.response.body", "body": payload[:10], "more_body": True})
        await send({"type": "http.response.body", "body": payload[10:]})


def test_the_app_sees_the_request_as_a_server_would_pass_it() -> None:
    app = Recorder()
    with LoopTransport(app, client=("127.0.0.1", 4000)) as transport, \
            httpx.Client(transport=transport, base_url="http://mock.test") as http:
        response = http.post("/a%2Fb/c d?x=1&y=%C3%A9", content=b'{"k": 1}', headers={"auth": "t"})
        seen = response.json()
        assert response.status_code == 207 and response.headers.get_list("x-a") == ["1", "2"]
        assert response.elapsed.total_seconds() >= 0  # read through the client, like a socket's answer
        assert app.lifespan == ["lifespan.startup"]
    assert app.lifespan == ["lifespan.startup", "lifespan.shutdown"]
    assert seen["method"] == "POST" and seen["path"] == "/a/b/c d" and seen["raw_path"] == "/a%2Fb/c%20d"
    assert seen["query_string"] == "x=1&y=%C3%A9" and seen["body"] == '{"k": 1}'
    assert seen["client"] == ["127.0.0.1", 4000] and seen["server"] == ["mock.test", 80]
    assert seen["headers"]["auth"] == "t" and seen["headers"]["host"] == "mock.test"


def test_the_apps_exception_reaches_the_caller_and_the_transport_goes_on() -> None:
    with LoopTransport(Recorder()) as transport, httpx.Client(transport=transport, base_url="http://m") as http:
        with pytest.raises(ValueError, match="the app failed"):
            http.get("/boom")
        assert http.get("/fine").status_code == 207


def test_an_app_without_a_lifespan_is_served() -> None:
    async def plain(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http", "no lifespan here"
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with LoopTransport(plain) as transport, httpx.Client(transport=transport, base_url="http://m") as http:
        assert http.get("/").status_code == 204


def test_an_app_that_never_answers_is_a_protocol_error() -> None:
    async def silent(scope: dict[str, Any], receive: Any, send: Any) -> None:
        return None

    with LoopTransport(silent) as transport, httpx.Client(transport=transport, base_url="http://m") as http:
        with pytest.raises(httpx.RemoteProtocolError):
            http.get("/")


def test_a_transport_started_again_runs_the_apps_lifespan_again() -> None:
    app = Recorder()
    transport = LoopTransport(app)
    for _ in range(2):
        with transport, httpx.Client(transport=transport, base_url="http://m") as http:
            assert http.get("/again").status_code == 207
    assert app.lifespan == ["lifespan.startup", "lifespan.shutdown"] * 2
