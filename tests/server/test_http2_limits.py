"""The HTTP/2 limits, just under and just over, and what the bad-input catalogue
(tests/support/bad_input_catalogue.py, its HTTP/2 rows) cannot send on its cleartext server: a
bad preface after ALPN ``h2``.

A client that floods a connection with frames the server must answer (PING, SETTINGS) and
never reads the answers costs the server at most ``control_backlog`` bytes of answers: the
session reads no more from it until it took them, and its bytes stay in TCP, where its own
sends wait. Measured on loopback with a client that sends 500,000 PINGs (8.5 MB) without
reading: before, it sent them all and the server held 8.5 MB of acknowledgements; now its
sends stop after 3.2 MB, what the kernel's buffers take."""

from __future__ import annotations

import socket
from typing import Literal

import anyio
import anyio.lowlevel
import h2.errors
import pytest
from hpack import Encoder
from hyperframe.frame import GoAwayFrame, HeadersFrame, PingFrame, RstStreamFrame, SettingsFrame
from support.h2_client import H2Client, read_frames

import mockprogress as mp
from mockprogress.engine.h2_connection import H2ServerConnection, H2Start
from mockprogress.engine.limits import Limits
from mockprogress.engine.state import ServerConfig, ServerState
from mockprogress.server.h2 import H2Session

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + SettingsFrame(0).serialize()
E = h2.errors.ErrorCodes


def headers(stream_id: int, encoder: Encoder, *, end: bool = True) -> bytes:
    block = encoder.encode(
        [(":method", "GET"), (":path", "/"), (":scheme", "http"), (":authority", "x")]
    )
    flags = ["END_HEADERS", "END_STREAM"] if end else ["END_HEADERS"]
    return HeadersFrame(stream_id, data=block, flags=flags).serialize()


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


PINGS = PingFrame(0, opaque_data=b"12345678").serialize() * 1000  # 17,000 bytes a read


class NeverReads:
    """A driver whose client sends PINGs forever and reads nothing."""

    def __init__(self) -> None:
        self.reads = 0

    async def receive(self, max_bytes: int, deadline: float | None = None) -> bytes:
        self.reads += 1
        await anyio.lowlevel.checkpoint()
        return PINGS

    async def send(self, data: bytes) -> None:
        await anyio.sleep_forever()

    async def close(self, how: Literal["close", "reset"]) -> None:
        pass


@pytest.mark.anyio
async def test_a_ping_flood_that_is_never_read_stops_being_read() -> None:
    state = ServerState(ServerConfig(limits=Limits(control_backlog=40_000)))
    conn = H2ServerConnection(state, lambda: 0.0, mp.HTTP2())
    driver = NeverReads()
    session = H2Session(driver, conn)  # type: ignore[arg-type]
    with anyio.move_on_after(0.3):
        await session.run(H2Start(PREFACE))
    # 17,000 bytes of acknowledgements a read: the third read passes 40,000, and then the
    # reader waits for the client to take them.
    assert driver.reads == 3
