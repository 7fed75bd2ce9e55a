"""Bad input to the scenario loader: documents put together at random from the pieces of the
real ones (docs/scenarios.md and the demo files), text that is neither JSON nor TOML, and the
documents that used to take the loader down with them.

Whatever the document, the loader builds items or raises a ScenarioError that names the
source and the key, in its own words: never another exception, and never Python's phrasing.
test_scenario.py changes one key at a time; this puts many wrong pieces together at once.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.fuzzing import TOP_LEVEL_KEYS, examples, mutated_documents, scenario_documents

import mockprogress as mp
from mockprogress.engine.matching import Expectation
from mockprogress.engine.resource import Resource
from mockprogress.engine.state import ScenarioItem
from mockprogress.scenario.document import MAX_DEPTH, load_scenario, parse_document, parse_scenario
from mockprogress.script.faults import HeadCut

PYTHON_PHRASES = re.compile(
    r"unsupported operand|object is not|NoneType|has no attribute|positional|not supported "
    r"between|unhashable|object of type|Traceback|invalid literal"
    # a Python call where the file has keys: cut(seconds=...), mp.respond(), respond(...)
    r"|\w\((\w+=|\.\.\.|\))"
)
QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
KEYED = re.compile(r"(\(top level\)|" + "|".join(map(re.escape, TOP_LEVEL_KEYS)) + r")[.\[:]")


def loads_or_names_the_key(
    source: str, call: Any, *, keyed: bool = True
) -> list[ScenarioItem] | None:
    """The items ``call()`` builds, or None after checking its ScenarioError: it starts with
    the source and (for a document that decoded) the key path, in the loader's words."""
    try:
        items: list[ScenarioItem] = call()
    except mp.ScenarioError as exc:
        message = str(exc)
        assert message.startswith(source + ": "), message
        assert not keyed or KEYED.match(message.removeprefix(source + ": ")), message
        # A value the document wrote is quoted back as it was ('0()' included): only the
        # loader's own words, outside the quotes, must not be Python's.
        assert not PYTHON_PHRASES.search(QUOTED.sub("''", message)), message
        return None
    assert all(isinstance(i, Expectation | Resource | HeadCut) for i in items)
    return items


@examples(250)
@given(scenario_documents() | mutated_documents())
def test_any_document_builds_items_or_names_the_key_at_fault(document: dict[str, Any]) -> None:
    loads_or_names_the_key("fuzz", lambda: parse_scenario(document, "fuzz", from_file=False))


@examples(300)
@given(
    st.binary(max_size=200)
    | st.text(alphabet="{}[]=\"',:.\n 0123456789abcexpt_-/\\", max_size=200).map(str.encode),
    st.sampled_from([None, "application/json", "application/toml", "text/plain; charset=x"]),
)
def test_any_bytes_are_a_document_or_a_scenario_error(
    body: bytes, content_type: str | None
) -> None:
    loads_or_names_the_key(
        "POST /x", lambda: parse_document(body, content_type, "POST /x"), keyed=False
    )


DEEP = 100_000


@pytest.mark.parametrize(
    "body",
    [
        b'{"expect": ' + b"[" * DEEP + b"]" * DEEP + b"}",
        b"x = " + b"[" * DEEP + b"]" * DEEP,
        b"x = " + b"{a = " * 10_000 + b"}" * 10_000,
        b'{"expect": [' + b'{"a": ' * 900 + b"1" + b"}" * 900 + b"]}",
        b'{"expect": [' + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b"]}",
    ],
    ids=["json-arrays", "toml-arrays", "toml-tables", "json-tables", "just-too-deep"],
)
def test_documents_nested_too_deeply_are_refused(body: bytes) -> None:
    """They raised RecursionError from json, tomllib or the error messages' repr."""
    with pytest.raises(mp.ScenarioError, match=r"^POST /x: .*nest"):
        parse_document(body, None, "POST /x")


def test_nesting_up_to_the_limit_is_only_the_schema_s_business() -> None:
    deep: Any = 1
    for _ in range(MAX_DEPTH - 3):
        deep = [deep]
    document = {"expect": [{"path": "/a", "steps": [{"respond": {"status": 200}}], "x": deep}]}
    with pytest.raises(mp.ScenarioError, match=r"expect\[0\]\.x: unknown key"):
        parse_scenario(document, "s")


@pytest.mark.parametrize(
    ("key", "pattern"),
    [
        ("path_regex", "a{4294967296}"),
        ("path_regex", "(" * 1000 + ")" * 1000),
        ("match.body_regex", "a{99999999999}"),
    ],
)
def test_a_regex_that_python_cannot_compile_is_a_scenario_error(key: str, pattern: str) -> None:
    """re.compile raised OverflowError and RecursionError, which are not re.error."""
    expect: dict[str, Any] = {"path": "/a", "steps": [{"respond": 200}]}
    if key == "path_regex":
        expect = {"path_regex": pattern, "steps": expect["steps"]}
    else:
        expect["match"] = {"body_regex": pattern}
    with pytest.raises(mp.ScenarioError, match=rf"expect\[0\]\.{key}: not a valid regular"):
        parse_scenario({"expect": [expect]}, "s")


def test_a_relative_store_dir_needs_a_file_to_start_from(tmp_path: Path) -> None:
    """A control-API body has no file: its relative store_dir used to land in a directory
    named after the request ("<cwd>/POST /__mockprogress/<dir>")."""
    relative = b'{"tus_uploads": [{"path": "/t", "store_dir": "up"}]}'
    with pytest.raises(mp.ScenarioError, match=r"tus_uploads\[0\]\.store_dir: 'up' is relative"):
        parse_document(relative, None, "POST /__mockprogress/resources")
    absolute = f'{{"tus_uploads": [{{"path": "/t", "store_dir": "{tmp_path / "up"}"}}]}}'
    (resource,) = parse_document(absolute.encode(), None, "POST /__mockprogress/resources")
    assert isinstance(resource, mp.TusUploads) and (tmp_path / "up").is_dir()
    # A file's relative store_dir starts from the file's directory, as before.
    scenario = tmp_path / "s.toml"
    scenario.write_text('[[tus_uploads]]\npath = "/t"\nstore_dir = "from-file"\n')
    load_scenario(scenario)
    assert (tmp_path / "from-file").is_dir()


@pytest.mark.parametrize("table", ["resumable_uploads", "progress_job"])
def test_a_resources_result_is_named_by_its_keys(table: str) -> None:
    """Found by ``make stress``: a result's bad body was said as ``respond() body ...``."""
    spec: dict[str, object] = {"path": "/r", "result": {"status": 201, "body": {"a": 1}}}
    if table == "progress_job":
        spec["stages"] = [["a", 0]]
    document = json.dumps({table: [spec]}).encode()
    with pytest.raises(mp.ScenarioError) as raised:
        parse_document(document, "application/json", "fuzz")
    assert str(raised.value) == (
        f"fuzz: {table}[0].result: body must be bytes, str or a list of bytes, got {{'a': 1}}"
    )
