"""Every TOML example of the README and of docs/ (docs/scenarios.md aside, whose examples
``test_docs_scenarios.py`` compares with the Python they stand for) is a scenario document that
loads into a server and mounts or adds what it says."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from support.doc_examples import Block, toml_examples

import mockprogress as mp
from mockprogress.engine.limits import LIMIT_NAMES


def test_the_docs_have_toml_examples() -> None:
    assert len(toml_examples()) >= 4


@pytest.mark.parametrize("block", toml_examples(), ids=lambda b: b.where)
def test_toml_example_loads(block: Block, tmp_path: Path) -> None:
    document = tomllib.loads(block.text)
    path = tmp_path / "example.toml"
    path.write_text(block.text)
    with mp.MockServer() as srv:
        items = srv.load(path)
    # One item per table: every [[expect]] and every resource table was built; and one for
    # the server limits the document sets at its top level, if it sets any.
    tables = sum(len(v) for v in document.values() if isinstance(v, list))
    limits = any(name in document for name in LIMIT_NAMES)
    assert len(items) == tables + limits, f"{block.where}: {items}"
