"""A stall on a real socket: silence with the connection open, ended by the client closing,
and, on the request side, no more bytes read, so the client's sending stops.

This used to end at once on asyncio: waiting on the socket raised "File descriptor N is used by
transport" (anyio's stream owns the fd), the connection handler recorded an internal error and
closed the connection; and the raw socket anyio hands out has no recv to peek with.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator

import pytest

import mockprogress as mp


@pytest.fixture(params=["asyncio", "trio"])
def srv(request: pytest.FixtureRequest) -> Iterator[mp.MockServer]:
    with mp.MockServer(backend=request.param) as server:
        yield server


def wait_until(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_stall_holds_until_the_client_closes(srv: mp.MockServer) -> None:
    srv.expect("GET", "/stall").respond(mp.respond(200, b"0123456789").cut(4, how="stall"))
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(b"GET /stall HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while not received.endswith(b"0123"):
            received += sock.recv(4096)
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(4096)  # silence, and no end of stream either
        assert srv.journal.last.duration is None  # still running
    # The client closed: the stall ends and so does the exchange.
    wait_until(lambda: srv.journal.last.duration is not None)
    last = srv.journal.last
    assert last.fault is not None and (last.fault.kind, last.fault.body_bytes) == ("stall", 4)
    srv.check()


def test_a_stall_on_the_request_side_stops_reading(srv: mp.MockServer) -> None:
    srv.expect("PUT", "/upload").respond(mp.read_body(10), mp.stall())
    total = 64 * 1024 * 1024
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(f"PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: {total}\r\n\r\n".encode())
        sock.setblocking(False)
        chunk = b"x" * 65536
        sent = 0
        idle_since = time.monotonic()
        while sent < total and time.monotonic() - idle_since < 0.5:
            try:
                sent += sock.send(chunk)
                idle_since = time.monotonic()
            except BlockingIOError:
                time.sleep(0.01)
        # The kernel's buffers filled up and nothing drained them.
        assert sent < total
        wait_until(lambda: srv.journal.last.fault is not None)
        assert srv.journal.last.body == b"x" * 10
        assert srv.journal.last.duration is None
        # A FIN would wait behind the unread bytes; a reset ends the stall at once.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    wait_until(lambda: srv.journal.last.duration is not None)
