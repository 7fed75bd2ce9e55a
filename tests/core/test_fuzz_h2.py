"""Bad input on an HTTP/2 connection, sans-IO: whatever frames a client sends (any type, flags,
stream id and payload, cut anywhere between reads), the engine answers with frames or a
GOAWAY, never raises, and every stream it starts runs without failing inside the server."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st
from support.fuzzing import examples

import mockprogress as mp
from mockprogress.engine.actions import Send, Sleep, WaitStream
from mockprogress.engine.h2_connection import PREFACE, H2ServerConnection
from mockprogress.engine.matching import Expectation
from mockprogress.engine.state import ServerState

SETTINGS = examples(150)

FRAME = st.tuples(
    st.integers(0, 12),  # DATA .. CONTINUATION, and one unknown type
    st.integers(0, 255),  # flags
    st.sampled_from([0, 1, 2, 3, 5, 0x7FFFFFFF]),  # stream ids: the connection, odd, even
    st.binary(max_size=40),
)
# A request HEADERS frame (":method GET", ":path /x", ":scheme http" from HPACK's static
# table, ":authority x" as a literal), so that some runs open streams the fuzz then abuses.
REQUEST = b"\x82\x84\x86\x41\x01x"


def frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return (
        struct.pack(">I", len(payload))[1:]
        + bytes([kind, flags])
        + struct.pack(">I", stream)
        + payload
    )


def drive(conn: H2ServerConnection, program: object) -> None:
    """Run a stream's program until it waits (nothing more comes in a sans-IO run)."""
    generator = program  # a Program[None]
    result = None
    for _ in range(1000):
        try:
            action = generator.send(result)  # type: ignore[attr-defined]
        except StopIteration:
            return
        if isinstance(action, WaitStream | Sleep):
            generator.close()  # type: ignore[attr-defined]
            return
        result = None
        assert isinstance(action, Send) or action is not None


@SETTINGS
@given(
    frames=st.lists(FRAME, max_size=8),
    opening=st.booleans(),
    cuts=st.lists(st.integers(1, 64), max_size=4),
)
def test_any_frames_get_an_answer_never_an_exception(
    frames: list[tuple[int, int, int, bytes]], opening: bool, cuts: list[int]
) -> None:
    state = ServerState()
    exp = Expectation("GET", "/x")
    exp.respond(mp.processing((0, 1)), mp.respond(200, b"ok"))
    state.add_expectation(exp)
    conn = H2ServerConnection(state, lambda: 0.0, mp.HTTP2())
    data = b"".join(frame(*f) for f in frames)
    if opening:
        data = frame(1, 0x5, 1, REQUEST) + data  # END_HEADERS | END_STREAM
    news = conn.start(PREFACE)
    started = list(news.started)
    offset = 0
    for cut in [*cuts, len(data)]:
        piece, offset = data[offset : offset + cut], offset + cut
        if not piece:
            break
        news = conn.receive(piece)
        assert isinstance(news.output, bytes)
        started += news.started
        if news.closing:
            break
    for stream in started:
        drive(conn, conn.serve_stream(stream))
    assert not [p for p in state.problems if p.kind == "internal-error"]
