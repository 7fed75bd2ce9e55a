"""What the server does on a WebSocket after ``101 Switching Protocols``: a script of frames.

Each action is a frozen dataclass validated when it is built, like the HTTP steps:

- ``ws_send(data)``: a text (``str``) or binary (``bytes``) message, in one frame;
  ``.cut(at, how)`` writes only the first ``at`` bytes of that frame, then closes (FIN) or
  resets (RST) the connection: a drop mid-frame at an exact byte offset.
- ``ws_expect(message=None)``: wait for the client's next message (any, or this one: a
  mismatch is recorded for ``check()``).
- ``ws_echo(count=1)``: send the client's next ``count`` messages back.
- ``ws_ping(payload=b"")``: send a ping and wait for its pong.
- ``ws_close(code=1000, reason="")``: the closing handshake: send a close frame, wait for the
  client's, then end the connection.

``mp.pause(seconds)`` and ``mp.drop(how)`` may appear among them too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TypeAlias

from ..errors import ScenarioError
from .checks import check_count
from .faults import DropHow, WsCut
from .steps import Drop, Pause

# RFC 6455 §7.4.1: codes a peer must never send in a close frame.
_RESERVED_CODES = {1004, 1005, 1006, 1015}


def frame_length(payload: int) -> int:
    """The size on the wire of one unmasked frame (a server's) carrying ``payload`` bytes
    (RFC 6455 §5.2)."""
    if payload < 126:
        return 2 + payload
    if payload < 65536:
        return 4 + payload
    return 10 + payload


@dataclass(frozen=True, slots=True)
class WsSend:
    """Send one message: text for ``str``, binary for ``bytes``."""

    data: str | bytes
    cut_at: WsCut | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.data, str | bytes):
            raise ScenarioError(f"ws_send() takes str or bytes, got {self.data!r}")
        if self.cut_at is not None:
            size = frame_length(len(self.payload))
            if self.cut_at.at > size:
                raise ScenarioError(f"cut at frame byte {self.cut_at.at} but the frame has {size}")

    @property
    def payload(self) -> bytes:
        return self.data.encode() if isinstance(self.data, str) else self.data

    def cut(self, at: int, how: DropHow = "close") -> WsSend:
        """Write only the first ``at`` bytes of this frame (header included), then close the
        connection with a FIN (``"close"``) or an RST (``"reset"``)."""
        return replace(self, cut_at=WsCut(at, how))


@dataclass(frozen=True, slots=True)
class WsExpect:
    """Wait for the client's next message; with ``message``, it must be exactly that (text
    for ``str``, binary for ``bytes``)."""

    message: str | bytes | None = None

    def __post_init__(self) -> None:
        if self.message is not None and not isinstance(self.message, str | bytes):
            raise ScenarioError(f"ws_expect() takes str, bytes or None, got {self.message!r}")


@dataclass(frozen=True, slots=True)
class WsEcho:
    """Send the client's next ``count`` messages back as they came."""

    count: int = 1

    def __post_init__(self) -> None:
        check_count(self.count, "ws_echo(count=...)", minimum=1)


@dataclass(frozen=True, slots=True)
class WsPing:
    """Send a ping and wait for the client's pong."""

    payload: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.payload, bytes) or len(self.payload) > 125:
            raise ScenarioError("a ping payload is at most 125 bytes (RFC 6455 §5.5)")


@dataclass(frozen=True, slots=True)
class WsClose:
    """Start the closing handshake with ``code`` and ``reason``."""

    code: int = 1000
    reason: str = ""

    def __post_init__(self) -> None:
        code = self.code
        if isinstance(code, bool) or not isinstance(code, int) or not 1000 <= code <= 4999:
            raise ScenarioError(f"a close code is an integer in 1000..4999, got {code!r}")
        if code in _RESERVED_CODES:
            raise ScenarioError(f"close code {code} is never sent on the wire (RFC 6455 §7.4.1)")
        if not isinstance(self.reason, str):
            raise ScenarioError(f"a close reason is text, got {self.reason!r}")
        if len(self.reason.encode()) > 123:
            raise ScenarioError("a close reason is at most 123 bytes of UTF-8 (RFC 6455 §5.5)")


WsAction: TypeAlias = WsSend | WsExpect | WsEcho | WsPing | WsClose | Pause | Drop
WS_ACTIONS = (WsSend, WsExpect, WsEcho, WsPing, WsClose, Pause, Drop)


def ws_send(data: str | bytes) -> WsSend:
    """Send a text (``str``) or binary (``bytes``) message.

    .. code-block:: python

        mp.ws_send("hello")
        mp.ws_send(b"\\x00" * 1000).cut(at=100, how="reset")   # drop mid-frame
    """
    return WsSend(data)


def ws_expect(message: str | bytes | None = None) -> WsExpect:
    """Wait for the client's next message (and check it, when ``message`` is given)."""
    return WsExpect(message)


def ws_echo(count: int = 1) -> WsEcho:
    """Send the client's next ``count`` messages back."""
    return WsEcho(count)


def ws_ping(payload: bytes = b"") -> WsPing:
    """Send a ping and wait for its pong."""
    return WsPing(payload)


def ws_close(code: int = 1000, reason: str = "") -> WsClose:
    """Close with ``code`` and ``reason``: send the close frame, wait for the client's, end."""
    return WsClose(code, reason)
