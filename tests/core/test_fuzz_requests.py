"""Bad input on the request path: whatever a client sends, the server answers with a clear
status or closes, records what happened, and never fails inside itself."""

from __future__ import annotations

import itertools
import re

import h11
import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.fuzzing import examples
from support.sansio import Wire, parse_responses

import mockprogress as mp
from mockprogress.engine.actions import Receive, Send
from mockprogress.engine.matching import Expectation

SETTINGS = examples(150)

TOKEN = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12)
FIELD_VALUE = st.binary(max_size=40)
METHODS = st.sampled_from([b"GET", b"POST", b"PUT", b"HEAD", b"PATCH", b"G E T", b"", b"\x00"])
TARGETS = st.sampled_from([b"/x", b"/", b"*", b"http://h/x", b"/x?a=1", b"x", b"/\xff", b""])
VERSIONS = st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/2.0", b"HTTP/1", b"FTP/1.1", b""])


def server() -> Wire:
    wire = Wire()
    for method in ("GET", "POST", "PUT", "PATCH"):
        exp = Expectation(method, "/x")
        exp.respond(mp.processing((0, 1)), mp.respond(200, b"ok"))
        wire.state.add_expectation(exp)
    return wire


def check_answers(wire: Wire, out: bytes) -> None:
    """Everything written parses as HTTP/1.1 responses; nothing failed inside the server."""
    assert not [p for p in wire.state.problems if p.kind == "internal-error"]
    if not out:
        return
    client = h11.Connection(h11.CLIENT)
    client.receive_data(out)
    statuses = []
    # Read each answer as the request it answers: a HEAD's has no body to read.
    methods = iter([log.method if log.method == "HEAD" else "GET" for log in wire.state.logs])
    while True:
        method = next(methods, "GET")
        client.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        client.send(h11.EndOfMessage())
        while True:
            event = client.next_event()
            if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                break
            if isinstance(event, h11.Response):
                statuses.append(event.status_code)
            if isinstance(event, h11.EndOfMessage):
                break
        if client.states != {h11.CLIENT: h11.DONE, h11.SERVER: h11.DONE}:
            break
        client.start_next_cycle()
    # An error status always comes with a recorded problem (malformed, limit or unmatched).
    if any(s >= 400 for s in statuses):
        assert wire.state.problems, statuses


@SETTINGS
@given(st.lists(st.binary(max_size=200), max_size=6))
def test_random_bytes(chunks: list[bytes]) -> None:
    wire = server()
    out = wire.run(chunks)
    check_answers(wire, out)


@SETTINGS
@given(
    METHODS,
    TARGETS,
    VERSIONS,
    st.lists(st.tuples(TOKEN, FIELD_VALUE), max_size=6),
    st.binary(max_size=64),
    st.integers(min_value=1, max_value=50),
)
def test_structured_requests(
    method: bytes,
    target: bytes,
    version: bytes,
    headers: list[tuple[str, bytes]],
    body: bytes,
    split: int,
) -> None:
    head = method + b" " + target + b" " + version + b"\r\n"
    head += b"".join(n.encode() + b": " + v + b"\r\n" for n, v in headers)
    data = head + b"\r\n" + body
    chunks = [data[i : i + split] for i in range(0, len(data), split)]
    wire = server()
    out = wire.run(chunks)
    check_answers(wire, out)


#: Field lines that abuse a request's framing (test_simple_heads.py reads them too).
FRAMING_LINES = [
    b"Content-Length: 5\r\n",
    b"Content-Length: 3\r\n",
    b"Content-Length: -1\r\n",
    b"Content-Length: 99999999999999999999\r\n",
    b"Content-Length: 5, 5\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Transfer-Encoding: gzip\r\n",
    b"Expect: 100-continue\r\n",
    b"X-Injected: a\r\nX-Smuggled: b\r\n",
    b"Bad Header\r\n",
    b" folded\r\n",
]


@SETTINGS
@given(
    st.lists(st.sampled_from(FRAMING_LINES), max_size=4),
    st.sampled_from(
        [
            b"hello",
            b"5\r\nhello\r\n0\r\n\r\n",
            b"zz\r\nhello\r\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"ffffffffffffffffff\r\n",
            b"",
        ]
    ),
    st.integers(min_value=0, max_value=3),
)
def test_framing_abuse_and_pipelining(
    header_lines: list[bytes], body: bytes, pipelined: int
) -> None:
    request = b"POST /x HTTP/1.1\r\nHost: h\r\n" + b"".join(header_lines) + b"\r\n" + body
    follow = b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n" * pipelined
    wire = server()
    out = wire.run([request + follow])
    check_answers(wire, out)
    # the journal holds every request that got as far as a head
    assert all(
        ex.response is not None or ex.fault is not None or not ex.body_complete
        for ex in wire.state.journal()
    )


def test_a_body_byte_that_was_read_stays_in_the_journal() -> None:
    wire = server()
    wire.run([b"POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n01234"])
    ex = wire.state.journal().last
    assert ex.body == b"01234" and not ex.body_complete


# ---- header injection ------------------------------------------------------------------------


