"""The reference demo's suite: its client (re-written from demo-progress's client-lib.js in
tests/node/http-progress/) passes all three tests against ``mockprogress serve
fixtures/http-progress-demo.toml``; and every path that crashes or hangs the original
(the demo's job state machine) gets its status and a plain message here, the server serving on."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from support.paths import ROOT
from support.recording_client import Reply, request
from support.wright_client import head_offset, locations, message_byterange, post

import mockprogress as mp
from mockprogress.resources.reference_demo import counter_lines

FIXTURE = ROOT / "fixtures" / "http-progress-demo.toml"
RUNNER = ROOT / "tests" / "node" / "http-progress" / "test-runner-client.cjs"
READY = re.compile(r"^mockprogress listening on (http://127\.0\.0\.1:(\d+))$")
DEMO = [("Expect", "100-continue"), ("Prefer", "resume")]


class Served:
    def __init__(self, proc: subprocess.Popen[str], url: str, port: int) -> None:
        self.proc = proc
        self.url = url
        self.port = port
        self.lines: list[str] = []
        self.reader: threading.Thread | None = None

    def stop(self) -> list[str]:
        """Stop the server (SIGTERM) and return every line it printed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        if self.reader is not None:
            self.reader.join(timeout=10)
        return self.lines


@pytest.fixture
def served_demo() -> Iterator[Served]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockprogress", "serve", str(FIXTURE), "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().rstrip("\n")
        match = READY.match(line)
        assert match, (
            f"unexpected first line {line!r}; stderr: {proc.stderr and proc.stderr.read()}"
        )
        served = Served(proc, match.group(1), int(match.group(2)))
        # The server prints a line per event: keep reading so that its pipe never fills.
        served.reader = threading.Thread(target=lambda: served.lines.extend(proc.stdout or []))
        served.reader.start()
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_the_reference_runner_passes_all_three_tests(served_demo: Served) -> None:
    assert request(served_demo.port, "POST", "/test/reset").status == 200
    run = subprocess.run(
        ["node", str(RUNNER), served_demo.url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, (run.stdout, run.stderr)
    assert run.stdout.splitlines() == [
        line
        for i in range(3)
        for line in (f"Run test {i}", "Finished job result!", f"End test {i}")
    ] + ["3 of 3 tests passed"]
    recovery = run.stderr.splitlines()
    # Test 1: one cut POST, one HEAD at exactly 100,000 bytes, one PATCH to the end.
    # Test 2: the POST and every PATCH cut; each HEAD 100,000 body bytes further less the
    # 64-byte message/byterange fields of that PATCH.
    heads = [int(m.group(1)) for m in map(re.compile(r".* offset (\d+)$").match, recovery) if m]
    assert heads[0] == 100_000
    assert heads[1:] == [100_000 + k * (100_000 - 64) for k in range(10)]
    # The two cut POSTs and test 2's nine cut PATCHes (Node reports a reset write as
    # ECONNRESET or EPIPE, depending on when it lands).
    cut = re.compile(r"failed \((ECONNRESET|EPIPE)\)")
    assert sum(bool(cut.search(line)) for line in recovery) == 2 + 9
    status = json.loads(request(served_demo.port, "GET", "/test/status").body)
    assert [(s["href"], s["status"]) for s in status] == [
        ("/test/0", "pass"),
        ("/test/1", "pass"),
        ("/test/2", "pass"),
    ]
    printed = "\n".join(served_demo.stop())
    # The demo's dialect on the wire: the 100 with both locations, raw 199 acknowledgements,
    # 299 on the HEADs, an exact cut at 100,000 body bytes.
    assert re.search(
        r"#\d+ -> 100 Continue  Request-Content-Location: /job/1\.req; "
        r"Response-Message-Location: /job/1\.res$",
        printed,
        re.M,
    )
    assert re.search(r"#\d+ -> 199 Acknowledge 65536B$", printed, re.M)
    assert re.search(r"#\d+ -> 299 Incomplete Resource$", printed, re.M)
    assert re.search(r"#\d+ !! reset after 100000 body bytes read", printed, re.M)


def test_the_demo_endpoints(served_demo: Served) -> None:
    port = served_demo.port
    index = request(port, "GET", "/test/")
    assert json.loads(index.body) == ["/test/0", "/test/1", "/test/2"]
    assert len(index.body) == 39
    data = request(port, "GET", "/test/data")
    assert data.body == counter_lines(100_000) and len(data.body) == 1_000_000
    assert data.body[:20] == b"00000000\r\n00000001\r\n" and data.body.endswith(b"00099999\r\n")
    assert request(port, "GET", "/test/1").body.startswith(b"Stream /test/data to a POST")
    assert request(port, "GET", "/test/reset").body == b"Call POST to reset test suite.\r\n"
    assert json.loads(request(port, "GET", "/test/status").body)[0] == {
        "href": "/test/0",
        "status": "waiting",
        "warn": [],
    }


# ---- every crash and hang of the original, answered ------------------------------------------


@pytest.fixture
def demo_server() -> Iterator[tuple[mp.MockServer, mp.HttpProgressDemo]]:
    with mp.MockServer() as srv:
        demo = srv.mount(mp.HttpProgressDemo(lines=2000, interrupt_after=5000))
        yield srv, demo


def serving(port: int) -> None:
    assert request(port, "GET", "/test/").status == 200


def patch(port: int, rcl: str, body: bytes, content_type: str = "message/byterange") -> Reply:
    return request(port, "PATCH", rcl, headers=[("Content-Type", content_type)], body=body)


def test_every_failure_of_the_original_gets_an_answer(
    demo_server: tuple[mp.MockServer, mp.HttpProgressDemo],
) -> None:
    srv, demo = demo_server
    port = srv.port
    data = demo.data
    length = len(data)
    cut = post(port, "/test/1", data, DEMO)
    rcl, rml = locations(cut)
    assert head_offset(port, rcl) == (299, 5000)

    def unitless(first: int, part: bytes, total: int = length, cl: int | None = None) -> bytes:
        size = len(part) if cl is None else cl
        return (
            f"Content-Range: {first}-{first + len(part) - 1}/{total}\r\nContent-Length: {size}"
            "\r\n\r\n"
        ).encode() + part

    cases: list[tuple[str, Reply, int, bytes]] = [
        ("a PATCH of another type", patch(port, rcl, b"x", "text/plain"), 415, b""),
        (
            "a field line without ': ' (crashes the original)",
            patch(port, rcl, b"Content-Range 5000-5001/20000\r\n\r\nxx"),
            400,
            b"is not 'name: value'",
        ),
        (
            "no Content-Length in the patch",
            patch(port, rcl, b"Content-Range: 5000-5001/20000\r\n\r\nxx"),
            400,
            b"Expected patch to contain a Content-Length field.\r\n",
        ),
        (
            "a Content-Range the demo cannot read",
            patch(port, rcl, b"Content-Range: */20000\r\nContent-Length: 0\r\n\r\n"),
            400,
            b"Expected patch to contain a Content-Range field.\r\n",
        ),
        (
            "a start other than the bytes received",
            patch(port, rcl, unitless(4000, data[4000:4010])),
            400,
            b"Incorrect Content-Range starting index: Have 4000, expect 5000\r\n",
        ),
        (
            "an end past the total",
            patch(port, rcl, unitless(5000, data[5000:5010], total=5005)),
            400,
            b"Incorrect Content-Range ending index.\r\n",
        ),
        (
            "a total other than the request's length",
            patch(port, rcl, unitless(5000, data[5000:5010], total=30000)),
            400,
            b"Incorrect Content-Range total length.\r\n",
        ),
        (
            "a Content-Length that disagrees",
            patch(port, rcl, unitless(5000, data[5000:5010], cl=9)),
            400,
            b"Mismatch between Content-Length and Content-Range.\r\n",
        ),
        (
            "GET on the request content (crashes the original)",
            request(port, "GET", rcl),
            299,
            data[:5000],
        ),
        (
            "GET on the response before it exists",
            request(port, "GET", rml),
            404,
            b"is incomplete (5000 of 20000 bytes)\n",
        ),
        (
            "POST /test/status (crashes the original)",
            request(port, "POST", "/test/status", body=b"x"),
            405,
            b"",
        ),
        (
            "GET /job/N.job (never answered by the original)",
            request(port, "GET", "/job/1.job"),
            404,
            b"",
        ),
        ("PUT (not implemented)", request(port, "PUT", "/test/0", body=b"x"), 501, b""),
        ("an unknown test", request(port, "GET", "/test/7"), 404, b""),
        (
            "no Expect (the original answers, then crashes)",
            post(port, "/test/0", data, [("Prefer", "resume")]),
            400,
            b"Expected 100-continue\r\n",
        ),
        (
            "an unknown expectation",
            post(port, "/test/0", data, [("Expect", "later"), ("Prefer", "resume")]),
            417,
            b"",
        ),
        (
            "a chunked POST",
            request(
                port,
                "POST",
                "/test/0",
                headers=DEMO,
                body=data,
                chunked=True,
                wait_for_continue=1.0,
            ),
            411,
            b"",
        ),
    ]
    # Without Prefer the original never sends its 100 and the client waits forever; here the
    # request is simply not resumable: a plain 100, then the result.
    plain = post(port, "/test/0", data, [("Expect", "100-continue")])
    assert (plain.status, plain.body) == (200, b"Finished job result!\r\n")
    assert [(i.status, i.headers) for i in plain.interims] == [(100, [])]
    for what, reply, status, text in cases:
        assert reply.status == status, (what, reply)
        assert text in reply.body, (what, reply.body[:200])
        serving(port)
    assert head_offset(port, rcl) == (299, 5000)  # none of it touched the stored bytes
    # A body longer than declared keeps the declared bytes; a shorter one keeps what came.
    long = patch(port, rcl, unitless(5000, data[5000:5010]) + b"extra")
    assert (long.status, long.body) == (400, b"Patch longer than declared length.\r\n")
    assert head_offset(port, rcl) == (299, 5010)
    short = patch(port, rcl, unitless(5010, data[5010:5110])[:-40])
    assert (short.status, short.body) == (400, b"Under-size patch body.\r\n")
    assert head_offset(port, rcl) == (299, 5070)
    over = patch(
        port,
        rcl,
        f"Content-Range: 5070-/{length}\r\nContent-Length: {length}\r\n\r\n".encode()
        + data[5070:]
        + b"x" * 5070,
    )
    assert (over.status, over.body) == (400, b"Over-long patch body.\r\n")
    assert head_offset(port, rcl) == (200, length)
    assert demo.results == ["pass", "pass", "waiting"]  # test 0 by the plain POST above
    message = request(port, "GET", rml)
    assert message.header("content-type") == "message/http"
    assert message.body.startswith(b"HTTP/1.1 200 OK\r\n")
    assert message.body.endswith(b"\r\n\r\nFinished job result!\r\n")
    assert request(port, "DELETE", rcl).status == 204  # crashes the original
    assert request(port, "HEAD", rcl).status == 404


def test_a_wrong_upload_fails_its_test_and_names_the_byte(
    demo_server: tuple[mp.MockServer, mp.HttpProgressDemo],
) -> None:
    srv, demo = demo_server
    wrong = bytearray(demo.data)
    wrong[12345] ^= 1
    reply = post(srv.port, "/test/0", bytes(wrong), DEMO)
    assert (reply.status, reply.body) == (200, b"Test failed at byte 12345\r\n")
    assert [i.status for i in reply.interims] == [100]  # 20,000 bytes: no 64 KiB to acknowledge
    status = json.loads(request(srv.port, "GET", "/test/status").body)
    assert status[0] == {
        "href": "/test/0",
        "status": "fail",
        "warn": [],
        "message": "Test failed at byte 12345",
    }
    assert request(srv.port, "POST", "/test/reset").status == 200
    assert demo.results == ["waiting"] * 3


def test_the_last_patch_gets_an_empty_200_and_the_result_waits_at_the_response_location(
    demo_server: tuple[mp.MockServer, mp.HttpProgressDemo],
) -> None:
    srv, demo = demo_server
    rcl, rml = locations(post(srv.port, "/test/1", demo.data, DEMO))
    body = message_byterange(5000, demo.data[5000:], len(demo.data), unit="")
    done = patch(srv.port, rcl, body)
    assert (done.status, done.body, done.header("content-length")) == (200, b"", "0")
    assert request(srv.port, "GET", rml).body.endswith(b"Finished job result!\r\n")
