"""Real clients against each 100-continue policy, asserting what each
client does and what the server saw.

- curl waits ``--expect100-timeout`` for the 100, then sends the body anyway ("Done waiting
  for 100-continue"); on a final response it sends no body.
- aiohttp (``expect100=True``) waits for the 100 with no timer of its own: without one it
  hangs until its overall timeout.
- Node's http sends nothing by itself: tests/node/continue.js sends the body from the
  ``'continue'`` event, or from a fallback timer when asked.

Timing: the delays are 0.3-1.0 s and the assertions give at least 0.5 s of slack on the slow
side, since other test runs share the machine.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from typing import Any

import aiohttp
import pytest
from support.paths import NODE_DIR
from support.recording_client import Client, request

import mockprogress as mp

BODY = b"0123456789" * 100
CURL = shutil.which("curl")
NODE = shutil.which("node")
NODE_SCRIPT = NODE_DIR / "continue.js"
SLACK = 0.5


def expect_upload(srv: mp.MockServer, policy: Any) -> None:
    srv.expect("POST", "/up", expect_continue=policy).respond(mp.respond(201, b"stored\n"))


# ---- curl ------------------------------------------------------------------------------------


def curl_post(url: str, timeout: float) -> tuple[subprocess.CompletedProcess[bytes], float]:
    assert CURL is not None
    started = time.monotonic()
    done = subprocess.run(
        [
            CURL, "-sS", "-v", "-i", "--max-time", "10",
            "--expect100-timeout", str(timeout),
            "-H", "Expect: 100-continue",
            "--data-binary", BODY.decode(),
            url,
        ],
        capture_output=True,
        timeout=20,
        check=False,
    )  # fmt: skip
    return done, time.monotonic() - started


needs_curl = pytest.mark.skipif(CURL is None, reason="the curl command is not installed")


@needs_curl
@pytest.mark.parametrize("policy", ["auto", "immediate", mp.continue_delay(0.3)])
def test_curl_waits_for_the_100_and_then_sends(
    mockprogress_server: mp.MockServer, policy: Any
) -> None:
    srv = mockprogress_server
    expect_upload(srv, policy)

    done, elapsed = curl_post(srv.url("/up"), timeout=3)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n")
    assert b"Done waiting for 100-continue" not in done.stderr
    ex = srv.journal.last
    assert ex.body_before_continue == 0
    assert ex.body == BODY
    if isinstance(policy, mp.ContinuePolicy):
        assert ex.interims[0].at >= 0.3
        assert elapsed < 3  # the 100 released the body, not curl's 3 s timer


@needs_curl
def test_curl_gives_up_waiting_when_the_100_comes_late(
    mockprogress_server: mp.MockServer,
) -> None:
    srv = mockprogress_server
    expect_upload(srv, mp.continue_delay(1.0))

    done, elapsed = curl_post(srv.url("/up"), timeout=0.3)

    assert done.returncode == 0, done.stderr
    assert b"Done waiting for 100-continue" in done.stderr
    # The late 100 still arrives, after the body; curl shows it and carries on.
    assert done.stdout.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n")
    ex = srv.journal.last
    assert ex.body_before_continue == len(BODY)  # the whole body had arrived before the 100
    assert ex.body == BODY
    assert 1.0 <= elapsed < 1.0 + SLACK + 1


@needs_curl
def test_curl_sends_the_body_on_its_own_timer_when_no_100_comes(
    mockprogress_server: mp.MockServer,
) -> None:
    srv = mockprogress_server
    expect_upload(srv, "never")

    done, elapsed = curl_post(srv.url("/up"), timeout=0.3)

    assert done.returncode == 0, done.stderr
    assert b"Done waiting for 100-continue" in done.stderr
    assert done.stdout.startswith(b"HTTP/1.1 201 Created\r\n")
    ex = srv.journal.last
    assert ex.interims == () and ex.body_before_continue is None
    assert ex.body == BODY and ex.body_complete
    assert 0.3 <= elapsed < 0.3 + SLACK + 1


@needs_curl
def test_curl_sends_no_body_after_a_rejection(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    expect_upload(srv, mp.continue_reject(417))

    done, _ = curl_post(srv.url("/up"), timeout=3)

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"HTTP/1.1 417 Expectation Failed\r\n")
    assert b"Connection: close\r\n" in done.stdout
    ex = srv.journal.last
    assert ex.body == b"" and ex.interims == ()


@needs_curl
def test_curl_shows_the_headers_of_the_100(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    location = "/up/1.request"
    expect_upload(srv, mp.continue_immediate({"Request-Content-Location": location}))

    done, _ = curl_post(srv.url("/up"), timeout=3)

    assert done.stdout.startswith(
        b"HTTP/1.1 100 Continue\r\nRequest-Content-Location: /up/1.request\r\n\r\n"
    )


# ---- aiohttp ---------------------------------------------------------------------------------


async def aiohttp_post(url: str, total: float = 10) -> tuple[int, bytes, float]:
    started = time.monotonic()
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=total)) as session,
        session.post(url, data=BODY, expect100=True) as response,
    ):
        return response.status, await response.read(), time.monotonic() - started


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize(
    "policy",
    ["auto", "immediate", mp.continue_delay(0.3), mp.continue_immediate({"X-Note": "go"})],
)
async def test_aiohttp_waits_for_the_100(mockprogress_server: mp.MockServer, policy: Any) -> None:
    srv = mockprogress_server
    expect_upload(srv, policy)

    status, body, elapsed = await aiohttp_post(srv.url("/up"))

    assert (status, body) == (201, b"stored\n")
    ex = srv.journal.last
    assert ex.body_before_continue == 0  # aiohttp sent nothing before the 100
    assert ex.body == BODY
    if policy == mp.continue_delay(0.3):
        assert elapsed >= 0.3


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_aiohttp_has_no_timer_and_hangs_without_a_100(
    mockprogress_server: mp.MockServer,
) -> None:
    srv = mockprogress_server
    expect_upload(srv, "never")

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await aiohttp_post(srv.url("/up"), total=0.5)
    assert time.monotonic() - started >= 0.5

    ex = srv.journal.last
    assert ex.interims == () and ex.body == b""  # the body never came


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_aiohttp_sends_no_body_after_a_rejection(
    mockprogress_server: mp.MockServer,
) -> None:
    srv = mockprogress_server
    expect_upload(srv, mp.continue_reject(417, "no uploads today\n"))

    status, body, _ = await aiohttp_post(srv.url("/up"))

    assert (status, body) == (417, b"no uploads today\n")
    assert srv.journal.last.body == b""


# ---- Node http -------------------------------------------------------------------------------


def node_post(url: str, fallback_ms: int = 0, give_up_ms: int = 5000) -> dict[str, Any]:
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(NODE_SCRIPT), url, str(len(BODY)), str(fallback_ms), str(give_up_ms)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, f"node exited {done.returncode}: {done.stdout}{done.stderr}"
    report: dict[str, Any] = json.loads(done.stdout)
    return report


needs_node = pytest.mark.skipif(NODE is None, reason="the node command is not installed")


@needs_node
@pytest.mark.parametrize("policy", ["auto", "immediate", mp.continue_delay(0.3)])
def test_node_sends_the_body_from_the_continue_event(
    mockprogress_server: mp.MockServer, policy: Any
) -> None:
    srv = mockprogress_server
    expect_upload(srv, policy)

    report = node_post(srv.url("/up"))

    assert report["error"] is None
    assert report["continueAt"] is not None and not report["sentWithoutContinue"]
    assert [i["statusCode"] for i in report["information"]] == [100]  # 100 is information too
    assert report["bodySentAt"] >= report["continueAt"]
    assert (report["response"]["statusCode"], report["response"]["body"]) == (201, "stored\n")
    if policy == mp.continue_delay(0.3):
        assert report["continueAt"] >= 300
    assert srv.journal.last.body_before_continue == 0


@needs_node
def test_node_waits_forever_without_a_100(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    expect_upload(srv, "never")

    report = node_post(srv.url("/up"), fallback_ms=0, give_up_ms=800)

    assert report["error"] == "gave up after 800 ms"
    assert report["continueAt"] is None and report["bodySentAt"] is None
    assert srv.journal.last.body == b""


@needs_node
def test_node_with_a_fallback_timer_sends_anyway_and_the_server_reads_it(
    mockprogress_server: mp.MockServer,
) -> None:
    srv = mockprogress_server
    expect_upload(srv, "never")

    report = node_post(srv.url("/up"), fallback_ms=300)

    assert report["sentWithoutContinue"] and report["continueAt"] is None
    assert report["information"] == []
    assert report["response"]["statusCode"] == 201
    assert srv.journal.last.body == b"x" * len(BODY)  # what continue.js sends


@needs_node
def test_node_sees_no_continue_on_a_rejection(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    expect_upload(srv, mp.continue_reject(417))

    report = node_post(srv.url("/up"))

    assert report["continueAt"] is None and report["bodySentAt"] is None
    assert report["response"]["statusCode"] == 417
    assert report["response"]["headers"]["connection"] == "close"
    assert srv.journal.last.body == b""


@needs_node
def test_node_reads_the_headers_of_the_100(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    fields = {"Request-Content-Location": "/up/1.request", "Response-Message-Location": "/r/1"}
    expect_upload(srv, mp.continue_delay(0.05, fields))

    report = node_post(srv.url("/up"))

    [info] = report["information"]
    assert info["statusCode"] == 100 and info["statusMessage"] == "Continue"
    assert info["rawHeaders"] == [
        "Request-Content-Location",
        "/up/1.request",
        "Response-Message-Location",
        "/r/1",
    ]
    assert report["response"]["statusCode"] == 201


# ---- the count of bytes that arrived before the 100 ------------------------------------------


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_bytes_that_arrived_unread_are_counted_exactly(backend: str) -> None:
    """The body goes out right behind the head, 100 kB at once: by the time the delayed 100
    goes out it is split between h11's buffer, anyio's read-ahead (asyncio) and the socket.
    Every byte of it counts."""
    body = bytes(range(256)) * 400
    with mp.MockServer(backend=backend) as srv:
        expect_upload(srv, mp.continue_delay(0.3))
        reply = request(srv.port, "POST", "/up", headers=[("Expect", "100-continue")], body=body)
        ex = srv.journal.last
    assert reply.status == 201
    assert [i.status for i in reply.interims] == [100]
    assert ex.body_before_continue == len(body)
    assert ex.body == body


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_bytes_sent_after_a_client_timer_count(backend: str) -> None:
    with mp.MockServer(backend=backend) as srv:
        expect_upload(srv, mp.continue_delay(0.6))
        with Client(srv.port) as client:
            reply = client.request(
                "POST",
                "/up",
                headers=[("Expect", "100-continue")],
                body=BODY,
                wait_for_continue=0.1,
            )
        ex = srv.journal.last
    assert reply.status == 201
    assert ex.body_before_continue == len(BODY)
