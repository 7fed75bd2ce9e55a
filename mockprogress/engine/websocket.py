"""``mp.upgrade_websocket()``: 101 Switching Protocols, then a WebSocket driven by wsproto.

Strategy. The handshake is HTTP: the request is checked (RFC 6455 §4.2.1), the ``101`` goes
out through the connection's h11 (which then stands aside in ``SWITCHED_PROTOCOL``), and the
bytes h11 had already received past the request (``trailing_data``) are handed to a wsproto
``Connection``. From then on this module decides every frame: wsproto is sans-IO, so the
program yields ``Send`` and ``Receive`` like every other and the I/O layer only moves bytes.

- A request that is not a WebSocket handshake gets ``426 Upgrade Required`` with
  ``Upgrade: websocket`` (and ``Sec-WebSocket-Version: 13`` for a version this server does
  not speak, §4.4); one without a key or ``Connection: upgrade`` gets ``400``.
- The client's pings are answered with pongs as they come; its messages are whole messages
  (fragments joined). Every frame both ways is journaled (``Exchange.frames``).
- A close from the client is answered with the same code, then the server ends the TCP
  connection (§7.1.1: the server closes first). So does the end of the script: with
  ``echo`` the server echoes until the client closes; without, it waits for the client's
  close, answering pings.
- A client that sends a malformed frame gets a close frame with wsproto's code (1002 and the
  like) and the connection ends; the server records it for ``check()``.
- A message larger than the server's ``max_body_size`` gets a close with 1009 (§7.4.1,
  "Message Too Big") as soon as its fragments pass the limit, and the connection ends; the
  server records it as a ``limit`` problem.
- ``ws_send(...).cut(at)`` writes exactly ``at`` bytes of the frame and then fires the fault;
  the journal's ``fault`` says so (``body_bytes`` is ``at``), and the cut frame is not listed
  among the frames.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    TextMessage,
)
from wsproto.utilities import generate_accept_token

from ..errors import ScenarioError
from ..http.headers import HeaderPairs, Headers, HeadersInput, header_pairs
from ..script.steps import Drop, Pause, Respond, Step, respond
from ..script.websocket import WS_ACTIONS, WsAction, WsClose, WsEcho, WsExpect, WsPing, WsSend
from .journal import Frame

if TYPE_CHECKING:
    from .actions import Program
    from .surface import ExchangeSurface

_READ_SIZE = 65536
WsMessage = TextMessage | BytesMessage
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@dataclass(frozen=True, slots=True)
class UpgradeWebSocket(Step):
    """Switch to WebSocket and run ``actions``; built by ``mp.upgrade_websocket()``."""

    answers: ClassVar[bool] = True
    ends_connection: ClassVar[bool] = True

    actions: tuple[WsAction, ...] = ()
    echo: bool = True
    subprotocol: str | None = None
    headers: HeaderPairs = ()

    def __post_init__(self) -> None:
        for i, action in enumerate(self.actions):
            if not isinstance(action, WS_ACTIONS):
                raise ScenarioError(
                    f"upgrade_websocket action {i} is {action!r}: use mp.ws_send(), "
                    "mp.ws_expect(), mp.ws_echo(), mp.ws_ping(), mp.ws_close(), mp.pause() "
                    "or mp.drop()"
                )
            if isinstance(action, WsClose | Drop) and i != len(self.actions) - 1:
                raise ScenarioError(
                    f"upgrade_websocket action {i} ends the connection: put it last"
                )
            if isinstance(action, WsSend) and action.cut_at and i != len(self.actions) - 1:
                raise ScenarioError(
                    f"upgrade_websocket action {i} cuts the connection: put it last"
                )
        if self.subprotocol is not None and not _TOKEN.fullmatch(self.subprotocol):
            raise ScenarioError(f"a subprotocol is a token, got {self.subprotocol!r}")

    def run(self, ctx: ExchangeSurface) -> Program[None]:
        """Carry out the switch and the frame script on ``ctx``."""
        yield from serve_websocket(ctx, self)


def upgrade_websocket(
    *actions: WsAction,
    echo: bool | None = None,
    subprotocol: str | None = None,
    headers: HeadersInput = None,
) -> UpgradeWebSocket:
    """Answer a WebSocket handshake with ``101 Switching Protocols``, then run ``actions``.

    .. code-block:: python

        srv.expect("GET", "/ws").respond(mp.upgrade_websocket())          # echo everything
        srv.expect("GET", "/ws").respond(
            mp.upgrade_websocket(
                mp.ws_send("welcome"),
                mp.ws_expect("hello"),
                mp.ws_ping(b"are you there"),
                mp.ws_close(4000, "done"),
            )
        )

    :param actions: the frame script (see ``mp.ws_send`` and its siblings).
    :param echo: after the actions, echo every message until the client closes; by default
        True when there are no actions, else False (the server then waits for the client's
        close).
    :param subprotocol: accept this subprotocol when the client offers it.
    :param headers: extra header fields for the 101.
    """
    return UpgradeWebSocket(
        tuple(actions),
        not actions if echo is None else echo,
        subprotocol,
        header_pairs(headers, where="upgrade_websocket"),
    )


# ---- the handshake ---------------------------------------------------------------------------


def _tokens(values: Iterable[str]) -> list[str]:
    return [t.strip().lower() for v in values for t in v.split(",") if t.strip()]


def _refusal(ctx: ExchangeSurface) -> Respond | None:
    """The answer to a request that is not a WebSocket handshake we accept, or None."""
    headers = ctx.headers
    text = {"Content-Type": "text/plain; charset=utf-8"}
    if ctx.method != "GET" or "websocket" not in _tokens(headers.getall("upgrade")):
        # No method in the text: a HEAD gets the GET's head, Content-Length included.
        why = f"{ctx.log.target} needs a WebSocket handshake (GET with Upgrade)\n"
        return respond(426, why, {"Upgrade": "websocket", "Connection": "Upgrade", **text})
    if headers.get("sec-websocket-version") != "13":
        got = headers.get("sec-websocket-version")
        why = f"Sec-WebSocket-Version {got!r} is not supported; this server speaks 13\n"
        return respond(426, why, {"Sec-WebSocket-Version": "13", "Upgrade": "websocket", **text})
    if "upgrade" not in _tokens(headers.getall("connection")):
        return respond(400, "a WebSocket handshake needs Connection: Upgrade\n", text)
    if not headers.get("sec-websocket-key"):
        return respond(400, "a WebSocket handshake needs Sec-WebSocket-Key\n", text)
    return None


def serve_websocket(ctx: ExchangeSurface, step: UpgradeWebSocket) -> Program[None]:
    """The handshake, the 101 and the frame script."""
    yield from ctx.read_body()
    if ctx.closed:
        return
    refusal = _refusal(ctx)
    if refusal is not None:
        yield from ctx.respond(refusal, read_first=False)
        return
    key = ctx.headers["sec-websocket-key"].encode("latin-1")
    fields: list[tuple[str, str]] = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Accept", generate_accept_token(key).decode("ascii")),
    ]
    offered = _tokens(ctx.headers.getall("sec-websocket-protocol"))
    if step.subprotocol is not None and step.subprotocol.lower() in offered:
        fields.append(("Sec-WebSocket-Protocol", step.subprotocol))
    fields.extend(step.headers)
    switched = yield from ctx.switch_protocols(Headers(fields))
    if switched is None:
        return  # refused (recorded as a problem)
    trailing, closed = switched
    session = _Session(ctx)
    if trailing:
        session.feed(trailing)
    if closed:
        session.feed(None)
    yield from session.run(step)
    if not ctx.closed:
        yield from ctx.close("close")


# ---- the frames --------------------------------------------------------------------------------


def _preview(data: str | bytes) -> str:
    text = repr(data if len(data) <= 60 else data[:60])
    return text + ("..." if len(data) > 60 else "")


class _Session:
    """One WebSocket over one exchange: wsproto decides the bytes, this class the script."""

    def __init__(self, ctx: ExchangeSurface) -> None:
        self.ctx = ctx
        self.ws = Connection(ConnectionType.SERVER)
        self.parts: list[str | bytes] = []  # fragments of the message being received
        self.size = 0  # their size in bytes
        self.messages: deque[WsMessage] = deque()  # whole, not yet taken
        self.over = False  # the WebSocket is closed (either way) or the connection cut
        self.eof = False  # the client closed the TCP connection

    # ---- bookkeeping ----

    def record(self, direction: str, kind: str, data: str | bytes, code: int | None = None) -> None:
        detail = f"{kind} {_preview(data)}" if kind != "close" else f"close {code} {data!r}"
        if kind == "binary":
            detail = f"binary {len(data)} bytes {_preview(data)}"
        log = self.ctx.log
        at = log.event(self.ctx.now, "websocket", direction, detail)
        # A message's payload goes to the frame store, spooled past spool_threshold.
        payload = log.store_payload(data) if kind in ("text", "binary") else data
        log.add_frame(Frame(direction, kind, payload, at, code))

    def problem(self, message: str) -> None:
        self.ctx.problem("websocket", message)

    # ---- bytes both ways ----

    def feed(self, data: bytes | None) -> None:
        if data is None:
            self.eof = True
        self.ws.receive_data(data)

    def write(self, data: bytes) -> Program[None]:
        """Frame bytes, journaled as frames (``record``), not as raw bytes."""
        yield from self.ctx.write_raw(data, journal=False)

    def send(self, event: Event) -> Program[None]:
        yield from self.write(self.ws.send(event))
        if isinstance(event, TextMessage):
            self.record("out", "text", event.data)
        elif isinstance(event, BytesMessage):
            self.record("out", "binary", bytes(event.data))
        elif isinstance(event, Ping):
            self.record("out", "ping", bytes(event.payload))
        elif isinstance(event, Pong):
            self.record("out", "pong", bytes(event.payload))
        elif isinstance(event, CloseConnection):
            self.record("out", "close", event.reason or "", event.code)

    def next_event(self) -> Program[WsMessage | Pong | CloseConnection]:
        """The next whole message, pong or close from the client (pings are answered here).
        After a close the session is over."""
        while True:
            for event in self.ws.events():
                result = yield from self._take(event)
                if result is not None:
                    return result
            data = yield from self.ctx.read_raw(_READ_SIZE)
            self.feed(data or None)

    def _take(self, event: Event) -> Program[WsMessage | Pong | CloseConnection | None]:
        if isinstance(event, Ping):
            self.record("in", "ping", bytes(event.payload))
            if self.ws.state is ConnectionState.OPEN:
                yield from self.send(event.response())
            return None
        if isinstance(event, Pong):
            self.record("in", "pong", bytes(event.payload))
            return event
        if isinstance(event, TextMessage | BytesMessage):
            piece = bytes(event.data) if isinstance(event.data, bytearray) else event.data
            self.parts.append(piece)
            self.size += len(piece.encode()) if isinstance(piece, str) else len(piece)
            limit = self.ctx.max_body_size
            if self.size > limit:
                return (yield from self._too_big(limit))
            if not event.message_finished:
                return None
            parts, self.parts, self.size = self.parts, [], 0
            if isinstance(event, TextMessage):
                text = "".join(map(str, parts))
                message: WsMessage = TextMessage(text)
                self.record("in", "text", text)
            else:
                joined = b"".join(p for p in parts if isinstance(p, bytes))
                message = BytesMessage(joined)
                self.record("in", "binary", joined)
            return message
        if isinstance(event, CloseConnection):
            yield from self._closed_by_client(event)
            return event
        return None

    def _too_big(self, limit: int) -> Program[CloseConnection]:
        """Refuse a message past ``max_body_size``: close 1009 (RFC 6455 §7.4.1)."""
        size, self.parts, self.size = self.size, [], 0
        message = f"a WebSocket message passed max_body_size={limit} ({size} bytes so far)"
        self.ctx.log.event(self.ctx.now, "error", "in", message)
        self.ctx.problem("limit", message)
        close = CloseConnection(1009, f"message exceeds {limit} bytes")
        yield from self.send(close)
        self.over = True
        return close

    def _closed_by_client(self, event: CloseConnection) -> Program[None]:
        self.over = True
        state = self.ws.state
        if self.eof and event.code == 1006:
            self.ctx.log.event(
                self.ctx.now, "closed", "in", "client closed the connection without a close frame"
            )
            return
        if state is ConnectionState.OPEN:
            # wsproto reports a frame it could not parse as a close it wants to send.
            reason = event.reason or ""
            self.ctx.log.event(self.ctx.now, "error", "in", f"malformed frame: {reason}")
            self.ctx.problem("malformed-request", f"the client sent a malformed frame: {reason}")
            yield from self.write(self.ws.send(CloseConnection(event.code, reason)))
            self.record("out", "close", reason, event.code)
            return
        self.record("in", "close", event.reason or "", event.code)
        if state is ConnectionState.REMOTE_CLOSING:
            yield from self.send(event.response())

    def next_message(self) -> Program[WsMessage | None]:
        """The client's next message, or None once it closed."""
        if self.messages:
            return self.messages.popleft()
        while not self.over:
            event = yield from self.next_event()
            if isinstance(event, TextMessage | BytesMessage):
                return event
        return None

    # ---- the script ----

    def run(self, step: UpgradeWebSocket) -> Program[None]:
        for i, action in enumerate(step.actions):
            if self.over or self.ctx.closed:
                if not isinstance(action, Pause):
                    self.problem(
                        f"action {i} ({type(action).__name__}) never ran: the WebSocket was "
                        "already closed"
                    )
                continue
            yield from self.act(i, action)
        if step.echo:
            while not self.over and not self.ctx.closed:
                message = yield from self.next_message()
                if message is not None:
                    yield from self.send(message)
        while not self.over and not self.ctx.closed:
            yield from self.next_event()  # wait for the client's close

    def act(self, i: int, action: WsAction) -> Program[None]:
        ctx = self.ctx
        if isinstance(action, WsSend):
            event: Event = (
                TextMessage(action.data)
                if isinstance(action.data, str)
                else BytesMessage(action.data)
            )
            if action.cut_at is None:
                yield from self.send(event)
                return
            data = self.ws.send(event)
            at = action.cut_at.at
            yield from self.write(data[:at])
            kind = "text" if isinstance(action.data, str) else "binary"
            detail = f"{action.cut_at.how} after {at} of the {len(data)} bytes of a {kind} frame"
            yield from ctx.fault(action.cut_at.spec, side="response", body_bytes=at, detail=detail)
            self.over = True
        elif isinstance(action, WsExpect):
            message = yield from self.next_message()
            if message is None:
                self.problem(f"action {i} expected a message; the client closed instead")
            elif action.message is not None and message.data != action.message:
                got = _preview(
                    bytes(message.data) if isinstance(message.data, bytearray) else message.data
                )
                self.problem(f"action {i} expected {_preview(action.message)}, got {got}")
        elif isinstance(action, WsEcho):
            for n in range(action.count):
                message = yield from self.next_message()
                if message is None:
                    self.problem(
                        f"action {i} expected {action.count} message(s) to echo; the client "
                        f"closed after {n}"
                    )
                    return
                yield from self.send(message)
        elif isinstance(action, WsPing):
            yield from self.send(Ping(action.payload))
            while not self.over:
                event = yield from self.next_event()
                if isinstance(event, Pong):
                    return
                if isinstance(event, TextMessage | BytesMessage):
                    self.messages.append(event)  # for a later ws_expect or ws_echo
            self.problem(f"action {i} sent a ping; the client closed before its pong")
        elif isinstance(action, WsClose):
            yield from self.send(CloseConnection(action.code, action.reason))
            while not self.over:
                yield from self.next_event()  # until the client's close (or the end)
        elif isinstance(action, Pause):
            yield from ctx.pause(action.seconds)
        elif isinstance(action, Drop):
            yield from ctx.fault(action.spec)
            self.over = True
