"""The runner's cost is bounded whatever the target does: hostile HTTP servers on loopback
(real sockets) answer 64 MiB bodies, a gzip bomb, and a body trickling a byte at a time;
the runner's memory stays flat and `--timeout` bounds the whole exchange."""

from __future__ import annotations

import os
import socketserver
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from contracts.core.errors import UnreachableError
from contracts.execution.transport import Transport
from tests.support import credential_args

MIB = 1024 * 1024
LIMIT = 1 * MIB


def _gzip_bomb(size: int) -> bytes:
    """`size` zero bytes, gzipped (about a thousandth of `size`), made without holding them."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MIB)
    return b"".join(compressor.compress(block) for _ in range(size // MIB)) + compressor.flush()


class _Hostile(socketserver.BaseRequestHandler):
    """Answers every request the way the server's `mode` says."""

    def handle(self) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            data += chunk
        try:
            getattr(self, "_" + self.server.mode)()  # type: ignore[attr-defined]
        except OSError:  # the runner hung up: what it should do
            pass

    def _huge(self) -> None:
        self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n" % (64 * MIB))
        block = b"[" + b"1," * (MIB // 2 - 1) + b"1"
        for _ in range(64):
            self.request.sendall(block[:MIB])

    def _bomb(self) -> None:
        body = self.server.bomb  # type: ignore[attr-defined]
        self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def _trickle(self) -> None:
        self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
        for _ in range(100):
            self.request.sendall(b" ")
            time.sleep(0.2)


@contextmanager
def hostile(mode: str) -> Iterator[str]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Hostile)
    server.daemon_threads = True
    server.mode, server.bomb = mode, _gzip_bomb(128 * MIB) if mode == "bomb" else b""  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("mode", "answers"), [("huge", 29), ("bomb", 25)])
def test_memory_stays_flat_while_the_target_answers_too_much(mode: str, answers: int) -> None:
    with hostile(mode) as url:
        transport = Transport(url, timeout=30, max_retry_after=0, max_response_bytes=LIMIT)
        tracemalloc.start()
        try:
            cuts = [transport.send("GET", "/", headers=dict).cut for _ in range(answers)]
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            transport.close()
    assert cuts == [True] * answers
    assert peak < 4 * LIMIT, f"{peak / MIB:.1f} MiB at the peak"


def test_the_timeout_bounds_the_whole_exchange_not_each_read() -> None:
    with hostile("trickle") as url:
        transport = Transport(url, timeout=1, max_retry_after=0)
        started = time.monotonic()
        with pytest.raises(UnreachableError, match="did not answer within 1 s"):
            transport.send("GET", "/", headers=dict)
        transport.close()
    assert time.monotonic() - started < 10  # the body alone takes 20 s to trickle in


def test_contracts_run_against_a_gzip_bomb_keeps_its_memory_flat(tmp_path: Path) -> None:
    with hostile("bomb") as url:
        process = subprocess.Popen([sys.executable, "-m", "contracts.cli", "run", "--base-url", url,
                                    *credential_args(), "--target-kind", "local", "--max-examples", "3"],
                                   stdout=subprocess.DEVNULL, stderr=(tmp_path / "err").open("w"))
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak memory
    errors = (tmp_path / "err").read_text()
    assert "Traceback" not in errors and os.waitstatus_to_exitcode(status) in (1, 2, 3), errors
    assert usage.ru_maxrss * 1024 < 512 * MIB, f"{usage.ru_maxrss // 1024} MiB"
