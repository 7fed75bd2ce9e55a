"""Drive the pure core without sockets or clocks: bytes in, actions out.

``Wire`` plays the I/O layer: it hands the connection program the client's bytes when it asks
to ``Receive``, collects what it ``Send``s, and advances a fake clock on ``Sleep``. Tests then
assert on exact bytes and exact delays.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import h11

from mockprogress.engine.actions import (
    CallHandler,
    Close,
    Hold,
    PendingInput,
    Receive,
    Send,
    Sleep,
    UpstreamClose,
    UpstreamOpen,
    UpstreamReceive,
    UpstreamSend,
    UpstreamTrouble,
)
from mockprogress.engine.connection import ServerConnection
from mockprogress.engine.state import ServerConfig, ServerState


@dataclass(frozen=True)
class Silence:
    """In ``Wire.run``'s inbound: the client sends nothing for this many seconds."""

    seconds: float


@dataclass
class FakeUpstream:
    """Plays the upstream of proxy mode: takes what the server sends up, and answers each read
    with the next of ``replies`` (bytes, or trouble), then ``b""`` (its end of stream)."""

    replies: list[bytes | UpstreamTrouble] = field(default_factory=list)
    #: What ``UpstreamOpen`` gets (None: the connection opens).
    refuse: UpstreamTrouble | None = None
    #: What ``UpstreamSend`` gets (None: the bytes are taken).
    send_trouble: UpstreamTrouble | None = None
    opened: list[UpstreamOpen] = field(default_factory=list)
    received: bytearray = field(default_factory=bytearray)
    #: Every reply byte handed to the server so far.
    delivered: int = 0
    closes: int = 0

    def perform(self, action: object) -> bytes | UpstreamTrouble | None:
        if isinstance(action, UpstreamOpen):
            self.opened.append(action)
            return self.refuse
        if isinstance(action, UpstreamSend):
            if self.send_trouble is not None:
                return self.send_trouble
            self.received += action.data
            return None
        if isinstance(action, UpstreamReceive):
            if not self.replies:
                return b""
            reply = self.replies.pop(0)
            if isinstance(reply, bytes) and len(reply) > action.max_bytes:
                self.replies.insert(0, reply[action.max_bytes :])
                reply = reply[: action.max_bytes]
            if isinstance(reply, bytes):
                self.delivered += len(reply)
            return reply
        assert isinstance(action, UpstreamClose)
        self.closes += 1
        return None


@dataclass
class Wire:
    state: ServerState = field(default_factory=ServerState)
    clock: float = 0.0
    out: bytearray = field(default_factory=bytearray)
    actions: list[Any] = field(default_factory=list)
    closed: str | None = None
    read_sizes: list[int] = field(default_factory=list)
    peer: str = "127.0.0.1"
    #: What ``PendingInput`` reports: bytes the client sent that sit unread in the socket.
    unread: int = 0
    #: Extra seconds every ``Sleep`` lasts, as on a loaded machine.
    oversleep: float = 0.0
    #: The upstream of proxy mode, if the test has one.
    upstream: FakeUpstream | None = None
    #: After each action: reply bytes the upstream delivered less bytes sent to the client.
    held: list[int] = field(default_factory=list)

    def run(self, inbound: Iterable[bytes | Silence], *, eof: bool = True) -> bytes:
        """Run one connection: ``inbound`` are the chunks the client sends, in order, and the
        silences between them; after them the client closes (``eof``) or, if not, the program
        is left waiting."""
        chunks: list[bytes | Silence] = [c if isinstance(c, Silence) else bytes(c) for c in inbound]
        conn = ServerConnection(self.state, lambda: self.clock, self.peer)
        program = conn.run()
        result: Any = None
        while True:
            try:
                action = program.send(result)
            except StopIteration:
                return bytes(self.out)
            self.actions.append(action)
            result = None
            if isinstance(action, Send):
                self.out += action.data
            elif isinstance(action, Receive):
                self.read_sizes.append(action.max_bytes)
                while chunks and isinstance(chunks[0], Silence):
                    # The client says nothing for a while: a read with a timeout shorter
                    # than that ends with None, the rest of the silence still to come.
                    quiet = chunks[0].seconds
                    if action.timeout is not None and action.timeout <= quiet:
                        self.clock += action.timeout
                        chunks[0] = Silence(quiet - action.timeout)
                        break
                    self.clock += quiet
                    chunks.pop(0)
                if chunks and isinstance(chunks[0], Silence):
                    result = None
                elif chunks:
                    chunk = chunks.pop(0)
                    assert isinstance(chunk, bytes)
                    if len(chunk) > action.max_bytes:
                        chunks.insert(0, chunk[action.max_bytes :])
                        chunk = chunk[: action.max_bytes]
                    result = chunk
                elif eof:
                    result = b""
                else:
                    return bytes(self.out)
            elif isinstance(action, Sleep):
                self.clock += action.seconds + self.oversleep
            elif isinstance(action, Close):
                self.closed = action.how
            elif isinstance(action, Hold):
                self.closed = "hold"
            elif isinstance(action, PendingInput):
                result = self.unread
            elif isinstance(action, CallHandler):
                raise AssertionError("async handlers need the real server")
            elif isinstance(action, UpstreamOpen | UpstreamSend | UpstreamReceive | UpstreamClose):
                assert self.upstream is not None, "a proxy test gives the Wire an upstream"
                result = self.upstream.perform(action)
            if self.upstream is not None:
                self.held.append(self.upstream.delivered - len(self.out))

    @property
    def sleeps(self) -> list[float]:
        return [a.seconds for a in self.actions if isinstance(a, Sleep)]


def config(**kwargs: Any) -> ServerState:
    return ServerState(ServerConfig.of(**kwargs))


def parse_responses(data: bytes, method: str = "GET", count: int = 10) -> list[Any]:
    """Parse what the server wrote into h11 events, as a client would."""
    client = h11.Connection(h11.CLIENT)
    client.receive_data(data)
    events: list[Any] = []
    for _ in range(count):
        client.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        client.send(h11.EndOfMessage())
        while True:
            event = client.next_event()
            if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed):
                return events
            events.append(event)
            if isinstance(event, h11.EndOfMessage):
                break
        if client.our_state is h11.DONE and client.their_state is h11.DONE:
            client.start_next_cycle()
        else:
            return events
    return events
