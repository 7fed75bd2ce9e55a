"""What the pure core asks the I/O layer to do.

The core is a set of generators: each ``yield`` hands the I/O layer one action and gets back its
result (``Receive`` gives bytes, ``b""`` at end of stream, or ``None`` when its ``timeout``
passed first; ``PendingInput`` an ``int``; the others give ``None``). When the
client goes away mid-write the I/O layer throws ``PeerGone`` into the generator instead.
Time and sockets stay on the I/O side: the core only ever says *what* and *when*.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeAlias, TypeVar

T = TypeVar("T")


class Send(NamedTuple):
    """Write these bytes, all of them, now.

    ``Send`` and ``Receive`` are named tuples (the other actions frozen dataclasses): every
    request makes at least one of each, and a tuple is made in a third of the time."""

    data: bytes


class Receive(NamedTuple):
    """Read at most ``max_bytes`` from the client; the result is ``b""`` at end of stream.

    With a ``timeout``, wait at most that many seconds for the first byte: the result is
    ``None`` when they pass with nothing read (the core then decides what the silence means:
    an idle keep-alive connection, a request head that never ends).
    """

    max_bytes: int
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait this long, doing nothing on the connection.

    A script is a timeline: the I/O layer measures a sleep from the end of the previous sleep
    when only prompt writes came between them, so timer lateness does not add up over a long
    script (1,000 pauses of 5 ms end 5 s after the first, not 5 s plus 1,000 wake-up delays).
    """

    seconds: float


@dataclass(frozen=True, slots=True)
class Close:
    """End the connection: ``close`` sends a FIN after every byte written so far; ``reset``
    waits until those bytes have left the send queue, then sends an RST.

    Over TLS, a ``close`` sends a close_notify alert before the FIN unless ``close_notify`` is
    False, and a ``reset`` with ``split`` first sends part of a TLS record holding those bytes
    (over plain TCP both are ignored).
    """

    how: Literal["close", "reset"] = "close"
    close_notify: bool = True
    split: bytes = b""


@dataclass(frozen=True, slots=True)
class Hold:
    """Keep the connection open and silent, reading nothing, until the client closes, the time
    runs out (``seconds``, or never when None) or the server stops."""

    seconds: float | None


@dataclass(frozen=True, slots=True)
class PendingInput:
    """Count the bytes the client has sent that nobody has read yet (the socket's receive
    queue), without reading them; the result is an ``int``."""


@dataclass(frozen=True, slots=True)
class CallHandler:
    """Run a user's async handler; the result is the exception it raised, or None."""

    handler: Callable[[Any], Awaitable[None]]
    control: Any


@dataclass(frozen=True, slots=True)
class WaitStream:
    """HTTP/2 only: wait for news on this exchange's stream (request body bytes or their end,
    a reset by the client, more flow-control window to send in, the connection's end); the
    result is None. The core looks at what changed itself: the news is engine state."""


@dataclass(frozen=True, slots=True)
class UpstreamTrouble:
    """What went wrong on the upstream leg (proxy mode): ``refused`` (nothing listens),
    ``reset`` (it reset or closed the connection), ``timeout`` (silent for the upstream
    timeout) or ``error`` (anything else: a name that does not resolve, a TLS failure)."""

    kind: Literal["refused", "reset", "timeout", "error"]
    detail: str


@dataclass(frozen=True, slots=True)
class UpstreamOpen:
    """Open a connection to the upstream (proxy mode), closing any one open before; the result
    is None, or ``UpstreamTrouble`` when it cannot be opened within ``timeout`` seconds."""

    host: str
    port: int
    tls: bool = False
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class UpstreamSend:
    """Write these bytes to the upstream; the result is None or ``UpstreamTrouble`` (``timeout``
    when it takes none of them for ``timeout`` seconds)."""

    data: bytes
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class UpstreamReceive:
    """Read at most ``max_bytes`` from the upstream: bytes (``b""`` at its end of stream), or
    ``UpstreamTrouble`` (a reset; ``timeout`` when ``timeout`` seconds pass with nothing)."""

    max_bytes: int
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class UpstreamClose:
    """Close the upstream connection, if one is open."""


Action: TypeAlias = (
    Send
    | Receive
    | Sleep
    | Close
    | Hold
    | PendingInput
    | CallHandler
    | UpstreamOpen
    | UpstreamSend
    | UpstreamReceive
    | UpstreamClose
    | WaitStream
)
Program: TypeAlias = Generator[Action, Any, T]


class PeerGone(Exception):
    """Thrown into a program when the client closed or reset the connection under a write."""
