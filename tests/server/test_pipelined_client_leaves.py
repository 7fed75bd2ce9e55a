"""Pipelined requests and a client that leaves: every request the server read is journaled
(each with its own bytes), and only what was written is recorded as sent. Over a real socket:
two ``POST /jobs`` sent together, the client closing 10 ms later, the script ``processing,
pause(0.1), respond``."""

from __future__ import annotations

import socket
import time

import mockprogress as mp

REQUEST = b"POST /jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
INTERIM = b"HTTP/1.1 102 Processing\r\n\r\n"


def settled(srv: mp.MockServer, count: int) -> mp.Journal:
    """The journal once it holds ``count`` exchanges, each ended (or after 5 s)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        journal = srv.journal
        if len(journal) >= count and all(ex.duration is not None for ex in journal):
            break
        time.sleep(0.01)
    time.sleep(0.05)  # nothing more comes
    return srv.journal


def test_two_pipelined_posts_and_a_client_that_leaves() -> None:
    with mp.MockServer() as srv:
        srv.expect("POST", "/jobs").respond(
            mp.processing(), mp.pause(0.1), mp.respond(200, b"done\n")
        )
        with socket.create_connection(("127.0.0.1", srv.port)) as sock:
            sock.sendall(REQUEST + REQUEST)
            time.sleep(0.01)
        first, second = settled(srv, 2)
        # The first: its own bytes, the 102 it got, and no 200: that was never written.
        assert first.bytes_received == len(REQUEST)
        assert first.bytes_sent == len(INTERIM)
        assert first.body == b"hello" and first.body_complete
        assert [i.status for i in first.interims] == [102]
        assert first.response is None
        assert [(e.kind, e.detail) for e in first.events if e.direction == "out"] == [
            ("interim", "102 Processing")
        ]
        assert first.events[-1].kind == "closed"
        assert first.events[-1].detail == (
            "client closed the connection: 200 OK not written (43 bytes)"
        )
        # The second was read too: journaled, unanswered.
        assert (second.method, second.path, second.connection) == ("POST", "/jobs", 1)
        assert second.bytes_received == len(REQUEST)
        assert second.body == b"hello" and second.body_complete
        assert second.response is None and second.bytes_sent == 0
        assert [(e.kind, e.detail) for e in second.events] == [
            ("request", "POST /jobs HTTP/1.1"),
            ("body", "5 body bytes (complete)"),
            ("closed", "not answered: the client closed the connection"),
        ]
        srv.check()


def test_pipelined_requests_answered_in_order_keep_their_own_bytes() -> None:
    with mp.MockServer() as srv:
        srv.expect("POST", "/jobs").respond(mp.respond(201, b"ok"))
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(REQUEST * 3)
            got = b""
            while got.count(b"201 Created") < 3:
                got += sock.recv(65536)
        assert [ex.bytes_received for ex in settled(srv, 3)] == [len(REQUEST)] * 3
        assert [ex.body for ex in srv.journal] == [b"hello"] * 3


def test_a_request_read_behind_one_that_closes_the_connection_is_journaled() -> None:
    with mp.MockServer() as srv:
        srv.expect("GET", "/a").respond(mp.respond(200, b"a", headers={"Connection": "close"}))
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n")
            while sock.recv(65536):
                pass
        a, b = settled(srv, 2)
        assert a.response is not None and a.response.status == 200
        assert (b.path, b.response, b.bytes_received) == (
            "/b",
            None,
            len(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n"),
        )
        assert b.events[-1].detail == "not answered: the server closed the connection"
        srv.check()


def test_part_of_a_head_and_part_of_a_body_read_behind_are_journaled_as_they_came() -> None:
    with mp.MockServer() as srv:
        for behind, body, complete in [
            (b"GET /b HT", b"", False),
            (b"POST /ok HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nabc", b"abc", False),
        ]:
            srv.reset()
            srv.expect("GET", "/a").respond(mp.respond(200, b"a", headers={"Connection": "close"}))
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
                sock.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n" + behind)
                while sock.recv(65536):
                    pass
            _, b = settled(srv, 2)
            assert b.bytes_received == len(behind)
            assert (b.body, b.body_complete, b.response) == (body, complete, None)
            assert b.events[-1].detail == "not answered: the server closed the connection"
            srv.check()
