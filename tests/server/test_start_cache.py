"""Issue 13: the start-up cache (`contracts.core.cache`) saves work, never a check.

A warm start reuses the parsed contract and the fact that it (and the
control API document, and the fixtures) passed validation before; a document
that changed, or never passed, is parsed and checked as without a cache; an
unusable cache directory only costs time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts.core import cache
from contracts.core.errors import SpecError
from contracts.core.spec import load_spec
from mockserver.app.build import create_app
from mockserver.common.openapi_documents import load_documents
from mockserver.errors import FixturesError
from mockserver.testing.mock_app import MockApp
from mockserver.vendor.fixtures import load_fixtures
from tests.conftest import ROOT
from tests.support import PRELOADED, status


def _spy_on_validators(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the real validations: openapi-spec-validator's, Connexion's and the fixtures schema's."""
    import openapi_spec_validator
    from connexion.spec import Specification

    from mockserver.vendor import fixtures

    calls: list[str] = []
    original = openapi_spec_validator.validate
    monkeypatch.setattr(openapi_spec_validator, "validate",
                        lambda *a, **k: (calls.append("openapi"), original(*a, **k))[1])
    connexion_check = Specification.__dict__["_validate_spec"].__func__
    monkeypatch.setattr(Specification, "_validate_spec",
                        classmethod(lambda cls, d: (calls.append("connexion"), connexion_check(cls, d))[1]))
    make = fixtures.fixtures_validator()
    monkeypatch.setattr(fixtures, "fixtures_validator", lambda: (calls.append("fixtures"), make)[1])
    return calls


def test_a_warm_start_neither_parses_nor_validates_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path / "cache"))
    calls = _spy_on_validators(monkeypatch)
    with MockApp() as cold:
        assert status(cold, PRELOADED).status_code == 200
    assert sorted(set(calls)) == ["connexion", "fixtures", "openapi"]
    calls.clear()
    with MockApp() as warm:
        assert status(warm, PRELOADED).status_code == 200
        assert warm.http.get("/ui/").status_code == 200  # the docs app, built now
    # (Connexion re-checks the contract on each /openapi.json request, cache or not.)
    assert calls == []


def test_a_changed_or_invalid_contract_is_always_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path / "cache"))
    text = (ROOT / "openapi.yaml").read_text(encoding="utf-8")
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("openapi: 3.0.3", "openapi: 3.0.3\nnotAField: 1", 1), encoding="utf-8")
    for _ in range(2):  # refused every time: a failure is never cached
        with pytest.raises(SpecError, match="invalid OpenAPI"):
            load_spec(broken)
    assert not any(p.name.startswith("valid-openapi-") for p in (tmp_path / "cache").iterdir())
    good = tmp_path / "good.yaml"
    good.write_text(text, encoding="utf-8")
    assert load_spec(good).document == load_spec(ROOT / "openapi.yaml", check=False).document
    good.write_text(text.replace("openapi: 3.0.3", "openapi: 3.0.3\nnotAField: 1", 1), encoding="utf-8")
    with pytest.raises(SpecError, match="invalid OpenAPI"):  # same file, new content: checked again
        load_spec(good)


def test_fixtures_that_changed_are_checked_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path / "cache"))
    documents = load_documents()
    load_fixtures(None, documents)  # the shipped ones pass, and are remembered
    bad = tmp_path / "fixtures.yaml"
    shipped = (ROOT / "mockserver" / "vendor" / "default_fixtures.yaml").read_text(encoding="utf-8")
    bad.write_text(shipped.replace("accounts:", "accounts:\n  - nonsense: true", 1), encoding="utf-8")
    for _ in range(2):
        with pytest.raises(FixturesError):
            load_fixtures(bad, documents)


@pytest.mark.parametrize("where", ["unwritable", "a file", "off"])
def test_an_unusable_cache_directory_only_costs_time(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                      where: str) -> None:
    if where == "unwritable":
        # Under /proc nobody creates a directory, root included (a mode-0500 directory would
        # not stop root, who runs the tests in CI).
        monkeypatch.setenv(cache.CACHE_ENV_VAR, "/proc/self/kore-erase-cache")
    elif where == "a file":
        (tmp_path / "taken").write_text("not a directory")
        monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path / "taken"))
    else:
        monkeypatch.setenv(cache.CACHE_ENV_VAR, "")
    calls = _spy_on_validators(monkeypatch)
    for _ in range(2):
        app = create_app(documents=load_documents())
        app.runtime.store.close()
    assert calls.count("openapi") == 4 and calls.count("connexion") == 4  # contract and control API, twice


def test_a_corrupt_entry_is_parsed_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path))
    expected = load_spec(ROOT / "openapi.yaml").document
    for entry in tmp_path.glob("parsed-*"):
        entry.write_text('{"half": ')
    assert load_spec(ROOT / "openapi.yaml").document == expected
