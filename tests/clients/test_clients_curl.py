"""The curl command line against the server: ``-i`` prints every 1xx block before the final one.

curl is one of the few clients that shows interim responses, and the one people
reach for when they try the standalone server by hand. Its ``%{http_code}`` is the final
status: curl skips 1xx for the result.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from support.jobs_scenario import (
    CREATED_BODY,
    ITEM_LOCATION,
    PROGRESS,
    STATUS_LOCATION,
    expect_jobs,
)

import mockprogress as mp

CURL = shutil.which("curl")
pytestmark = pytest.mark.skipif(CURL is None, reason="the curl command is not installed")


def curl(*args: str) -> subprocess.CompletedProcess[bytes]:
    assert CURL is not None
    return subprocess.run(
        [CURL, "-sS", "--max-time", "10", *args], capture_output=True, timeout=20, check=False
    )


def split_blocks(output: bytes) -> tuple[list[tuple[str, list[tuple[str, str]]]], bytes]:
    """Cut ``curl -i`` output into header blocks (status line, header lines) and the body."""
    blocks: list[tuple[str, list[tuple[str, str]]]] = []
    rest = output
    while rest.startswith(b"HTTP/"):
        head, sep, rest = rest.partition(b"\r\n\r\n")
        assert sep, f"header block without its blank line: {head!r}"
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = [(n, v.strip()) for n, _, v in (line.partition(":") for line in lines)]
        blocks.append((status_line, headers))
    return blocks, rest


def test_curl_include_shows_each_102_then_201(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    expect_jobs(srv)

    done = curl("-i", "-X", "POST", srv.url("/jobs"))

    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    blocks, body = split_blocks(done.stdout)
    assert [status for status, _ in blocks] == [
        "HTTP/1.1 102 Processing",
        "HTTP/1.1 102 Processing",
        "HTTP/1.1 102 Processing",
        "HTTP/1.1 201 Created",
    ]
    assert blocks[0][1] == [("Progress", PROGRESS[0]), ("Location", STATUS_LOCATION)]
    assert blocks[1][1] == [("Progress", PROGRESS[1])]
    assert blocks[2][1] == [("Progress", PROGRESS[2])]
    assert ("Location", ITEM_LOCATION) in blocks[3][1]
    assert body == CREATED_BODY
    assert [i.status for i in srv.journal.last.interims] == [102, 102, 102]


def test_curl_reports_the_final_status(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    expect_jobs(srv)

    done = curl("-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", srv.url("/jobs"))

    assert done.returncode == 0, done.stderr
    assert done.stdout == b"201"
    # The server did send the three 102s that curl looked past.
    assert [i.status for i in srv.journal.last.interims] == [102, 102, 102]
