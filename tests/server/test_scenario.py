"""Scenario files build the same objects as the Python API; mistakes name the file and key.

docs/scenarios.md holds an example per step, checked by test_docs_scenarios.py; this file
covers the loader itself: JSON and TOML alike, request bodies of the control API, matchers on
the wire, resource tables, and that no mistake ever surfaces as anything but a ScenarioError
naming the key.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.paths import ROOT
from support.recording_client import request

import mockprogress as mp
from mockprogress.engine.matching import Expectation
from mockprogress.scenario.document import load_scenario, parse_document, parse_scenario
from mockprogress.scenario.resources import RESOURCE_BUILDERS
from mockprogress.script.steps import Cut, Drip
from mockprogress.standalone.cli import demo_files


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    return path


def test_steps_match_the_python_api(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[expect]]
method = "POST"
path = "/jobs"
times = 2
name = "jobs"
match.headers = { Prefer = "processing" }
match.query = { dry = "1" }

  [[expect.steps]]
  processing = { progress = '0/2 "Herding cats"', location = "/s/1", status_uri = [[201, "/c"]] }
  [[expect.steps]]
  processing = [1, 2, "Knitting sweaters"]
  [[expect.steps]]
  interim = { status = 104, headers = { Location = "/u/1" } }
  [[expect.steps]]
  early_hints = ["</a.css>; rel=preload"]
  [[expect.steps]]
  pause = 0.5
  [[expect.steps]]
  read_body = { upto = 10 }
  [[expect.steps]]
  respond = { status = 200, body = "0123456789", cut = { at = 3, how = "reset" }, drip = { chunk = 2, interval = 0.1 } }
""",
    )
    (exp,) = load_scenario(path)
    assert isinstance(exp, Expectation)
    assert (exp.method, exp.path, exp.times, exp.name) == ("POST", "/jobs", 2, "jobs")
    assert exp.headers == {"Prefer": "processing"} and exp.query == {"dry": "1"}
    assert exp.script.steps == (
        mp.processing('0/2 "Herding cats"', location="/s/1", status_uri=[(201, "/c")]),
        mp.processing((1, 2, "Knitting sweaters")),
        mp.interim(104, {"Location": "/u/1"}),
        mp.early_hints("</a.css>; rel=preload"),
        mp.pause(0.5),
        mp.read_body(10),
        mp.respond(200, "0123456789").cut(3, how="reset").drip(chunk=2, interval=0.1),
    )
    last = exp.script.steps[-1]
    assert isinstance(last, mp.Step)
    assert last.fault == Cut(3, "body", "reset") and last.pacing == Drip(2, 0.1)  # type: ignore[attr-defined]


def test_short_forms(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[expect]]
path = "/x"
steps = [{ processing = "1/2" }, { interim = 103 }, { read_body = true }, { raw = "HTTP/1.1 200 OK\\r\\n" }, { stall = 2 }]

[[expect]]
path = "/y"
steps = [{ respond = 204 }]

