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


def test_the_demo_client_with_unread_heads_exits_by_itself() -> None:
    with Standalone(str(FIXTURE)) as served:
        started = time.monotonic()
        run = subprocess.run(
            [node(), str(CLIENT), served.url], capture_output=True, text=True, timeout=30
        )
        took = time.monotonic() - started
        assert (run.returncode, run.stdout.splitlines(), run.stderr) == (0, PRINTED, "")
        assert 5.0 <= took < 9.0  # the default keep_alive_timeout, then Node exits
        closes = [
            served.wait_for(
                rf"^\S+ #{n} -> idle for 5 s: server closed the connection "
                r"\(keep_alive_timeout\)$"
            )
            for n in (1, 2, 3)
        ]
        assert len(closes) == 3
        served.stop()


def test_without_the_timeout_it_never_exits() -> None:
    with Standalone(str(FIXTURE), "--keep-alive-timeout", "none") as served:
        with pytest.raises(subprocess.TimeoutExpired) as caught:
            subprocess.run(
                [node(), str(CLIENT), served.url], capture_output=True, text=True, timeout=6
            )
        assert caught.value.stdout is not None
        printed = caught.value.stdout
        text = printed.decode() if isinstance(printed, bytes) else printed
        assert text.splitlines() == PRINTED
        assert not any(re.search("idle for", line) for line in served.lines)
        served.stop()
