"""The reference demo's client never reads the (empty) bodies of its HEAD responses, so Node
keeps those sockets, and the process, alive until the server closes them
(tests/node/http-progress/head-unread.cjs does the same). Against ``mockprogress serve
fixtures/http-progress-demo.toml`` it exits by itself once the idle connections are closed
(``keep_alive_timeout``, 5 s by default, as Node's own server), and the server's output says
so; with ``--keep-alive-timeout none`` it would never exit."""

from __future__ import annotations

import re
import shutil
import subprocess
import time

import pytest
from support.paths import ROOT
from support.standalone import Standalone

FIXTURE = ROOT / "fixtures" / "http-progress-demo.toml"
CLIENT = ROOT / "tests" / "node" / "http-progress" / "head-unread.cjs"
PRINTED = [
    "HEAD /test/data -> 200, Content-Length 1000000",
    "HEAD /test/ -> 200, Content-Length 39",
    "HEAD /test/status -> 200, Content-Length 195",
]


def node() -> str:
    binary = shutil.which("node")
    assert binary, "these tests drive Node's http module: install Node.js (20 or newer)"
    return binary


def test_the_demo_client_exits_by_itself_and_without_the_timeout_never() -> None:
    """Both runs at once (the test waits the five seconds once): against the default
    ``keep_alive_timeout`` the client exits about 5 s after it started and the server says
    why; against ``--keep-alive-timeout none`` it is still running a second later."""
    with (
        Standalone(str(FIXTURE)) as served,
        Standalone(str(FIXTURE), "--keep-alive-timeout", "none") as kept,
    ):
        started = time.monotonic()
        exiting = subprocess.Popen(
            [node(), str(CLIENT), served.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        lingering = subprocess.Popen(
            [node(), str(CLIENT), kept.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            out, err = exiting.communicate(timeout=30)
            took = time.monotonic() - started
            assert (exiting.returncode, out.decode().splitlines(), err.decode()) == (0, PRINTED, "")
            assert 5.0 <= took < 9.0  # the default keep_alive_timeout, then Node exits
            with pytest.raises(subprocess.TimeoutExpired):
                lingering.wait(timeout=max(0.0, started + 6.0 - time.monotonic()))
        finally:
            for run in (exiting, lingering):
                if run.poll() is None:
                    run.kill()
        exiting.communicate(timeout=10)
        printed, _ = lingering.communicate(timeout=10)
        assert printed.decode().splitlines() == PRINTED
        closes = [
            served.wait_for(
                rf"^\S+ #{n} -> idle for 5 s: server closed the connection "
                r"\(keep_alive_timeout\)$"
            )
            for n in (1, 2, 3)
        ]
        assert len(closes) == 3
        assert not any(re.search("idle for", line) for line in kept.lines)
        served.stop()
        kept.stop()
