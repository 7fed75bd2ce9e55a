"""A request head is measured as the client sent it, not as h11 hands it out: whitespace
padding and folded lines that h11 strips count towards ``max_header_size``."""

from __future__ import annotations

import pytest
from support.sansio import Wire, config

PADDED = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: a" + b" " * 60_000 + b"\r\n\r\n"
FOLDED = b"GET / HTTP/1.1\r\nHost: x\r\nX-Fold: a" + b"\r\n" + b" \t" * 30_000 + b"\r\n\r\n"
SPACED = (
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad:" + b" " * 30_000 + b"a" + b"\t" * 30_000 + b"\r\n\r\n"
)


@pytest.mark.parametrize("head", [PADDED, FOLDED, SPACED], ids=["padded", "folded", "spaced"])
def test_a_padded_head_is_measured_as_sent(head: bytes) -> None:
    wire = Wire()
    out = wire.run([head])
    assert out.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"), out[:200]
    [problem] = wire.state.problems
    assert problem.kind == "limit"
    assert f"request head of {len(head)} bytes" in problem.message


def test_a_plain_head_is_measured_exactly() -> None:
    head = b"GET / HTTP/1.1\r\nHost:x\r\nX-A:  b  \r\n\r\n"
    wire = Wire(state=config(max_header_size=len(head) - 1))
    out = wire.run([head])
    assert out.startswith(b"HTTP/1.1 431 ")
    assert f"request head of {len(head)} bytes" in wire.state.problems[0].message
    wire = Wire(state=config(max_header_size=len(head)))
    assert not wire.run([head]).startswith(b"HTTP/1.1 431 ")
