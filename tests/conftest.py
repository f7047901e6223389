"""Shared fixtures: the contract as the toolkit loads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.spec import Spec, load_spec

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def spec() -> Spec:
    return load_spec(ROOT / "openapi.yaml")
