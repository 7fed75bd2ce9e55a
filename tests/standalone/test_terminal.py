"""What the standalone server shows on a terminal: colour, and the exchanges in flight redrawn
live under the event lines; none of it when piped or with NO_COLOR (colour only) or
``--log-format json``.

The terminal is a real pseudo-terminal (``pty``): the server cannot tell it from a console.
"""

from __future__ import annotations

import os
import pty
import re
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.standalone import Standalone

from mockprogress.engine.journal import Event, ExchangeLog, InterimRecord
from mockprogress.http.headers import Headers
from mockprogress.standalone.terminal import event_line, live_line, use_colour

SCENARIO = """
[[expect]]
method = "POST"
path = "/upload"
steps = [{ read_body = true }, { respond = { status = 201, body = "stored\\n" } }]

[[expect]]
method = "POST"
path = "/job"
steps = [
  { processing = '1/3 "Knitting sweaters"' },
  { pause = 30 },
  { respond = 200 },
]
"""
REQUEST_COLOUR = "\x1b[1;36m"
ERASE_BLOCK = re.compile(r"\x1b\[\d+F\x1b\[J")


class Terminal:
    """``mockprogress serve`` with its output on a pseudo-terminal."""

    def __init__(self, scenario: Path, env: dict[str, str]) -> None:
        master, slave = pty.openpty()
        self.master = master
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mockprogress", "serve", "--port", "0", str(scenario)],
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=slave,
            env=env,
        )
        os.close(slave)
        self.screen = ""
        ready = self.wait_for(r"listening on http://127\.0\.0\.1:(\d+)")
        self.port = int(ready.group(1))

    def wait_for(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            match = regex.search(self.screen)
            if match:
                return match
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{pattern!r} not on the terminal: {self.screen!r}")
            readable, _, _ = select.select([self.master], [], [], min(left, 0.2))
            if readable:
                try:
                    self.screen += os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:  # EIO: the server has gone
                    raise AssertionError(f"the server exited: {self.screen!r}") from None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)
        os.close(self.master)


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "live.toml"
    path.write_text(SCENARIO)
    return path


def terminal(scenario: Path, **env: str) -> Iterator[Terminal]:
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    environ.update({"TERM": "xterm", **env})
    term = Terminal(scenario, environ)
    try:
        yield term
    finally:
        term.close()


def upload_in_flight(term: Terminal) -> None:
    """Start an upload of 1000 bytes, send 100 and watch the live line; then finish it."""
    with socket.create_connection(("127.0.0.1", term.port), timeout=10) as sock:
        sock.sendall(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"x" * 100
        )
        term.wait_for(
            r"\.\.\. #1 POST /upload  \[##\s{18}\] 100 B of 1000 B received \(10%\)  \d+\.\d s"
        )
        sock.sendall(b"x" * 900)
        reply = b""
        while not reply.endswith(b"stored\n"):
            reply += sock.recv(4096)
    term.wait_for(r"#1 -> 201 Created")


