"""Running the mock server: `serve()` for the CLI, `MockServer` for tests.

`serve()` binds the listening socket itself (so `--port 0` works and the
banner shows the real port), prepares the state file once, then hands the
socket to uvicorn: in this process for one worker, or to a uvicorn
supervisor that forks the workers, which build the app from the
`MOCKSERVER_*` environment and share the SQLite state file.
"""

from __future__ import annotations

import json
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
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, TextIO

import uvicorn

from contracts.spec import load_spec
from mockserver.fixtures import App, Fixtures, load_fixtures, parse_fixtures
from mockserver.middleware import CONTROL_PREFIX
from mockserver.service import Service
from mockserver.settings import Settings
from mockserver.tokens import make_token

LISTENING = re.compile(r"mockserver listening on (http://\S+)")
STATUS_PATH = "/api/public/bot/eraseUsersData/status/{reqId}"


class ServerError(Exception):
    """The server cannot start: a bad setting, fixtures or port."""


def check_settings(settings: Settings) -> None:
    """Refuse settings that cannot work together, before anything is opened."""
    if settings.workers < 1:
        raise ServerError("--workers must be at least 1")
    if settings.workers > 1 and settings.state == ":memory:":
        raise ServerError("--state :memory: cannot be shared by several workers; use a file")


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ServerError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def banner(settings: Settings, base_url: str, fixtures: Fixtures) -> str:
    app = fixtures.default_app()
    sample = fixtures.requests[0].request_id if fixtures.requests else "<requestId>"
    token_cmd = f"{_own_command()} token" + (f" --fixtures {settings.fixtures}" if settings.fixtures else "")
    status_url = base_url + STATUS_PATH.format(reqId=sample)
    return "\n".join(
        [
            f"mockserver listening on {base_url}",
            f"  default app: {app.client_id} ({app.name}, account {app.account_id})",
            f"  state: {settings.state}   clock: {settings.clock}   workers: {settings.workers}",
            f"  contract: {base_url}/openapi.json   docs: {base_url}/ui/",
            f"  control API: {base_url}{CONTROL_PREFIX}/   (apps: mockserver apps)",
            f"  try: curl -s {status_url} -H \"auth: $({token_cmd})\"",
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
    """Run until interrupted. Raises `ServerError`, `SpecError` or `FixturesError`
    for settings, a contract or fixtures that cannot be served."""
    check_settings(settings)
    # Validates the contract and fixtures, and prepares the state file once,
    # before any worker starts.
    prepared = Service.open(settings, load_spec(settings.spec))
    prepared.store.close()
    fixtures = prepared.fixtures
    sock = bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    settings = settings.with_overrides(port=port)
    os.environ.update(settings.to_env())
    print(banner(settings, f"http://{shown_host}:{port}", fixtures), file=out, flush=True)
    config = uvicorn.Config(
        "mockserver.app:create_app_from_env",
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
    )
    server = uvicorn.Server(config)
    if settings.workers == 1:
        server.run(sockets=[sock])
    else:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[sock]).run()


class MockServer:
    """A real `mockserver run` process on a free loopback port, for tests.

    >>> with MockServer(clock="manual") as server:
    ...     token = server.token()
    ...     server.advance(5)
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
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mockserver-")
            state = Path(self._tmp.name) / "state.db"
        self.state = str(state)
        self.fixtures_path = str(fixtures) if fixtures else None
        self.args = ["--host", "127.0.0.1", "--port", "0", "--state", self.state]
        self.args += ["--clock", clock, "--workers", str(workers), "--log-level", "warning"]
        if fixtures:
            self.args += ["--fixtures", str(fixtures)]
        if progress_delay is not None:
            self.args += ["--progress-delay", str(progress_delay)]
        self.args += extra_args or []
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[str] | None = None
        self.base_url = ""
        self._fixtures: Fixtures | None = None
        self.output: list[str] = []
        self._replaced_fixtures = False

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> MockServer:
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
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            output.append(line)
            match = LISTENING.search(line)
            if match:
                self.base_url = match.group(1)
                break
        if not self.base_url:
            self.stop()
            raise ServerError("mockserver did not start:\n" + "".join(output))
        # Keep draining output so the child never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()
        while time.monotonic() < deadline:
            try:
                self._control("GET", "/health")
                return self
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.05)
        self.stop()
        raise ServerError(
            f"mockserver at {self.base_url} did not answer in time:\n" + "".join(self.output)
        )

    def _drain(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

    def stop(self, *, kill: bool = False) -> None:
        """Stop the process we started: SIGTERM (or SIGKILL with `kill=True`)."""
        if self.process is not None:
            self._signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._signal(signal.SIGKILL)
                self.process.wait(timeout=15)
            if kill:  # workers of a killed supervisor must not outlive it
                self._signal(signal.SIGKILL)
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
        self.stop()
        self.base_url = ""
        return self.start()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    # -- helpers for tests -----------------------------------------------------------------------

    @property
    def fixtures(self) -> Fixtures:
        if self._fixtures is None:
            self._fixtures = load_fixtures(self.fixtures_path, load_spec())
        return self._fixtures

    def app(self, app: str | None = None) -> App:
        """An app of the fixtures by client id or name (default: the default app)."""
        if app is None:
            return self.fixtures.default_app()
        for candidate in self.fixtures.apps.values():
            if app in (candidate.client_id, candidate.name):
                return candidate
        raise KeyError(f"no app {app!r} in the fixtures")

    def token(self, app: str | None = None, *, expires_in: float | None = 3600, jti: bool = True) -> str:
        """A token signed the vendor's way, valid at the server's clock."""
        now = self.clock()["nowMs"] / 1000
        return make_token(self.app(app), expires_in=expires_in, jti=jti, now=now)

    def clock(self) -> dict[str, Any]:
        return self._control("GET", "/clock")

    def advance(self, seconds: float) -> dict[str, Any]:
        return self._control("POST", "/clock/advance", {"seconds": seconds})

    def stored(self, request_id: str) -> dict[str, Any]:
        """The stored form of an erase request (bots covered, due times), any account."""
        return self._control("GET", f"/requests/{request_id}")

    def journal(self, since: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        return self._control("GET", f"/journal?since={since}&limit={limit}")["entries"]

    def inject(self, kind: str = "status", **fault: Any) -> dict[str, Any]:
        """Inject a fault: `inject("status", status=429, retryAfter=3, count=1)`,
        `inject("latency", latencyMs=200)`, `inject("drop", fraction=0.5)`."""
        return self._control("POST", "/faults", {"kind": kind, **fault})

    def clear_faults(self) -> None:
        self._control("DELETE", "/faults")

    def reset(self) -> dict[str, Any]:
        """Back to the fixtures the server started with (also after `load_fixtures`)."""
        if self._replaced_fixtures:
            self._replaced_fixtures = False
            self._fixtures = None
            return self._control("PUT", "/fixtures", self.fixtures.document)
        return self._control("POST", "/reset")

    def load_fixtures(self, document: dict[str, Any]) -> dict[str, Any]:
        """Replace the fixtures (and reset); `reset()` brings the original ones back."""
        result = self._control("PUT", "/fixtures", document)
        self._replaced_fixtures = True
        self._fixtures = parse_fixtures(document, load_spec())
        return result

    def _control(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base_url + CONTROL_PREFIX + path,
            data=data,
            method=method,
            headers={"content-type": "application/json"} if data else {},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            payload = response.read()
        return json.loads(payload) if payload else None
