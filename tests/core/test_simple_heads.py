"""``engine.heads.simple_head`` reads a head exactly as h11 does, or declines it.

Differential: every input goes to ``simple_head`` and to a fresh h11 server connection. When
``simple_head`` accepts a head, h11 must read it too, into an equal ``Request`` (method, target,
version, every field as sent and as h11 normalises it) and consuming the same bytes; when h11
refuses a head (or needs more bytes), ``simple_head`` must have declined it. The inputs are the
bad-input catalogue's wire rows, the request fuzzer's strategies, and hand-made edge cases.
Then the whole core runs the same client bytes with and without ``simple_head``
(``ServerConfig.simple_heads``) and must write the same bytes and journal the same exchanges,
limits included (``max_header_size``, ``max_header_count``, measured as sent).
"""

from __future__ import annotations

from typing import Any

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.bad_input_catalogue import WIRE_CASES
from support.fuzzing import examples
from support.sansio import Wire, config
from test_fuzz_requests import FIELD_VALUE, FRAMING_LINES, METHODS, TARGETS, TOKEN, VERSIONS

import mockprogress as mp
from mockprogress.engine import heads
from mockprogress.engine.heads import REMEMBERED_HEAD_SIZE, REMEMBERED_HEADS, simple_head
from mockprogress.engine.matching import Expectation
from mockprogress.engine.request_head import request_framing, request_line
from mockprogress.http.headers import Headers

SETTINGS = examples(300)


