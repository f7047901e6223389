"""Shared fixtures: the contract as the toolkit loads it, and the mock in this
process (`MockApp`), reset before each test that uses it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.core.spec import Spec, load_spec
from mockserver.inprocess import MockApp

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def spec() -> Spec:
    return load_spec(ROOT / "openapi.yaml")


@pytest.fixture(scope="session")
def mock_session() -> Iterator[MockApp]:
    with MockApp(clock="manual") as app:
        yield app


@pytest.fixture
def mock(mock_session: MockApp) -> MockApp:
    """The mock's ASGI app in this process on the manual clock, back to its fixtures."""
    mock_session.reset()
    return mock_session
