"""Stopping a server while an exchange is still running, or while a connection drains.

A client that leaves early (the http.client family after a 102: tests/clients/test_clients_stdlib.py) often
leaves its exchange mid-script: the server is still pausing between interims when the test
ends. Stopping must end that exchange on the server's loop, so its cleanup runs there, and
not later, off the loop, whenever the garbage collector gets to it (where it failed with
``NoEventLoopError``, printed as "Exception ignored", and pytest turned that into an error).
"""

from __future__ import annotations

import gc
import socket
import sys
import warnings
from collections.abc import Iterator

import pytest

import mockprogress as mp


@pytest.fixture
def unraisable() -> Iterator[list[sys.UnraisableHookArgs]]:
    """Exceptions Python could not raise (``Exception ignored in ...``), collected."""
    seen: list[sys.UnraisableHookArgs] = []
    previous = sys.unraisablehook
    sys.unraisablehook = seen.append
    try:
        yield seen
    finally:
        sys.unraisablehook = previous


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_stop_during_a_pause_ends_the_exchange_cleanly(
    unraisable: list[sys.UnraisableHookArgs], backend: str
) -> None:
    with mp.MockServer(backend=backend) as srv:
        srv.expect("POST", "/jobs").respond(
            mp.processing((0, 1)), mp.pause(30), mp.respond(201, b"created\n")
        )
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
            sock.sendall(b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = sock.recv(65536)
                assert chunk, "the server closed before its 102"
                received += chunk
            assert received.startswith(b"HTTP/1.1 102 Processing\r\n")
            # The server is now in its 30 s pause: stop it there.
            srv.stop()
        journal = srv.journal
    gc.collect()

    assert [f"{u.exc_type.__name__}: {u.exc_value}" for u in unraisable] == []
    ex = journal.last
    assert [i.status for i in ex.interims] == [102]
    assert ex.response is None
    # The exchange was ended, and timed, when the server stopped.
    assert ex.duration is not None
    assert 0 <= ex.duration < 5


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
