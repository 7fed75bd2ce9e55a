"""Which exchanges are in progress (``ServerState.in_progress``, what ``wait_idle`` waits on),
driven without sockets: an exchange is in progress from its request head to its end, however
it ends, and whoever waits for idleness is told once none is."""

from __future__ import annotations

import pytest
from support.sansio import Wire

import mockprogress as mp
from mockprogress.engine.actions import PeerGone, Receive, Send
from mockprogress.engine.connection import ServerConnection
from mockprogress.engine.state import ServerState


def test_an_exchange_is_in_progress_until_its_script_ends() -> None:
    wire = Wire()
    wire.state.add_expectation(
        mp.Expectation("GET", "/slow").respond(mp.processing(), mp.pause(1), mp.respond(200))
    )
    told: list[str] = []
    conn = ServerConnection(wire.state, lambda: wire.clock, "127.0.0.1")
    program = conn.run()
    assert isinstance(program.send(None), Receive)
    action = program.send(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    assert isinstance(action, Send) and action.data.startswith(b"HTTP/1.1 102")
    [running] = wire.state.in_progress()
    assert (running.index, running.ended) == (1, None)
    wire.state.when_idle(lambda: told.append("idle"))
    assert told == []
    program.close()  # the server stops under it
    assert (wire.state.in_progress(), told) == ([], ["idle"])
    assert wire.state.journal()[0].duration is not None


def test_when_idle_answers_at_once_when_nothing_runs() -> None:
    state = ServerState()
    told: list[str] = []
    state.when_idle(lambda: told.append("idle"))
    assert told == ["idle"]


@pytest.mark.parametrize(
    "request_bytes",
    [b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n", b"NOT HTTP AT ALL\r\n\r\n"],
    ids=["unmatched", "malformed"],
)
def test_a_client_gone_under_the_answer_ends_the_exchange(request_bytes: bytes) -> None:
    state = ServerState()
    program = ServerConnection(state, lambda: 0.0, "127.0.0.1").run()
    assert isinstance(program.send(None), Receive)
    action = program.send(request_bytes)
    while not isinstance(action, Send):
        action = program.send(None)
    with pytest.raises(StopIteration):
        program.throw(PeerGone())
    assert state.in_progress() == []
    assert state.journal()[0].duration is not None
