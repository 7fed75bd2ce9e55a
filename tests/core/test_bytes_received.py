"""Each exchange's ``bytes_received`` counts its own bytes: pipelined requests that arrive in
one read are split between their exchanges, and a body read through h11 (chunked) is not
counted again for the request after it."""

from __future__ import annotations

from support.sansio import Wire

import mockprogress as mp
from mockprogress.engine.matching import Expectation

GET = b"GET /g HTTP/1.1\r\nHost: x\r\n\r\n"
POST = b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = b"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


def serving() -> Wire:
    wire = Wire()
    for method, path in [("GET", "/g"), ("POST", "/p"), ("POST", "/c")]:
        exp = Expectation(method, path)
        exp.respond(mp.read_body(), mp.respond(200, b"ok"))
        wire.state.add_expectation(exp)
    return wire


def test_pipelined_requests_in_one_read_each_count_their_own_bytes() -> None:
    wire = serving()
    wire.run([POST + GET + POST + GET])
    assert [ex.bytes_received for ex in wire.state.journal()] == [
        len(POST),
        len(GET),
        len(POST),
        len(GET),
    ]


def test_a_chunked_body_is_not_counted_again_for_the_next_request() -> None:
    wire = serving()
    body = [b"5\r\nhello\r\n", b"0\r\n\r\n"]
    wire.run([CHUNKED, *body, GET])
    assert [ex.bytes_received for ex in wire.state.journal()] == [
        len(CHUNKED) + sum(map(len, body)),
        len(GET),
    ]
