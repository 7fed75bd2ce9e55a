"""Scenario tables for the wright resources build the same objects as the Python API, and
their mistakes name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.recording_client import request
from support.wright_client import locations, post

import mockprogress as mp
from mockprogress.scenario.document import load_scenario


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "wright.toml"
    path.write_text(text)
    return path


def test_the_tables_build_the_resources(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[resumable_requests]]
path = "/upload"
jobs_path = "/jobs"
dialect = "demo"
incomplete_status = 206
acknowledge_every = 1024
interrupts = [{ after = 10, request = 1, how = "close" }, { after = 5, request = "every" }]

  [[resumable_requests.process]]
  processing = '0/1 "Checking"'

  [[resumable_requests.process]]
  respond = { status = 201, body = "stored\\n" }

[[byte_range]]
path = "/files"
sparse = "zero-fill"
max_size = 4096
documents = { "/files/a.txt" = "hello" }

[[http_progress_demo]]
lines = 10
""",
    )
    resumable, byte_range, demo = load_scenario(path)
    assert isinstance(resumable, mp.ResumableRequests)
    assert (resumable.path, resumable.jobs_path, resumable.dialect) == ("/upload", "/jobs", "demo")
    assert (resumable.incomplete_status, resumable.incomplete_reason) == (206, "Partial Content")
    assert resumable.plan.interrupts == (
        mp.interrupt(after=10, request=1, how="close"),
        mp.interrupt(after=5, request=None),
    )
    assert isinstance(byte_range, mp.ByteRangeResource)
    assert (byte_range.sparse, byte_range.max_size) == ("zero-fill", 4096)
    assert isinstance(demo, mp.HttpProgressDemo) and len(demo.data) == 100
    with mp.MockServer() as srv:
        srv.load(path)
        assert request(srv.port, "GET", "/files/a.txt").body == b"hello"
        first = post(
            srv.port, "/upload", b"0123456789abc", [("Expect", "100-continue"), ("Prefer", "x")]
        )
        rcl, _ = locations(first)
        assert rcl == "/jobs/1.req" and first.status is None
        reply = request(srv.port, "HEAD", rcl)
        assert (reply.status, reply.header("content-length")) == (206, "10")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[resumable_requests]]\ndialect = 'demo'\n", "resumable_requests[0].path: missing"),
        (
            "[[resumable_requests]]\npath = '/u'\ncolour = 1\n",
            "resumable_requests[0].colour: unknown key",
        ),
        (
            "[[resumable_requests]]\npath = '/u'\ndialect = 'rfc'\n",
            "resumable_requests[0]: dialect must be",
        ),
        (
            "[[resumable_requests]]\npath = '/u'\nincomplete_status = 404\n",
            "incomplete_status status must be",
        ),
        (
            "[[resumable_requests]]\npath = '/u'\ninterrupts = 3\n",
            "resumable_requests[0].interrupts: expected a list",
        ),
        (
            "[[resumable_requests]]\npath = '/u'\ninterrupts = [{ request = 1 }]\n",
            "interrupts[0].after: missing",
        ),
        (
            "[[resumable_requests]]\npath = '/u'\ninterrupts = [{ after = 1, how = 'slam' }]\n",
            "interrupts[0]: interrupt how must be",
        ),
        (
            "[[resumable_requests]]\npath = '/u'\nprocess = []\n",
            "resumable_requests[0].process: expected a list of steps",
        ),
        (
            "[[resumable_requests]]\npath = '/u'\nprocess = [{ nap = 1 }]\n",
            "process[0].nap: unknown step",
        ),
        (
            "[[resumable_requests]]\npath = '/u'\nprocess = [{ pause = 1 }]\n",
            "the script never answers",
        ),
        ("[[byte_range]]\nsparse = 'refuse'\n", "byte_range[0].path: missing"),
        ("[[byte_range]]\npath = '/f'\nsparse = 'maybe'\n", "byte_range[0]: sparse must be"),
        ("[[byte_range]]\npath = '/f'\ndocuments = { '/g/x' = 'a' }\n", "is not under /f"),
        (
            "[[byte_range]]\npath = '/f'\ndocuments = { '/f/x' = 1 }\n",
            "byte_range[0].documents: expected a table",
        ),
        (
            "[[http_progress_demo]]\npath = '/'\n",
            "http_progress_demo[0]: the demo's tests need a path",
        ),
        ("[[http_progress_demo]]\nlines = 0\n", "lines must be an integer >= 1"),
    ],
)
def test_mistakes_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(mp.ScenarioError) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)
