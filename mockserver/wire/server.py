"""Running the mock server: `serve()` for the CLI, `MockServer` for tests.

`serve()` binds the listening socket itself (so `--port 0` works and the
banner shows the real port), prepares the state file once, then hands the
socket to uvicorn: in this process for one worker, or to a uvicorn
supervisor that starts the workers, each of which gets the same `Settings`
object (not through the environment) and shares the SQLite file.

The supervisor forks its workers rather than spawning them (uvicorn's way): a
spawned worker is a new interpreter that imports Connexion and the rest again;
a forked one inherits the supervisor's modules and
starts serving at once. It forks only while it runs a single thread (it then
does), and spawns otherwise.
"""

from __future__ import annotations

import functools
import logging
import re
import shutil
import signal
import socket
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, TextIO

from mockserver.app.front_door import CONTROL_PREFIX
from mockserver.common.openapi_documents import Documents, load_documents
from mockserver.common.scrubbing import scrub
from mockserver.errors import StartupError
from mockserver.settings import LogLevel, Settings
from mockserver.state.location import POSTGRES_SCHEMES, redact
from mockserver.vendor.fixtures import Fixtures
from mockserver.vendor.runtime import Runtime
from mockserver.wire.http11 import http_protocol

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

    from mockserver.app.build import create_app, worker_app

    documents = load_documents(settings.spec)
    # Validates the contract and fixtures, and prepares the state file once,
    # before any worker starts.
    prepared = Runtime.open(settings, documents)
    fixtures = prepared.fixtures
    sock = bind(settings.host, settings.port)
    host, port = sock.getsockname()[:2]
    shown_host = f"[{host}]" if ":" in host else host
    settings = settings.with_overrides(port=port)
    print(banner(settings, f"http://{shown_host}:{port}", documents, fixtures, temporary=temporary), file=out,
          flush=True)
    # One worker serves the runtime prepared above; several get the settings
    # (a picklable dataclass) and open the state file in their own process.
    if settings.workers == 1:
        app = functools.partial(create_app, settings, documents=documents, runtime=prepared, freeze_heap=True)
    else:
        prepared.store.close()
        app = functools.partial(worker_app, settings)
    config = uvicorn.Config(
        app,
        factory=True,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=settings.log_level == LogLevel.DEBUG,
        fd=sock.fileno(),
        lifespan="on",
        timeout_graceful_shutdown=5,
        # Clients talk to the mock directly: no proxy is trusted to name them
        # (the control API's loopback check must see the real peer).
        proxy_headers=False,
        server_header=False,
        # The HTTP layer answers malformed requests with the contract's error
        # body and cuts off slow clients (mockserver.wire.http11); no WebSocket.
        http=http_protocol(settings),
        ws="none",
    )
    logging.getLogger("uvicorn.access").addFilter(AccessLogScrubber(prepared.known_secrets()))
    server = uvicorn.Server(config)
    if settings.workers == 1:
        server.run(sockets=[sock])
    else:
        from uvicorn.supervisors import Multiprocess, multiprocess

        multiprocess.get_subprocess = forked_worker
        Multiprocess(config, sockets=[sock]).run()


class AccessLogScrubber(logging.Filter):
    """Keeps credentials out of uvicorn's access log (`--log-level debug`): the request
    line it prints passes through the journal's policy (`mockserver.common.scrubbing`)."""

    def __init__(self, secrets: tuple[str, ...]):
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(scrub(arg, self.secrets) if isinstance(arg, str) else arg for arg in record.args)
        return True


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
