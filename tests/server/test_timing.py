"""Scripted time on the wire: a pause between two interims is the gap the client sees.

The core only says "wait N seconds"; the server sleeps (docs/architecture.md, "Time is an effect of the
I/O layer"). The recording client stamps each interim with ``time.monotonic()`` as it
arrives, so the gap is measured on the client's side of the socket, on both event loops.
"""

from __future__ import annotations

import pytest
from support.recording_client import request

import mockprogress as mp

PAUSE = 0.1
TOLERANCE = 0.010


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_pause_between_interims_is_the_gap_on_the_wire(backend: str) -> None:
    with mp.MockServer(backend=backend) as srv:
        srv.expect("POST", "/jobs").respond(
            mp.processing((0, 2, "Herding cats")),
            mp.pause(PAUSE),
            mp.processing((1, 2, "Knitting sweaters")),
            mp.respond(201, b"created\n"),
        )

        reply = request(srv.port, "POST", "/jobs")
        srv.check()
        ex = srv.journal.last

    assert (reply.status, reply.body) == (201, b"created\n")
    first, second = reply.interims
    assert [first.header("Progress"), second.header("Progress")] == [
        '0/2 "Herding cats"',
        '1/2 "Knitting sweaters"',
    ]
    assert second.at - first.at == pytest.approx(PAUSE, abs=TOLERANCE)

    sent_first, sent_second = ex.interims
    assert sent_second.at - sent_first.at == pytest.approx(PAUSE, abs=TOLERANCE)
