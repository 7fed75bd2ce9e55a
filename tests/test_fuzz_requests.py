"""Bad input on the request path: whatever a client sends, the server answers with a clear
status or closes, records what happened, and never fails inside itself."""

from __future__ import annotations

import h11
from fuzzing import examples
from hypothesis import given
from hypothesis import strategies as st
from sansio import Wire

import mockprogress as mp
from mockprogress._matching import Expectation

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
    while True:
        client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
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


@SETTINGS
@given(
    st.lists(
        st.sampled_from(
            [
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
        ),
        max_size=4,
    ),
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