[[expect]]
path = "/z"
steps = [{ drop = "reset" }]
""",
    )
    x, y, z = load_scenario(path)
    assert isinstance(x, Expectation) and isinstance(y, Expectation) and isinstance(z, Expectation)
    assert x.method is None
    assert x.script.steps == (
        mp.processing("1/2"),
        mp.interim(103),
        mp.read_body(),
        mp.raw(b"HTTP/1.1 200 OK\r\n"),
        mp.stall(2),
    )
    assert y.script.steps == (mp.respond(204),)
    assert z.script.steps == (mp.drop("reset"),)


#: Mistakes the Python API names by a call (``cut(seconds=...)``, ``interrupt(after=...)``,
#: ``mp.respond()``): the loader says them with the file's keys instead.
CALLS_AS_KEYS = [
    (
        "[[expect]]\npath = '/x'\nsteps = [{ respond = { body = 'ab', cut = { at = 1, seconds = 1 } } }]\n",
        'expect[0].steps[0].respond.cut.seconds: only applies to how = "stall"',
    ),
    (
        "[[expect]]\npath = '/x'\nsteps = [{ respond = { body = 'ab', cut = { at = -2 } } }]\n",
        "expect[0].steps[0].respond.cut.at: must be an integer >= 0, got -2",
    ),
    (
        "[[expect]]\npath = '/x'\nsteps = [{ respond = { body = 'ab', cut = -1 } }]\n",
        "expect[0].steps[0].respond.cut: must be an integer >= 0, got -1",
    ),
    (
        "[[expect]]\npath = '/x'\nsteps = [{ respond = { body = 'ab', cut = { at = 1, split_record = true } } }]\n",
        'expect[0].steps[0].respond.cut.split_record: only applies to how = "reset"',
    ),
    (
        "[[expect]]\npath = '/x'\nsteps = [{ respond = { body = 5 } }]\n",
        "expect[0].steps[0].respond: body must be bytes, str or a list of bytes, got 5",
    ),
    (
        "[[expect]]\npath = '/x'\nsteps = [{ read_body = -1 }, { respond = 200 }]\n",
        "expect[0].steps[0].read_body: must be an integer >= 0, got -1",
    ),
    (
        "[[expect]]\npath = '/x'\nsteps = [{ read_body = { upto = -1 } }, { respond = 200 }]\n",
        "expect[0].steps[0].read_body.upto: must be an integer >= 0, got -1",
    ),
    (
        "[[expect]]\npath = '/x'\nsteps = [{ lying_content_length = { body = 'abc', declared = 3 } }]\n",
        "expect[0].steps[0].lying_content_length.declared: 3 is the body's true length: "
        "use respond for an honest one",
    ),
    (
        "[[expect]]\npath = '/x'\nsteps = [{ interim = 101 }]\n",
        "expect[0].steps[0].interim: 101 Switching Protocols is not an interim response: "
        "use upgrade_websocket or raw for an unsolicited 101",
    ),
    (
        "[[expect]]\npath = '/x'\nsteps = [{ pause = 1 }]\n",
        "expect[0].steps: the script never answers: end it with respond, drop, stall or raw",
    ),
    (
        "[[expect]]\npath = '/x'\nsteps = [{ early_hints = { links = [['</a>']] } }, { respond = 200 }]\n",
        "expect[0].steps[0].early_hints.links[0]: expected a Link value, got ['</a>']",
    ),
    (
        "[[expect]]\npath = '/x'\nsteps = [{ upgrade_websocket = { actions = [{ send = 5 }] } }]\n",
        "expect[0].steps[0].upgrade_websocket.actions[0].send: takes str or bytes, got 5",
    ),
    (
        "[[expect]]\npath = '/x'\nsteps = [{ upgrade_websocket = { actions = [{ send = 'hi', cut = { at = -1 } }] } }]\n",
        "expect[0].steps[0].upgrade_websocket.actions[0].cut.at: must be an integer >= 0, got -1",
    ),
    (
        "[[expect]]\npath = '/x'\nsteps = [{ upgrade_websocket = { actions = [{ echo = 0 }] } }]\n",
        "expect[0].steps[0].upgrade_websocket.actions[0].echo: must be an integer >= 1, got 0",
    ),
    (
        "[[expect]]\npath = '/x'\nexpect_continue = 'later'\nsteps = [{ respond = 200 }]\n",
        'expect[0].expect_continue: expected "auto", "immediate", "never" or a table such as '
        '{ mode = "delay", seconds = 0.5 } or { mode = "reject", status = 417 }, got \'later\'',
    ),
    (
        "[[tus_uploads]]\npath = '/u'\ninterrupts = [{ after = -1 }]\n",
        "tus_uploads[0].interrupts[0].after: must be an integer >= 0, got -1",
    ),
    (
        "[[tus_uploads]]\npath = '/u'\ninterrupts = [{ after = 1, seconds = 1 }]\n",
        'tus_uploads[0].interrupts[0].seconds: only applies to how = "stall"',
    ),
    (
        "[[cut_request_head]]\nat = 1\ntimes = 0\n",
        "cut_request_head[0].times: must be an integer >= 1, got 0",
    ),
]


@pytest.mark.parametrize(("text", "message"), CALLS_AS_KEYS)
def test_mistakes_are_named_by_the_file_s_keys_not_python_calls(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(mp.ScenarioError) as info:
        load_scenario(path)
    assert str(info.value) == f"{path}: {message}"
    assert not re.search(r"\w\((\w+=|\.\.\.|\))", str(info.value))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[expect]]\npath = '/x'\n", "expect[0].steps: missing"),
        ("[[expect]]\nsteps = [{ respond = 200 }]\n", "expect[0].path: missing"),
        (
            "[[expect]]\npath = '/x'\npath_regex = 'x'\nsteps = [{ respond = 200 }]\n",
            "expect[0].path: give path or path_regex, not both",
        ),
        (
            "[[expect]]\npath = 5\nsteps = [{ respond = 200 }]\n",
            'expect[0].path: expected a path such as "/jobs", got 5',
        ),
        (
            "[[expect]]\npath = 'x'\nsteps = [{ respond = 200 }]\n",
            "expect[0]: path must start with '/', got 'x'",
        ),
        (
            "[[expect]]\npath_regex = '(['\nsteps = [{ respond = 200 }]\n",
            "expect[0].path_regex: not a valid regular expression: unterminated character set",
        ),
        (
            "[[expect]]\nmethod = 7\npath = '/x'\nsteps = [{ respond = 200 }]\n",
            'expect[0].method: expected a method such as "GET", or "*", got 7',
        ),
        (
            "[[expect]]\npath = '/x'\nsteps = [{ respnd = 200 }]\n",
            "expect[0].steps[0].respnd: unknown step",
        ),
        (
            "[[expect]]\npath = '/x'\nsteps = [{ respond = { status = 'ok' } }]\n",
            "expect[0].steps[0].respond: final response status must be an integer",
        ),
        (
            "[[expect]]\npath = '/x'\nsteps = [{ respond = { bodyy = 'x' } }]\n",
            "expect[0].steps[0].respond.bodyy: unknown key",
        ),
        (
            "[[expect]]\npath = '/x'\nsteps = [{ respond = { body = 'x', json = 1 } }]\n",
            "expect[0].steps[0].respond.json: give one of body / json, not both",
        ),
        (
            "[[expect]]\npath = '/x'\nsteps = [{ respond = { body_base64 = '***' } }]\n",
            "expect[0].steps[0].respond.body_base64: expected base64 text, got '***'",
        ),
        (
            "[[expect]]\npath = '/x'\nsteps = [{ respond = { drip = { chunk = 'x', interval = 1 } } }]\n",
            "expect[0].steps[0].respond: drip chunk must be an integer >= 1, got 'x'",
        ),
        (
            "[[expect]]\npath = '/x'\nsteps = [{ pause = -1 }]\n",
            "expect[0].steps[0].pause: pause must be a finite number >= 0",
        ),
        (
            "[[expect]]\npath = '/x'\nsteps = [{ processing = '5/3' }]\n",
            "expect[0].steps[0].processing: progress denominator 3 is smaller",
        ),
        (
            "[[expect]]\npath = '/x'\nsteps = [{ raw = { text = 'caf\u00e9\u20ac' } }]\n",
            "expect[0].steps[0].raw.text: text beyond latin-1: use base64 = ...",
        ),
        (
            "[[expect]]\npath = '/x'\nsteps = [{ pause = 1 }]\n",
            "expect[0].steps: the script never answers",
        ),
        (
            "[[expect]]\npath = '/x'\nsteps = [{ respond = 200 }, { interim = 103 }]\n",
            "expect[0].steps: step 1 (Interim) follows the final response",
        ),
        (
            "[[expect]]\npath = '/x'\ntimes = 0\nsteps = [{ respond = 200 }]\n",
            "expect[0].times: expected an integer >= 1, got 0",
        ),
        (
            "[[expect]]\npath = '/x'\nordered = 2\nsteps = [{ respond = 200 }]\n",
            "expect[0].ordered: expected true or a group name, got 2",
        ),
        (
            "[[expect]]\npath = '/x'\nname = []\nsteps = [{ respond = 200 }]\n",
            "expect[0].name: expected a string, got []",
        ),
        (
            "[[expect]]\npath = '/x'\ncurl = 1\nsteps = [{ respond = 200 }]\n",
            "expect[0].curl: expected a string, got 1",
        ),
        (
            "[[expect]]\npath = '/x'\nmatch.cookies = {}\nsteps = [{ respond = 200 }]\n",
            "expect[0].match.cookies: unknown key",
        ),
        (
            "[[expect]]\npath = '/x'\nmatch.headers = { A = { regexp = 'x' } }\nsteps = [{ respond = 200 }]\n",
            "expect[0].match.headers.A.regexp: unknown key (expected one of: regex)",
        ),
        (
            "[[expect]]\npath = '/x'\nmatch.query = { a = { regex = '+' } }\nsteps = [{ respond = 200 }]\n",
            "expect[0].match.query.a.regex: not a valid regular expression: nothing to repeat",
        ),
        (
            "[[expect]]\npath = '/x'\nmatch = { body = 'a', json = 1 }\nsteps = [{ respond = 200 }]\n",
            "expect[0].match.json: match on one of body / json, not both",
        ),
        (
            "[[expect]]\npath = '/x'\nmatch.body_regex = 5\nsteps = [{ respond = 200 }]\n",
            "expect[0].match.body_regex: expected a regular expression (a string), got 5",
        ),
        (
            "[[expect]]\npath = '/x'\nsteps = [{ respond = 200, pause = 1 }]\n",
            "a step is a table with exactly one key",
        ),
        (
            "[[expect]]\npath = '/x'\nsteps = [{ respond = { cut = { how = 'reset' } } }]\n",
            "expect[0].steps[0].respond.cut.at: missing",
        ),
        (
            "[[expect]]\npath = '/x'\nbogus = 1\nsteps = [{ respond = 200 }]\n",
            "expect[0].bogus: unknown key",
        ),
        ("title = 3\n", "title: expected a string, got 3"),
        ("expect = 'nope'\n", "expect: expected [[expect]] tables"),
        ("unknown_table = 1\n", "(top level).unknown_table: unknown key"),
        ("[[expect]\n", "not valid TOML"),
    ],
)
def test_bad_files_name_the_file_and_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(mp.ScenarioError) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(mp.ScenarioError, match="no such scenario file"):
        load_scenario("/nonexistent/scenario.toml")
    with pytest.raises(mp.ScenarioError, match=r"^.*: cannot read it: Is a directory$"):
        load_scenario(tmp_path)
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b"title = '\xe9'\n")
    with pytest.raises(mp.ScenarioError, match=r"latin\.toml: not UTF-8 text"):
        load_scenario(latin)


def test_a_json_file_builds_what_the_toml_file_builds(tmp_path: Path) -> None:
    toml_path = write(
        tmp_path,
        """
