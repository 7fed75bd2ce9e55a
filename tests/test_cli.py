"""The standalone server, run as a user runs it: a subprocess, a readiness line, curl."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mockprogress._cli import main

READY = re.compile(r"^mockprogress listening on (http://127\.0\.0\.1:(\d+))$")


class Served:
    def __init__(self, proc: subprocess.Popen[str], url: str) -> None:
        self.proc = proc
        self.url = url


def serve(*args: str) -> Iterator[Served]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockprogress", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().rstrip("\n")
        match = READY.match(line)
        assert match, (
            f"unexpected first line {line!r}; stderr: {proc.stderr.read() if proc.stderr else ''}"
        )
        yield Served(proc, match.group(1))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def demo() -> Iterator[Served]:
    yield from serve()


def curl(*args: str) -> str:
    return subprocess.run(
        ["curl", "-sS", "--max-time", "10", *args], capture_output=True, text=True, check=True
    ).stdout


def test_the_demo_progress_route_shows_102s_then_the_final_response(demo: Served) -> None:
    out = curl("-i", "-X", "POST", demo.url + "/jobs")
    statuses = re.findall(r"^HTTP/1\.1 (\d{3} [A-Za-z ]+)$", out, re.M)
    assert statuses == ["102 Processing"] * 3 + ["201 Created"]
    assert re.findall(r"^Progress: (.*)$", out, re.M) == [
        '0/3 "Herding cats"',
        '1/3 "Knitting sweaters"',
        '2/3 "Slaying dragons"',
        '3/3 "Available"',
    ]
    assert out.endswith("created\n")


def test_events_are_printed_as_they_happen_and_sigterm_stops(demo: Served) -> None:
    curl("-i", demo.url + "/early")
    demo.proc.send_signal(signal.SIGTERM)
    out, _ = demo.proc.communicate(timeout=10)
    assert demo.proc.returncode == 0
    lines = out.splitlines()
    assert any(re.search(r"#1 <- GET /early HTTP/1.1$", line) for line in lines)
    assert any(
        "#1 -> 103 Early Hints  Link: </style.css>; rel=preload; as=style" in line for line in lines
    )
    assert any(re.search(r"#1 -> 200 OK$", line) for line in lines)


def test_serves_the_given_scenario_files(tmp_path: Path) -> None:
    path = tmp_path / "one.toml"
    path.write_text(
        "[[expect]]\npath = '/only'\nsteps = [{ respond = { status = 200, body = 'just this' } }]\n"
    )
    for served in serve(str(path)):
        assert curl(served.url + "/only") == "just this"
        assert "matched no expectation" in curl(served.url + "/jobs")


def test_a_bad_scenario_file_is_named_with_its_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[[expect]]\npath = '/x'\nsteps = [{ respond = { status = 42 } }]\n")
    proc = subprocess.run(
        [sys.executable, "-m", "mockprogress", "serve", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        f"mockprogress: {path}: expect[0].steps[0].respond: final response status"
    )
    assert "Traceback" not in proc.stderr


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("mockprogress 0.")
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    assert "--port" in capsys.readouterr().out
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
