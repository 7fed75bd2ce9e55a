"""On asyncio a plain connection starts with no task (``MockServer._begin``,
``ConnectionDriver.begin``): the reader's callbacks carry its program for as long as it only
reads and writes, and a task is made when it needs one (a sleep here). Each test counts the
tasks the server's loop makes (a task factory set on it) while real clients talk to it.
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

import mockprogress as mp
from mockprogress.engine.connection import ServerConnection
from mockprogress.server.listener import SharedListener

GET = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"


#: The coroutines of a connection's task: one from its start (TLS, trio), or from where its
#: callbacks left it.
CONNECTION_TASKS = {"MockServer._handle", "MockServer._carried_on"}


def count_tasks(srv: mp.MockServer) -> list[str]:
    """The connection tasks the server's loop makes from now on, by their coroutine's name
    (the list grows as it makes them)."""
    made: list[str] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        if coro.__qualname__ in CONNECTION_TASKS:
            made.append(coro.__qualname__)
        return asyncio.Task(coro, loop=loop, **kwargs)

    srv._call(lambda: asyncio.get_running_loop().set_task_factory(factory))
    return made


@pytest.fixture
def srv() -> Iterator[mp.MockServer]:
    with mp.MockServer() as server:
        yield server
        server._call(lambda: asyncio.get_running_loop().set_task_factory(None))


def read_response(sock: socket.socket) -> bytes:
    """What the server sends up to the end of its final response (interims included)."""
    data = b""
    while True:
        start = 0
        while (end := data.find(b"\r\n\r\n", start)) >= 0:
            head = data[start:end]
            if not head.startswith(b"HTTP/1.1 1"):
                found = re.search(rb"Content-Length: (\d+)", head)
                assert found is not None, head
                if len(data) >= end + 4 + int(found[1]):
                    return data
                break
            start = end + 4
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk


def wait_closed(srv: mp.MockServer) -> None:
    """Until the server has ended every connection (it sees the client's close)."""
    deadline = time.monotonic() + 5
    while srv._call(lambda: srv._active_connections):
        assert time.monotonic() < deadline, "a connection is still open"
        time.sleep(0.001)


def test_a_get_and_the_clients_close_make_no_task(srv: mp.MockServer) -> None:
    srv.expect("GET", "/a").respond(mp.respond(200, body=b"hi"))
    made = count_tasks(srv)
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(GET)
            assert read_response(sock).startswith(b"HTTP/1.1 200 OK\r\n")
    wait_closed(srv)
    assert made == []
    assert [ex.response.status for ex in srv.journal if ex.response] == [200, 200, 200]
    srv.check()


def test_a_sleep_gets_the_connection_a_task_that_goes_on_from_there(srv: mp.MockServer) -> None:
    srv.expect("GET", "/a").respond(
        mp.processing((0, 1)), mp.pause(0.02), mp.respond(200, body=b"late")
    )
    made = count_tasks(srv)
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(GET)
        started = time.monotonic()
        answer = read_response(sock)
        assert time.monotonic() - started >= 0.02
        # Sent before the sleep, from the callback; after it, from the task.
        assert answer.startswith(b"HTTP/1.1 102 Processing\r\n")
        assert answer.endswith(b"\r\n\r\nlate")
        sock.sendall(GET)  # the connection goes on, in its task
        assert read_response(sock).endswith(b"\r\n\r\nlate")
    wait_closed(srv)
    assert made == ["MockServer._carried_on"]
    assert [ex.response.status for ex in srv.journal if ex.response] == [200, 200]


def test_stop_ends_a_connection_waiting_with_no_task_at_once() -> None:
    with mp.MockServer() as srv:
        srv.expect("GET", "/a").respond(mp.respond(200, body=b"hi"))
        made = count_tasks(srv)
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        sock.sendall(GET)
        read_response(sock)  # the connection now waits for a next request, with no task
        srv.stop()
        assert srv._active_connections == 0
    with sock:
        assert sock.recv(100) == b""  # closed by the stop
    assert made == []
    assert srv.journal.last.response is not None


def broken_program(self: ServerConnection) -> Any:
    raise RuntimeError("a bug in the core")
    yield  # a generator that fails at its first step


@pytest.mark.parametrize("shared", [False, True], ids=["own listener", "shared listener"])
def test_a_program_that_fails_at_once_is_recorded_and_the_server_goes_on(
    monkeypatch: pytest.MonkeyPatch, shared: bool
) -> None:
    """The connection ends inside its accept's callback; on a shared listener that callback
    holds the listener's lock, which the connection's end takes again."""
    with SharedListener() as listener:
        srv = mp.MockServer().start(listener=listener if shared else None)
        try:
            srv.expect("GET", "/a").respond(mp.respond(200, body=b"hi"))
            monkeypatch.setattr(ServerConnection, "run", broken_program)
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
                assert sock.recv(100) == b""
            monkeypatch.undo()
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
                sock.sendall(GET)
                assert read_response(sock).endswith(b"\r\n\r\nhi")
            problems = srv._call(srv._state.all_problems)
            assert [p.kind for p in problems] == ["internal-error"]
            assert "a bug in the core" in problems[0].message
        finally:
            srv.stop()
