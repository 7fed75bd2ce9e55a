"""101 Switching Protocols and the frame script over the sans-IO core: exact bytes both ways.

The client side is a wsproto client ``Connection`` (it masks its frames as a client must); the
server's frames are unmasked, so every byte the server writes is known in advance. Real
clients (wsproto over a socket, aiohttp, Node's WebSocket, requests) are in
tests/clients/test_clients_websocket.py.
"""

from __future__ import annotations

import pytest
from support.sansio import Wire
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, Pong, TextMessage

import mockprogress as mp
from mockprogress.engine.matching import Expectation
from mockprogress.scenario.document import parse_scenario

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3's example
SWITCH = (
    b"HTTP/1.1 101 Switching Protocols\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
)


def handshake(extra: str = "", method: str = "GET", version: str = "13") -> bytes:
    return (
        f"{method} /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: {version}\r\n{extra}\r\n"
    ).encode()


def client_frames(*events: object) -> bytes:
    client = Connection(ConnectionType.CLIENT)
    return b"".join(client.send(e) for e in events)  # type: ignore[arg-type]


def serve(*steps: mp.Step) -> Wire:
    wire = Wire()
    exp = Expectation("GET", "/ws")
    exp.respond(*steps)
    wire.state.add_expectation(exp)
    return wire


def frames(wire: Wire) -> list[tuple[str, str, object, int | None]]:
    return [(f.direction, f.kind, f.data, f.code) for f in wire.state.journal().last.frames]


def test_echo_exact_bytes_and_the_journal() -> None:
    wire = serve(mp.upgrade_websocket())
    sent = client_frames(
        TextMessage("hello"), BytesMessage(b"\x00\x01"), CloseConnection(1000, "bye")
    )
    out = wire.run([handshake() + sent])  # frames right behind the head: h11's trailing data

    assert out == SWITCH + b"\x81\x05hello" + b"\x82\x02\x00\x01" + b"\x88\x05\x03\xe8bye"
    assert frames(wire) == [
        ("in", "text", "hello", None),
        ("out", "text", "hello", None),
        ("in", "binary", b"\x00\x01", None),
        ("out", "binary", b"\x00\x01", None),
        ("in", "close", "bye", 1000),
        ("out", "close", "bye", 1000),
    ]
    ex = wire.state.journal().last
    assert ex.response is not None and ex.response.status == 101
    assert ex.response.headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert wire.closed == "close"
    assert wire.state.check_error() is None


def test_a_scripted_conversation() -> None:
    wire = serve(
        mp.upgrade_websocket(
            mp.ws_send("welcome"),
            mp.ws_expect("hi"),
            mp.ws_ping(b"p"),
            mp.ws_send(b"\x01\x02"),
            mp.ws_echo(),
            mp.ws_close(4000, "done"),
        )
    )
    sent = client_frames(TextMessage("hi"), TextMessage("again"), Pong(b"p"), CloseConnection(4000))
    out = wire.run([handshake(), sent])

    assert out == (
        SWITCH
        + b"\x81\x07welcome"
        + b"\x89\x01p"
        + b"\x82\x02\x01\x02"
        + b"\x81\x05again"  # it came before the pong: kept for ws_echo
        + b"\x88\x06\x0f\xa0done"
    )
    assert [f[:2] for f in frames(wire)] == [
        ("out", "text"),
        ("in", "text"),
        ("out", "ping"),
        ("in", "text"),
        ("in", "pong"),
        ("out", "binary"),
        ("out", "text"),
        ("out", "close"),
        ("in", "close"),
    ]
    assert wire.state.check_error() is None


def test_the_clients_pings_are_answered_and_fragments_joined() -> None:
    wire = serve(mp.upgrade_websocket(mp.ws_expect("hello world")))
    client = Connection(ConnectionType.CLIENT)
    sent = (
        client.send(TextMessage("hello ", message_finished=False))
        + client.send(Ping(b"?"))
        + client.send(TextMessage("world", message_finished=True))
        + client.send(CloseConnection(1000))
    )
    out = wire.run([handshake(), sent])
    assert out == SWITCH + b"\x8a\x01?" + b"\x88\x02\x03\xe8"
    assert ("in", "text", "hello world", None) in frames(wire)
    assert wire.state.check_error() is None


def test_an_unexpected_message_is_reported() -> None:
    wire = serve(mp.upgrade_websocket(mp.ws_expect("hello"), mp.ws_expect(b"\x00")))
    wire.run([handshake(), client_frames(TextMessage("goodbye"), CloseConnection(1000))])
    error = wire.state.check_error()
    assert error is not None
    assert "action 0 expected 'hello', got 'goodbye'" in str(error)
    assert "action 1 expected a message; the client closed instead" in str(error)