[[expect]]
method = "POST"
path_regex = "/jobs/[0-9]+"
match.headers = { Prefer = { regex = "respond-async.*" } }
match.json = { go = true }
description = "a job"
steps = [{ processing = [0, 2] }, { respond = { status = 202, json = { id = 1 } } }]
""",
    )
    json_path = tmp_path / "scenario.json"
    json_path.write_text(json.dumps(tomllib.loads(toml_path.read_text())))
    (a,) = load_scenario(toml_path)
    (b,) = load_scenario(json_path)
    assert isinstance(a, Expectation) and isinstance(b, Expectation)
    assert (a.method, a.path, a.headers, a.json, a.description, a.script) == (
        b.method,
        b.path,
        b.headers,
        b.json,
        b.description,
        b.script,
    )
    assert a.path == re.compile("/jobs/[0-9]+")
    bad = tmp_path / "bad.json"
    bad.write_text('{"expect": [}')
    with pytest.raises(mp.ScenarioError, match=r"bad\.json: not valid JSON: Expecting value"):
        load_scenario(bad)
    null = tmp_path / "null.json"
    null.write_text('{"expect": [{"path": "/x", "steps": [{"respond": null}]}]}')
    with pytest.raises(mp.ScenarioError) as info:
        load_scenario(null)
    assert str(info.value) == f"{null}: expect[0].steps[0].respond: expected a table, got null"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"expect": [{"path": "/x", "steps": [{"respond": 204}]}]}', "application/json"),
        (b'{"expect": [{"path": "/x", "steps": [{"respond": 204}]}]}', None),
        (b"[[expect]]\npath = '/x'\nsteps = [{ respond = 204 }]\n", "application/toml"),
        (b"[[expect]]\npath = '/x'\nsteps = [{ respond = 204 }]\n", None),
        (b"[[expect]]\npath = '/x'\nsteps = [{ respond = 204 }]\n", "text/plain"),
    ],
)
def test_documents_sent_as_bytes(body: bytes, content_type: str | None) -> None:
    (exp,) = parse_document(body, content_type, "POST /ctl")
    assert isinstance(exp, Expectation)
    assert (exp.path, exp.script.steps) == ("/x", (mp.respond(204),))


def test_documents_sent_as_bytes_name_their_mistakes() -> None:
    with pytest.raises(mp.ScenarioError, match=r"^POST /ctl: not valid TOML"):
        parse_document(b"{nope", "application/toml", "POST /ctl")
    with pytest.raises(mp.ScenarioError, match=r"^POST /ctl: not valid JSON"):
        parse_document(b"[[expect]]", "application/json", "POST /ctl")
    with pytest.raises(mp.ScenarioError, match=r"^POST /ctl: a scenario document is UTF-8"):
        parse_document(b"\xff\xfe", None, "POST /ctl")
    with pytest.raises(mp.ScenarioError, match=r"^POST /ctl: \(top level\): expected a table"):
        parse_document(b"[1, 2]", "application/json", "POST /ctl")


# ---- never a traceback ------------------------------------------------------------------------

WRONG_VALUES: list[Any] = [
    None,
    0,
    -1,
    1.5,
    True,
    "x",
    "",
    [],
    {},
    [1],
    {"a": 1},
    "\x00\r\n",
    10**30,
    float("nan"),
    [[1, 2]],
    ["a", "b"],
]
DELETE = object()
PYTHON_PHRASES = re.compile(
    r"unsupported operand|object is not|NoneType|has no attribute|positional|not supported between"
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if prefix:
        yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


def _documents() -> list[dict[str, Any]]:
    docs = ROOT / "docs" / "scenarios.md"
    found = re.findall(r"^```toml\n(.*?)^```$", docs.read_text(), re.M | re.S)
    return [tomllib.loads(text) for text in found] + [
        tomllib.loads(path.read_text()) for path in demo_files()
    ]


TABLES = "|".join(["title", "description", "expect", "cut_request_head", *RESOURCE_BUILDERS])


def test_any_wrong_value_anywhere_is_a_scenario_error_naming_its_key() -> None:
    """Every key of every documented example and demo file, replaced by values of every other
    type (or deleted), loads or fails with a ScenarioError in the loader's words; nothing else
    ever escapes."""
    cases = 0
    for document in _documents():
        for path in _paths(document):
            for value in [*WRONG_VALUES, DELETE]:
                mutated = copy.deepcopy(document)
                node = mutated
                for part in path[:-1]:
                    node = node[part]
                if value is DELETE:
                    del node[path[-1]]
                else:
                    node[path[-1]] = value
                cases += 1
                try:
                    parse_scenario(mutated, "fuzz")
                except mp.ScenarioError as exc:
                    message = str(exc)
                    assert re.match(rf"fuzz: (\(top level\)|{TABLES})", message), message
                    assert not PYTHON_PHRASES.search(message), message
    assert cases > 5000


# ---- matchers on the wire --------------------------------------------------------------------


def test_file_matchers_on_the_wire(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[expect]]
method = "PUT"
path_regex = "/files/[0-9]+"
match.query = { tag = { regex = "v[0-9]+" } }
match.headers = { Authorization = { regex = "Bearer .+" } }
match.body_regex = "(?s)%PDF-.*"
steps = [{ respond = { status = 201, body = "stored\\n" } }]

[[expect]]
method = "POST"
path = "/orders"
match.json = { item = "sweater" }
steps = [{ respond = 202 }]
""",
    )
    with mp.MockServer() as srv:
        srv.load(path)
        pdf = b"%PDF-1.7\n..."
        ok = request(
            srv.port, "PUT", "/files/12?tag=v3", headers=[("Authorization", "Bearer t")], body=pdf
        )
        assert (ok.status, ok.body) == (201, b"stored\n")
        wrong_path = request(
            srv.port, "PUT", "/files/x?tag=v3", headers=[("Authorization", "Bearer t")], body=pdf
        )
        wrong_body = request(
            srv.port, "PUT", "/files/1?tag=v3", headers=[("Authorization", "Bearer t")], body=b"x"
        )
        wrong_tag = request(
            srv.port, "PUT", "/files/1?tag=v", headers=[("Authorization", "Bearer t")], body=pdf
        )
        json_ok = request(srv.port, "POST", "/orders", body=b'{"item": "sweater"}')
        assert [wrong_path.status, wrong_body.status, wrong_tag.status] == [500, 500, 500]
        assert json_ok.status == 202
        assert b"body: wanted /(?s)%PDF-.*/, got b'x'" in wrong_body.body
        assert b"query tag: wanted /v[0-9]+/, got 'v'" in wrong_tag.body
        assert b"path: wanted //files/[0-9]+/, got '/files/x'" in wrong_path.body
        with pytest.raises(mp.ExpectationError):
            srv.check()


