"""The server reads a request body only as fast as the script consumes it: a client sending
faster is held back by the kernel's socket buffers, not buffered in the server's memory
(anyio's asyncio stream would otherwise read ahead without limit; see _driver.py)."""

from __future__ import annotations

import socket
import time

import pytest

import mockprogress as mp

BODY = 256 * 1024 * 1024


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_fast_sender_is_held_back_while_the_script_pauses(backend: str) -> None:
    with mp.MockServer(backend=backend, max_body_size=BODY) as srv:
        srv.expect("PUT", "/slow").respond(mp.read_body(upto=1), mp.pause(3), mp.drop())
        sock = socket.create_connection(("127.0.0.1", srv.port))
        try:
            sock.sendall(
                f"PUT /slow HTTP/1.1\r\nHost: x\r\nContent-Length: {BODY}\r\n\r\n".encode()
            )
            sock.setblocking(False)
            piece = b"x" * (1 << 20)
            sent = 0
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline and sent < BODY:
                try:
                    sent += sock.send(piece)
                except BlockingIOError:
                    time.sleep(0.01)
        finally:
            sock.close()
    # Socket buffers on loopback take a few MiB; reading ahead would take all 256 MiB.
    assert sent < 64 * 1024 * 1024, f"the server took {sent} bytes while its script paused"
