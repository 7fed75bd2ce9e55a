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
def test_a_stop_on_a_shared_listener_ends_with_the_last_connections_own_end(
    backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection still busy at stop() (here in a script's pause, its client gone) ends by
    itself: that end finishes the stop, without waiting for the posted call that would close
    it (here it never comes)."""
    from mockprogress.server.listener import SharedListener

    with SharedListener(backend=backend) as listener:
        srv = mp.MockServer(backend=backend).start(listener=listener)
        srv.expect("GET", "/").respond(mp.pause(0.3), mp.respond(200, b"late"))
        client = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        client.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        deadline = time.monotonic() + 5
        while not srv.journal and time.monotonic() < deadline:
            time.sleep(0.001)  # until the exchange began (its script pauses)
        client.close()
        monkeypatch.setattr(listener, "call_soon", lambda fn, *args: None)
        stopped = threading.Thread(target=srv.stop, daemon=True)
        stopped.start()
        stopped.join(5)
        assert not stopped.is_alive()
        monkeypatch.undo()
        assert srv._detached is None
        assert [ex.path for ex in srv.journal] == ["/"]


def _answer(sock: socket.socket, data: bytes) -> bytes:
    """What the server sends after ``data`` on ``sock`` until it closes it (b"": nothing)."""
    received = b""
    try:
        sock.sendall(data)
        while chunk := sock.recv(65536):
            received += chunk
    except (BrokenPipeError, ConnectionResetError):
        pass
    return received


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_stop_on_a_shared_listener_does_not_wait_for_connections_idle_between_requests(
    backend: str,
) -> None:
    """At a test's teardown its client's keep-alive connection usually waits idle for a next
    request: stop() need not wait for the loop then. It marks the connection left (it will
    read no request for this server) and finishes in the caller's thread, here while the
    loop is held busy; the loop closes the connection afterwards, unanswered, and the
    journal is what it was."""
    from mockprogress.server.listener import SharedListener

    request_bytes = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    with SharedListener(backend=backend) as listener:
        srv = mp.MockServer(backend=backend).start(listener=listener)
        srv.expect("GET", "/").respond(mp.respond(200, b"ok"))
        client = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        client.sendall(request_bytes)
        assert client.recv(65536).endswith(b"\r\n\r\nok")  # kept alive
        deadline = time.monotonic() + 5
        while not all(entry.idle for entry in srv._connections.values()):
            assert time.monotonic() < deadline
            time.sleep(0.001)  # until the loop waits for the next request
        busy, go = threading.Event(), threading.Event()
        listener.call_soon(lambda: (busy.set(), go.wait(5)))
        assert busy.wait(5)
        stopped = threading.Thread(target=srv.stop, daemon=True)
        stopped.start()
        stopped.join(2)
        try:
            assert not stopped.is_alive()  # done while the loop was still busy
        finally:
            go.set()
        srv.check()
        assert [ex.response.status for ex in srv.journal if ex.response] == [200]
        with client:
            assert _answer(client, request_bytes) == b""
        assert len(srv.journal) == 1


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_stop_waits_for_an_idle_connection_with_bytes_the_loop_has_not_read(
    backend: str,
) -> None:
    """Only a connection idle with nothing unread is left without waiting: whether the old
    path would have served what its client sent before stop() (a next request, read by a
    loop too busy to get to it yet) is the loop's to decide, as it was, so stop() waits."""
    from mockprogress.server.listener import SharedListener

    request_bytes = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    with SharedListener(backend=backend) as listener:
        srv = mp.MockServer(backend=backend).start(listener=listener)
        srv.expect("GET", "/").respond(mp.respond(200, b"ok"))
        client = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        client.sendall(request_bytes)
        assert client.recv(65536).endswith(b"\r\n\r\nok")  # kept alive
        deadline = time.monotonic() + 5
        while not all(entry.idle for entry in srv._connections.values()):
            assert time.monotonic() < deadline
            time.sleep(0.001)  # until the loop waits for the next request
        busy, go = threading.Event(), threading.Event()
        listener.call_soon(lambda: (busy.set(), go.wait(5)))
        assert busy.wait(5)
        client.sendall(request_bytes)  # the loop is busy: nobody reads it yet
        time.sleep(0.05)  # on the server's side of the connection by now
        stopped = threading.Thread(target=srv.stop, daemon=True)
        stopped.start()
        stopped.join(0.2)
        waited = stopped.is_alive()
        go.set()
        stopped.join(5)
        assert waited and not stopped.is_alive()
        assert srv.journal[0].response is not None
        client.close()
