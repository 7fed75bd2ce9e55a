"""The journal: snapshots, timelines and the Mermaid diagram."""

from __future__ import annotations

import gc

import pytest
from support.sansio import Wire

import mockprogress as mp
from mockprogress.engine.body import NO_BODY
from mockprogress.engine.journal import JournalMark
from mockprogress.engine.matching import Expectation


@pytest.fixture
def journal() -> mp.Journal:
    wire = Wire()
    exp = Expectation("POST", "/jobs")
    exp.respond(
        mp.processing('0/2 "Herding cats"', location="/jobs/1/status"),
        mp.pause(0.25),
        mp.respond(201, b"created\n"),
    )
    wire.state.add_expectation(exp)
    cut = Expectation("GET", "/cut")
    cut.respond(mp.respond(200, b"0123456789").cut(4, how="reset"))
    wire.state.add_expectation(cut)
    wire.run([b"POST /jobs?x=1&y=2&x=3 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi"])
    wire.run([b"GET /cut HTTP/1.1\r\nHost: h\r\n\r\n"], eof=False)
    return wire.state.journal()


def test_exchange_fields(journal: mp.Journal) -> None:
    first = journal[0]
    assert (first.index, first.method, first.path, first.target) == (
        1,
        "POST",
        "/jobs",
        "/jobs?x=1&y=2&x=3",
    )
    assert first.query == {"x": "3", "y": "2"}
    assert first.raw_query == "x=1&y=2&x=3"
    assert first.headers["host"] == "h"
    assert first.body == b"hi" and first.body_size == 2
    assert first.http_version == "1.1"
    assert first.handled_by == "expect POST /jobs"
    assert first.duration == pytest.approx(0.25)
    assert first.bytes_sent > 0 and first.bytes_received > 0
    assert len(journal) == 2 and journal.last is journal[1]
    assert journal.find(method="get") == [journal[1]]
    assert journal.find(path="/jobs") == [journal[0]]