@pytest.mark.parametrize("at", [0, 1, 2, 3, 4, 5, 100, 203, 204])
@pytest.mark.parametrize("how", ["close", "reset"])
def test_a_frame_cut_at_an_exact_byte(at: int, how: str) -> None:
    payload = "x" * 200  # a 204-byte frame: 2 + 2 bytes of header, 200 of payload
    wire = serve(mp.upgrade_websocket(mp.ws_send(payload).cut(at, how)))  # type: ignore[arg-type]
    out = wire.run([handshake()], eof=False)

    frame = b"\x81\x7e\x00\xc8" + payload.encode()
    assert out == SWITCH + frame[:at]
    assert wire.closed == how
    ex = wire.state.journal().last
    assert ex.fault is not None and (ex.fault.kind, ex.fault.body_bytes) == (how, at)
    assert ex.frames == ()


def test_a_client_that_goes_away_without_a_close_frame() -> None:
    wire = serve(mp.upgrade_websocket())
    wire.run([handshake(), client_frames(TextMessage("x"))])  # then EOF
    ex = wire.state.journal().last
    assert [f.kind for f in ex.frames] == ["text", "text"]
    assert ex.events[-1].detail == "client closed the connection without a close frame"
    assert wire.state.check_error() is None


def test_an_unmasked_client_frame_is_a_protocol_error() -> None:
    wire = serve(mp.upgrade_websocket())
    out = wire.run([handshake(), b"\x81\x02hi"], eof=False)  # clients must mask (§5.1)
    assert out.startswith(SWITCH + b"\x88")
    ex = wire.state.journal().last
    [close] = ex.frames
    assert (close.direction, close.kind, close.code) == ("out", "close", 1002)
    error = wire.state.check_error()
    assert error is not None and "malformed frame" in str(error)
    assert wire.closed == "close"


def test_the_chosen_subprotocol_when_offered() -> None:
    wire = serve(mp.upgrade_websocket(subprotocol="superchat", headers={"X-Room": "7"}))
    out = wire.run([handshake("Sec-WebSocket-Protocol: chat, superchat\r\n")], eof=True)
    assert b"Sec-WebSocket-Protocol: superchat\r\nX-Room: 7\r\n\r\n" in out
    wire = serve(mp.upgrade_websocket(subprotocol="superchat"))
    out = wire.run([handshake("Sec-WebSocket-Protocol: chat\r\n")])
    assert b"Sec-WebSocket-Protocol" not in out