def echo_server() -> Wire:
    """Every request to /e/<n> is answered 200 with ``<n> <body length>``."""
    wire = Wire()
    exp = Expectation(None, re.compile(r"/e/[0-9]+"))
    exp.respond_with(lambda ex: mp.respond(200, f"{ex.path[3:]} {len(ex.body)}".encode()))
    wire.state.add_expectation(exp)
    return wire


FIELD_TEXT = st.binary(max_size=8).map(lambda b: bytes(c for c in b if c > 0x20 and c != 0x7F))


@SETTINGS
@given(FIELD_TEXT, st.sampled_from([b"\r", b"\x00", b"\r\r", b"\x00\r"]), FIELD_TEXT)
def test_cr_or_nul_in_a_header_value_is_a_400_and_ends_the_connection(
    before: bytes, injected: bytes, after: bytes
) -> None:
    """RFC 9110 §5.5: CR, LF and NUL in a value are "invalid and dangerous"; the request is
    refused, nothing behind it on the connection is read as a request, and the journal keeps
    the refusal."""
    wire = echo_server()
    request = b"GET /e/1 HTTP/1.1\r\nHost: h\r\nX-Field: " + before + injected + after
    out = wire.run([request + b"\r\n\r\nGET /e/2 HTTP/1.1\r\nHost: h\r\n\r\n"])
    (response,) = [e for e in parse_responses(out) if isinstance(e, h11.Response)]
    assert response.status_code == 400 and wire.closed == "close"
    (log,) = wire.state.logs
    assert [p.kind for p in wire.state.problems] == ["malformed-request"]
    assert log.response is not None and log.response.status == 400


@SETTINGS
@given(FIELD_TEXT, st.sampled_from([b"\x01", b"\x08", b"\x1f", b"\x7f"]), FIELD_TEXT)
def test_other_controls_in_a_header_value_are_kept_as_sent(
    before: bytes, control: bytes, after: bytes
) -> None:
    """RFC 9110 §5.5 lets a recipient keep the other control characters "for the sake of
    robustness" (h11 does): the request is answered and the journal holds the value as sent."""
    wire = echo_server()
    value = before + control + after
    out = wire.run([b"GET /e/1 HTTP/1.1\r\nHost: h\r\nX-Field: " + value + b"\r\n\r\n"])
    assert out.endswith(b"\r\n\r\n1 0")
    assert wire.state.logs[0].headers["x-field"] == value.strip(b" \t").decode("latin-1")


def test_a_bare_lf_ends_a_header_line_so_the_rest_arrives_as_a_header_of_its_own() -> None:
    """RFC 9112 §2.2 lets a recipient take LF alone as a line end (h11 does): a client that
    puts a newline in a value sends two fields, and the journal shows both."""
    wire = echo_server()
    out = wire.run([b"GET /e/1 HTTP/1.1\r\nHost: h\r\nX-Field: a\nInjected: yes\r\n\r\n"])
    assert out.endswith(b"\r\n\r\n1 0")
    assert wire.state.logs[0].headers.getall("injected") == ["yes"]
    assert wire.state.logs[0].headers.getall("x-field") == ["a"]


# ---- Content-Length and Transfer-Encoding ----------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "status"),
    [
        (b"Content-Length: 3\r\nContent-Length: 3\r\n", 200),  # identical: one length (§6.3)
        (b"Content-Length: 3, 3\r\n", 200),
        (b"Content-Length: 3\r\nContent-Length: 4\r\n", 400),
        (b"Content-Length: 3, 4\r\n", 400),
        (b"Content-Length: 3\r\nContent-Length: 03\r\n", 400),
        (b"Content-Length: -3\r\n", 400),
        (b"Content-Length: +3\r\n", 400),
        (b"Content-Length: 0x3\r\n", 400),
        (b"Content-Length: 3 3\r\n", 400),
        (b"Content-Length: \r\n", 400),
        (b"Content-Length: " + b"9" * 30 + b"\r\n", 400),
        (b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n", 400),  # smuggling (§6.1)
        (b"Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", 400),
        (b"Transfer-Encoding: gzip\r\n", 501),
        (b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 501),
        (b"Transfer-Encoding: chunked, chunked\r\n", 501),
    ],
)
def test_content_length_and_transfer_encoding_forms(fields: bytes, status: int) -> None:
    """A length is one number, or a list of the same number; anything else, and a request
    that carries both framings, is refused and the connection closed (RFC 9112 §6)."""
    wire = echo_server()
    body = b"3\r\nabc\r\n0\r\n\r\n" if b"chunked" in fields else b"abc"
    out = wire.run([b"POST /e/1 HTTP/1.1\r\nHost: h\r\n" + fields + b"\r\n" + body])
    responses = [e for e in parse_responses(out) if isinstance(e, h11.Response)]
    assert [r.status_code for r in responses] == [status]
    if status == 200:
        assert out.endswith(b"1 3") and wire.state.logs[0].body.read() == b"abc"
        assert not wire.state.problems
    else:
        assert wire.closed == "close"
        assert [p.kind for p in wire.state.problems] == ["malformed-request"]
        assert len(wire.state.logs) == 1