def test_fault_is_recorded(journal: mp.Journal) -> None:
    fault = journal.last.fault
    assert fault is not None
    assert (fault.kind, fault.side, fault.body_bytes) == ("reset", "response", 4)
    assert fault.wire_bytes == len(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n") + 4


def test_timeline_text(journal: mp.Journal) -> None:
    text = journal[0].timeline()
    assert text.splitlines() == [
        "#1 POST /jobs?x=1&y=2&x=3 HTTP/1.1  [connection 1, expect POST /jobs]",
        "        0.0 ms  <- POST /jobs?x=1&y=2&x=3 HTTP/1.1",
        '        0.0 ms  -> 102 Processing  Progress: 0/2 "Herding cats"; Location: /jobs/1/status',
        "        0.0 ms  .. pause 0.25 s",
        "      250.0 ms  <- 2 body bytes (complete)",
        "      250.0 ms  -> 201 Created",
        "      250.0 ms  -> 8 body bytes (complete)",
    ]
    assert "reset after 4 body bytes" in journal.to_text()


def test_mermaid(journal: mp.Journal) -> None:
    assert journal.to_mermaid().splitlines() == [
        "sequenceDiagram",
        "    participant C as client",
        "    participant S as mockprogress",
        "    Note over C,S: connection 1",
        "    C->>S: POST /jobs?x=1&y=2&x=3",
        "    S-->>C: 102 Processing<br/>Progress: 0/2 #quot;Herding cats#quot;<br/>Location: /jobs/1/status",
        "    Note over S: pause 0.25 s",
        "    C->>S: 2 body bytes (complete)",
        "    S->>C: 201 Created",
        "    Note over C,S: connection 2",
        "    C->>S: GET /cut",
        "    S->>C: 200 OK",
        "    S-xC: reset after 4 body bytes (wire byte 43)",
    ]


def test_empty_journal() -> None:
    empty = mp.Journal()
    with pytest.raises(IndexError, match="no request"):
        empty.last  # noqa: B018
    assert empty.to_text() == "(no exchanges)"
    assert empty.to_mermaid().startswith("sequenceDiagram\n")


def test_large_bodies_spill_to_disk_and_read_back() -> None:
    from mockprogress.engine.body import BodyBuffer

    buf = BodyBuffer(spool_threshold=10)
    buf.append(b"0123456789")
    assert not buf.on_disk
    buf.append(b"abcdef")
    assert buf.on_disk
    assert buf.read() == b"0123456789abcdef"
    assert buf.read(5, 12) == b"56789ab"
    buf.truncate(4)
    assert buf.read() == b"0123" and len(buf) == 4
    buf.close()
    assert len(buf) == 0


def test_a_journaled_exchange_keeps_two_objects_for_the_collector() -> None:
    """Each object the journal keeps brings the cyclic garbage collector's next round nearer,
    and its full rounds walk the whole journal: a plain exchange is kept as its log and one
    list (the events' fields one after the other), the response's fields in the log itself.
    (With a named tuple per event and one for the response, 3.5 times as many rounds.) What
    is read back is the same: events, response, and a write's journal taken back."""
    wire = Wire()
    exp = Expectation("GET", "/plain")
    exp.respond(mp.respond(200, b"ok", headers={"X-Kind": "plain"}))
    wire.state.add_expectation(exp)
    get = b"GET /plain HTTP/1.1\r\nHost: h\r\n\r\n"
    wire.run([get])

    def kept(gets: int) -> int:
        gc.collect()
        gc.disable()
        try:
            before = len(gc.get_objects())
            wire.run([get] * gets)  # keep-alive: one connection
            return len(gc.get_objects()) - before
        finally:
            gc.enable()

    # Per exchange: what a connection of 60 keeps beyond one of 10 (a connection's own
    # objects that only the collector frees are in both), less the read and the write the
    # test's Wire keeps (``actions``).
    assert kept(60) - kept(10) - 2 * 50 == 2 * 50
    log = wire.state.logs[-1]
    assert [(e.kind, e.direction, e.detail) for e in log.events] == [
        ("request", "in", "GET /plain HTTP/1.1"),
        ("response", "out", "200 OK"),
        ("body-sent", "out", "2 body bytes (complete)"),
    ]
    assert log.events[0].headers is log.headers
    response = log.response
    assert response is not None and response.status == 200 and response.complete
    assert response.headers.get("x-kind") == "plain" and response.body_sent == 2
    assert log.events[1].headers is response.headers
    # A write's journal taken back (the client left before it went out): as it was.
    log.take_back(JournalMark(1, 0, None))
    assert [e.kind for e in log.events] == ["request"] and log.response is None
    snapshot = log.snapshot()
    assert snapshot.response is None and [e.kind for e in snapshot.events] == ["request"]


def test_exchanges_without_body_interims_or_frames_share_empty_ones() -> None:
    """A plain GET keeps no body, no interim and no frame, so its journal entry makes no
    body, list or buffer for them (each one more object for the garbage collector to walk
    for as long as the journal keeps the exchange); the first byte, interim or frame makes
    the exchange its own."""
    wire = Wire()
    for method, path, steps in [
        ("GET", "/plain", [mp.respond(200, b"ok")]),
        ("POST", "/upload", [mp.read_body(), mp.respond(201)]),
        ("GET", "/slow", [mp.processing("0/1"), mp.respond(200)]),
    ]:
        exp = Expectation(method, path)
        exp.respond(*steps)
        wire.state.add_expectation(exp)
    wire.run([b"GET /plain HTTP/1.1\r\nHost: h\r\n\r\n"])
    wire.run([b"POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\ndata"])
    wire.run([b"GET /slow HTTP/1.1\r\nHost: h\r\n\r\n"])
    plain, upload, slow = wire.state.logs
    assert plain.body is NO_BODY and slow.body is NO_BODY
    assert (plain.interims, plain.frames, upload.interims) == ((), (), ())
    assert upload.body is not NO_BODY and upload.body.read() == b"data"
    assert [i.status for i in slow.interims] == [102]
    assert len(NO_BODY) == 0 and NO_BODY.read() == b""
    with pytest.raises(TypeError, match="shared"):
        NO_BODY.append(b"x")
    journal = wire.state.journal()
    assert [ex.body for ex in journal] == [b"", b"data", b""]
