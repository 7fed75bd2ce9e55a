"""Hostile input on the wire: heads padded past the limit, JSON nested past the recursion
limit, bodies too large to echo, WebSocket frames past the spool threshold."""

from __future__ import annotations

import pytest
from support.raw_client import exchange

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