def test_colour_and_a_live_display_on_a_terminal(scenario: Path) -> None:
    for term in terminal(scenario):
        upload_in_flight(term)
        assert f"{REQUEST_COLOUR}" in term.screen
        assert ERASE_BLOCK.search(term.screen)  # the block was redrawn in place
        with socket.create_connection(("127.0.0.1", term.port), timeout=10) as sock:
            sock.sendall(b"POST /job HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            term.wait_for(r'\.\.\. #2 POST /job  1 interim, Progress: 1/3 "Knitting sweaters"')


def test_no_colour_but_still_live_with_no_color(scenario: Path) -> None:
    for term in terminal(scenario, NO_COLOR="1"):
        upload_in_flight(term)
        assert "\x1b[1;" not in term.screen and "\x1b[0m" not in term.screen
        assert ERASE_BLOCK.search(term.screen)


def test_piped_output_has_no_escapes_unless_colour_is_forced() -> None:
    with Standalone("--color", "always") as served:
        subprocess.run(["curl", "-sS", served.url + "/early"], capture_output=True)
        line = served.wait_for(r"GET /early")
        assert line.startswith(REQUEST_COLOUR) and line.endswith("\x1b[0m")
        served.wait_for(r"200 OK")
        assert not any(ERASE_BLOCK.search(text) for text in served.lines)
        served.stop()


@pytest.mark.parametrize(
    ("choice", "isatty", "env", "expected"),
    [
        ("auto", True, {}, True),
        ("auto", False, {}, False),
        ("auto", True, {"NO_COLOR": "1"}, False),
        ("auto", True, {"NO_COLOR": ""}, True),  # no-color.org: set and not empty
        ("auto", True, {"TERM": "dumb"}, False),
        ("always", False, {"NO_COLOR": "1"}, True),
        ("never", True, {}, False),
    ],
)
def test_use_colour(choice: str, isatty: bool, env: dict[str, str], expected: bool) -> None:
    class Stream:
        def isatty(self) -> bool:
            return isatty

    assert use_colour(Stream(), choice, env) is expected  # type: ignore[arg-type]


def test_lines() -> None:
    log = ExchangeLog(
        3,
        1,
        10.0,
        method="PUT",
        target="/files/1",
        http_version="1.1",
        headers=Headers([("Content-Length", "4096")]),
        spool_threshold=1 << 20,
    )
    interim = Event(0.1, "interim", "out", "102 Processing", 102, Headers([("Progress", "1/2")]))
    assert event_line(log, interim) == "#3 -> 102 Processing  Progress: 1/2"
    assert event_line(log, Event(0.2, "fault", "", "reset after 3 body bytes read")) == (
        "#3 !! reset after 3 body bytes read"
    )
    assert event_line(log, Event(0.2, "pause", "", "pause 1 s")) == "#3 .. pause 1 s"
    log.append_body(b"x" * 1024)
    log.add_interim(InterimRecord(102, "Processing", Headers([("Progress", "1/2")]), 0.1))
    assert live_line(log, 12.5) == (
        "#3 PUT /files/1  [#####               ] 1.0 KiB of 4.0 KiB received (25%)  "
        "1 interim, Progress: 1/2  2.5 s"
    )
    log.reserved = True
    assert event_line(log, interim).startswith("ctl#3 -> ")
    opened = Event(0.0, "request", "in", "GET /__mockprogress/ui?a=1&token=s3cret HTTP/1.1")
    assert event_line(log, opened) == "ctl#3 <- GET /__mockprogress/ui?a=1&token=... HTTP/1.1"


def test_the_live_views_reads_get_no_line_unless_refused() -> None:
    """A browser showing the live view reads the control API several times a second; those
    reads would bury the clients' lines. Only a refused one is printed (it says why the page
    shows nothing); a control request without the view's header is printed as before."""
    import io

    from mockprogress.standalone.terminal import TextLog

    def control(headers: list[tuple[str, str]]) -> ExchangeLog:
        log = ExchangeLog(
            1,
            1,
            0.0,
            method="GET",
            target="/__mockprogress/journal",
            http_version="1.1",
            headers=Headers(headers),
            spool_threshold=1 << 20,
        )
        log.reserved = True
        return log

    out = io.StringIO()
    printer = TextLog(out, colour=False, live=False, clock=lambda: 0.0)
    request = Event(0.0, "request", "in", "GET /__mockprogress/journal HTTP/1.1")
    view = control([("X-Mockprogress-View", "live")])
    printer(view, request)
    printer(view, Event(0.01, "response", "out", "200 OK", 200))
    assert out.getvalue() == ""
    printer(view, Event(0.01, "response", "out", "401 Unauthorized", 401))
    assert out.getvalue().endswith("ctl#1 -> 401 Unauthorized\n")
    curl = control([])
    printer(curl, request)
    printer(curl, Event(0.01, "response", "out", "200 OK", 200))
    assert out.getvalue().count("\n") == 3


def test_a_control_token_in_a_target_is_not_printed() -> None:
    """The live view is opened once with ``ui?token=TOKEN``: neither the text lines nor the
    JSON lines repeat the token (a client's own target is printed as it came)."""
    import io
    import json

    from mockprogress.standalone.terminal import JsonLog, TextLog

    target = "/__mockprogress/ui?token=s3cret"
    log = ExchangeLog(
        1,
        1,
        0.0,
        method="GET",
        target=target,
        http_version="1.1",
        headers=Headers(),
        spool_threshold=1 << 20,
    )
    log.reserved = True
    opened = Event(0.0, "request", "in", f"GET {target} HTTP/1.1")
    text, lines = io.StringIO(), io.StringIO()
    TextLog(text, colour=False, live=False, clock=lambda: 0.0)(log, opened)
    JsonLog(lines)(log, opened)
    record = json.loads(lines.getvalue())
    assert "s3cret" not in text.getvalue() + lines.getvalue()
    assert record["target"] == "/__mockprogress/ui?token=..."
    assert record["detail"] == "GET /__mockprogress/ui?token=... HTTP/1.1"
    assert list(record)[:8] == [
        "type",
        "time",
        "exchange",
        "connection",
        "control",
        "method",
        "target",
        "at",
    ]
    log.reserved = False
    assert event_line(log, opened) == f"#1 <- GET {target} HTTP/1.1"
