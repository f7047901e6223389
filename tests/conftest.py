"""Shared fixtures: the contract as the toolkit loads it, the mock in this
process (`MockApp`), reset before each test that uses it, and a PostgreSQL
server for the tests of the shared state (marked `both_backends`: they run
once per backend)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from contracts.core.spec import Spec, load_spec
from tests.browser import chromium  # noqa: F401 - a session fixture: one browser per pytest worker

if TYPE_CHECKING:  # imported by the fixtures: the pytest-xdist controller loads this file too, before its workers
    from mockserver.testing.mock_app import MockApp
    from tests.postgres import Postgres

ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("sqlite", "postgresql")

# Machines where PYTHONDONTWRITEBYTECODE is set (this project's CI image is one) would
# make every process the suite starts (pytest workers, mock servers, the CLIs, pytest
# inside a test) compile the toolkit from source again, and pytest rewrite the asserts
# of schemathesis's 400-odd modules again. The cached bytecode changes nothing a test
# checks; it only stops paying for the same compilation a few hundred times.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
sys.dont_write_bytecode = False


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (pyproject.toml): one pytest worker more than this machine has cores.
    About a tenth of the suite waits (servers starting and stopping, timeouts, a real
    clock), and a worker waiting leaves its core idle; a third worker on 2 cores fills
    that: 82.6 and 84.1 s against 91.2 and 90.9 s with two (alternating runs), where a
    fourth made it slower (100.9 s)."""
    return len(os.sched_getaffinity(0)) + 1


@pytest.fixture(scope="session")
def spec() -> Spec:
    return load_spec(ROOT / "openapi.yaml")


@pytest.fixture(scope="session")
def mock_session() -> Iterator[MockApp]:
    from mockserver.testing.mock_app import MockApp

    with MockApp(clock="manual") as app:
        yield app


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server of this pytest worker (see tests/postgres.py)."""
    from tests.postgres import Postgres

    server = Postgres()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def pg_mock_session(postgres: Postgres) -> Iterator[MockApp]:
    from mockserver.testing.mock_app import MockApp

    with MockApp(clock="manual", state=postgres.database()) as app:
        yield app


@pytest.fixture
def backend() -> str:
    """The state backend of `mock`: SQLite, unless a test is marked `both_backends`."""
    return "sqlite"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("backend", BACKENDS)


@pytest.fixture
def mock(request: pytest.FixtureRequest, backend: str) -> MockApp:
    """The mock's ASGI app in this process on the manual clock, back to its fixtures;
    its state in SQLite, or in PostgreSQL too for tests marked `both_backends`."""
    session: MockApp = request.getfixturevalue("mock_session" if backend == "sqlite" else "pg_mock_session")
    session.reset()
    return session


@pytest.fixture
def state_location(request: pytest.FixtureRequest, backend: str, tmp_path: Path) -> str:
    """A new, empty state of the backend under test: a SQLite file or a PostgreSQL database."""
    if backend == "sqlite":
        return str(tmp_path / "state.db")
    postgres: Postgres = request.getfixturevalue("postgres")
    return postgres.database()


@pytest.fixture(autouse=True)
def _one_worker_per_xdist_group(request: pytest.FixtureRequest, worker_id: str,
                                tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests marked `xdist_group` share module fixtures (servers, generated clients) that
    are built once only if one pytest worker runs the whole group. pytest-xdist's
    `--dist loadgroup` stopped grouping with pytest 9.2, silently (pytest-xdist#1386):
    every such fixture was then built on both workers. This fails the group's tests then."""
    # The group's name as pytest-xdist makes it: every xdist_group mark of the test, joined.
    names = {str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
             for mark in request.node.iter_markers("xdist_group")}
    if not names or worker_id == "master":
        return
    name = "_".join(sorted(names))
    claim = tmp_path_factory.getbasetemp().parent / f"xdist-group-{name}"
    try:
        with claim.open("x") as out:
            out.write(worker_id)
    except FileExistsError:
        owner = claim.read_text()
        if owner and owner != worker_id:
            pytest.fail(f"xdist group {name!r} ran on {owner} and {worker_id}: --dist loadgroup is not grouping"
                        " (pytest-xdist#1386; see the pytest pin in pyproject.toml)")


#: Test modules that start processes (mock servers, the CLIs, npm tools, schemathesis's CLI)
#: or run the contract runner end to end: marked `slow`, left out of the fast command.
SLOW_MODULES = {
    "tests/mock/test_schemathesis_cli.py", "tests/mock/test_status_cache.py", "tests/mock/test_inspector_ui.py",
    "tests/state/test_durability.py", "tests/state/test_shared_state.py",
    "tests/server/test_cli.py", "tests/server/test_hostile_http.py", "tests/server/test_user_session.py",
    "tests/server/test_credentials_kept_out.py", "tests/server/test_control_gate.py",
    "tests/server/test_platform_answers.py",
    "tests/clients/test_clients_doc.py", "tests/clients/test_typescript.py",
    "tests/project/test_docs.py",
    "tests/runner/test_run.py", "tests/runner/test_plan.py", "tests/safety/test_safety.py",
    "tests/runner/test_staging.py", "tests/runner/test_pytest_plugin.py", "tests/runner/test_diff.py",
    "tests/runner/test_report_browser.py", "tests/runner/test_verify.py", "tests/runner/test_reports_agree.py",
    "tests/runner/test_one_story.py", "tests/safety/test_approval.py", "tests/safety/test_bounded_runner.py",
    "tests/runner/test_hostile_outputs.py", "tests/safety/test_odd_inputs.py", "tests/safety/test_output_files.py",
    "tests/runner/test_pacing.py",
    "tests/proxy/test_proxy.py",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Marks by cost (pyproject.toml lists them): `slow` for the modules above, `browser`
    for a test that needs Chromium, `postgres` for one that needs a PostgreSQL server.
    `pytest -m "not slow and not browser and not postgres"` runs the fast part alone."""
    for item in items:
        module = Path(str(item.fspath)).resolve().relative_to(ROOT).as_posix()
        params = getattr(getattr(item, "callspec", None), "params", {})
        if module in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
        if "chromium" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
        if "postgres" in getattr(item, "fixturenames", ()) or params.get("backend") == "postgresql":
            item.add_marker(pytest.mark.postgres)
