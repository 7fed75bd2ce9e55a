"""Every Python example of the README and of docs/ runs (docs/scenarios.md aside, whose examples
``test_docs_scenarios.py`` compares with their TOML).

How a block is run is written just before it (``support.doc_examples``): as written, in a fresh
namespace that has ``mp`` and ``pytest`` (a block may leave out those two imports); as a pytest
module (``<!-- run: pytest -->``), by pytest in a subprocess with the stand-ins of
``support.doc_stand_ins`` for the reader's client; or with ``srv``, a running server
(``<!-- run: srv -->``).
"""

from __future__ import annotations

import pytest
from support.doc_examples import Block, python_examples
from support.paths import ROOT

import mockprogress as mp

#: What a pytest example may use without importing it: the names the docs take as given.
PRELUDE = """\
import hashlib

import httpx
import pytest

import mockprogress as mp
from support.doc_stand_ins import DATA, DownloadError, MyClientError, download, my_client

"""
#: A pytest example's outcomes: each test it holds passes, none fails, none is skipped.
PASSING = {"passed"}


def test_the_docs_have_python_examples() -> None:
    found = python_examples()
    assert len(found) >= 15
    assert {b.run for b in found} == {None, "pytest", "srv"}
    assert len(by_run(None, "srv")) + len(by_run("pytest")) == len(found)


def by_run(*modes: str | None) -> list[Block]:
    return [block for block in python_examples() if block.run in modes]


@pytest.mark.parametrize("block", by_run(None, "srv"), ids=lambda b: b.where)
def test_python_example_runs(block: Block) -> None:
    code = compile(block.text, block.where, "exec")
    namespace = {"__name__": "docs_example", "mp": mp, "pytest": pytest}
    if block.run is None:
        exec(code, namespace)
    else:
        with mp.MockServer() as srv:
            exec(code, {**namespace, "srv": srv})


@pytest.mark.parametrize("block", by_run("pytest"), ids=lambda b: b.where)
def test_pytest_example_passes(block: Block, pytester: pytest.Pytester) -> None:
    pytester.makeconftest(f"import sys\n\nsys.path.insert(0, {str(ROOT / 'tests')!r})\n")
    pytester.makepyfile(test_docs_example=PRELUDE + block.text)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q")
    outcomes = result.parseoutcomes()
    for noise in ("warnings", "warning"):
        outcomes.pop(noise, None)
    assert set(outcomes) == PASSING, f"{block.where}: {outcomes}\n{result.stdout.str()}"
