"""The import rules of docs/architecture.md, read from the source however an import is written
(relative, absolute, ``import mockprogress.x``, inside a function or under TYPE_CHECKING).

- Imports go downward only: a module imports its own layer and the layers below it.
- The core (errors, http, script, engine, resources, scenario) imports no I/O: no anyio, trio,
  asyncio, socket, ssl, threading, selectors, select or time.
- ``http`` is the leaf: it imports nothing of ours but ``errors``.
- No load-time import cycle (module-level imports, TYPE_CHECKING blocks aside).

The checker is fed planted violations below, so a checker that lets everything through fails.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from support.paths import ROOT

PACKAGE = ROOT / "mockprogress"

#: Each layer's rank: a module may import modules of its own rank or lower.
RANKS = {
    "errors": 0,
    "version": 0,
    "fixtures": 0,
    "ui": 0,
    "http": 1,
    "script": 2,
    "engine": 3,
    "resources": 4,
    "scenario": 5,
    "server": 6,
    "testing": 7,
    "standalone": 8,
    "__init__": 9,
    "__main__": 9,
    "pytest_plugin": 9,
}
CORE = {"errors", "http", "script", "engine", "resources", "scenario"}
IO = {"anyio", "trio", "asyncio", "socket", "ssl", "threading", "selectors", "select", "time"}


@dataclass(frozen=True)
class Import:
    target: str  # a dotted name: "mockprogress.engine.state", "anyio.abc"
    line: int
    load_time: bool  # at module level, outside TYPE_CHECKING


def layer_of(module: str) -> str:
    """``mockprogress.engine.state`` -> ``engine``; ``mockprogress`` -> ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(module: str, source: str, modules: set[str]) -> list[Import]:
    """Every import in ``source`` (the text of ``module``), resolved to dotted names."""
    is_package = module in modules and f"{module}.__init__" in modules
    package = module if is_package else module.rpartition(".")[0]
    found: list[Import] = []

    def visit(node: ast.AST, load_time: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                for sub in child.body:
                    visit_stmt(sub, False)
                for sub in child.orelse:
                    visit_stmt(sub, load_time)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, False)
            else:
                visit_stmt(child, load_time)

    def visit_stmt(node: ast.AST, load_time: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend(Import(a.name, node.lineno, load_time) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                target = sub if sub in modules else base
                found.append(Import(target, node.lineno, load_time))
        else:
            visit(node, load_time)

    visit(ast.parse(source), True)
    return found


def violations(sources: Mapping[str, str]) -> list[str]:
    """The broken rules among ``sources`` (dotted module name -> text), one line each."""
    modules = set(sources) | {m.rpartition(".")[0] for m in sources if m.endswith(".__init__")}
    modules |= {m.removesuffix(".__init__") for m in sources}
    found: list[str] = []
    graph: dict[str, set[str]] = {}
    for module, source in sources.items():
        name = module.removesuffix(".__init__")
        layer = layer_of(name)
        edges = graph.setdefault(name, set())
        for imp in imports_of(name, source, modules | set(sources)):
            where = f"{name}:{imp.line}"
            top = imp.target.split(".")[0]
            if top in IO and layer in CORE:
                found.append(f"{where}: the core layer {layer!r} imports {imp.target}")
            if top != "mockprogress":
                continue
            target = imp.target.removesuffix(".__init__")
            other = layer_of(target)
            if target == "mockprogress" and layer != "__init__":
                found.append(f"{where}: imports the package's public face (mockprogress)")
            elif RANKS[other] > RANKS[layer]:
                found.append(f"{where}: {layer!r} imports the higher layer {other!r} ({target})")
            elif layer == "http" and other not in ("http", "errors"):
                found.append(f"{where}: 'http' is a leaf layer but imports {target}")
            if imp.load_time and target != name:
                edges.add(target)
    found.extend(_cycles(graph))
    return found


def _cycles(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """One line per load-time import cycle (depth-first search for back edges)."""
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                loop = [*stack[stack.index(nxt) :], nxt]
                cycles.append("load-time import cycle: " + " -> ".join(loop))
            elif nxt not in state:
                walk(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node)
    return cycles


def package_sources(root: Path = PACKAGE) -> dict[str, str]:
    sources = {}
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).with_suffix("")
        sources[".".join(rel.parts)] = path.read_text()
    return sources


def test_the_package_keeps_the_import_rules() -> None:
    sources = package_sources()
    assert "mockprogress.engine.exchange" in sources  # the walk found the tree
    assert violations(sources) == []


def test_every_subpackage_names_its_layer() -> None:
    """Each layer's __init__ says what the layer is and what it may import."""
    for layer in sorted(
        set(RANKS) - {"errors", "version", "__init__", "__main__", "pytest_plugin"}
    ):
        init = PACKAGE / layer / "__init__.py"
        doc = ast.get_docstring(ast.parse(init.read_text()))
        assert doc, f"{init} has no docstring"
        assert "import" in doc, f"{init}'s docstring does not say what the layer may import"


def _tree(**modules: str) -> dict[str, str]:
    """A small package: the real tree's layers, the planted module's text."""
    base = {
        "mockprogress.__init__": "",
        "mockprogress.errors": "",
        "mockprogress.server.__init__": "",
        "mockprogress.server.driver": "import socket\nclass ConnectionDriver: ...\n",
        "mockprogress.engine.__init__": "",
        "mockprogress.engine.state": "",
        "mockprogress.script.__init__": "",
        "mockprogress.script.steps": "",
        "mockprogress.http.__init__": "",
        "mockprogress.http.headers": "from ..errors import ScenarioError\n",
    }
    return {**base, **modules}


@pytest.mark.parametrize(
    ("module", "source", "message"),
    [
        (
            "mockprogress.engine.planted",
            "from mockprogress.server.driver import ConnectionDriver\n",
            "'engine' imports the higher layer 'server'",
        ),
        (
            "mockprogress.engine.planted",
            "from ..server.driver import ConnectionDriver\n",
            "'engine' imports the higher layer 'server'",
        ),
        (
            "mockprogress.engine.planted",
            "from ..server import driver\n",
            "'engine' imports the higher layer 'server' (mockprogress.server.driver)",
        ),
        (
            "mockprogress.engine.planted",
            "import mockprogress.server.driver\n",
            "'engine' imports the higher layer 'server'",
        ),
        (
            "mockprogress.script.planted",
            "def f():\n    from mockprogress.engine import state\n",
            "'script' imports the higher layer 'engine'",
        ),
        (
            "mockprogress.script.planted",
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..engine.state import X\n",
            "'script' imports the higher layer 'engine'",
        ),
        ("mockprogress.engine.planted", "import anyio\n", "the core layer 'engine' imports anyio"),
        ("mockprogress.script.planted", "import time\n", "the core layer 'script' imports time"),
        ("mockprogress.http.planted", "import ssl\n", "the core layer 'http' imports ssl"),
        (
            "mockprogress.http.planted",
            "from ..script.steps import Respond\n",
            "'http' imports the higher layer 'script'",
        ),
        (
            "mockprogress.engine.planted",
            "import mockprogress as mp\n",
            "imports the package's public face",
        ),
    ],
)
def test_the_checker_finds_a_planted_violation(module: str, source: str, message: str) -> None:
    found = violations(_tree(**{module: source}))
    assert any(message in line for line in found), found


def test_the_checker_finds_a_load_time_cycle_and_not_a_deferred_one() -> None:
    cycle = _tree(
        **{
            "mockprogress.engine.journal": "from .mermaid import render\n",
            "mockprogress.engine.mermaid": "from .journal import Exchange\n",
        }
    )
    assert any("cycle" in line and "journal" in line for line in violations(cycle))
    deferred = _tree(
        **{
            "mockprogress.engine.journal": "def f():\n    from .mermaid import render\n",
            "mockprogress.engine.mermaid": "from .journal import Exchange\n",
        }
    )
    assert violations(deferred) == []


def test_the_real_tree_passes_only_because_it_is_clean() -> None:
    """Planting one upward import into a copy of the real tree's sources is caught."""
    sources = package_sources()
    sources["mockprogress.engine.exchange"] += "\nfrom ..server.driver import ConnectionDriver\n"
    assert any("mockprogress.engine.exchange" in line for line in violations(sources))
