"""Connection timing on the wire: an idle keep-alive connection is closed after
``keep_alive_timeout`` with a plain FIN (journaled on its last exchange), a request head that
never ends gets a 408 after ``head_timeout``; real clients (requests, httpx) reconnect after an
idle close; the option reaches the server from ``MockServer``, the marker and scenario files.
"""

from __future__ import annotations

import socket
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import requests
from support.raw_client import exchange
from support.standalone import Standalone

import mockprogress as mp

GET = b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def serving_ok(srv: mp.MockServer) -> mp.MockServer:
    srv.expect("GET", "/ok").respond(mp.respond(200, b"ok"))
    return srv


def read_until_end(sock: socket.socket) -> tuple[bytes, float]:
    """What the server sends until its FIN, and how long after the call that came."""
    started = time.monotonic()
    data = bytearray()
    while chunk := sock.recv(65536):
        data += chunk
    return bytes(data), time.monotonic() - started


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_an_idle_keep_alive_connection_gets_a_plain_fin_after_the_timeout(backend: str) -> None:
    with serving_ok(mp.MockServer(backend=backend, keep_alive_timeout=0.3)) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(GET)
            data, waited = read_until_end(sock)
        assert data == OK
        assert 0.25 <= waited < 2.0
        last = srv.journal.last
        assert last.response is not None and last.response.complete
        closed = last.events[-1]
        assert (closed.kind, closed.direction) == ("closed", "out")
        assert closed.detail == "idle for 0.3 s: server closed the connection (keep_alive_timeout)"
        assert closed.at >= 0.3
        srv.check()  # an idle close is no problem


def test_the_default_keeps_an_idle_connection_five_seconds() -> None:
    """Two connections side by side, so that the test waits the five seconds once: one is
    still open and reusable 4.5 s after its answer, the other is closed about 5 s after."""
    with serving_ok(mp.MockServer()) as srv:
        assert srv._state.config.limits.keep_alive_timeout == 5.0
        address = ("127.0.0.1", srv.port)
        with (
            socket.create_connection(address, timeout=10) as kept,
            socket.create_connection(address, timeout=10) as idle,
        ):
            idle.sendall(GET)
            assert idle.recv(65536) == OK
            answered = time.monotonic()
            kept.sendall(GET)
            assert kept.recv(65536) == OK
            kept.settimeout(4.5)
            with pytest.raises(TimeoutError):
                kept.recv(65536)  # still open 4.5 s later
            kept.sendall(GET)  # and reusable
            kept.settimeout(10)
            assert kept.recv(65536) == OK
            data, _ = read_until_end(idle)
            waited = time.monotonic() - answered
        assert data == b"" and 4.5 < waited < 6.5
        per_connection = Counter(ex.connection for ex in srv.journal)
        assert sorted(per_connection.values()) == [1, 2]  # the kept one served two


def test_keep_alive_timeout_none_keeps_the_connection_open() -> None:
    with serving_ok(mp.MockServer(keep_alive_timeout=None)) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(GET)
            assert sock.recv(65536) == OK
            sock.settimeout(0.5)
            with pytest.raises(TimeoutError):
                sock.recv(65536)


def test_requests_and_httpx_reconnect_after_an_idle_close() -> None:
    with serving_ok(mp.MockServer(keep_alive_timeout=0.2)) as srv:
        with requests.Session() as session:
            assert session.get(srv.url("/ok")).text == "ok"
            assert session.get(srv.url("/ok")).text == "ok"  # reused at once
            time.sleep(0.5)
            assert session.get(srv.url("/ok")).text == "ok"  # a fresh connection
        with httpx.Client() as client:
            assert client.get(srv.url("/ok")).text == "ok"
            time.sleep(0.5)
            assert client.get(srv.url("/ok")).text == "ok"
        connections = [ex.connection for ex in srv.journal]
        assert connections[0] == connections[1]
        assert len(set(connections)) == 4
        srv.check()


