"""`MockServer`: a real `mockserver run` process on a free loopback port, for
integration tests, driven through its control API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from mockserver.errors import StartupError
from mockserver.settings import Clock
from mockserver.testing.control_client import ControlClient
from mockserver.wire.server import LISTENING


class MockServer(ControlClient):
    """A real `mockserver run` process on a free loopback port, for tests.

    >>> with MockServer(clock="manual") as server:
    ...     token = server.token()
    ...     server.advance(5)

    Its control methods (`token`, `advance`, `inject`, `journal`, ...) are
    `ControlClient`'s; `MockApp` offers the same without a process.
    """

    #: The `mockserver` command started, and the banner line that gives the URL.
    _command = "run"
    _listening = LISTENING

    def __init__(
        self,
        *,
        fixtures: str | os.PathLike[str] | None = None,
        state: str | os.PathLike[str] | None = None,
        clock: str = Clock.MANUAL.value,
        workers: int = 1,
        progress_delay: float | None = None,
        extra_args: list[str] | None = None,
        startup_timeout: float = 30.0,
    ):
        super().__init__(fixtures_path=str(fixtures) if fixtures else None)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mockserver-")
            state = Path(self._tmp.name) / "state.db"
        self.state = str(state)
        self.args = ["--host", "127.0.0.1", "--port", "0", "--state", self.state]
        self.args += ["--clock", clock, "--workers", str(workers), "--log-level", "warning"]
        if fixtures:
            self.args += ["--fixtures", str(fixtures)]
        if progress_delay is not None:
            self.args += ["--progress-delay", str(progress_delay)]
        self.args += extra_args or []
        if "--admin-token" in self.args[:-1]:  # the control calls carry the token the mock was given
            self.admin_token = self.args[self.args.index("--admin-token") + 1]
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> MockServer:
        """Start the process and wait until it answers. Raises `StartupError`."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mockserver", self._command, *self.args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            # Its own process group: stop() and kill() reach every worker too.
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_timeout
        assert self.process.stdout is not None
        self.output = output = []
        base_url = ""
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            output.append(line)
            match = self._listening.search(line)
            if match:
                base_url = match.group(1)
                break
        if not base_url:
            self.stop()
            raise StartupError(f"mockserver {self._command} did not start:\n" + "".join(output))
        self.connect(base_url)
        # Keep draining output so the child never blocks on a full pipe.
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        while time.monotonic() < deadline:
            if self.ready():
                return self
            time.sleep(0.05)
        self.stop()
        raise StartupError(f"mockserver at {self.base_url} did not answer in time:\n" + "".join(self.output))

    def _drain(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def stop(self, *, kill: bool = False) -> None:
        """Stop the process we started: SIGTERM (or SIGKILL with `kill=True`)."""
        self.disconnect()
        if self.process is not None:
            if kill:
                self._signal(signal.SIGKILL)
            else:
                # The server alone: a supervisor stops its workers itself. SIGTERM to the
                # whole group at once could find it pinging a worker that is already
                # shutting down, and waiting out the ping's 5 s before it notices.
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait(timeout=15)
            self._signal(signal.SIGKILL)  # whatever of the group outlived the server
            self._close_output()
        self.process = None

    def _close_output(self) -> None:
        """The output pipe, read to its end by the drain thread, then closed."""
        assert self.process is not None
        drainer = getattr(self, "_drainer", None)
        if drainer is not None:
            drainer.join(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def _signal(self, sig: int) -> None:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self) -> None:
        """`kill -9` the server, as a crash would."""
        self.stop(kill=True)

    def restart(self) -> MockServer:
        """Stop and start again on a new port, with the same state file."""
        self.stop()
        return self.start()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
