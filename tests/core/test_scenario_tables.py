"""The scenario loader's two tables: every step and resource table name maps to its builder in
one literal dict, written where it is defined; no module adds to another's table on import."""

from __future__ import annotations

import ast
import re

from support.paths import ROOT

import mockprogress as mp
from mockprogress.scenario.document import parse_scenario
from mockprogress.scenario.resources import RESOURCE_BUILDERS
from mockprogress.scenario.steps import STEP_BUILDERS

SCENARIO = ROOT / "mockprogress" / "scenario"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: Top-level tables that are not resources.
NOT_RESOURCES = {"expect", "cut_request_head"}


def _literal_keys(module_path: str, name: str) -> list[str]:
    """The keys of ``name = {...}`` (annotated or not) as written in the module's source."""
    tree = ast.parse((SCENARIO / module_path).read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                assert isinstance(node.value, ast.Dict), f"{name} is not a dict literal"
                return [ast.literal_eval(k) for k in node.value.keys if k is not None]
    raise AssertionError(f"{name} is not assigned in {module_path}")


def test_each_table_is_one_literal_dict_and_nothing_else_writes_it() -> None:
    assert _literal_keys("resources.py", "RESOURCE_BUILDERS") == list(RESOURCE_BUILDERS)
    assert _literal_keys("steps.py", "STEP_BUILDERS") == list(STEP_BUILDERS)
    for path in sorted((ROOT / "mockprogress").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
                written = node.value
                name = written.attr if isinstance(written, ast.Attribute) else None
                name = written.id if isinstance(written, ast.Name) else name
                assert name not in {"RESOURCE_BUILDERS", "STEP_BUILDERS"}, path


def test_the_table_holds_every_resource_table_the_docs_name() -> None:
    named = set()
    for doc in DOCS:
        named |= set(re.findall(r"\[\[([a-z_]+)\]\]", doc.read_text()))
    assert named - NOT_RESOURCES == set(RESOURCE_BUILDERS)


def test_every_resource_builder_builds_from_its_table_alone() -> None:
    """Each builder, given a minimal table, builds its class (the one style: path first)."""
    minimal = {name: [{"path": "/r"}] for name in RESOURCE_BUILDERS}
    built = parse_scenario(minimal, "tables.toml")
    assert [type(item) for item in built] == [
        mp.ProgressJob,
        mp.ResumableUploads,
        mp.TusUploads,
        mp.ResumableRequests,
        mp.ByteRangeResource,
        mp.HttpProgressDemo,
    ]
    assert all(isinstance(item, mp.Resource) and item.path == "/r" for item in built)