# ---- resources ------------------------------------------------------------------------------


class Shelf(mp.Resource):
    """A resource for the loader's sake: answers 200 with its label."""

    def __init__(self, path: str, label: str = "") -> None:
        super().__init__(path)
        self.label = label


def _shelf(value: Any, key: str, where: Any) -> mp.Resource:
    from mockprogress.scenario.keys import table

    spec = table(value, key, where, {"path", "label"})
    return Shelf(spec["path"], spec.get("label", ""))


def test_resource_tables_take_description_and_curl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(RESOURCE_BUILDERS, "shelf", _shelf)
    path = write(
        tmp_path,
        """
[[shelf]]
path = "/shelf"
label = "books"
description = "a shelf of books"
curl = "curl {url}/shelf"
""",
    )
    (shelf,) = load_scenario(path)
    assert isinstance(shelf, Shelf)
    assert (shelf.path, shelf.label, shelf.description, shelf.curl) == (
        "/shelf",
        "books",
        "a shelf of books",
        "curl {url}/shelf",
    )
    for text, message in [
        ("[[shelf]]\npath = 'shelf'\n", "shelf[0]: a resource path must start with '/'"),
        ("[[shelf]]\npath = '/s'\nlable = 'x'\n", "shelf[0].lable: unknown key"),
        ("[[shelf]]\n", "shelf[0].path: missing"),
        ("[[shelf]]\npath = '/s'\ndescription = 2\n", "shelf[0].description: expected a"),
        ("shelf = 1\n", "shelf: expected [[shelf]] tables"),
    ]:
        with pytest.raises(mp.ScenarioError) as info:
            load_scenario(write(tmp_path, text))
        assert str(info.value).startswith(f"{path}: {message}"), str(info.value)


