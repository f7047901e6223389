"""A real PostgreSQL server for the tests, started by the tests themselves.

Why `pgserver`: the wheel ships PostgreSQL 16's binaries (initdb, pg_ctl,
postgres), so `pip install -e '.[test]'`, the README's test command and
`.ci/run` need nothing else: no Debian package, no service started by hand,
no network port (it listens on a unix socket in its data directory only).
Debian's `postgresql` package would need `apt-get` in `.ci/run` and a
cluster set up as the postgres user; a container runtime is not available.

Each pytest worker starts its own server (about 1.5 s the first time: initdb)
and hands every test that wants one a fresh database. `stop()` and `start()`
take the server down and up again (pg_ctl, fast shutdown), for outage tests.

The tests' server runs with `fsync=off`: a test never crashes the machine,
only processes, and PostgreSQL's own commit order is what the tests prove; the
flushes only cost time (each `CREATE DATABASE` copies a template, and the
shutdown checkpoint fsyncs all of them: about 10 s per pytest worker). The
benchmark keeps `fsync=on` (`Postgres(durable=True)`), as a deployment would.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import psycopg


class Postgres:
    def __init__(self, *, durable: bool = False) -> None:
        # Not under pytest's tmp_path: the server runs as another user (pgserver, when
        # root runs the tests) that must traverse the directories above its data, and
        # pytest makes /tmp/pytest-of-<user> private again whenever a session starts.
        self.directory = Path(tempfile.mkdtemp(prefix="mockserver-pg-"))
        with warnings.catch_warnings():  # platformdirs: no XDG_RUNTIME_DIR in CI
            warnings.simplefilter("ignore")
            import pgserver

            self.server: Any = pgserver.get_server(self.directory / "data", cleanup_mode="stop")
        self._names = itertools.count(1)
        if not durable:
            with psycopg.connect(self.server.get_uri(), autocommit=True) as admin:
                admin.execute("ALTER SYSTEM SET fsync = off")
                admin.execute("ALTER SYSTEM SET full_page_writes = off")
                admin.execute("SELECT pg_reload_conf()")

    def database(self) -> str:
        """The URL of a new, empty database."""
        name = f"mock_{next(self._names)}"
        with psycopg.connect(self.server.get_uri(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return str(self.server.get_uri(database=name))

    def stop(self) -> None:
        """Shut the server down (fast: open connections are cut)."""
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        """Start it again, on the same socket."""
        self.server.ensure_postgres_running()

    def close(self) -> None:
        """Stop the server and delete its data."""
        self.server.cleanup()
        shutil.rmtree(self.directory, ignore_errors=True)
