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
