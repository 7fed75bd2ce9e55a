"""docs/scenarios.md is true: every TOML example loads, and the Python or JSON example after it
builds the very same expectations; every broken example fails with the message shown; every
step the loader knows has its own section."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from support.doc_examples import SCENARIOS, scenario_page_examples

import mockprogress as mp
from mockprogress.engine.matching import Expectation
from mockprogress.scenario.document import load_scenario, parse_scenario
from mockprogress.scenario.steps import STEP_BUILDERS
from mockprogress.script.faults import HeadCut

DOC = SCENARIOS


class Recorder:
    """Stands in for a server in the Python examples: keeps what ``expect`` builds."""

    def __init__(self) -> None:
        self.expectations: list[Any] = []

    def expect(self, method: str | None, path: Any, **match: Any) -> Expectation:
        exp = Expectation(method, path, **match)
        self.expectations.append(exp)
        return exp

    def cut_request_head(self, at: int, how: str = "close", **options: Any) -> None:
        self.expectations.append(HeadCut(at, how, **options))  # type: ignore[arg-type]


def signature(exp: Any) -> Any:
    """Everything an expectation is made of, comparable with ``==`` (a head cut is a value)."""
    if isinstance(exp, HeadCut):
        return exp
    return (
        exp.method,
        exp.path,
        exp.query,
        exp.headers,
        exp.body,
        exp.json,
        exp.times,
        exp.group,
        exp.name,
        exp.description,
        exp.curl,
        exp.script.steps,
    )


def blocks() -> list[tuple[str, str, str, int]]:
    return [(b.lang, b.info, b.text, b.line) for b in scenario_page_examples()]


def load_toml(tmp_path: Path, text: str, line: int) -> list[Any]:
    path = tmp_path / f"line{line}.toml"
    path.write_text(text)
    return load_scenario(path)


def test_every_example(tmp_path: Path) -> None:
    found = blocks()
    assert len(found) > 20
    previous: list[Any] | None = None
    unchecked: int | None = None  # line of a TOML example no Python or JSON block matched yet
    broken: tuple[int, str] | None = None
    checked = 0
    for lang, info, text, line in found:
        if lang == "toml" and info == "broken":
            path = tmp_path / f"line{line}.toml"
            path.write_text(text)
            with pytest.raises(mp.ScenarioError) as error:
                load_scenario(path)
            broken = (line, str(error.value))
        elif lang == "text" and broken is not None:
            where, message = broken
            assert message == f"{tmp_path / f'line{where}.toml'}: {text.strip()}", where
            broken = None
            checked += 1
        elif lang == "toml":
            assert unchecked is None, f"the TOML example at line {unchecked} is not compared"
            previous = load_toml(tmp_path, text, line)
            unchecked = line
        elif lang == "python":
            assert previous is not None, f"line {line}: a Python example without TOML before it"
            recorder = Recorder()
            exec(compile(text, f"{DOC}:{line}", "exec"), {"mp": mp, "re": re, "srv": recorder})
            assert [signature(e) for e in recorder.expectations] == [
                signature(e) for e in previous
            ], f"line {line}"
            unchecked = None
            checked += 1
        elif lang == "json":
            assert previous is not None, f"line {line}: a JSON example without TOML before it"
            items = parse_scenario(json.loads(text), f"line {line}")
            assert [signature(e) for e in items] == [signature(e) for e in previous]
            unchecked = None
            checked += 1
    assert unchecked is None, f"the TOML example at line {unchecked} is not compared"
    assert broken is None
    assert checked > 15


def test_every_step_has_a_section() -> None:
    text = DOC.read_text()
    for name in STEP_BUILDERS:
        assert f"\n### {name}\n" in text, f"docs/scenarios.md has no section for the {name} step"


def test_the_readme_links_the_format() -> None:
    readme = (DOC.parent.parent / "README.md").read_text()
    assert "docs/scenarios.md" in readme
