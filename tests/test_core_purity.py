"""The pure core decides what bytes go out and when; only the I/O layer touches sockets,
threads and event loops (DESIGN.md, "Layers"). This test reads the core modules' imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mockprogress"

CORE = [
    "_actions",
    "_admin",
    "_body",
    "_byte_range_resource",
    "_byteranges",
    "_completion",
    "_content_range",
    "_connection",
    "_continue",
    "_errors",
    "_gauntlet",
    "_exchange",
    "_field_reader",
    "_headcut",
    "_headers",
    "_http_progress_demo",
    "_index",
    "_interrupt",
    "_job_plan",
    "_journal",
    "_journal_json",
    "_malformed",
    "_matching",
    "_mermaid",
    "_prefer",
    "_problems",
    "_progress",
    "_progress_job",
    "_progress_order",
    "_resource",
    "_resumable_jobs",
    "_resumable_requests",
    "_resumable_uploads",
    "_state",
    "_status",
    "_steps",
    "_websocket",
    "_streaming",
    "_structured",
    "_tus",
    "_upload_resource",
    "_upload_store",
    "_sweep",
    "_wire",
    "_ws_script",
]
FORBIDDEN = {"anyio", "trio", "asyncio", "socket", "threading", "selectors", "select", "time"}
IO_MODULES = {
    "_server",
    "_driver",
    "_portal",
    "_cli",
    "_control",
    "_scenario",
    "_scenario_wright",
    "_terminal",
    "_upload_scenarios",
    "pytest_plugin",
    "_parametrize",
}


def imported_names(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: from ._server import X / from . import _server
                names.update({module} if module else {a.name for a in node.names})
            else:
                names.add(module)
    return names


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_io(module: str) -> None:
    names = imported_names(PACKAGE / f"{module}.py")
    top = {n.split(".")[0] for n in names}
    assert not top & FORBIDDEN, f"{module} imports {sorted(top & FORBIDDEN)}"
    assert not names & IO_MODULES, f"{module} imports the I/O layer: {sorted(names & IO_MODULES)}"


def test_every_module_is_classified() -> None:
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__", "_version"}
    assert modules == set(CORE) | IO_MODULES
