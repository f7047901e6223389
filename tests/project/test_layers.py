"""The layers of ARCHITECTURE.md, held by tests: each folder is a layer, a
layer imports only the layers its row of `ALLOWED` names, no module imports
itself back through others, no folder grows past twelve modules, and the
public API the docs promise is importable from each package's root."""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("mockserver", "contracts")

#: Which layers each layer may import (itself always). A layer is a package's
#: subfolder; the modules at a package's root are a layer of their own each.
ALLOWED: dict[str, set[str]] = {
    # the contract, shared by both tools: imports neither
    "contracts.core": set(),
    # the runner, bottom to top
    "contracts.config": {"contracts.core"},
    "contracts.bounded_memo": set(),
    "contracts.safety": {"contracts.core", "contracts.config", "contracts.bounded_memo"},
    "contracts.planning": {"contracts.core", "contracts.config", "contracts.bounded_memo", "contracts.safety"},
    "contracts.judging": {"contracts.core", "contracts.config", "contracts.safety", "contracts.planning"},
    "contracts.execution": {"contracts.core", "contracts.config", "contracts.safety", "contracts.planning",
                            "contracts.judging"},
    "contracts.diff": {"contracts.core", "contracts.config", "contracts.safety", "contracts.planning",
                       "contracts.judging", "contracts.execution"},
    "contracts.reporting": {"contracts.core", "contracts.config", "contracts.safety", "contracts.planning",
                            "contracts.judging", "contracts.execution", "contracts.diff"},
    "contracts.pipeline": {"contracts.core", "contracts.config", "contracts.safety", "contracts.planning",
                           "contracts.judging", "contracts.execution", "contracts.diff", "contracts.reporting"},
    "contracts.st_checks": {"contracts.judging"},
    # the mock, bottom to top; of `contracts` it sees only the contract
    "mockserver.errors": {"contracts.core"},
    "mockserver.settings": {"mockserver.errors"},
    "mockserver.common": {"contracts.core", "mockserver.errors"},
    "mockserver.state": {"contracts.core", "mockserver.errors", "mockserver.common"},
    "mockserver.vendor": {"contracts.core", "mockserver.errors", "mockserver.settings", "mockserver.common",
                          "mockserver.state"},
    "mockserver.control": {"contracts.core", "mockserver.errors", "mockserver.settings", "mockserver.common",
                           "mockserver.state", "mockserver.vendor"},
    "mockserver.app": {"contracts.core", "mockserver.errors", "mockserver.settings", "mockserver.common",
                       "mockserver.state", "mockserver.vendor", "mockserver.control"},
    "mockserver.wire": {"contracts.core", "mockserver.errors", "mockserver.settings", "mockserver.common",
                        "mockserver.state", "mockserver.vendor", "mockserver.control", "mockserver.app"},
    "mockserver.proxy": {"contracts.core", "mockserver.errors", "mockserver.settings", "mockserver.common",
                         "mockserver.state", "mockserver.vendor", "mockserver.control", "mockserver.app",
                         "mockserver.wire"},
    "mockserver.testing": {"contracts.core", "mockserver.errors", "mockserver.settings", "mockserver.common",
                           "mockserver.state", "mockserver.vendor", "mockserver.control", "mockserver.app",
                           "mockserver.wire", "mockserver.proxy"},
}
#: The entry points on top of everything of their own package (and of nothing of the other tool's
#: but the contract): the CLIs, the pytest plugins, the packages' public roots.
TOP = {"contracts.cli", "contracts.pytest_plugin", "contracts", "mockserver.cli", "mockserver.__main__",
       "mockserver"}
MAX_MODULES_PER_FOLDER = 12


@dataclass(frozen=True)
class Module:
    name: str
    path: Path

    @property
    def layer(self) -> str:
        parts = self.name.split(".")
        return ".".join(parts[:2]) if len(parts) > 1 else parts[0]


def modules() -> Iterator[Module]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            yield Module(".".join(parts), path)


def _type_checking_only(tree: ast.Module) -> set[int]:
    """Ids of the import nodes under `if TYPE_CHECKING:` (annotations, never run)."""
    hidden: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden |= {id(inner) for inner in ast.walk(node)}
    return hidden


