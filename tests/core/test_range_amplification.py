"""Range amplification (RFC 9110 §14.2): a range set never costs more than the representation.

`Range: bytes=0-,0-,...` (3,000 times) against a 90 KB document once drew a 270 MB
`multipart/byteranges` body built in memory. Now the plan (http/content_range.py plan_ranges)
bounds the ranges, coalesces overlapping or adjacent ones and answers 200 with the whole
document when the set asks for more than it; and every range body is read from the store as it
is sent (a streamed body: ``ExchangeSurface.respond(stream=...)``), so neither a write nor a
buffer grows with the document. A cut over a streamed body falls at the same byte as over the
same body held in memory.
"""

from __future__ import annotations

import hashlib
import random
import tracemalloc
from collections.abc import Iterator
from typing import Any

from support.sansio import Wire, parse_responses

import mockprogress as mp
from mockprogress.engine.actions import Close, Program, Receive, Send
from mockprogress.engine.connection import ServerConnection
from mockprogress.engine.resource import Resource
from mockprogress.engine.state import ServerState
from mockprogress.engine.surface import ExchangeSurface
from mockprogress.engine.wire import STREAM_PIECE
from mockprogress.http.content_range import MAX_RANGES, coalesce, parse_range, plan_ranges
from mockprogress.script.steps import Respond

DOC = random.Random(3).randbytes(90_000)


def mounted(documents: dict[str, bytes]) -> ServerState:
    state = ServerState()
    state.mount(mp.ByteRangeResource("/f", documents=documents))
    return state


def get(range_value: str, path: str = "/f/d") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\nRange: {range_value}\r\n\r\n".encode()


class Drive:
    """Run one request through a connection keeping nothing it sends but a hash, the head,
    the largest write and the peak of traced memory."""

    def __init__(self, state: ServerState, request: bytes) -> None:
        self.digest = hashlib.sha256()
        self.head = b""
        self.largest = 0
        self.sent = 0
        tracemalloc.start()
        try:
            self._run(state, request)
            self.peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    def _run(self, state: ServerState, request: bytes) -> None:
        program = ServerConnection(state, lambda: 0.0, "127.0.0.1").run()
        inbound = [request]
        result: Any = None
        while True:
            try:
                action = program.send(result)
            except StopIteration:
                return
            result = None
            if isinstance(action, Send):
                self.largest = max(self.largest, len(action.data))
                if not self.sent:
                    self.head = bytes(action.data[: action.data.index(b"\r\n\r\n") + 4])
                    self.digest.update(action.data[len(self.head) :])
                else:
                    self.digest.update(action.data)
                self.sent += len(action.data)
            elif isinstance(action, Receive):
                result = inbound.pop(0) if inbound else b""
            elif isinstance(action, Close):
                return


def test_3000_overlapping_ranges_get_the_whole_document_in_bounded_writes() -> None:
    state = mounted({"/f/d": DOC})
    request = get("bytes=" + ",".join(["0-"] * 3000))
    assert len(request) > 9000
    drive = Drive(state, request)
    assert drive.head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Length: 90000\r\n" in drive.head
    assert drive.digest.hexdigest() == hashlib.sha256(DOC).hexdigest()
    assert drive.sent == len(drive.head) + len(DOC)
    # Before: one 270 MB write, built in memory.
    assert drive.largest <= STREAM_PIECE
    assert drive.peak < 1 << 20, drive.peak
    (exchange,) = state.journal()
    assert exchange.response is not None and exchange.response.status == 200
    assert any(
        e.kind == "range" and "3000 ranges, more than 100" in e.detail for e in exchange.events
    )


def test_more_than_max_ranges_are_ignored() -> None:
    doc = bytes(range(256)) * 4
    state = mounted({"/f/d": doc})
    specs = ",".join(f"{2 * i}-{2 * i}" for i in range(MAX_RANGES + 1))
    (response, *_) = parse_responses(Wire(state=state).run([get(f"bytes={specs}")]))
    assert response.status_code == 200
    specs = ",".join(f"{2 * i}-{2 * i}" for i in range(MAX_RANGES))
    out = Wire(state=state).run([get(f"bytes={specs}")])
    assert out.startswith(b"HTTP/1.1 206 Partial Content\r\n")
    assert out.count(b"\r\nContent-Range: bytes ") == MAX_RANGES


