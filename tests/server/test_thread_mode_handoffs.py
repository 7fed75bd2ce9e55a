"""Thread mode without waiting on the loop: start() posts the server task, expect() and
respond() post their change, stop() waits once.

start() binds the socket in the caller's thread and posts the server task to the loop (a
``LoopPost``); expect() and respond() post their change to the server state, which the loop
applies before it next reads the state (the next request, any other call). These tests hold
the ordering a caller relies on: a request right after expect() is matched, an expectation
posted just before stop() still fails check(), a stop() that comes before the loop ran the
server task stops it, and the shared loop thread ends with its last lease.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest
from support.recording_client import request

import mockprogress as mp

BACKENDS = ["asyncio", "trio"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_request_right_after_expect_is_matched(backend: str) -> None:
    with mp.MockServer(backend=backend) as srv:
        for i in range(50):
            srv.expect("GET", f"/n{i}", times=1).respond(mp.respond(200, str(i).encode()))
            assert request(srv.port, "GET", f"/n{i}").body == str(i).encode()
    srv.check()


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_expectation_posted_just_before_stop_fails_check(backend: str) -> None:
    srv = mp.MockServer(backend=backend)
    with srv:
        srv.expect("GET", "/never", times=1)
    with pytest.raises(mp.ExpectationError, match="expected 1 request"):
        srv.check()


@pytest.mark.parametrize("backend", BACKENDS)
def test_stop_at_once_after_start_stops_the_server(backend: str) -> None:
    for _ in range(20):
        with mp.MockServer(backend=backend) as srv:
            port = srv.port
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_a_client_may_connect_before_the_server_task_runs() -> None:
    # The socket listens from start() on: a connection made at once waits in the backlog.
    with mp.MockServer() as srv:
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        srv.expect("GET", "/early").respond(mp.respond(200, b"early"))
        with sock:
            sock.sendall(b"GET /early HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            received = b""
            while chunk := sock.recv(4096):
                received += chunk
        assert received.endswith(b"early")


def test_respond_after_start_replaces_the_script_for_the_next_request() -> None:
    with mp.MockServer() as srv:
        exp = srv.expect("GET", "/x").respond(mp.respond(200, b"first"))
        assert request(srv.port, "GET", "/x").body == b"first"
        exp.respond(mp.respond(200, b"second"))
        assert request(srv.port, "GET", "/x").body == b"second"


def test_expect_from_another_thread() -> None:
    with mp.MockServer() as srv:
        worker = threading.Thread(
            target=lambda: srv.expect("GET", "/w").respond(mp.respond(202, b"worker"))
        )
        worker.start()
        worker.join()
        assert request(srv.port, "GET", "/w").status == 202
        assert [ex.path for ex in srv.journal] == ["/w"]


def test_the_loop_thread_ends_with_its_last_server() -> None:
    # Outside pytest's session lease: the loop thread (and the task that runs what is
    # posted to it) must end when the last server stops, or the interpreter would hang.
    code = (
        "import threading, mockprogress as mp\n"
        "for backend in ('asyncio', 'trio'):\n"
        "    with mp.MockServer(backend=backend) as srv:\n"
        "        srv.expect('GET', '/').respond(mp.respond(204))\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "print('done')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "done\n"


def test_a_posted_call_that_fails_leaves_the_shared_loop_serving(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mockprogress.server.portal import portal_provider

    def broken() -> None:
        raise RuntimeError("broken on purpose")

    provider = portal_provider()
    with provider:
        provider.post.post(broken)
        with mp.MockServer() as srv:  # on the same loop, after the failed call
            srv.expect("GET", "/after").respond(mp.respond(200, b"still here"))
            assert urllib.request.urlopen(srv.url("/after"), timeout=5).read() == b"still here"
    assert "broken on purpose" in capsys.readouterr().err


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_stop_on_a_shared_listener_ends_with_the_clients_own_close(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test's client has usually just closed its connection when the fixture stops the
    server, and the loop has not yet read that close: the connection's own end then finishes
    the stop, without waiting for the posted call that would close it (here it never comes).
    The loop is held busy while the client closes and stop() starts, so the connection is
    still open when stop() looks."""
    from mockprogress.server.listener import SharedListener

    with SharedListener(backend=backend) as listener:
        srv = mp.MockServer(backend=backend).start(listener=listener)
        srv.expect("GET", "/").respond(mp.respond(200, b"ok"))
        client = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert client.recv(65536).endswith(b"\r\n\r\nok")  # kept alive
        busy, go = threading.Event(), threading.Event()
        listener.call_soon(lambda: (busy.set(), go.wait(5)))
        assert busy.wait(5)
        client.close()
        monkeypatch.setattr(listener, "call_soon", lambda fn, *args: None)
        stopped = threading.Thread(target=srv.stop, daemon=True)
        stopped.start()
        deadline = time.monotonic() + 5
        while srv._detached is None and stopped.is_alive() and time.monotonic() < deadline:
            time.sleep(0.001)  # until stop() found the connection open
        go.set()
        stopped.join(5)
        assert not stopped.is_alive()
        monkeypatch.undo()
        srv.check()
        assert [ex.response.status for ex in srv.journal if ex.response] == [200]