def imports(module: Module) -> set[str]:
    """Every module of ours `module` imports at run time, at the top or inside a function."""
    tree = ast.parse(module.path.read_text())
    hidden = _type_checking_only(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in hidden:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    known = {m.name for m in modules()}
    return {name for name in found if name in known and name != module.name}


def layer_of(name: str) -> str:
    return Module(name, Path()).layer


def test_every_layer_is_in_the_table() -> None:
    layers = {m.layer for m in modules()} - TOP
    assert layers <= set(ALLOWED), f"add to ALLOWED (and ARCHITECTURE.md): {sorted(layers - set(ALLOWED))}"


def violations(module: Module) -> list[str]:
    if module.name in TOP or module.layer in TOP:
        return []
    allowed = ALLOWED[module.layer] | {module.layer}
    return [f"{module.name} imports {name}" for name in sorted(imports(module))
            if layer_of(name) not in allowed and name not in PACKAGES]


def test_each_layer_imports_only_what_its_row_allows() -> None:
    assert [line for module in modules() for line in violations(module)] == []


def test_a_state_module_importing_the_vendor_layer_is_a_violation(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from mockserver.vendor.auth import Authenticator\n")
    assert violations(Module("mockserver.state.planted", planted)) == [
        "mockserver.state.planted imports mockserver.vendor.auth"]


def test_the_entry_points_import_only_their_own_package_and_the_contract() -> None:
    for module in modules():
        if module.name not in TOP:
            continue
        own = module.name.split(".")[0]
        other = {name for name in imports(module) if not name.startswith(own) and layer_of(name) != "contracts.core"}
        assert other == set(), module.name


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def import_graph() -> dict[str, set[str]]:
    # A package's __init__ is where its public names live, imported lazily: an edge to it is no edge.
    return {m.name: {n for n in imports(m) if n not in PACKAGES and not n.endswith(".__init__")}
            for m in modules()}


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_planted_cycle() -> None:
    graph = import_graph()
    graph["contracts.core.spec"] = graph["contracts.core.spec"] | {"contracts.core.vocabulary"}
    assert any({"contracts.core.spec", "contracts.core.vocabulary"} <= set(cycle) for cycle in cycles(graph))


def test_no_folder_holds_more_than_twelve_modules() -> None:
    for package in PACKAGES:
        for folder in [ROOT / package, *(p for p in (ROOT / package).rglob("*") if p.is_dir())]:
            count = len([p for p in folder.glob("*.py") if p.name != "__init__.py"])
            assert count <= MAX_MODULES_PER_FOLDER, f"{folder.relative_to(ROOT)} holds {count} modules"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__all__, f"{package} exports nothing"
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    assert set(module.__all__) <= set(dir(module))


def test_the_names_the_docs_import_are_exported() -> None:
    """Every `from mockserver import X` / `from contracts import X` in README.md,
    ARCHITECTURE.md and docs/ works."""
    texts = [ROOT / "README.md", ROOT / "ARCHITECTURE.md", *sorted((ROOT / "docs").glob("*.md"))]
    seen = 0
    for path in texts:
        for package, names in re.findall(r"from (mockserver|contracts) import ([A-Za-z_, ]+)", path.read_text()):
            module = importlib.import_module(package)
            for name in (n.strip() for n in names.split(",") if n.strip()):
                seen += 1
                assert name in module.__all__, f"{path.name}: {package}.{name} is not in __all__"
                getattr(module, name)
    assert seen >= 3


def test_the_docs_exception_names_are_exported() -> None:
    """The README names `ControlError` as what every control call raises."""
    from mockserver import ControlError, MockserverError

    assert issubclass(ControlError, MockserverError)


#: The longest function body the style allows (`../shared/style.md`: short functions, said once).
MAX_FUNCTION_LINES = 60


def test_no_function_is_longer_than_sixty_lines_and_every_public_class_says_what_it_owns() -> None:
    long, undocumented = [], []
    for module in modules():
        for node in ast.walk(ast.parse(module.path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno is not None:
                if node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES:
                    long.append(f"{module.name}.{node.name}")
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_") and not ast.get_docstring(node):
                undocumented.append(f"{module.name}.{node.name}")
    assert (long, undocumented) == ([], [])
