"""Running the mock server: `serve()` for the CLI, `MockServer` for tests.

`serve()` binds the listening socket itself (so `--port 0` works and the
banner shows the real port), prepares the state file once, then hands the
socket to uvicorn: in this process for one worker, or to a uvicorn
supervisor that starts the workers, each of which gets the same `Settings`
object (not through the environment) and shares the SQLite file.

The supervisor forks its workers rather than spawning them (uvicorn's way): a
spawned worker is a new interpreter that imports Connexion and the rest again,
about 0.5 s of CPU each; a forked one inherits the supervisor's modules and
starts serving at once. It forks only while it runs a single thread (it then
does), and spawns otherwise.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, TextIO

from mockserver.client import ControlClient
from mockserver.documents import Documents, load_documents
from mockserver.errors import StartupError
from mockserver.fixtures import Fixtures
from mockserver.middleware import CONTROL_PREFIX
from mockserver.protocol import http_protocol
from mockserver.service import Service
from mockserver.settings import Settings
from mockserver.store import POSTGRES_SCHEMES, redact

LISTENING = re.compile(r"mockserver listening on (http://\S+)")


MAX_PORT = 65535
TEMPORARY = "a temporary file the workers share, removed at exit"


def check_settings(settings: Settings) -> None:
    """Refuse settings that cannot work together, before anything is opened."""
    if settings.workers < 1:
        raise StartupError("--workers must be at least 1")
    if not 0 <= settings.port <= MAX_PORT:
        raise StartupError(f"--port must be between 0 and {MAX_PORT}, not {settings.port}")


def state_described(settings: Settings) -> str:
    """Where the state lives, for the banner: a user should never wonder what was written where."""
    if settings.state == ":memory:":
        return "in memory (nothing written; --state FILE keeps requests across restarts)"
    if settings.state.startswith(POSTGRES_SCHEMES):
        return f"{redact(settings.state)} (PostgreSQL, shared by every instance using it)"
    return f"{settings.state} (SQLite, kept across restarts)"


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def banner(settings: Settings, base_url: str, documents: Documents, fixtures: Fixtures, *,
           temporary: bool = False) -> str:
    app = fixtures.default_app()
    sample = fixtures.requests[0].request_id if fixtures.requests else "<requestId>"
    token_cmd = f"{_own_command()} token" + (f" --fixtures {settings.fixtures}" if settings.fixtures else "")
    vocabulary = documents.vocabulary
    status_url = base_url + vocabulary.status[0].url_path(**{vocabulary.link.parameter: sample})
    return "\n".join(
        [
            f"mockserver listening on {base_url}",
            f"  default app: {app.client_id} ({app.name}, account {app.account_id})",
            f"  state: {TEMPORARY if temporary else state_described(settings)}",
            f"  clock: {settings.clock} (tokens judged by the {settings.token_clock} clock)"
            f"   workers: {settings.workers}",
            f"  contract: {base_url}/openapi.json   docs: {base_url}/ui/",
            f"  control API: {base_url}{CONTROL_PREFIX}/   (apps: mockserver apps)",
            f"  try: curl -s {status_url} -H \"{vocabulary.auth_header}: $({token_cmd})\"",
        ]
    )


def _own_command() -> str:
    """How the user can call `mockserver` again: its name when it is on PATH,
    else the script beside this interpreter (e.g. `.venv/bin/mockserver`)."""
    if shutil.which("mockserver"):
        return "mockserver"
    script = Path(sys.executable).parent / "mockserver"
    if script.exists():
        try:
            return str(script.relative_to(Path.cwd()))
        except ValueError:
            return str(script)
    return f"{sys.executable} -m mockserver"


def serve(settings: Settings, out: TextIO = sys.stdout) -> None:
    """Run until interrupted. Raises `StartupError`, `SpecError` or `FixturesError`
    for settings, a contract or fixtures that cannot be served."""
    check_settings(settings)
    shared = None
    if settings.workers > 1 and settings.state == ":memory:":
        # Workers share their state through a file: a temporary one, removed at exit.
        shared = tempfile.TemporaryDirectory(prefix="mockserver-")
        settings = settings.with_overrides(state=str(Path(shared.name) / "state.db"))
    try:
        _serve(settings, out, shared is not None)
    finally:
        if shared is not None:
            shared.cleanup()


def _serve(settings: Settings, out: TextIO, temporary: bool) -> None:
    import uvicorn

    from mockserver.app import create_app, worker_app

    documents = load_documents(settings.spec)
    # Validates the contract and fixtures, and prepares the state file once,
    # before any worker starts.
    prepared = Service.open(settings, documents)
    fixtures = prepared.fixtures
    sock = bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    settings = settings.with_overrides(port=port)
    print(banner(settings, f"http://{shown_host}:{port}", documents, fixtures, temporary=temporary), file=out,
          flush=True)
    # One worker serves the service prepared above; several get the settings
    # (a picklable dataclass) and open the state file in their own process.
    if settings.workers == 1:
        app = functools.partial(create_app, settings, documents=documents, service=prepared, freeze_heap=True)
    else:
        prepared.store.close()
        app = functools.partial(worker_app, settings)
    config = uvicorn.Config(
        app,
        factory=True,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=settings.log_level == "debug",
        fd=sock.fileno(),
        lifespan="on",
        timeout_graceful_shutdown=5,
        # Clients talk to the mock directly: no proxy is trusted to name them
        # (the control API's loopback check must see the real peer).
        proxy_headers=False,
        server_header=False,
        # The HTTP layer answers malformed requests with the contract's error
        # body and cuts off slow clients (mockserver.protocol); no WebSocket.
        http=http_protocol(settings),
        ws="none",
    )
    server = uvicorn.Server(config)
    if settings.workers == 1:
        server.run(sockets=[sock])
    else:
        from uvicorn.supervisors import Multiprocess, multiprocess

        multiprocess.get_subprocess = forked_worker
        Multiprocess(config, sockets=[sock]).run()


def forked_worker(config: Any, target: Any, sockets: list[socket.socket]) -> Any:
    """A uvicorn worker process, forked from the supervisor (see the module's
    docstring); spawned, as uvicorn does, if the supervisor runs other threads."""
    import multiprocessing

    from uvicorn._subprocess import get_subprocess, subprocess_started
    from uvicorn.supervisors.multiprocess import SIGNALS

    if threading.active_count() > 1:  # a fork would copy locks other threads may hold
        return get_subprocess(config, target, sockets)

    def started() -> None:
        # The supervisor's signal handlers only queue signals for its own loop.
        for number in SIGNALS:
            signal.signal(number, signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL)
        subprocess_started(config=config, target=target, sockets=sockets, stdin_fileno=None)

    return multiprocessing.get_context("fork").Process(target=started)


class MockServer(ControlClient):
    """A real `mockserver run` process on a free loopback port, for tests.

    >>> with MockServer(clock="manual") as server:
    ...     token = server.token()
    ...     server.advance(5)

    Its control methods (`token`, `advance`, `inject`, `journal`, ...) are
    `ControlClient`'s; `MockApp` offers the same without a process.
    """

    def __init__(
        self,
        *,
        fixtures: str | os.PathLike[str] | None = None,
        state: str | os.PathLike[str] | None = None,
        clock: str = "manual",
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
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> MockServer:
        """Start the process and wait until it answers. Raises `StartupError`."""
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "run", *self.args],
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
            match = LISTENING.search(line)
            if match:
                base_url = match.group(1)
                break
        if not base_url:
            self.stop()
            raise StartupError("mockserver did not start:\n" + "".join(output))
        self.connect(base_url)
        # Keep draining output so the child never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
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
        self.process = None

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
