"""A final response written past h11 is byte for byte what h11 would write.

For a plain keep-alive HTTP/1.1 request, ``respond`` writes the cached head and the body
itself (``ServerConfig.responses_past_h11``) instead of passing three events through h11's state
machine. Each case below runs the same client bytes through the core both ways and compares
everything the client sees (the bytes, whether the connection stays open) and what the
journal records. The cases cover the requests that must not take the shortcut (HTTP/1.0,
``Connection: close``, HEAD, an upgrade), the responses that must not (chunked, 204, 304, a
``Connection: close`` field), and the ones that do, followed by pipelined requests, interim
responses, cuts and request bodies.
"""

from __future__ import annotations

import h11
import pytest
from support.sansio import Wire, config

import mockprogress as mp
from mockprogress.engine.matching import Expectation

GET = b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n"
NEXT = b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
BODY = bytes(range(256)) * 8

CASES: dict[str, tuple[list[bytes], list[mp.Step]]] = {
    "plain": ([GET], [mp.respond(200, b"hello")]),
    "fields": ([GET], [mp.respond(201, b"x", headers={"X-A": "1", "Host-Ish": "2"})]),
    "reason": ([GET], [mp.respond(299, b"", reason="Incomplete Resource")]),
    "empty body": ([GET], [mp.respond(200)]),
    "pipelined": ([GET + NEXT + GET], [mp.respond(200, b"one")]),
    "pipelined, split": ([GET + NEXT[:7], NEXT[7:]], [mp.respond(200, b"one")]),
    "interims first": (
        [GET],
        [mp.processing(), mp.early_hints("</a>; rel=preload"), mp.respond(200, b"after")],
    ),
    "response field Connection: close": (
        [GET + NEXT],
        [mp.respond(200, b"bye", headers={"Connection": "close"})],
    ),
    "response field Connection: keep-alive": (
        [GET + NEXT],
        [mp.respond(200, b"hi", headers={"Connection": "keep-alive"})],
    ),
    "chunked response": ([GET + NEXT], [mp.respond(200, b"abc", chunked=True)]),
    "204": ([GET + NEXT], [mp.respond(204)]),
    "304": ([GET + NEXT], [mp.respond(304)]),
    "HEAD": ([b"HEAD /r HTTP/1.1\r\nHost: x\r\n\r\n" + NEXT], [mp.respond(200, b"body")]),
    "HTTP/1.0": ([b"GET /r HTTP/1.0\r\n\r\n"], [mp.respond(200, b"old")]),
    "HTTP/1.0 keep-alive": (
        [b"GET /r HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" + NEXT],
        [mp.respond(200, b"o")],
    ),
    "request Connection: close": (
        [b"GET /r HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, Close\r\n\r\n" + NEXT],
        [mp.respond(200, b"last")],
    ),
    "upgrade declined": (
        [b"GET /r HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n" + NEXT],
        [mp.respond(200, b"no")],
    ),
    "cut in the head": ([GET], [mp.respond(200, b"0123456789").cut(at=20, unit="wire")]),
    "cut in the body": ([GET + NEXT], [mp.respond(200, b"0123456789").cut(at=4)]),
    "reset in the body": ([GET], [mp.respond(200, b"0123456789").cut(at=9, how="reset")]),
    "drip": ([GET + NEXT], [mp.respond(200, b"0123456789").drip(chunk=3, interval=0.01)]),
    "body read": (
        [
            b"POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n" + BODY[:100],
            BODY[100:] + NEXT,
        ],
        [mp.respond(201, b"stored")],
    ),
    "body answered before it is read": (
        [
            b"POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n" + BODY[:10],
            BODY[10:] + NEXT,
        ],
        [mp.respond(202, b"early"), mp.read_body()],
    ),
    "100-continue body never sent": (
        [b"POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"],
        [mp.respond(417, b"no")],
    ),
    "chunked request body": (
        [
            b"POST /r HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\n\r\n" + NEXT
        ],
        [mp.read_body(), mp.respond(200, b"got it")],
    ),
}


def _run(inbound: list[bytes], steps: list[mp.Step], *, fast: bool) -> tuple[bytes, object, list]:
    state = config(responses_past_h11=fast)
    for method in ("GET", "HEAD", "POST"):
        state.add_expectation(Expectation(method, "/r").respond(*steps))
    state.add_expectation(Expectation("GET", "/next").respond(mp.respond(200, b"next")))
    wire = Wire(state=state)
    out = wire.run(inbound)
    journal = [
        (
            ex.method,
            ex.target,
            ex.response,
            ex.body,
            ex.bytes_sent,
            ex.bytes_received,
            ex.fault,
            ex.events,
        )
        for ex in state.journal()
    ]
    return out, wire.closed, journal


@pytest.mark.parametrize("case", CASES)
def test_the_same_bytes_and_journal_past_h11_as_through_it(case: str) -> None:
    inbound, steps = CASES[case]
    through = _run(inbound, steps, fast=False)
    past = _run(inbound, steps, fast=True)
    assert past == through
    assert through[0].startswith(b"HTTP/1.1 ")


@pytest.mark.parametrize("case", ["plain", "pipelined", "interims first", "body read"])
def test_plain_exchanges_take_the_shortcut(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Otherwise the comparison above would compare h11 with itself.
    inbound, steps = CASES[case]
    _run(inbound, steps, fast=True)  # h11 renders each distinct head once, for the cache
    sent: list[str] = []
    send = h11.Connection.send

    def recording_send(self: h11.Connection, event: object) -> bytes | None:
        sent.append(type(event).__name__)
        return send(self, event)  # type: ignore[arg-type]

    monkeypatch.setattr(h11.Connection, "send", recording_send)
    out, _closed, _journal = _run(inbound, steps, fast=True)
    assert out.count(b"HTTP/1.1 200 ") + out.count(b"HTTP/1.1 201 ") >= 1
    assert "Response" not in sent and "Data" not in sent and "EndOfMessage" not in sent