def h11_reads(data: bytes) -> tuple[h11.Request, int] | None:
    """What h11 makes of ``data`` as the start of a connection: the request and the bytes its
    head took, or None (it needs more, or refuses the head)."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(data)
    try:
        event = conn.next_event()
    except h11.RemoteProtocolError:
        return None
    if not isinstance(event, h11.Request):
        return None
    return event, len(data) - len(conn.trailing_data[0])


def fields(request: h11.Request) -> tuple[object, ...]:
    return (
        request.method,
        request.target,
        request.http_version,
        list(request.headers.raw_items()),
        list(request.headers),
        [tuple(map(type, item)) for item in request.headers._full_items],
    )


def agrees(data: bytes) -> bool:
    """``simple_head`` gives what h11 gives, or declines; whether it accepted ``data``. Asked
    twice: the second answer is the remembered one, and must be the same."""
    simple = simple_head(data)
    assert simple_head(data) == simple, data
    if simple is None:
        return False
    reference = h11_reads(data)
    assert reference is not None, f"simple_head accepted a head h11 does not read: {data!r}"
    assert fields(simple.request) == fields(reference[0]), data
    assert simple.size == reference[1], data
    # The fields the journal keeps: as the connection would decode h11's.
    decoded = Headers.from_raw(reference[0].headers.raw_items())
    assert list(simple.headers) == list(decoded)
    # The line and framing remembered with the head: as worked out for h11's event.
    assert simple.line == request_line(reference[0]), data
    assert simple.framing == request_framing(reference[0], decoded), data
    return True


#: Past this size a row's prefixes are sampled (every prefix of a 120 KB row took 5 s).
WHOLE_SWEEP = 4096


def prefix_ends(data: bytes) -> list[int]:
    """Every prefix of a small input; of a large one, the first and last 2 KiB, a few bytes
    either side of each blank line (where a head may end) and every 509th byte between."""
    if len(data) <= WHOLE_SWEEP:
        return list(range(len(data)))
    ends = {*range(2048), *range(len(data) - 2048, len(data)), *range(0, len(data), 509)}
    start = data.find(b"\r\n\r\n")
    while start != -1:
        ends.update(range(max(0, start - 8), min(len(data), start + 12)))
        start = data.find(b"\r\n\r\n", start + 1)
    return sorted(ends)


def agrees_in_pieces(data: bytes) -> None:
    """Also the prefixes: a head not yet whole is declined (h11 waits for the rest)."""
    agrees(data)
    for end in prefix_ends(data):
        prefix = data[:end]
        if simple_head(prefix) is not None:
            assert agrees(prefix)


# ---- the catalogue ---------------------------------------------------------------------------

HTTP1_ROWS = [case for case in WIRE_CASES if not case.http2]


@pytest.mark.parametrize("case", HTTP1_ROWS, ids=[c.sends for c in HTTP1_ROWS])
def test_catalogue_heads_read_as_h11_reads_them(case: object) -> None:
    agrees_in_pieces(case.data)  # type: ignore[attr-defined]


# ---- hand-made edge cases ---------------------------------------------------------------------

G = b"GET /x HTTP/1.1\r\n"
EDGES: dict[str, bytes] = {
    "plain GET": G + b"Host: h\r\n\r\n",
    "name case kept": G + b"hOsT: h\r\nX-MiXeD: v\r\n\r\n",
    "value whitespace": G + b"Host:h\r\nA:   spaced  \t\r\nB:\tx y\t\r\n\r\n",
    "empty value": G + b"Host: h\r\nEmpty:\r\nBlank:   \r\n\r\n",
    "tab inside a value": G + b"Host: h\r\nA: x\ty\r\n\r\n",
    "duplicate Content-Length, same": b"POST /x HTTP/1.1\r\nHost: h\r\n"
    b"Content-Length: 3\r\ncontent-length: 3\r\n\r\nabc",
    "duplicate Content-Length, different": b"POST /x HTTP/1.1\r\nHost: h\r\n"
    b"Content-Length: 3\r\nContent-Length: 4\r\n\r\nabc",
    "Content-Length list": b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc",
    "Content-Length list, different": b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3,4\r\n\r\n",
    "Content-Length not a number": b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\n",
    "Content-Length too long": b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: "
    + b"9" * 30
    + b"\r\n\r\n",
    "Content-Length with padding": b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length:  3 \r\n\r\nabc",
    "chunked": b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "HTTP/1.0 without Host": b"GET /x HTTP/1.0\r\n\r\n",
    "HTTP/1.0 keep-alive": b"GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "HTTP/1.1 without Host": G + b"Accept: */*\r\n\r\n",
    "HTTP/1.0 with Host": b"GET /x HTTP/1.0\r\nHost: h\r\n\r\n",
    "HTTP/1.0, two Host fields": b"GET /x HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
    "two Host fields, cases differ": G + b"Host: a\r\nHOST: a\r\n\r\n",
    "two Host fields and Content-Length": b"POST /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n"
    b"Content-Length: 0\r\n\r\n",
    "HTTP/1.0 Content-Length, no Host": b"POST /x HTTP/1.0\r\nContent-Length: 1\r\n\r\nx",
    "two Host fields": G + b"Host: a\r\nHost: b\r\n\r\n",
    "absolute target": b"GET http://h/x HTTP/1.1\r\nHost: h\r\n\r\n",
    "asterisk": b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
    "CONNECT": b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
    "lower-case method": b"get /x HTTP/1.1\r\nHost: h\r\n\r\n",
    "other method": b"PROPFIND /x HTTP/1.1\r\nHost: h\r\n\r\n",
    "HEAD": b"HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n",
    "DELETE": b"DELETE /x HTTP/1.1\r\nHost: h\r\n\r\n",
    "query": b"GET /x?a=1&b=%20 HTTP/1.1\r\nHost: h\r\n\r\n",
    "two spaces in the request line": b"GET  /x HTTP/1.1\r\nHost: h\r\n\r\n",
    "trailing space in the request line": b"GET /x HTTP/1.1 \r\nHost: h\r\n\r\n",
    "HTTP/1.2": b"GET /x HTTP/1.2\r\nHost: h\r\n\r\n",
    "HTTP/2.0": b"GET /x HTTP/2.0\r\nHost: h\r\n\r\n",
    "http/1.1": b"GET /x http/1.1\r\nHost: h\r\n\r\n",
    "obs-fold": G + b"Host: h\r\nA: one\r\n two\r\n\r\n",
    "obs-fold with a tab": G + b"Host: h\r\nA: one\r\n\ttwo\r\n\r\n",
    "obs-fold first": G + b" Host: h\r\n\r\n",
    "bare LF line ends": b"GET /x HTTP/1.1\nHost: h\n\n",
    "bare LF inside": G + b"Host: h\r\nA: a\nB: b\r\n\r\n",
    "bare LF at the end": G + b"Host: h\n\r\n",
    "bare CR": G + b"Host: h\r\nA: a\rb\r\n\r\n",
    "leading blank line": b"\r\n" + G + b"Host: h\r\n\r\n",
    "leading bare LF": b"\n" + G + b"Host: h\r\n\r\n",
    "no colon": G + b"Host: h\r\nNoColon\r\n\r\n",
    "space before the colon": G + b"Host : h\r\n\r\n",
    "empty name": G + b"Host: h\r\n: v\r\n\r\n",
    "name not a token": G + b"Host: h\r\nA(b): v\r\n\r\n",
    "NUL in a value": G + b"Host: h\r\nA: a\x00b\r\n\r\n",
    "control in a value": G + b"Host: h\r\nA: a\x01b\r\n\r\n",
    "DEL in a value": G + b"Host: h\r\nA: a\x7fb\r\n\r\n",
    "obs-text in a value": G + b"Host: h\r\nA: caf\xe9\r\n\r\n",
    "byte over 0x7F in the target": b"GET /\xff HTTP/1.1\r\nHost: h\r\n\r\n",
    "DEL in the target": b"GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n",
    "Upgrade": G + b"Host: h\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
    "Connection: close": G + b"Host: h\r\nConnection: close\r\n\r\n",
    "Expect": b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n",
    "pipelined": G + b"Host: h\r\n\r\n" + G + b"Host: h\r\n\r\n",
    "body follows": b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" + G,
    "many fields": G
    + b"Host: h\r\n"
    + b"".join(b"F%d: %d\r\n" % (i, i) for i in range(200))
    + b"\r\n",
    "a long value": G + b"Host: h\r\nA: " + b"v" * 20000 + b"\r\n\r\n",
    "HTTP2-Settings": G + b"Host: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
    b"HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
    "preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
}

#: Simple heads: read past h11, or the fast path would be an empty promise.
ACCEPTED = {
    "plain GET",
    "name case kept",
    "value whitespace",
    "empty value",
    "tab inside a value",
    "duplicate Content-Length, same",
    "Content-Length list",
    "Content-Length with padding",
    "HTTP/1.0 without Host",
    "HTTP/1.0 with Host",
    "HTTP/1.0 Content-Length, no Host",
    "HTTP/1.0 keep-alive",
    "HEAD",
    "DELETE",
    "query",
    "Connection: close",
    "Expect",
    "pipelined",
    "body follows",
    "many fields",
    "a long value",
}


@pytest.mark.parametrize("name", EDGES)
def test_edge_cases_read_as_h11_reads_them(name: str) -> None:
    data = EDGES[name]
    assert agrees(data) is (name in ACCEPTED)
    agrees_in_pieces(data[:200])


# ---- the request fuzzer's strategies ---------------------------------------------------------


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    agrees(data)


@SETTINGS
@given(METHODS, TARGETS, VERSIONS, st.lists(st.tuples(TOKEN, FIELD_VALUE), max_size=6))
def test_structured_requests(
    method: bytes, target: bytes, version: bytes, headers: list[tuple[str, bytes]]
) -> None:
    head = method + b" " + target + b" " + version + b"\r\n"
    head += b"".join(n.encode() + b": " + v + b"\r\n" for n, v in headers)
    agrees(head + b"\r\n")
    agrees(head + b"Host: h\r\n\r\nrest")


LINES = st.sampled_from(
    [
        *FRAMING_LINES,
        b"Host: h\r\n",
        b"HOST: other\r\n",
        b"Connection: close\r\n",
        b"Connection: keep-alive\r\n",
        b"Upgrade: h2c\r\n",
        b"X-Tab:\tv\t\r\n",
        b"X-Empty:\r\n",
    ]
)


@SETTINGS
@given(st.lists(LINES, max_size=5), st.sampled_from([b"POST", b"GET", b"PUT"]))
def test_framing_fields(lines: list[bytes], method: bytes) -> None:
    agrees(method + b" /x HTTP/1.1\r\nHost: h\r\n" + b"".join(lines) + b"\r\nhello")
    agrees(method + b" /x HTTP/1.1\r\n" + b"".join(lines) + b"\r\n")


NAME = st.text("abcHOST-_xXlLeNnGgTtc!~", min_size=0, max_size=14).map(str.encode)
VALUE = st.binary(max_size=12).map(lambda b: bytes(c % 0x90 for c in b))


@SETTINGS
@given(
    st.lists(
        st.tuples(NAME, st.sampled_from([b":", b": ", b":\t", b" :", b""]), VALUE), max_size=5
    ),
    st.sampled_from([b"\r\n", b"\n"]),
    st.sampled_from([b"/x", b"/a?b=c", b"*", b"/\x80", b"/a b"]),
)
def test_near_simple_heads(
    lines: list[tuple[bytes, bytes, bytes]], end: bytes, target: bytes
) -> None:
    """Heads close to the simple form, one byte away from leaving it here and there."""
    head = b"GET " + target + b" HTTP/1.1\r\nHost: h\r\n"
    head += b"".join(n + sep + v + end for n, sep, v in lines)
    agrees(head + b"\r\n")


# ---- remembered heads --------------------------------------------------------------------------


def test_a_head_read_again_is_remembered_and_the_memory_is_bounded() -> None:
    head = b"GET /again HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n"
    first = simple_head(head + b"GET /next")
    assert first is not None
    # The same head, from other bytes (another read, another connection): the same reading.
    again = simple_head(bytes(bytearray(head)))
    assert again is first
    assert first.size == len(head)
    # Heads past the size are read each time, never kept.
    big = b"GET /big HTTP/1.1\r\nHost: h\r\nX-Pad: " + b"p" * REMEMBERED_HEAD_SIZE + b"\r\n\r\n"
    big_read = simple_head(big)
    assert big_read is not None
    assert simple_head(big) is not big_read
    assert simple_head(big) == big_read
    # However many distinct heads come, no more than REMEMBERED_HEADS are kept.
    for i in range(REMEMBERED_HEADS * 3):
        simple_head(b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % i)
    assert heads._read_remembered.cache_info().currsize == REMEMBERED_HEADS
    assert simple_head(head) is not first  # forgotten, read afresh
    assert simple_head(head) == first


# ---- the whole core, with and without simple_head ----------------------------------------------


def run_core(
    inbound: list[bytes], *, simple: bool, interim: bool = False, **limits: int
) -> tuple[object, ...]:
    """Bytes written, how the connection ended, the journal and the problems. With ``interim``
    a 102 goes out first (through h11: it needs the head then)."""
    state = config(simple_heads=simple, **limits)
    steps = [mp.processing(), mp.respond(200, b"ok")] if interim else [mp.respond(200, b"ok")]
    for method in ("GET", "HEAD", "POST", "DELETE", "OPTIONS"):
        state.add_expectation(Expectation(method, "/x").respond(*steps))
    wire = Wire(state=state)
    out = wire.run(inbound)
    journal = [
        (
            ex.method,
            ex.target,
            ex.http_version,
            list(ex.headers.items()),
            ex.response,
            ex.body,
            ex.body_complete,
            ex.bytes_sent,
            ex.bytes_received,
            ex.fault,
            ex.events,
        )
        for ex in state.journal()
    ]
    problems = [(p.kind, p.message) for p in state.problems]
    return out, wire.closed, journal, problems


CORE_INPUTS = {
    **{f"catalogue: {c.sends}": [c.data] for c in HTTP1_ROWS},
    **{f"edge: {name}": [data] for name, data in EDGES.items()},
    "three pipelined": [EDGES["plain GET"] * 3],
    "split head": [G + b"Ho", b"st: h\r\n\r\n" + G + b"Host: h\r\n\r\n"],
    "keep-alive, then a bad head": [EDGES["plain GET"], EDGES["obs-fold"]],
    "POST then GET": [EDGES["body follows"] + b"Host: h\r\n\r\n"],
}


@pytest.mark.parametrize("interim", [False, True], ids=["final only", "102 first"])
@pytest.mark.parametrize("name", CORE_INPUTS)
def test_the_core_answers_and_journals_the_same(name: str, interim: bool) -> None:
    inbound = CORE_INPUTS[name]
    simple = run_core(inbound, simple=True, interim=interim)
    assert simple == run_core(inbound, simple=False, interim=interim)


HEAD = G + b"Host: h\r\nA: 1\r\nB:   2   \r\nC: 3\r\n\r\n"


@pytest.mark.parametrize("size", range(len(HEAD) - 6, len(HEAD) + 3))
def test_max_header_size_counts_the_head_as_sent_either_way(size: int) -> None:
    runs = [run_core([HEAD], simple=s, max_header_size=size) for s in (True, False)]
    assert runs[0] == runs[1]
    answered_ok = b"HTTP/1.1 200 " in runs[0][0]  # type: ignore[operator]
    assert answered_ok is (size >= len(HEAD))


@pytest.mark.parametrize("count", [2, 3, 4, 5])
def test_max_header_count_either_way(count: int) -> None:
    runs = [run_core([HEAD], simple=s, max_header_count=count) for s in (True, False)]
    assert runs[0] == runs[1]
    assert (b"HTTP/1.1 200 " in runs[0][0]) is (count >= 4)  # type: ignore[operator]


def test_plain_keep_alive_requests_are_not_parsed_by_h11(monkeypatch: pytest.MonkeyPatch) -> None:
    # Otherwise the comparisons above would compare h11 with itself.
    parsed: list[object] = []
    next_event = h11.Connection.next_event

    def recording(self: h11.Connection) -> object:
        event = next_event(self)
        parsed.append(event)
        return event

    monkeypatch.setattr(h11.Connection, "next_event", recording)
    out, _closed, journal, problems = run_core([EDGES["plain GET"] * 3], simple=True)
    assert out.count(b"HTTP/1.1 200 OK\r\n") == 3  # type: ignore[attr-defined]
    assert not [e for e in parsed if isinstance(e, h11.Request)]
    assert len(journal) == 3 and not problems  # type: ignore[arg-type]


def test_a_plain_exchange_makes_no_h11_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection makes its h11 state machine when an exchange first needs one: plain GETs,
    their heads read here and their responses written past h11, never do (making one was a
    tenth of a new connection's GET); a chunked body needs h11's reader, an interim h11's
    writer."""
    made: list[h11.Connection] = []
    init = h11.Connection.__init__

    def recording(self: h11.Connection, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        made.append(self)

    run_core([EDGES["plain GET"]], simple=True)  # the response's head, made once (wire.py)
    monkeypatch.setattr(h11.Connection, "__init__", recording)
    out, _closed, journal, problems = run_core([EDGES["plain GET"]] * 2, simple=True)
    assert out.count(b"HTTP/1.1 200 OK\r\n") == 2  # type: ignore[attr-defined]
    assert len(journal) == 2 and not problems  # type: ignore[arg-type]
    assert made == []
    chunked = (
        b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
    )
    out, _closed, journal, problems = run_core([chunked], simple=True)
    assert out.startswith(b"HTTP/1.1 200 OK\r\n") and len(made) == 1  # type: ignore[attr-defined]
    out, _closed, journal, problems = run_core([EDGES["plain GET"]], simple=True, interim=True)
    assert out.startswith(b"HTTP/1.1 102 Processing\r\n") and len(made) == 2  # type: ignore[attr-defined]
