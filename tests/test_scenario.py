"""Scenario files build the same objects as the Python API; mistakes name the file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

import mockprogress as mp
from mockprogress._cli import demo_files
from mockprogress._matching import Expectation
from mockprogress._scenario import load_scenario
from mockprogress._steps import Cut, Drip


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


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[expect]]\npath = '/x'\n", "expect[0].steps: missing"),
        ("[[expect]]\nsteps = [{ respond = 200 }]\n", "expect[0].path: missing"),
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
            "[[expect]]\npath = '/x'\nsteps = [{ pause = -1 }]\n",
            "expect[0].steps[0].pause: pause must be a finite number >= 0",
        ),
        (
            "[[expect]]\npath = '/x'\nsteps = [{ processing = '5/3' }]\n",
            "expect[0].steps[0].processing: progress denominator 3 is smaller",
        ),
        (
            "[[expect]]\npath = '/x'\nsteps = [{ pause = 1 }]\n",
            "expect[0]: the script never answers",
        ),
        (
            "[[expect]]\npath = '/x'\ntimes = 0\nsteps = [{ respond = 200 }]\n",
            "expect[0]: times must be an integer >= 1",
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


def test_missing_file() -> None:
    with pytest.raises(mp.ScenarioError, match="no such scenario file"):
        load_scenario("/nonexistent/scenario.toml")


@pytest.mark.parametrize("path", demo_files(), ids=lambda p: p.name)
def test_the_demo_set_loads(path: Path) -> None:
    assert load_scenario(path)


def test_server_load_registers_everything(tmp_path: Path) -> None:
    path = write(tmp_path, "[[expect]]\npath = '/x'\nsteps = [{ respond = 204 }]\n")
    with mp.MockServer() as srv:
        (exp,) = srv.load(path)
        from recording_client import request

        reply = request(srv.port, "GET", "/x")
        assert reply.status == 204
        assert isinstance(exp, Expectation) and exp.calls == 1