# ---- pipelining ------------------------------------------------------------------------------


def encode(i: int, body: bytes | None, chunked: bool) -> bytes:
    if body is None:
        return f"GET /e/{i} HTTP/1.1\r\nHost: h\r\n\r\n".encode()
    head = f"POST /e/{i} HTTP/1.1\r\nHost: h\r\n".encode()
    if not chunked:
        return head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    chunks = b"".join(
        b"%x\r\n%s\r\n" % (len(body[j : j + 7]), body[j : j + 7]) for j in range(0, len(body), 7)
    )
    return head + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"


REQUEST = st.tuples(st.none() | st.binary(max_size=300), st.booleans())


@SETTINGS
@given(st.lists(REQUEST, min_size=1, max_size=40), st.integers(1, 500))
def test_any_pipeline_is_answered_in_order_with_every_body_exact(
    requests: list[tuple[bytes | None, bool]], split: int
) -> None:
    data = b"".join(encode(i, body, chunked) for i, (body, chunked) in enumerate(requests))
    wire = echo_server()
    out = wire.run([data[i : i + split] for i in range(0, len(data), split)])
    bodies = [e.data for e in parse_responses(out, count=len(requests)) if isinstance(e, h11.Data)]
    expected = [f"{i} {len(body or b'')}".encode() for i, (body, _) in enumerate(requests)]
    assert bodies == expected
    assert [log.body.read() for log in wire.state.logs] == [b or b"" for b, _ in requests]
    assert not wire.state.problems


@SETTINGS
@given(
    st.lists(REQUEST, max_size=10),
    st.sampled_from(
        [
            b"GET /e/x HTTP/1.1\r\n\r\n",  # no Host
            b"GET /e/x HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n",
            b"POST /e/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"POST /e/x HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            b"GET /e/x FTP/1.1\r\nHost: h\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello
        ]
    ),
    st.lists(REQUEST, max_size=10),
)
def test_a_malformed_request_in_a_pipeline_ends_it_after_the_ones_before(
    before: list[tuple[bytes | None, bool]], bad: bytes, after: list[tuple[bytes | None, bool]]
) -> None:
    """The requests before it are answered, it gets its 4xx, and nothing after it is read as
    a request (its bytes could be anything): the connection closes."""
    data = b"".join(encode(i, body, chunked) for i, (body, chunked) in enumerate(before))
    data += bad + b"".join(encode(100 + i, body, ch) for i, (body, ch) in enumerate(after))
    wire = echo_server()
    out = wire.run([data])
    responses = [
        e for e in parse_responses(out, count=len(before) + 2) if isinstance(e, h11.Response)
    ]
    assert [r.status_code for r in responses][: len(before)] == [200] * len(before)
    assert len(responses) == len(before) + 1 and 400 <= responses[-1].status_code <= 501
    assert wire.closed == "close"
    assert len(wire.state.logs) == len(before) + 1
    assert [p.kind for p in wire.state.problems] == ["malformed-request"]


def test_a_flood_of_pipelined_requests_is_read_only_as_it_is_answered() -> None:
    """10,000 requests sent in one go: the server asks for more bytes only once it has
    answered every whole request it holds, so a client that pipelines without reading the
    answers holds the server's memory to one read."""
    requests = [encode(i, None, False) for i in range(10_000)]
    ends = list(itertools.accumulate(len(r) for r in requests))
    wire = echo_server()
    wire.run([b"".join(requests)])
    received, sent = 0, bytearray()
    for action in wire.actions:
        if isinstance(action, Send):
            sent += action.data
        elif isinstance(action, Receive):
            answered = sent.count(b"HTTP/1.1 200 OK")
            held = received - (ends[answered - 1] if answered else 0)
            assert 0 <= held < max(map(len, requests)), (received, answered)
            received = min(received + action.max_bytes, ends[-1])
    assert sent.count(b"HTTP/1.1 200 OK") == len(wire.state.logs) == 10_000


@SETTINGS
@given(st.data())
def test_a_head_the_client_abandons_is_journaled_with_the_bytes_that_came(
    data: st.DataObject,
) -> None:
    """A client that closes inside a request head gets no answer (there is no one to answer),
    but the journal keeps an exchange for it: how many bytes came, and what they were."""
    head = (
        b"POST /e/7 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX-Long: " + b"v" * 80 + b"\r\n\r\n"
    )
    cut = data.draw(st.integers(1, len(head) - 1))
    wire = echo_server()
    out = wire.run([head[:cut]])
    assert out == b"" and wire.closed == "close" and not wire.state.problems
    (log,) = wire.state.logs
    assert log.bytes_received == cut
    assert [e.kind for e in log.events] == ["request", "closed"]
    assert log.events[0].detail.startswith(
        f"{cut} bytes of a request head {head[: min(cut, 60)]!r}"
    )
    if cut >= len(b"POST /e/7 HTTP/1.1\r\n"):
        assert (log.method, log.target, log.http_version) == ("POST", "/e/7", "1.1")