class TestRefusals:
    @pytest.mark.parametrize(
        ("request_bytes", "status", "header"),
        [
            (b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", 426, b"Upgrade: websocket\r\n"),
            (handshake(version="8"), 426, b"Sec-WebSocket-Version: 13\r\n"),
            (
                handshake(method="POST").replace(b"\r\n\r\n", b"\r\nContent-Length: 0\r\n\r\n"),
                426,
                b"Upgrade: websocket\r\n",
            ),
            (handshake().replace(b"Connection: Upgrade", b"Connection: keep-alive"), 400, b""),
            (handshake().replace(f"Sec-WebSocket-Key: {KEY}\r\n".encode(), b""), 400, b""),
        ],
    )
    def test_a_request_that_is_not_a_handshake(
        self, request_bytes: bytes, status: int, header: bytes
    ) -> None:
        wire = Wire()
        wire.state.add_expectation(Expectation(None, "/ws").respond(mp.upgrade_websocket()))
        out = wire.run([request_bytes])
        assert out.startswith(f"HTTP/1.1 {status} ".encode())
        assert header in out
        assert wire.state.journal().last.frames == ()

    def test_declining_with_a_200_keeps_http_going(self) -> None:
        wire = serve(mp.respond(200, b"no websocket here\n"))
        wire.state.add_expectation(Expectation("GET", "/next").respond(mp.respond(200, b"next")))
        out = wire.run([handshake() + b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"])
        assert out.startswith(b"HTTP/1.1 200 OK\r\n")
        assert out.endswith(b"next")
        assert [ex.path for ex in wire.state.journal()] == ["/ws", "/next"]

    def test_426_by_hand(self) -> None:
        wire = serve(
            mp.respond(426, headers={"Upgrade": "websocket", "Sec-WebSocket-Version": "13"})
        )
        out = wire.run([handshake()])
        assert out.startswith(b"HTTP/1.1 426 Upgrade Required\r\n")


def test_an_unsolicited_101_from_raw_bytes() -> None:
    raw = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n"
    wire = serve(mp.raw(raw))
    out = wire.run([b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n"])
    assert out == raw
    assert wire.closed == "close"


class TestBuilding:
    @pytest.mark.parametrize(
        ("build", "fragment"),
        [
            (lambda: mp.upgrade_websocket(mp.respond(200)), "upgrade_websocket action 0"),
            (lambda: mp.upgrade_websocket(mp.ws_close(), mp.ws_send("x")), "put it last"),
            (lambda: mp.upgrade_websocket(mp.ws_send("x").cut(1), mp.ws_send("y")), "put it last"),
            (lambda: mp.ws_close(1005), "never sent"),
            (lambda: mp.ws_close(999), "1000..4999"),
            (lambda: mp.ws_close(1000, "x" * 124), "123 bytes"),
            (lambda: mp.ws_ping(b"x" * 126), "125 bytes"),
            (lambda: mp.ws_send("abc").cut(6), "the frame has 5"),
            (lambda: mp.ws_send(3), "str or bytes"),  # type: ignore[arg-type]
            (lambda: mp.ws_echo(0), ">= 1"),
            (lambda: mp.upgrade_websocket(subprotocol="a b"), "token"),
        ],
    )
    def test_mistakes_fail_when_built(self, build: object, fragment: str) -> None:
        with pytest.raises(mp.ScenarioError, match=fragment):
            build()  # type: ignore[operator]

    def test_nothing_may_follow_the_switch(self) -> None:
        with pytest.raises(mp.ScenarioError, match="ends the connection"):
            Expectation("GET", "/ws").respond(mp.upgrade_websocket(), mp.respond(200))
        Expectation("GET", "/ws").respond(mp.processing((0, 1)), mp.upgrade_websocket())


class TestScenarioFile:
    def build(self, value: object) -> mp.Step:
        doc = {"expect": [{"path": "/ws", "steps": [{"upgrade_websocket": value}]}]}
        [exp] = parse_scenario(doc, "ws.toml")
        assert isinstance(exp, Expectation)
        [step] = exp.script.steps
        return step

    def test_true_is_an_echo_server(self) -> None:
        assert self.build(True) == mp.upgrade_websocket()

    def test_every_action(self) -> None:
        step = self.build(
            {
                "subprotocol": "chat",
                "headers": {"X-Room": "7"},
                "actions": [
                    {"send": "welcome"},
                    {"send_base64": "AAE="},
                    {"expect": "hello"},
                    {"expect": True},
                    {"echo": 2},
                    {"ping": "?"},
                    {"pause": 0.5},
                    {"send": "bye", "cut": {"at": 3, "how": "reset"}},
                ],
            }
        )
        assert step == mp.upgrade_websocket(
            mp.ws_send("welcome"),
            mp.ws_send(b"\x00\x01"),
            mp.ws_expect("hello"),
            mp.ws_expect(),
            mp.ws_echo(2),
            mp.ws_ping(b"?"),
            mp.pause(0.5),
            mp.ws_send("bye").cut(3, "reset"),
            subprotocol="chat",
            headers={"X-Room": "7"},
        )
        assert self.build({"actions": [{"close": 4000, "reason": "done"}]}) == (
            mp.upgrade_websocket(mp.ws_close(4000, "done"))
        )
        assert self.build({"actions": [{"drop": "reset"}]}) == mp.upgrade_websocket(
            mp.drop("reset")
        )

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ({"actions": [{"shout": "x"}]}, r"actions\[0\].shout: unknown key"),
            ({"actions": [{}]}, r"actions\[0\]: expected one of send"),
            ({"actions": [{"send": "x", "cut": {}}]}, r"actions\[0\].cut.at: missing"),
            ({"actions": [{"close": 1005}]}, r"upgrade_websocket: close code 1005"),
            ({"actions": "send"}, r"upgrade_websocket.actions: expected a list"),
        ],
    )
    def test_mistakes_name_the_key(self, value: object, message: str) -> None:
        with pytest.raises(mp.ScenarioError, match=message):
            self.build(value)


def test_frames_in_the_timeline_and_the_mermaid_diagram() -> None:
    wire = serve(mp.upgrade_websocket())
    wire.run([handshake(), client_frames(TextMessage("hello"), CloseConnection(1000))])
    journal = wire.state.journal()
    assert "<- text 'hello'" in journal.to_text()
    assert "-> close 1000 ''" in journal.to_text()
    diagram = journal.to_mermaid()
    assert "    C-)S: text 'hello'" in diagram
    assert "    S-)C: text 'hello'" in diagram