def test_overlapping_and_adjacent_ranges_are_coalesced() -> None:
    doc = bytes(range(100))
    state = mounted({"/f/d": doc})
    out = Wire(state=state).run([get("bytes=50-59,0-9,5-19,20-29")])
    boundary = b"mockprogress-byteranges"
    assert out.startswith(b"HTTP/1.1 206 Partial Content\r\n")
    body = out[out.index(b"\r\n\r\n") + 4 :]
    assert body == (
        b"--%s\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-29/100\r\n"
        b"\r\n%s\r\n--%s\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Range: bytes 50-59/100\r\n\r\n%s\r\n--%s--\r\n"
    ) % (boundary, doc[:30], boundary, doc[50:60], boundary)
    # Adjacent ranges make one: a single part, never a multipart of one (RFC 9110 §14.6).
    out = Wire(state=state).run([get("bytes=5-9,0-4")])
    assert out.startswith(b"HTTP/1.1 206 Partial Content\r\n")
    assert b"Content-Range: bytes 0-9/100\r\n" in out
    assert out.endswith(b"\r\n\r\n" + doc[:10])


def test_the_plan() -> None:
    assert plan_ranges(parse_range("bytes=0-1,8-"), 10).ranges == ((0, 1), (8, 9))
    assert plan_ranges(parse_range("bytes=8-,0-1"), 10).ranges == ((8, 9), (0, 1))
    assert plan_ranges(parse_range("bytes=10-"), 10).status == 416
    assert plan_ranges(parse_range("bytes=0-,0-"), 10).status == 200
    assert plan_ranges(parse_range("bytes=0-5,3-9"), 10).status == 200  # 13 bytes of 10
    assert plan_ranges(parse_range("bytes=0-3,2-5"), 10).ranges == ((0, 5),)
    assert coalesce([(4, 5), (0, 1), (2, 3)]) == [(0, 5)]
    assert coalesce([(5, 6), (0, 1)]) == [(5, 6), (0, 1)]


def test_a_large_document_is_sent_in_bounded_writes() -> None:
    """Whole, one range or several: the body is read from the store as it goes out."""
    big = random.Random(5).randbytes(3 << 20)
    state = mounted({"/f/big": big})
    for range_value, expected in [
        (None, big),
        ("bytes=100-", big[100:]),
        ("bytes=0-1048575,2097152-", None),
    ]:
        request = (
            get(range_value, "/f/big") if range_value else b"GET /f/big HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        drive = Drive(state, request)
        assert drive.largest <= STREAM_PIECE
        assert drive.peak < 1 << 20, (range_value, drive.peak)
        if expected is not None:
            assert drive.digest.hexdigest() == hashlib.sha256(expected).hexdigest()
            assert drive.sent == len(drive.head) + len(expected)
        else:
            assert b"multipart/byteranges" in drive.head
            assert drive.sent > len(drive.head) + (2 << 20)


# ---- a streamed body is cut exactly where the same body in memory is ------------------------


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)

    def read(self, start: int, end: int) -> bytes:
        return self.data[start:end]


class _Answer(Resource):
    """Answers with ``step``, its body held (``streamed=False``) or streamed."""

    def __init__(self, step: Respond, body: bytes, streamed: bool) -> None:
        super().__init__("/r")
        self.step, self.body, self.streamed = step, body, streamed

    def serve(self, ctx: ExchangeSurface) -> Program[None]:
        if self.streamed:
            yield from ctx.respond(self.step, read_first=True, stream=_Body(self.body))
        else:
            step = Respond(self.step.status, self.body, self.step.headers)
            if self.step.fault is not None:
                step = step.cut(self.step.fault.at, "wire", self.step.fault.how)
            if self.step.pacing is not None:
                step = step.drip(chunk=self.step.pacing.chunk, interval=self.step.pacing.interval)
            yield from ctx.respond(step, read_first=True)


def _run(step: Respond, body: bytes, streamed: bool, request: bytes) -> Iterator[Any]:
    state = ServerState()
    state.mount(_Answer(step, body, streamed))
    wire = Wire(state=state)
    yield wire.run([request])
    yield wire.closed
    (exchange,) = state.journal()
    yield exchange.response
    yield exchange.fault


def test_a_cut_inside_a_streamed_multipart_body_is_exact() -> None:
    doc = bytes(range(100))
    state = mounted({"/f/d": doc})
    whole = Wire(state=state).run([get("bytes=0-9,40-49,90-")])
    head_end = whole.index(b"\r\n\r\n") + 4
    body = whole[head_end:]
    multipart = "multipart/byteranges; boundary=mockprogress-byteranges"
    headers = (("Content-Type", multipart),)
    requests = [
        b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n",  # written past h11
        b"GET /r HTTP/1.0\r\n\r\n",  # through h11
    ]
    for request in requests:
        total = len(next(_run(Respond(206, b"", headers), body, True, request)))
        for at in range(total + 1):
            for how in ("close", "reset"):
                step = Respond(206, b"", headers).cut(at, "wire", how)
                streamed = list(_run(step, body, True, request))
                held = list(_run(step, body, False, request))
                assert streamed == held, (request, at, how)
                assert len(streamed[0]) == at
        dripped = Respond(206, b"", headers).drip(chunk=7, interval=0.01).cut(200, "wire")
        assert list(_run(dripped, body, True, request)) == list(_run(dripped, body, False, request))
