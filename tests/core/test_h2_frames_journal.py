"""The frames around an HTTP/2 exchange's messages, journaled sans-IO: each counted in the
exchange's ``control_frames`` and, up to ``FRAME_EVENTS`` of a kind, direction and scope, a
``frame`` event of its timeline; those on the connection while no exchange runs go to the
next exchange that begins."""

from __future__ import annotations

from hpack import Encoder
from hyperframe.frame import (
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

import mockprogress as mp
from mockprogress.engine.h2_connection import PREFACE, H2ServerConnection
from mockprogress.engine.journal import FRAME_EVENTS, FrameCount
from mockprogress.engine.matching import Expectation
from mockprogress.engine.state import ServerState

REQUEST = [(":method", "GET"), (":path", "/x"), (":scheme", "http"), (":authority", "x")]


def test_frames_are_counted_and_journaled_a_bounded_number_of_times() -> None:
    state = ServerState()
    exp = Expectation("GET", "/x")
    exp.respond(mp.respond(200))
    state.add_expectation(exp)
    conn = H2ServerConnection(state, lambda: 0.0, mp.HTTP2())
    encoder = Encoder()
    opening = (
        PREFACE
        + SettingsFrame(0, settings={SettingsFrame.INITIAL_WINDOW_SIZE: 1000}).serialize()
        + PingFrame(0, opaque_data=b"early!!!").serialize()
    )
    conn.start(opening)
    flood = PingFrame(0, opaque_data=b"12345678").serialize() * 20
    conn.receive(
        HeadersFrame(1, data=encoder.encode(REQUEST), flags=["END_HEADERS"]).serialize()
        + flood
        + PriorityFrame(1, depends_on=0, stream_weight=15).serialize()
        + WindowUpdateFrame(1, window_increment=500).serialize() * 2
        + HeadersFrame(3, data=encoder.encode(REQUEST), flags=["END_HEADERS"]).serialize()
        + RstStreamFrame(3, error_code=8).serialize()
    )
    first, second = (log.snapshot() for log in state.logs)
    counted = {(c.kind, c.direction, c.scope): c for c in first.control_frames}
    # Before the stream: the client's SETTINGS and its first PING; then 20 PINGs while it ran.
    assert counted["SETTINGS", "in", "connection"] == FrameCount("SETTINGS", "in", "connection", 1)
    assert counted["PING", "in", "connection"].count == 21
    assert counted["WINDOW_UPDATE", "in", "stream"] == FrameCount(
        "WINDOW_UPDATE", "in", "stream", 2, 1000
    )
    assert counted["PRIORITY", "in", "stream"].count == 1
    pings = [e.detail for e in first.events if e.kind == "frame" and e.detail.startswith("PING")]
    assert len(pings) == FRAME_EVENTS
    assert pings[0] == "PING 6561726c79212121: acknowledged (connection), before this stream"
    assert pings[-1].endswith("(more PING in are counted only)")
    assert "PRIORITY ignored (weight 16, depends on 0)" in [e.detail for e in first.events]
    assert "  frames: " in first.timeline() and "PING in x21 (connection)" in first.timeline()
    # The client's RST_STREAM is on its stream's exchange (and counts toward the resets).
    assert [e.detail for e in second.events if e.kind == "frame"] == ["RST_STREAM CANCEL"]
    assert conn.resets == 1
