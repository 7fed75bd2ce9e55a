"""Stopping a thread-mode server closes every connection, whatever the connection was doing."""

from __future__ import annotations

import gc
import socket
import warnings

import mockprogress as mp


def test_stop_closes_a_connection_that_is_draining() -> None:
    # `Connection: close` makes the server send its FIN and then drain the client's input,
    # waiting up to DRAIN_SECONDS for the client's FIN. The client does not send it, so stop()
    # cancels the drain; the connection's socket must be closed all the same, not leaked
    # (a leaked asyncio transport warns "unclosed transport" when it is collected).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        with mp.MockServer() as srv:
            srv.expect("GET", "/").respond(mp.respond(200, body=b"x"))
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                received = b""
                while chunk := sock.recv(65536):
                    received += chunk
                assert received.endswith(b"\r\n\r\nx")
                srv.stop()
            srv.check()
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
