"""The exchange's state and its one keep-alive decision.

``ExchangeContext`` keeps where the body, the response and the wire stand as three enums and
decides keep-alive in ``keeps_alive()``; the connection only acts on that answer. Each row
below drives a real exchange through the core and records, at the moment the connection asks,
the state and the answer, and what the connection then did.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.sansio import Wire, config

import mockprogress as mp
from mockprogress.engine.actions import Program
from mockprogress.engine.exchange import BodyState, ExchangeContext, ResponseState, WireState
from mockprogress.engine.matching import Expectation

GET = b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n"
POST5 = b"POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"

B, R, W = BodyState, ResponseState, WireState

#: name: (client bytes, script, server option responses_past_h11,
#:        (body, response, wire) when the connection asks, keeps_alive())
ROWS: dict[str, tuple[list[bytes], list[mp.Step], bool, tuple[B, R, W], bool]] = {
    "answered past h11": ([GET], [mp.respond(200, b"x")], True, (B.COMPLETE, R.SENT, W.HTTP), True),
    "answered through h11": (
        [GET],
        [mp.respond(200, b"x")],
        False,
        (B.COMPLETE, R.SENT, W.HTTP),
        True,
    ),
    "response says Connection: close": (
        [GET],
        [mp.respond(200, b"x", headers={"Connection": "close"})],
        True,
        (B.COMPLETE, R.SENT, W.HTTP),
        False,
    ),
    "client says Connection: close": (
        [GET.replace(b"Host: x", b"Host: x\r\nConnection: close")],
        [mp.respond(200)],
        True,
        (B.COMPLETE, R.SENT, W.HTTP),
        False,
    ),
    "HTTP/1.0 client": (
        [GET.replace(b"HTTP/1.1", b"HTTP/1.0")],
        [mp.respond(200)],
        True,
        (B.COMPLETE, R.SENT, W.HTTP),
        False,
    ),
    "raw bytes": (
        [GET],
        [mp.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")],
        True,
        (B.COMPLETE, R.NONE, W.RAW),
        False,
    ),
    "body left unread": (
        [POST5 + b"01234"],
        [mp.read_body(upto=2), mp.respond(200)],
        True,
        (B.READING, R.SENT, W.HTTP),
        False,
    ),
    "body read in pieces, past h11": (
        [POST5 + b"01", b"234"],
        [mp.respond(200)],
        True,
        (B.COMPLETE, R.SENT, W.HTTP),
        True,
    ),
    "body read through h11, response through h11": (
        [POST5 + b"01234"],
        [mp.respond(200)],
        False,
        (B.COMPLETE, R.SENT, W.HTTP),
        True,
    ),
}


@pytest.fixture
def decisions(monkeypatch: pytest.MonkeyPatch) -> list[tuple[tuple[B, R, W], bool]]:
    """Every keeps_alive() answer, with the state it was given in."""
    seen: list[tuple[tuple[B, R, W], bool]] = []
    original: Callable[[ExchangeContext], bool] = ExchangeContext.keeps_alive

    def recording(ctx: ExchangeContext) -> bool:
        answer = original(ctx)
        seen.append(((ctx.body_state, ctx.response_state, ctx.wire_state), answer))
        return answer

    monkeypatch.setattr(ExchangeContext, "keeps_alive", recording)
    return seen


@pytest.mark.parametrize("row", ROWS)
def test_keeps_alive_decides_from_the_exchange_state(
    row: str, decisions: list[tuple[tuple[B, R, W], bool]]
) -> None:
    inbound, steps, past_h11, state, keeps = ROWS[row]
    server = config(responses_past_h11=past_h11)
    for method in ("GET", "POST"):
        server.add_expectation(Expectation(method, "/r").respond(*steps))
    wire = Wire(state=server)
    wire.run(inbound, eof=False)  # the client stays: only the server may end the connection
    assert decisions == [(state, keeps)]
    # The connection does what the exchange decided, and nothing else.
    assert wire.closed == (None if keeps else "close")


def test_an_exchange_that_ended_the_connection_never_keeps_it() -> None:
    contexts: list[ExchangeContext] = []

    class Drop(mp.Resource):
        def serve(self, ctx: ExchangeContext) -> Program[None]:  # type: ignore[override]
            contexts.append(ctx)
            yield from ctx.run(mp.drop("reset"))

    wire = Wire()
    wire.state.mount(Drop("/r"))
    wire.run([GET], eof=False)
    assert wire.closed == "reset"
    (ctx,) = contexts
    assert (ctx.body_state, ctx.response_state, ctx.wire_state) == (B.COMPLETE, R.NONE, W.CLOSED)
    assert ctx.closed and not ctx.keeps_alive()


def test_the_state_is_read_only_from_outside() -> None:
    for name in ("closed", "body_done", "final_started", "final_sent", "raw_mode", "wire_out"):
        prop = getattr(ExchangeContext, name)
        assert isinstance(prop, property) and prop.fset is None, name
