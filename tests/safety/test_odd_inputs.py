"""Every odd input gets one line and exit 2 (configuration) or 3 (target), never a
traceback (exit 1 means FAILED): real `contracts` processes against small HTTP
servers on loopback that answer oddly."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.support import credential_args


@contextmanager
def answering(status: int, body: bytes, headers: dict[str, str] | None = None) -> Iterator[str]:
    """A server on loopback that answers every request with `status`, `headers` and `body`."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def contracts(*args: str) -> tuple[int, str]:
    result = subprocess.run([sys.executable, "-m", "contracts.cli", *args], capture_output=True, text=True,
                            timeout=300)
    return result.returncode, result.stdout + result.stderr


def assert_one_line(code: int, output: str) -> None:
    assert code in (2, 3) and "Traceback" not in output, output
    assert output.strip().count("\n") == 0, output


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "soon", "1e999", "Wed, 99 Foo 2020 00:00:00 GMT", ""])
def test_a_429_with_an_odd_retry_after_is_an_answer_not_a_crash(value: str) -> None:
    body = b'{"errors": [{"msg": "slow down", "code": 429}]}'
    with answering(429, body, {"Retry-After": value}) as url:
        code, output = contracts("run", "--base-url", url, *credential_args(), "--target-kind", "local",
                                 "--suite", "conformance", "--max-examples", "2", "--timeout", "5")
    assert "Traceback" not in output and code in (1, 2, 3), output


def test_a_base_url_whose_host_is_no_valid_idna_name() -> None:
    code, output = contracts("run", "--base-url", "https://xn--platform-.kore.ai", *credential_args(), "--dry-run")
    assert_one_line(code, output)
    assert code == 2 and "not a valid domain name" in output


@pytest.mark.parametrize("apps", [b"[]", b'{"contractApps": []}', b'{"contractApps": {"app": {"clientId": "x"}}}',
                                  b"not json", b'{"contractApps": {"app": "x"}}', b"null"])
def test_diff_with_a_reference_whose_apps_are_odd(apps: bytes) -> None:
    with answering(200, apps) as reference:
        code, output = contracts("diff", "--base-url", reference, "--reference-url", reference, *credential_args(),
                                 "--target-kind", "local", "--max-examples", "2")
    assert_one_line(code, output)
    assert "--reference-client-id" in output
