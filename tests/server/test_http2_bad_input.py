"""Bad input over HTTP/2 gets the protocol's answer, never a crash: each row of the table in
docs/bad-input.md ("HTTP/2") sends its frames on a fresh connection, gets a GOAWAY with the
code the row says, leaves the problem it says for ``check()`` and one journal entry (or one
per stream), and the next connection is served as usual."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import h2.errors
import pytest
from hpack import Encoder
from hyperframe.frame import GoAwayFrame, HeadersFrame, RstStreamFrame, SettingsFrame
from support.h2_client import H2Client, read_frames
from support.paths import ROOT

import mockprogress as mp

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + SettingsFrame(0).serialize()
E = h2.errors.ErrorCodes


def headers(stream_id: int, encoder: Encoder, *, end: bool = True) -> bytes:
    block = encoder.encode(
        [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "x")]
    )
    flags = ["END_HEADERS", "END_STREAM"] if end else ["END_HEADERS"]
    return HeadersFrame(stream_id, data=block, flags=flags).serialize()


def rapid_reset() -> bytes:
    encoder = Encoder()
    frames = [
        headers(2 * i + 1, encoder, end=False) + RstStreamFrame(2 * i + 1, error_code=8).serialize()
        for i in range(1001)
    ]
    return PREFACE + b"".join(frames)


@dataclass(frozen=True)
class Case:
    sends: str
    data: Callable[[], bytes]
    goaway: E
    problem: str
    journal: int = 1


CASES = [
    Case(
        "a DATA frame on stream 0",
        lambda: PREFACE + b"\x00\x00\x01\x00\x00\x00\x00\x00\x00x",
        E.PROTOCOL_ERROR,
        "malformed-request",
    ),
    Case(
        "a frame over the max frame size (20,000 bytes of 16,384)",
        lambda: PREFACE + (20000).to_bytes(3, "big") + b"\x00\x00\x00\x00\x00\x01" + b"x" * 20000,
        E.FRAME_SIZE_ERROR,
        "malformed-request",
    ),
    Case(
        "a header block HPACK cannot decode",
        lambda: (
            PREFACE
            + HeadersFrame(1, data=b"\xff" * 5, flags=["END_HEADERS", "END_STREAM"]).serialize()
        ),
        E.PROTOCOL_ERROR,
        "malformed-request",
    ),
    Case(
        "a request on an even (server) stream id",
        lambda: PREFACE + headers(2, Encoder()),
        E.PROTOCOL_ERROR,
        "malformed-request",
    ),
    Case(
        "a stream id lower than one already used",
        lambda: PREFACE + b"".join(headers(s, enc) for enc in [Encoder()] for s in (5, 3)),
        E.PROTOCOL_ERROR,
        "malformed-request",
    ),
    Case(
        "body bytes past the stream's flow-control window (81,920 of 65,535)",
        lambda: (
            PREFACE
            + headers(1, Encoder(), end=False)
            + b"".join(
                (16384).to_bytes(3, "big") + b"\x00\x00\x00\x00\x00\x01" + b"x" * 16384
                for _ in range(5)
            )
        ),
        E.FLOW_CONTROL_ERROR,
        "malformed-request",
        journal=2,
    ),
    Case(
        "1,001 streams opened and reset at once (rapid reset)",
        rapid_reset,
        E.ENHANCE_YOUR_CALM,
        "limit",
        journal=1001,
    ),
]


@pytest.fixture(scope="module")
def server() -> Iterator[mp.MockServer]:
    with mp.MockServer(http2=True) as srv:
        yield srv


@pytest.mark.parametrize("case", CASES, ids=[c.sends for c in CASES])
def test_bad_input_gets_a_goaway(server: mp.MockServer, case: Case) -> None:
    server.reset()
    server.expect("GET", "/").respond(mp.respond(200, b"ok"))
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(case.data())
        frames = read_frames(sock, until=lambda fs: False)
    goaways = [f for f in frames if isinstance(f, GoAwayFrame)]
    assert [f.error_code for f in goaways] == [case.goaway]
    with pytest.raises(mp.ExpectationError) as raised:
        server.check()
    assert f"[{case.problem}]" in str(raised.value)
    assert len(server.journal) == case.journal
    # The listener goes on: a fresh connection is served.
    server.reset()
    server.expect("GET", "/").respond(mp.respond(200, b"ok"))
    client = H2Client(server.port)
    stream = client.request("GET", "/")
    assert bytes(client.collect([stream]).streams[stream].body) == b"ok"
    client.close()


def test_the_page_lists_every_row() -> None:
    page = (ROOT / "docs" / "bad-input.md").read_text()
    for case in CASES:
        row = f"| {case.sends} | `GOAWAY {case.goaway.name}`; the connection closes | `{case.problem}` |"
        assert row in page, row


HEADER_ABUSE = [
    ("a header list of 40,000 bytes (in CONTINUATION frames)", [("x-big", "a" * 40000)]),
    ("151 header fields", [(f"x-{i}", "v") for i in range(150)]),
]


@pytest.mark.parametrize(("sends", "fields"), HEADER_ABUSE, ids=[s for s, _ in HEADER_ABUSE])
def test_header_list_abuse_is_refused_on_its_stream(
    server: mp.MockServer, sends: str, fields: list[tuple[str, str]]
) -> None:
    server.reset()
    server.expect("GET", "/").respond(mp.respond(200, b"ok"))
    client = H2Client(server.port)
    client.settings()
    abused = client.conn.get_next_available_stream_id()
    base = [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "x")]
    client.conn.send_headers(abused, base + fields, end_stream=True)
    client.sock.sendall(client.conn.data_to_send())
    got = client.collect([abused]).streams[abused]
    assert got.response is not None and got.response[":status"] == "431"
    fine = client.request("GET", "/")  # the same connection goes on
    assert bytes(client.collect([fine]).streams[fine].body) == b"ok"
    client.close()
    with pytest.raises(mp.ExpectationError, match=r"\[limit\]"):
        server.check()
    page = (ROOT / "docs" / "bad-input.md").read_text()
    assert f"| {sends} | `431` on its stream; the connection goes on | `limit` |" in page


def test_max_stream_resets_just_under_and_just_over() -> None:
    encoder = Encoder()

    def opened_and_reset(first: int, count: int) -> bytes:
        return b"".join(
            headers(s, encoder, end=False) + RstStreamFrame(s, error_code=8).serialize()
            for s in range(first, first + 2 * count, 2)
        )

    with mp.MockServer(http2=True, max_stream_resets=3) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(PREFACE + opened_and_reset(1, 3))
            sock.sendall(opened_and_reset(7, 1))
            frames = read_frames(sock, until=lambda fs: False)
        goaways = [(f.error_code, f.last_stream_id) for f in frames if isinstance(f, GoAwayFrame)]
        with pytest.raises(mp.ExpectationError, match="reset more than max_stream_resets=3"):
            server.check()
    # Three resets are taken; the fourth (stream 7) is one too many.
    assert goaways == [(E.ENHANCE_YOUR_CALM, 7)]


def test_connection_window_is_what_the_client_may_send_unread() -> None:
    with mp.MockServer(http2=True, connection_window=200_000) as server:
        client = H2Client(server.port)
        client.settings()
        client.sock.settimeout(0.2)
        try:  # the WINDOW_UPDATE after the SETTINGS frame
            client.conn.receive_data(client.sock.recv(65536))
        except TimeoutError:
            pass
        assert client.conn.outbound_flow_control_window == 200_000
        client.close()


def test_a_bad_preface_after_alpn_h2_gets_a_goaway() -> None:
    """Over TLS, ALPN ``h2`` makes the connection HTTP/2 from its first byte: a client that
    then sends something else than the preface gets ``GOAWAY PROTOCOL_ERROR``."""
    with mp.MockServer(http2=True, tls=True) as server:
        context = server.client_ssl_context()
        context.set_alpn_protocols(["h2"])
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
                assert sock.selected_alpn_protocol() == "h2"
                sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                frames = read_frames(sock, until=lambda fs: False)
        with pytest.raises(mp.ExpectationError, match=r"\[malformed-request\].*preamble"):
            server.check()
    assert [f.error_code for f in frames if isinstance(f, GoAwayFrame)] == [E.PROTOCOL_ERROR]
