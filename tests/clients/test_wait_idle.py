"""``srv.wait_idle()``: a client that takes a 1xx as final (http.client, requests) returns while
the server still runs its script; after ``wait_idle()`` the journal holds the whole exchange.
On timeout it names the exchanges still running; in the in-loop mode it is awaited."""

from __future__ import annotations

import http.client
import time

import anyio
import pytest
import requests

import mockprogress as mp

#: Long enough that the client is back, and the test reading, while the script still runs.
PAUSE = 0.4


def expect_slow_job(srv: mp.MockServer) -> None:
    srv.expect("POST", "/jobs").respond(
        mp.processing('0/2 "Herding cats"'),
        mp.pause(PAUSE),
        mp.processing('1/2 "Knitting sweaters"'),
        mp.pause(PAUSE),
        mp.respond(201, b"created\n"),
    )


def test_wait_idle_waits_for_the_script_http_client_left_running() -> None:
    with mp.MockServer() as srv:
        expect_slow_job(srv)
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        try:
            started = time.monotonic()
            conn.request("POST", "/jobs")
            assert conn.getresponse().status == 102  # taken as final
            running = srv.journal.last
            assert (running.duration, running.response) == (None, None)
            srv.wait_idle()
            waited = time.monotonic() - started
        finally:
            conn.close()
        assert waited >= 2 * PAUSE
        ex = srv.journal.last
        assert [i.status for i in ex.interims] == [102, 102]
        assert ex.response is not None
        assert (ex.response.status, ex.response.complete) == (201, True)
        assert ex.duration is not None
        srv.check()


def test_wait_idle_after_requests() -> None:
    with mp.MockServer() as srv, requests.Session() as session:
        expect_slow_job(srv)
        assert session.post(srv.url("/jobs"), timeout=10).status_code == 102
        srv.wait_idle()
        ex = srv.journal.last
        assert [i.status for i in ex.interims] == [102, 102]
        assert ex.response is not None
        assert ex.response.status == 201


def test_wait_idle_returns_at_once_when_nothing_runs() -> None:
    with mp.MockServer() as srv:
        started = time.monotonic()
        srv.wait_idle(timeout=0.5)
        srv.expect("GET", "/").respond(mp.respond(200))
        assert requests.get(srv.url("/"), timeout=10).status_code == 200
        srv.wait_idle(timeout=0.5)
        assert time.monotonic() - started < 0.5


def test_wait_idle_names_the_exchanges_still_running_on_timeout() -> None:
    with mp.MockServer() as srv:
        srv.expect("GET", "/stuck").respond(mp.processing('0/1 "Stuck"'), mp.stall())
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        try:
            conn.request("GET", "/stuck")
            assert conn.getresponse().status == 102
            with pytest.raises(mp.IdleTimeoutError) as caught:
                srv.wait_idle(timeout=0.2)
        finally:
            conn.close()
        message = str(caught.value)
        assert message.startswith("wait_idle: 1 exchange(s) still in progress after 0.2 s:\n")
        assert "#1 GET /stuck HTTP/1.1  [connection 1, expect GET /stuck]" in message
        assert "-> 102 Processing" in message
        assert isinstance(caught.value, TimeoutError)
        srv.wait_idle()  # the client closed: the stall ends with it


def test_wait_idle_needs_a_running_server() -> None:
    srv = mp.MockServer()
    with pytest.raises(mp.ServerStateError, match="not running"):
        srv.wait_idle()


@pytest.mark.anyio
async def test_the_in_loop_mode_awaits_wait_idle_async() -> None:
    async with mp.MockServer() as srv:
        expect_slow_job(srv)
        async with await anyio.connect_tcp("127.0.0.1", srv.port) as stream:
            await stream.send(b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            assert (await stream.receive()).startswith(b"HTTP/1.1 102 Processing")
            with pytest.raises(mp.ServerStateError, match=r"await srv.wait_idle_async\(\)"):
                srv.wait_idle()
            await srv.wait_idle_async()
            ex = srv.journal.last
            assert [i.status for i in ex.interims] == [102, 102]
            assert ex.response is not None
            assert ex.response.status == 201
        async with await anyio.connect_tcp("127.0.0.1", srv.port) as stream:
            srv.expect("GET", "/stuck").respond(mp.processing(), mp.stall())
            await stream.send(b"GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n")
            assert (await stream.receive()).startswith(b"HTTP/1.1 102 Processing")
            with pytest.raises(mp.IdleTimeoutError, match="#2 GET /stuck"):
                await srv.wait_idle_async(timeout=0.2)


@pytest.mark.anyio
async def test_a_thread_mode_server_is_awaited_from_another_loop() -> None:
    with mp.MockServer() as srv:
        expect_slow_job(srv)
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
        try:
            conn.request("POST", "/jobs")
            assert conn.getresponse().status == 102
            await srv.wait_idle_async()
        finally:
            conn.close()
        assert srv.journal.last.response is not None
