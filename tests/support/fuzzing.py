"""What the fuzz tests share: example counts that follow the profile (tests/core/conftest.py), and
scenario documents put together from the real ones' pieces."""

from __future__ import annotations

import copy
import functools
import re
import tomllib
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st

from mockprogress.scenario.resources import RESOURCE_BUILDERS
from mockprogress.standalone.cli import demo_files
from support.paths import ROOT

_SHORT = 100  # max_examples of the "short" profile


def examples(n: int) -> settings:
    """``n`` examples under the short profile (``make test``), 50 times as many under the
    stress profile (``make stress``)."""
    return settings(max_examples=max(1, n * settings.default.max_examples // _SHORT))


# ---- scenario documents ----------------------------------------------------------------------

#: Never generated: a random path there would make the loader create directories (the tests
#: run as whatever user runs them, root included). test_fuzz_scenarios.py covers it apart.
UNSAFE_KEYS = {"store_dir"}


#: The tables a document's top level may hold (and two it may not).
TOP_LEVEL_KEYS = [
    "expect",
    "title",
    "description",
    "cut_request_head",
    *RESOURCE_BUILDERS,
    "expects",
    "steps",
]


@functools.cache
def real_documents() -> list[dict[str, Any]]:
    """Every TOML example in docs/scenarios.md and every demo file, parsed (shared: copy
    before changing one)."""
    text = (ROOT / "docs" / "scenarios.md").read_text()
    found = re.findall(r"^```toml\n(.*?)^```$", text, re.M | re.S)
    return [tomllib.loads(t) for t in found] + [tomllib.loads(p.read_text()) for p in demo_files()]


def _walk(value: Any, keys: set[str], scalars: list[Any], tables: list[Any]) -> None:
    if isinstance(value, dict):
        tables.append(value)
        for key, child in value.items():
            keys.add(key)
            _walk(child, keys, scalars, tables)
    elif isinstance(value, list):
        tables.append(value)
        for child in value:
            _walk(child, keys, scalars, tables)
    elif value not in scalars:
        scalars.append(value)


@functools.cache
def vocabulary() -> tuple[list[str], list[Any], list[Any]]:
    """The keys, scalar values and subtrees (tables and arrays) of the real documents."""
    keys: set[str] = set()
    scalars: list[Any] = []
    tables: list[Any] = []
    for document in real_documents():
        _walk(document, keys, scalars, tables)
    safe = [t for t in tables if not (isinstance(t, dict) and UNSAFE_KEYS & set(t))]
    return sorted(keys - UNSAFE_KEYS), scalars, safe


@st.composite
def scenario_documents(draw: st.DrawFn) -> dict[str, Any]:
    """Documents made of the real ones' keys, values and subtrees, put together at random: a
    top level of known tables, and below it anything."""
    keys, scalars, subtrees = vocabulary()
    scalar = st.one_of(
        st.sampled_from(scalars),
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(),
        st.text(max_size=12),
    )
    graft = st.sampled_from(subtrees).map(copy.deepcopy)
    tree = st.recursive(
        scalar | graft,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.sampled_from(keys), children, max_size=5)
        ),
        max_leaves=20,
    )
    tables = st.lists(st.dictionaries(st.sampled_from(keys), tree, max_size=6) | graft, max_size=3)
    top = draw(st.sampled_from(TOP_LEVEL_KEYS))
    document: dict[str, Any] = draw(
        st.dictionaries(st.sampled_from(TOP_LEVEL_KEYS), tables, max_size=3)
    )
    if draw(st.booleans()):
        document[top] = draw(tree)
    return document


def _places(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path inside a document."""
    found = [path] if path else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _places(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _places(value, (*path, i))
    return found


@st.composite
def mutated_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A real document with a few of its values replaced (by the real documents' values and
    subtrees, or anything), deleted, or joined by keys from elsewhere."""
    keys, scalars, subtrees = vocabulary()
    document = copy.deepcopy(draw(st.sampled_from(_safe_documents())))
    replacement = st.one_of(
        st.sampled_from(scalars),
        st.sampled_from(subtrees).map(copy.deepcopy),
        st.none()
        | st.booleans()
        | st.integers(-(2**70), 2**70)
        | st.floats()
        | st.text(max_size=8),
    )
    for _ in range(draw(st.integers(1, 4))):
        places = _places(document)
        if not places:
            break
        *parents, last = draw(st.sampled_from(places))
        node: Any = document
        for part in parents:
            node = node[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            node[last] = draw(replacement)
        elif action == "delete":
            del node[last]
        elif isinstance(node, dict):
            node[draw(st.sampled_from(keys))] = draw(replacement)
        else:
            node.append(draw(replacement))
    return document


@functools.cache
def _safe_documents() -> list[dict[str, Any]]:
    """The real documents without UNSAFE_KEYS."""
    return [
        d
        for d in real_documents()
        if not any(isinstance(p[-1], str) and p[-1] in UNSAFE_KEYS for p in _places(d))
    ]
