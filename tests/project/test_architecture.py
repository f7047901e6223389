"""How the code is built, held by tests: one core owns the contract, neither
tool imports the other's internals, no literal outside the core repeats the
vendor API, one exception root per package, plugins that cost nothing."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from contracts.core.errors import ContractsError
from contracts.core.spec import load_spec
from contracts.core.vocabulary import Vocabulary
from mockserver.errors import MockserverError
from tests.conftest import ROOT

VOCABULARY = Vocabulary.of(load_spec())


def python_files(*packages: str) -> Iterator[Path]:
    for package in packages:
        yield from sorted((ROOT / package).rglob("*.py"))


def string_constants(path: Path) -> Iterator[tuple[int, str]]:
    """Every string literal of a module but its docstrings (f-string parts included)."""
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def vendor_literals() -> list[tuple[str, re.Pattern[str]]]:
    """What the contract says, as patterns a Python literal must not contain."""
    found: list[tuple[str, re.Pattern[str]]] = []
    for op in VOCABULARY.operations.values():
        found.append((f"path {op.path}", re.compile(re.escape(op.path.split("{")[0].rstrip("/")))))
        found.append((f"operationId {op.operation_id}", re.compile(rf"\b{op.operation_id}\b")))
    found.append(("the auth header", re.compile(rf"^{re.escape(VOCABULARY.auth_header)}$", re.I)))
    for value in (*VOCABULARY.user_status.values, VOCABULARY.accepted_status):
        found.append((f"status value {value}", re.compile(rf"^{re.escape(value)}$")))
    for fmt in (VOCABULARY.request_id, VOCABULARY.user_id, VOCABULARY.bot_id, VOCABULARY.token.client_id):
        found.append((f"the {fmt.name} pattern", re.compile(re.escape(fmt.pattern))))
        if fmt.prefix:
            found.append((f"the {fmt.name} prefix", re.compile(rf"(?<![\w-]){re.escape(fmt.prefix)}")))
    for host in VOCABULARY.production_hosts:
        found.append((f"host {host}", re.compile(re.escape(host), re.I)))
    found.append(("the scope", re.compile(re.escape(VOCABULARY.token.scope))))
    found.append(("the algorithm", re.compile(rf"^{VOCABULARY.token.algorithm}$")))
    for refusal, answer in VOCABULARY.answers.items():
        found.append((f"the platform's {refusal.value} message", re.compile(re.escape(answer.message))))
    return found


def test_no_python_literal_outside_the_core_repeats_the_vendor_api() -> None:
    from contracts.planning.suites import SUITES

    rules = vendor_literals()
    offenders = []
    for path in python_files("mockserver", "contracts"):
        if "core" in path.relative_to(ROOT).parts:
            continue
        for line, text in string_constants(path):
            if text in SUITES:
                continue  # a suite's name (the "auth" suite is no header)
            offenders += [f"{path.relative_to(ROOT)}:{line}: {what}: {text[:60]!r}"
                          for what, rule in rules if rule.search(text)]
    assert offenders == []


def test_the_literal_scan_finds_a_planted_literal(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    status = VOCABULARY.status[0]
    planted.write_text(f'"""doc {status.path} is fine here."""\n'
                       f'PATH = "{status.path}"\nH = "{VOCABULARY.auth_header}"\n')
    hits = [what for _, text in string_constants(planted) for what, rule in vendor_literals() if rule.search(text)]
    assert any(h.startswith("path") for h in hits) and "the auth header" in hits


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_mockserver_imports_only_the_core_of_contracts() -> None:
    for path in python_files("mockserver"):
        wrong = {name for name in imports_of(path) if name.startswith("contracts") and
                 not name.startswith("contracts.core")}
        assert wrong == set(), path


def test_the_core_imports_neither_tool() -> None:
    for path in python_files("contracts/core"):
        wrong = {name for name in imports_of(path) if name.startswith("mockserver") or
                 (name.startswith("contracts") and not name.startswith("contracts.core"))}
        assert wrong == set(), path


def test_running_the_mock_loads_no_module_of_the_runner() -> None:
    code = ("import sys, mockserver.cli, mockserver.app.build, mockserver.wire.server, mockserver.testing.mock_app;"
            "print(sorted(m for m in sys.modules if m.startswith('contracts')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert all(name == "contracts" or name.startswith("contracts.core") for name in eval(loaded)), loaded


def test_plugins_cost_nothing_to_a_test_session_that_does_not_use_them() -> None:
    code = ("import sys, mockserver.testing.pytest_plugin, contracts.pytest_plugin;"
            "print(sorted({'schemathesis', 'hypothesis', 'uvicorn', 'connexion', 'starlette', 'jsonschema'}"
            " & {m.split('.')[0] for m in sys.modules}))")
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert heavy.strip() == "[]"


@pytest.mark.parametrize(("package", "root"), [("mockserver", MockserverError), ("contracts", ContractsError)])
def test_each_package_has_one_exception_root(package: str, root: type[Exception]) -> None:
    module = importlib.import_module(package)
    for info in pkgutil.walk_packages(module.__path__, package + "."):
        if info.name.endswith(("pytest_plugin", "st_checks", "st_hooks", "__main__")):
            continue
        loaded = importlib.import_module(info.name)
        for _, cls in inspect.getmembers(loaded, inspect.isclass):
            if cls.__module__ != info.name or not issubclass(cls, BaseException):
                continue
            if cls.__module__ == "contracts.core.clikit":
                continue  # click's exceptions: how the CLIs print one-line errors, not the library's
            assert issubclass(cls, root), f"{info.name}.{cls.__name__} is not a {root.__name__}"
