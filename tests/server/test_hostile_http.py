"""The mock under hostile input at the HTTP layer (issue 10): a real `mockserver
run` process and raw sockets, for what never reaches the ASGI app in this
process: malformed HTTP, slow clients, chunked framing, `--host ::`."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from mockserver import MockServer
from tests.support import CREATE, PRELOADED, STATUS, assert_matches

#: One worker runs this module: its module-scoped fixture is built once, not once per worker.
pytestmark = pytest.mark.xdist_group("hostile-http")

TIMEOUTS = ["--header-timeout", "0.5", "--body-timeout", "0.5"]


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer(extra_args=TIMEOUTS) as running:
        yield running


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after answering

    def json(self) -> object:
        return json.loads(self.body)


def connect(server: MockServer, wait: float = 15.0) -> socket.socket:
    host, port = server.base_url.removeprefix("http://").rsplit(":", 1)
    return socket.create_connection((host.strip("[]"), int(port)), timeout=wait)


def read_answer(sock: socket.socket) -> Answer:
    """One answer from `sock` (closed: the server closed the connection before or right after it)."""
    received, closed = b"", False
    while b"\r\n\r\n" not in received:
        chunk = sock.recv(65536)
        if not chunk:
            closed = True
            break
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict((k.lower(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:]))
    while len(body) < int(headers.get("content-length", "0")) and not closed:
        chunk = sock.recv(65536)
        closed = not chunk
        body += chunk
    return Answer(int(lines[0].split()[1]) if lines[0] else 0, headers, body, closed)


def exchange(server: MockServer, *parts: bytes, wait: float = 15.0, until_closed: bool = True) -> Answer:
    """Send raw bytes on a fresh connection; read one answer, and whether the server then closes
    (`until_closed=False`: not waited for; a kept-alive connection stays open seconds)."""
    with connect(server, wait) as sock:
        for part in parts:
            try:
                sock.sendall(part)
            except OSError:  # the server may refuse and close before reading everything
                break
        answer = read_answer(sock)
        if until_closed and not answer.closed:
            try:
                answer.closed = sock.recv(1) == b""
            except (TimeoutError, ConnectionResetError):
                pass
    return answer


def assert_contract_error(answer: Answer, status: int) -> None:
    assert answer.status == status, answer
    assert answer.headers["content-type"] == "application/json", answer
    assert_matches("Error", answer.json())
    assert answer.json()["errors"][0]["code"] == status  # type: ignore[index]


def request(method: bytes, target: bytes, *headers: bytes, body: bytes = b"") -> bytes:
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: mock.test", *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


# -- 2. chunked bodies, over the wire --------------------------------------------------------------


def test_a_chunked_create_is_accepted_over_the_wire(server: MockServer) -> None:
    body = b'{"userIds": ["a"]}'
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    raw = request(b"DELETE", CREATE.encode(), b"auth: " + server.token().encode(),
                  b"Content-Type: application/json", b"Transfer-Encoding: chunked", body=chunked)
    answer = exchange(server, raw, until_closed=False)
    assert answer.status == 200, answer


# -- 6. malformed HTTP gets the contract's error body -------------------------------------------------

GOOD_HEADERS = (b"Content-Type: application/json",)
MALFORMED = {
    "bad content-length": (request(b"DELETE", CREATE.encode(), b"Content-Length: abc"), 400),
    "negative content-length": (request(b"DELETE", CREATE.encode(), b"Content-Length: -1"), 400),
    "two different content-lengths": (request(b"DELETE", CREATE.encode(), b"Content-Length: 2",
                                              b"Content-Length: 3", body=b"{}"), 400),
    "two equal content-lengths": (request(b"DELETE", CREATE.encode(), b"Content-Length: 2",
                                          b"Content-Length: 2", body=b"{}"), 400),
    "chunked and content-length": (request(b"DELETE", CREATE.encode(), b"Content-Length: 5",
                                           b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"), 400),
    "bad chunk size": (request(b"DELETE", CREATE.encode(), b"Transfer-Encoding: chunked",
                               body=b"zz\r\n{}\r\n0\r\n\r\n"), 400),
    "unknown transfer-encoding": (request(b"DELETE", CREATE.encode(), b"Transfer-Encoding: gzip"), 400),
    "unknown method": (request(b"FROB", CREATE.encode()), 400),
    "lower-case method": (request(b"get", STATUS.format(PRELOADED).encode()), 400),
    "raw non-ASCII path": (request(b"GET", "/api/public/bot/é".encode()), 400),
    "bad HTTP version": (b"GET / HTTP/1.x\r\nHost: mock.test\r\n\r\n", 400),
    "CONNECT to an authority": (request(b"CONNECT", b"mock.test:443"), 400),
    "absolute URL to a proxy": (request(b"GET", b"http://[::1"), 400),
    "space in a header name": (request(b"GET", b"/", b"Bad Header: x"), 400),
    "NUL in a header value": (request(b"GET", b"/", b"X-Thing: a\x00b"), 400),
    "not HTTP at all": (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", 400),
    "100 KB URL": (request(b"GET", b"/" + b"a" * 100_000), 414),
    "9 KB URL": (request(b"GET", STATUS.format("a" * 9_000).encode()), 414),
    "200 KB header": (request(b"GET", b"/", b"X-Big: " + b"a" * 200_000), 431),
    "5000 headers": (request(b"GET", b"/", *(b"X-%d: a" % i for i in range(5000))), 431),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_http_gets_the_contract_error_body(server: MockServer, case: str) -> None:
    raw, expected = MALFORMED[case]
    answer = exchange(server, raw)
    assert_contract_error(answer, expected)
    assert answer.closed, "a malformed request ends its connection"


def test_the_server_still_answers_after_malformed_requests(server: MockServer) -> None:
    for raw, _ in MALFORMED.values():
        exchange(server, raw)
    assert server.http.get(STATUS.format(PRELOADED), headers={"auth": server.token()}).status_code == 200


# -- 7. slow clients are cut off -------------------------------------------------------------------


def test_partial_headers_time_out_with_408(server: MockServer) -> None:
    answer = exchange(server, b"GET / HTTP/1.1\r\nHost: mock.test\r\nX-Slow: ")
    assert_contract_error(answer, 408)
    assert answer.closed


def test_a_silent_connection_is_closed(server: MockServer) -> None:
    answer = exchange(server)  # connect, say nothing
    assert answer.closed and answer.status in (0, 408)


def test_a_body_shorter_than_its_content_length_times_out_with_408(server: MockServer) -> None:
    raw = request(b"DELETE", CREATE.encode(), b"auth: " + server.token().encode(), *GOOD_HEADERS,
                  b"Content-Length: 100", body=b'{"userIds": [')
    answer = exchange(server, raw)
    assert_contract_error(answer, 408)
    assert answer.closed
    assert server.journal()[-1]["status"] == 408


def test_an_unread_body_does_not_hold_the_connection(server: MockServer) -> None:
    raw = request(b"GET", STATUS.format(PRELOADED).encode(), b"auth: " + server.token().encode(),
                  b"Content-Length: 1000000", body=b"x")
    answer = exchange(server, raw)
    assert answer.status == 200 and answer.closed


def test_a_body_that_arrives_after_an_early_answer_keeps_the_connection_usable(server: MockServer) -> None:
    read = request(b"GET", STATUS.format(PRELOADED).encode(), b"auth: " + server.token().encode())
    with connect(server) as sock:
        sock.sendall(read.replace(b"\r\n\r\n", b"\r\nContent-Length: 5\r\n\r\n"))
        first = read_answer(sock)
        sock.sendall(b"12345" + read)  # the body the answer did not wait for, then the next request
        second = read_answer(sock)
    assert (first.status, second.status) == (200, 200), (first, second)


def test_a_trickled_body_cannot_outlive_the_body_timeout(server: MockServer) -> None:
    raw = request(b"DELETE", CREATE.encode(), b"auth: " + server.token().encode(), *GOOD_HEADERS,
                  b"Content-Length: 1000")
    with connect(server) as sock:
        sock.sendall(raw)
        sock.settimeout(0.05)
        for _ in range(400):  # a byte at a time, each well within any idle timeout
            try:
                sock.sendall(b" ")
                if sock.recv(1, socket.MSG_PEEK):
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        sock.settimeout(15)
        answer = read_answer(sock)
    assert_contract_error(answer, 408)


# -- 8. --host :: --------------------------------------------------------------------------------------


def test_ipv4_loopback_clients_of_a_dual_stack_server_reach_the_control_api() -> None:
    with MockServer(extra_args=["--host", "::"]) as dual:
        port = dual.base_url.rsplit(":", 1)[1]
        for host in ("127.0.0.1", "[::1]"):
            response = httpx.get(f"http://{host}:{port}/__mockserver/health", timeout=10, trust_env=False)
            assert response.status_code == 200, (host, response.text)
