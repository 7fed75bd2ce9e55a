"""Hostile input on the wire: heads padded past the limit, JSON nested past the recursion
limit, bodies too large to echo, WebSocket frames past the spool threshold."""

from __future__ import annotations

import gc
import socket
import tracemalloc

import pytest
from support.raw_client import exchange
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Request, TextMessage

import mockprogress as mp

PADDED = (
    b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: a" + b" " * 60_000 + b"\r\n\r\n"
)
FOLDED = (
    b"GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Fold: a\r\n"
    + b" \t" * 30_000
    + b"\r\n\r\n"
)


@pytest.mark.parametrize("head", [PADDED, FOLDED], ids=["padded", "folded"])
def test_a_head_padded_past_max_header_size_gets_431(head: bytes) -> None:
    with mp.MockServer() as srv:
        srv.expect("GET", "/ok", times=None).respond(mp.respond(200, b"ok"))
        received = exchange(srv.port, head)
        assert received.data.startswith(b"HTTP/1.1 431 "), received.data[:100]
        with pytest.raises(mp.ExpectationError, match="limit"):
            srv.check()


def _post(path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000],
    ids=["open-brackets", "nested-arrays", "nested-objects"],
)
def test_json_nested_past_the_recursion_limit_gets_the_unmatched_answer(body: bytes) -> None:
    with mp.MockServer() as srv:
        srv.expect("POST", "/j", json={"name": "node"}).respond(mp.respond(201))
        received = exchange(srv.port, _post("/j", body))
        assert received.data.startswith(b"HTTP/1.1 500 "), received.data[:200]
        assert b"matched no expectation" in received.data
        assert len(received.data) < 4096
        with pytest.raises(mp.ExpectationError, match="unmatched") as failed:
            srv.check()
        assert "internal-error" not in str(failed.value)


def test_a_large_json_body_that_does_not_match_is_quoted_in_bounded_excerpts() -> None:
    body = b"[" + b",".join(b'"%d"' % i for i in range(600_000)) + b"]"  # about 5 MiB
    with mp.MockServer() as srv:
        srv.expect("POST", "/j", json={"name": "node"}).respond(mp.respond(201))
        srv.expect("POST", "/b", body=b"x").respond(mp.respond(201))
        received = exchange(srv.port, _post("/j", body))
        assert received.data.startswith(b"HTTP/1.1 500 "), received.data[:200]
        assert len(received.data) < 4096, len(received.data)
        with pytest.raises(mp.ExpectationError) as failed:
            srv.check()
        assert len(str(failed.value)) < 16384
        assert "json: wanted {'name': 'node'}, got ['0', '1'" in str(failed.value)


def _ws_session(port: int, messages: list[str | bytes]) -> list[str | bytes]:
    """Open a WebSocket at /ws, send ``messages``, take their echoes, close; the echoes."""
    ws = WSConnection(ConnectionType.CLIENT)
    echoes: list[str | bytes] = []
    part: str | bytes | None = None
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(ws.send(Request(host="h", target="/ws")))
        while data := sock.recv(1 << 20):
            ws.receive_data(data)
            for event in ws.events():
                if isinstance(event, AcceptConnection):
                    for message in messages:
                        out = (
                            TextMessage(message)
                            if isinstance(message, str)
                            else BytesMessage(message)
                        )
                        sock.sendall(ws.send(out))
                elif isinstance(event, TextMessage | BytesMessage):
                    piece = bytes(event.data) if isinstance(event.data, bytearray) else event.data
                    part = piece if part is None else part + piece  # type: ignore[operator]
                    if not event.message_finished:
                        continue
                    echoes.append(part)
                    part = None
                    if len(echoes) == len(messages):
                        sock.sendall(ws.send(CloseConnection(1000)))
                elif isinstance(event, CloseConnection):
                    break
    return echoes


def test_websocket_frames_in_the_journal_follow_the_spool_rule() -> None:
    messages: list[str | bytes] = [
        bytes([i]) * (256 * 1024) if i % 2 else chr(0x100 + i) * (128 * 1024) for i in range(20)
    ]
    with mp.MockServer(spool_threshold=64 * 1024) as srv:
        srv.expect("GET", "/ws").respond(mp.upgrade_websocket(echo=True))
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            echoed = _ws_session(srv.port, messages) == messages  # the echoes go here
            frames = srv.journal.last.frames
            gc.collect()
            kept = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert echoed
        # 5 MiB of messages in, 5 MiB out: the journal keeps them on disk, not in memory.
        assert kept < 1 << 20, kept
        data = [f.data for f in frames if f.kind in ("text", "binary")]
        assert data == [m for m in messages for _ in ("in", "out")]