def test_an_idle_close_over_tls_ends_with_close_notify() -> None:
    with serving_ok(mp.MockServer(tls=True, keep_alive_timeout=0.2)) as srv:
        context = srv.client_ssl_context()
        started = time.monotonic()
        got = exchange(srv.port, GET, tls=context)
        assert (got.data, got.end) == (OK, "eof")
        assert time.monotonic() - started >= 0.2
        assert srv.journal.last.events[-1].kind == "closed"


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_head_that_never_ends_gets_408_and_a_close(backend: str) -> None:
    with serving_ok(mp.MockServer(backend=backend, head_timeout=0.3)) as srv:
        started = time.monotonic()
        got = exchange(srv.port, b"GET /ok HTTP/1.1\r\nHost: x\r\n")
        waited = time.monotonic() - started
        assert got.end == "eof"
        assert got.data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
        assert b"\r\nConnection: close\r\n" in got.data
        assert got.data.endswith(b"request head not complete after 0.3 s (head_timeout=0.3)\n")
        assert 0.25 <= waited < 2.0
        ex = srv.journal.last
        assert ex.request_line == "GET /ok HTTP/1.1"
        assert ex.response is not None and ex.response.status == 408
        with pytest.raises(mp.ExpectationError, match=r"head_timeout=0\.3"):
            srv.check()
        srv.reset()
        serving_ok(srv)
        again = exchange(srv.port, GET + GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        assert again.data.startswith(OK) and again.data.count(b"200 OK") == 2


def test_a_client_trickling_its_head_is_timed_out_too() -> None:
    with serving_ok(mp.MockServer(head_timeout=0.5)) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            started = time.monotonic()
            for byte in b"GET /ok HTTP/1.1\r\nHost: x\r\n":
                try:
                    sock.sendall(bytes([byte]))
                except OSError:
                    break
                time.sleep(0.1)
                if time.monotonic() - started > 1.0:
                    break
            data, _ = read_until_end(sock)
        assert data.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
        assert 0.4 <= srv.journal.last.bytes_received / 10 <= 0.7  # about 5 bytes in 0.5 s
        srv.reset()


@pytest.mark.mockprogress(keep_alive_timeout=0.2, head_timeout=0.4)
def test_the_marker_sets_both(mockprogress_server: mp.MockServer) -> None:
    limits = mockprogress_server._state.config.limits
    assert (limits.keep_alive_timeout, limits.head_timeout) == (0.2, 0.4)
    srv = serving_ok(mockprogress_server)
    got = exchange(srv.port, GET, timeout=3)
    assert (got.data, got.end) == (OK, "eof")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("keep_alive_timeout = 0.2", 0.2), ('keep_alive_timeout = "none"', None)],
)
def test_a_scenario_file_sets_it_at_its_top_level(
    tmp_path: Path, text: str, expected: float | None
) -> None:
    scenario = tmp_path / "idle.toml"
    scenario.write_text(
        text + '\n[[expect]]\nmethod = "GET"\npath = "/ok"\n'
        '[[expect.steps]]\nrespond = { status = 200, body = "ok" }\n'
    )
    with mp.MockServer() as srv:
        srv.load(scenario)
        assert srv._state.config.limits.keep_alive_timeout == expected
        got = exchange(srv.port, GET, timeout=1)
        assert got.data.startswith(b"HTTP/1.1 200 OK\r\n") and got.data.endswith(b"\r\n\r\nok")
        assert got.end == ("silent" if expected is None else "eof")
        srv.reset()  # a server option: it stays
        assert srv._state.config.limits.keep_alive_timeout == expected


def test_a_bad_timeout_in_a_scenario_file_names_the_key(tmp_path: Path) -> None:
    scenario = tmp_path / "bad.toml"
    scenario.write_text("head_timeout = 0\n")
    with pytest.raises(
        mp.ScenarioError,
        match=r"bad\.toml: head_timeout: head_timeout must be a number of seconds > 0 or None",
    ):
        mp.MockServer().load(scenario)


def test_serve_takes_the_option_and_a_loaded_file_sets_its_own_after_it(tmp_path: Path) -> None:
    scenario = tmp_path / "idle.toml"
    scenario.write_text(
        'keep_alive_timeout = 0.2\n[[expect]]\nmethod = "GET"\npath = "/ok"\n'
        '[[expect.steps]]\nrespond = { status = 200, body = "ok" }\n'
    )
    with Standalone("--keep-alive-timeout", "30", str(scenario)) as served:
        port = int(served.url.rsplit(":", 1)[1])
        started = time.monotonic()
        got = exchange(port, GET, timeout=5)
        assert got.end == "eof" and got.data.endswith(b"\r\n\r\nok")
        assert time.monotonic() - started < 2.0
        served.wait_for(r"#1 -> idle for 0\.2 s: server closed the connection")
        served.stop()
