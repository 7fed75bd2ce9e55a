"""The same server in a background thread, reached through a portal."""

from __future__ import annotations

import socket
import threading

import pytest
from support.recording_client import Client, request

import mockprogress as mp


def test_with_block_starts_and_stops() -> None:
    before = threading.active_count()
    with mp.MockServer() as srv:
        assert srv.running
        srv.expect("GET", "/").respond(mp.respond(200, b"hello"))
        assert request(srv.port, "GET", "/").body == b"hello"
        url = srv.url("/x")
        assert url == f"http://127.0.0.1:{srv.port}/x"
    assert not srv.running
    assert threading.active_count() == before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=1).close()
    assert srv.journal.last.response is not None  # the journal outlives the server


def test_not_running() -> None:
    srv = mp.MockServer()
    with pytest.raises(mp.ServerStateError, match="not running"):
        srv.url()
    srv.expect("GET", "/early").respond(mp.respond(204))  # scripting before start is fine
    with srv:
        assert request(srv.port, "GET", "/early").status == 204
    srv.start()
    try:
        with pytest.raises(mp.ServerStateError, match="already running"):
            srv.start()
    finally:
        srv.stop()
    srv.stop()  # stopping a stopped server is harmless


def test_trio_backend() -> None:
    with mp.MockServer(backend="trio") as srv:
        srv.expect("GET", "/").respond(mp.processing(), mp.respond(200, b"trio"))
        reply = request(srv.port, "GET", "/")
        assert [i.status for i in reply.interims] == [102] and reply.body == b"trio"


def test_keep_alive_over_one_connection() -> None:
    with mp.MockServer() as srv:
        srv.expect("GET", "/n").respond(mp.respond(200, b"n"))
        with Client(srv.port) as client:
            for _ in range(5):
                assert client.request("GET", "/n").body == b"n"
        assert {ex.connection for ex in srv.journal} == {1}
        assert len(srv.journal) == 5


def test_check_and_reset() -> None:
    with mp.MockServer() as srv:
        srv.expect("GET", "/once", times=1).respond(mp.respond(200))
        request(srv.port, "GET", "/other")
        with pytest.raises(mp.ExpectationError) as info:
            srv.check()
        text = str(info.value)
        assert "[unmatched] (exchange #1) GET /other matched no expectation" in text
        assert "expect GET /once expected 1 request(s), got 0" in text
        assert "#1 GET /other HTTP/1.1" in text  # the timeline is in the report
        srv.reset()
        srv.check()
        assert len(srv.journal) == 0
        assert request(srv.port, "GET", "/once").status == 500  # forgotten


def test_handlers_run_on_the_server_loop_and_may_script_the_server() -> None:
    with mp.MockServer() as srv:
        seen: list[int] = []

        def handler(request: mp.Exchange) -> mp.Step:
            seen.append(threading.get_ident())
            srv.expect("GET", "/added").respond(mp.respond(200, b"added by a handler"))
            return mp.respond(200)

        srv.expect("GET", "/h").respond_with(handler)
        request(srv.port, "GET", "/h")
        assert seen and seen[0] != threading.get_ident()
        assert request(srv.port, "GET", "/added").body == b"added by a handler"


def test_one_broken_connection_does_not_stop_the_listener() -> None:
    with mp.MockServer() as srv:
        srv.expect("GET", "/ok").respond(mp.respond(200, b"ok"))
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(b"\x00\x01garbage\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 400 Bad Request")
        s.close()
        assert request(srv.port, "GET", "/ok").body == b"ok"
        with pytest.raises(mp.ExpectationError, match="malformed-request"):
            srv.check()


def test_ordered_expectations_out_of_order() -> None:
    with mp.MockServer() as srv:
        srv.expect("POST", "/create", ordered=True).respond(mp.respond(201))
        srv.expect("GET", "/status", ordered=True).respond(mp.respond(200))
        assert request(srv.port, "GET", "/status").status == 500
        assert request(srv.port, "POST", "/create").status == 201
        assert request(srv.port, "GET", "/status").status == 200
        with pytest.raises(mp.ExpectationError, match="its ordered group is waiting for"):
            srv.check()


def test_body_matching_reads_the_body_first() -> None:
    with mp.MockServer() as srv:
        srv.expect("POST", "/m", body=b"one").respond(mp.respond(200, b"first"))
        srv.expect("POST", "/m", json={"n": 2}).respond(mp.respond(200, b"second"))
        assert request(srv.port, "POST", "/m", body=b"one").body == b"first"
        assert request(srv.port, "POST", "/m", body=b'{"n": 2}').body == b"second"
        reply = request(srv.port, "POST", "/m", body=b"three")
        assert reply.status == 500 and b"body: wanted b'one', got b'three'" in reply.body
        srv.reset()


def test_connections_over_the_limit_get_503() -> None:
    with mp.MockServer(max_connections=2) as srv:
        srv.expect("GET", "/").respond(mp.respond(200, b"ok"))
        held = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(2)]
        try:
            with Client(srv.port) as client:
                reply = client.request("GET", "/")
            assert reply.status == 503
            for s in held:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                assert s.recv(100).startswith(b"HTTP/1.1 200 OK")
        finally:
            for s in held:
                s.close()
        with pytest.raises(mp.ExpectationError, match="exceeds max_connections=2"):
            srv.check()
