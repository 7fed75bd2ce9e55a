"""Real clients through ``101 Switching Protocols``: frames both ways, refusals, faults, and the
clients' negatives: Node's http after a 101, requests pooling a switched connection.

- a wsproto client over a plain socket (the sans-IO reference, handshake included);
- aiohttp's ``ws_connect`` (its own handshake, autopong, close codes);
- Node 20's ``WebSocket`` (undici), behind ``--experimental-websocket`` (tests/node/websocket.js);
- requests, which puts a switched connection back in its pool (a documented negative);
- an unsolicited 101 written with ``mp.raw()``: h11, httpx and Node's http each fail their own way.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from typing import Any

import aiohttp
import httpx
import pytest
import requests
from support.paths import NODE_DIR
from support.recording_client import Client, request
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

import mockprogress as mp

NODE = shutil.which("node")
NODE_WS = NODE_DIR / "websocket.js"
NODE_HTTP = NODE_DIR / "information.js"
UNSOLICITED_101 = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhello"
)


def settled(srv: mp.MockServer) -> mp.Exchange:
    """The last exchange once the server has finished it: a client may return as soon as it
    has sent its close frame, before the server has read it."""
    deadline = time.monotonic() + 5
    while srv.journal.last.duration is None and time.monotonic() < deadline:
        time.sleep(0.01)
    return srv.journal.last


# ---- wsproto over a socket -------------------------------------------------------------------


def wsproto_client(port: int, path: str, *messages: str | bytes) -> list[Event]:
    """Handshake, send ``messages`` once accepted, answer pings, answer or start the close;
    return every event the client saw."""
    seen: list[Event] = []
    ws = WSConnection(ConnectionType.CLIENT)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(ws.send(Request(host=f"127.0.0.1:{port}", target=path)))
        while True:
            data = sock.recv(65536)
            ws.receive_data(data or None)
            for event in ws.events():
                seen.append(event)
                if isinstance(event, AcceptConnection):
                    for m in messages:
                        out = TextMessage(m) if isinstance(m, str) else BytesMessage(m)
                        sock.sendall(ws.send(out))
                elif isinstance(event, Ping):
                    sock.sendall(ws.send(event.response()))
                elif isinstance(event, CloseConnection):
                    if ws.state.name == "REMOTE_CLOSING":
                        sock.sendall(ws.send(event.response()))
                    while sock.recv(65536):  # the server ends the TCP connection (§7.1.1)
                        pass
                    return seen
                elif isinstance(event, RejectConnection):
                    return seen
            if not data:
                return seen


def test_wsproto_client_and_a_scripted_server(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    srv.expect("GET", "/ws").respond(
        mp.upgrade_websocket(
            mp.ws_send("welcome"),
            mp.ws_echo(2),
            mp.ws_ping(b"still there?"),
            mp.ws_close(4000, "done"),
        )
    )

    seen = wsproto_client(srv.port, "/ws", "hello", b"\x00\xff")

    assert isinstance(seen[0], AcceptConnection)
    data = [
        (type(e).__name__, getattr(e, "data", None) or getattr(e, "payload", None))
        for e in seen[1:]
    ]
    assert data == [
        ("TextMessage", "welcome"),
        ("TextMessage", "hello"),
        ("BytesMessage", bytearray(b"\x00\xff")),
        ("Ping", bytearray(b"still there?")),
        ("CloseConnection", None),
    ]
    close = seen[-1]
    assert isinstance(close, CloseConnection) and (close.code, close.reason) == (4000, "done")
    ex = settled(srv)
    assert [(f.direction, f.kind) for f in ex.frames] == [
        ("out", "text"),
        ("in", "text"),
        ("out", "text"),
        ("in", "binary"),
        ("out", "binary"),
        ("out", "ping"),
        ("in", "pong"),
        ("out", "close"),
        ("in", "close"),
    ]


# ---- aiohttp ---------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_aiohttp_ws_connect_echo_and_close(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    srv.expect("GET", "/ws").respond(mp.upgrade_websocket(subprotocol="chat"))

    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(srv.url("/ws"), protocols=("chat",)) as ws,
    ):
        assert ws.protocol == "chat"
        await ws.send_str("hello")
        assert (await ws.receive_str()) == "hello"
        await ws.send_bytes(b"\x01\x02")
        assert (await ws.receive_bytes()) == b"\x01\x02"
        await ws.close(code=4001, message=b"bye")

    ex = settled(srv)
    assert ex.response is not None and ex.response.headers["sec-websocket-protocol"] == "chat"
    assert [(f.direction, f.kind, f.data, f.code) for f in ex.frames][-2:] == [
        ("in", "close", "bye", 4001),
        ("out", "close", "bye", 4001),
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_aiohttp_sees_the_servers_close_code_and_answers_pings(
    mockprogress_server: mp.MockServer,
) -> None:
    srv = mockprogress_server
    srv.expect("GET", "/ws").respond(
        mp.upgrade_websocket(mp.ws_ping(b"?"), mp.ws_send("bye soon"), mp.ws_close(4000, "done"))
    )

    async with aiohttp.ClientSession() as session, session.ws_connect(srv.url("/ws")) as ws:
        assert (await ws.receive_str()) == "bye soon"
        closing = await ws.receive()
        assert closing.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4000

    kinds = [(f.direction, f.kind) for f in settled(srv).frames]
    assert ("in", "pong") in kinds  # aiohttp's autopong
    assert kinds[-2:] == [("out", "close"), ("in", "close")]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_aiohttp_when_a_frame_is_cut_mid_way(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    srv.expect("GET", "/ws").respond(mp.upgrade_websocket(mp.ws_send("x" * 300).cut(100)))

    async with aiohttp.ClientSession() as session, session.ws_connect(srv.url("/ws")) as ws:
        message = await ws.receive()
        assert message.type == aiohttp.WSMsgType.CLOSED  # no message, the connection ended

    fault = settled(srv).fault
    assert fault is not None and (fault.kind, fault.body_bytes) == ("close", 100)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.parametrize(
    ("step", "status"),
    [
        (mp.respond(426, headers={"Upgrade": "websocket", "Sec-WebSocket-Version": "13"}), 426),
        (mp.respond(200, b"no websocket here\n"), 200),  # declining: h11 lets a server do it
    ],
)
async def test_aiohttp_when_the_upgrade_is_refused(
    mockprogress_server: mp.MockServer, step: mp.Step, status: int
) -> None:
    srv = mockprogress_server
    srv.expect("GET", "/ws").respond(step)

    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
            await session.ws_connect(srv.url("/ws"))
    assert caught.value.status == status


def test_declining_an_upgrade_keeps_the_connection_for_http(
    mockprogress_server: mp.MockServer,
) -> None:
    srv = mockprogress_server
    srv.expect("GET", "/ws").respond(mp.respond(200, b"plain http\n"))
    srv.expect("GET", "/next").respond(mp.respond(200, b"next\n"))
    upgrade = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ]
    with Client(srv.port) as client:
        first = client.request("GET", "/ws", headers=upgrade)
        second = client.request("GET", "/next")
    assert (first.status, first.body, second.body) == (200, b"plain http\n", b"next\n")
    assert len({ex.connection for ex in srv.journal}) == 1


# ---- Node 20's WebSocket ---------------------------------------------------------------------


def node_websocket(url: str, *args: str) -> dict[str, Any]:
    assert NODE is not None
    done = subprocess.run(
        [NODE, "--experimental-websocket", str(NODE_WS), url, *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, f"node exited {done.returncode}: {done.stdout}{done.stderr}"
    report: dict[str, Any] = json.loads(done.stdout)
    return report


needs_node = pytest.mark.skipif(NODE is None, reason="the node command is not installed")


@needs_node
def test_node_websocket_exchanges_frames(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    srv.expect("GET", "/ws").respond(
        mp.upgrade_websocket(
            mp.ws_send("welcome"),
            mp.ws_echo(2),
            mp.ws_ping(b"?"),
            mp.ws_close(4000, "done"),
            subprotocol="chat",
        )
    )

    report = node_websocket(srv.url("/ws").replace("http:", "ws:"), "chat")

    assert report["error"] is None
    assert report["protocol"] == "chat"
    assert report["messages"] == [
        {"type": "text", "data": "welcome"},
        {"type": "text", "data": "hello from node"},
        {"type": "binary", "data": [0, 1, 2, 255]},
    ]
    assert report["close"] == {"code": 4000, "reason": "done", "wasClean": True}
    kinds = [(f.direction, f.kind) for f in settled(srv).frames]
    assert ("in", "pong") in kinds and kinds[-2:] == [("out", "close"), ("in", "close")]


@needs_node
def test_node_websocket_when_a_frame_is_cut(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    srv.expect("GET", "/ws").respond(mp.upgrade_websocket(mp.ws_send("x" * 300).cut(3, "reset")))

    report = node_websocket(srv.url("/ws").replace("http:", "ws:"))

    assert report["messages"] == []
    assert report["close"]["code"] == 1006 and report["close"]["wasClean"] is False


# ---- requests after a 101 ---------------------------------------------------------------------


def test_requests_reuses_a_switched_connection(mockprogress_server: mp.MockServer) -> None:
    """A documented negative: requests returns the 101 as a response and puts the connection,
    now speaking WebSocket, back in its pool. The next request on the Session goes out on it:
    the server reads it as a malformed frame, answers with a close frame, and requests reads
    WebSocket bytes where it expects a status line."""
    srv = mockprogress_server
    # An echo server says nothing first. (Had it sent a frame, urllib3 would have found the
    # idle socket readable, taken it for dropped and opened a new connection.)
    srv.expect("GET", "/ws").respond(mp.upgrade_websocket())
    srv.expect("GET", "/plain").respond(mp.respond(200, b"plain\n"))
    upgrade = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }

    with requests.Session() as session:
        switched = session.get(srv.url("/ws"), headers=upgrade, timeout=5)
        assert switched.status_code == 101
        with pytest.raises(requests.ConnectionError, match=r"BadStatusLine.*Invalid opcode 0x7"):
            session.get(srv.url("/plain"), timeout=5)

    ex = settled(srv)
    assert [ex.path for ex in srv.journal] == ["/ws"]  # /plain never reached HTTP
    frames = [(f.direction, f.kind, f.code) for f in ex.frames]
    assert frames == [("out", "close", 1002)]
    with pytest.raises(mp.ExpectationError, match="malformed frame"):
        srv.check()
    srv.reset()


# ---- an unsolicited 101 (mp.raw) -------------------------------------------------------------


def test_an_unsolicited_101_breaks_an_h11_client(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    srv.expect("GET", "/raw101").respond(mp.raw(UNSOLICITED_101))

    reply = request(srv.port, "GET", "/raw101")

    assert reply.status is None
    assert reply.error is not None and "without a pending proposal" in reply.error


def test_an_unsolicited_101_is_a_protocol_error_for_httpx(
    mockprogress_server: mp.MockServer,
) -> None:
    srv = mockprogress_server
    srv.expect("GET", "/raw101").respond(mp.raw(UNSOLICITED_101))

    with pytest.raises(httpx.RemoteProtocolError, match="without a pending proposal"):
        httpx.get(srv.url("/raw101"), timeout=5)


@needs_node
def test_an_unsolicited_101_ends_a_node_request_silently(
    mockprogress_server: mp.MockServer,
) -> None:
    """Node's http after a 101: no 'response', no 'error', only 'close'."""
    srv = mockprogress_server
    srv.expect("GET", "/raw101").respond(mp.raw(UNSOLICITED_101))
    assert NODE is not None

    done = subprocess.run(
        [NODE, str(NODE_HTTP), "GET", srv.url("/raw101")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    report = json.loads(done.stdout)
    assert report["response"] is None and report["information"] == []
    assert report["error"] == "request closed without a response"


# ---- a frame cut at an exact byte, on real sockets ---------------------------------------------

HANDSHAKE = (
    b"GET /cut/{at}/{how} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def test_a_frame_cut_sweep_on_one_server(mockprogress_server: mp.MockServer) -> None:
    """Every offset of a 304-byte frame (4 bytes of header, 300 of payload), by FIN and by
    RST: the client receives exactly that many bytes after the 101, then the end."""
    srv = mockprogress_server
    payload = bytes(range(256)) + bytes(44)
    frame = b"\x82\x7e\x01\x2c" + payload
    offsets = [0, 1, 2, 3, 4, 5, 150, 303, 304]
    for at in offsets:
        for how in ("close", "reset"):
            srv.expect("GET", f"/cut/{at}/{how}").respond(
                mp.upgrade_websocket(mp.ws_send(payload).cut(at, how))  # type: ignore[arg-type]
            )
    for at in offsets:
        for how in ("close", "reset"):
            received = b""
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
                sock.sendall(
                    HANDSHAKE.replace(b"{at}", str(at).encode()).replace(b"{how}", how.encode())
                )
                try:
                    while chunk := sock.recv(65536):
                        received += chunk
                except ConnectionResetError:
                    assert how == "reset"
            head, _, rest = received.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 101 Switching Protocols")
            assert rest == frame[:at], (at, how)