@pytest.mark.parametrize("path", demo_files(), ids=lambda p: p.name)
def test_the_demo_set_loads(path: Path) -> None:
    items = load_scenario(path)
    assert items
    for item in items:
        if isinstance(item, Expectation) and item.path == "/":
            continue  # the index itself
        # The index shows what each demo route is for and how to see it.
        hint = "add description = ... and curl = ... to it (docs/scenarios.md#index)"
        assert item.description, f"{path.name}: {item.describe()} has no description: {hint}"
        assert item.curl and "{url}" in item.curl, f"{path.name}: {item.describe()}: {hint}"


def test_server_load_registers_everything(tmp_path: Path) -> None:
    path = write(tmp_path, "[[expect]]\npath = '/x'\nsteps = [{ respond = 204 }]\n")
    with mp.MockServer() as srv:
        (exp,) = srv.load(path)
        reply = request(srv.port, "GET", "/x")
        assert reply.status == 204
        assert isinstance(exp, Expectation) and exp.calls == 1


def test_malformed_framing_and_head_cuts_from_a_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[cut_request_head]]
at = 10
how = "close"

[[expect]]
path = "/short"
steps = [{ lying_content_length = { body = "abc", declared = 10 } }]

[[expect]]
path = "/chunks"
steps = [{ malformed_chunked = { chunks = [[5, "hello"], ["zz", "world"]] } }]

[[expect]]
path = "/switch"
steps = [{ unsolicited_101 = { upgrade = "echo", then = "hi" } }]
""",
    )
    import socket

    def exchange(port: int, request: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(request)
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
            return data

    with mp.MockServer() as srv:
        items = srv.load(path)
        assert len(items) == 4
        # The first head is cut after 10 bytes: nothing is answered.
        assert exchange(srv.port, b"GET /short HTTP/1.1\r\nHost: x\r\n\r\n") == b""
        assert exchange(srv.port, b"GET /short HTTP/1.1\r\nHost: x\r\n\r\n") == (
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
        )
        assert exchange(srv.port, b"GET /chunks HTTP/1.1\r\nHost: x\r\n\r\n").endswith(
            b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nworld\r\n0\r\n\r\n"
        )
        assert exchange(srv.port, b"GET /switch HTTP/1.1\r\nHost: x\r\n\r\n") == (
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nhi"
        )
        first = srv.journal[0]
        assert first.fault is not None and first.fault.bytes_received == 10
        srv.check()
