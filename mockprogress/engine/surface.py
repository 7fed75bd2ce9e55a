"""``ExchangeSurface``: what resources, handlers, the continue policy and the WebSocket switch
may do with an exchange, whatever protocol carries it.

The exchange's state machine is the protocol's (``ExchangeContext``: HTTP/1.1 over h11;
``H2Exchange``: HTTP/2 over h2). Everything else sees this narrow interface: the request's
facts, read-only; where the exchange stands, read-only; and programs (``engine.actions``) that
move it forward.
Nothing here names h11, a byte of HTTP/1.1 framing, or a field to write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..http.headers import Headers
    from ..script.faults import DropHow, FaultHow, FaultSpec
    from ..script.steps import Interim, Respond, Step
    from .actions import Program
    from .faults import Side
    from .journal import ExchangeLog
    from .wire import BodySource, UnsizedSource


class ExchangeSurface(Protocol):
    """One exchange, as resources, handlers and protocol switches drive it."""

    # ---- the request (read-only) -----------------------------------------------------------

    @property
    def method(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def headers(self) -> Headers: ...
    @property
    def http_version(self) -> str: ...
    @property
    def is_http10(self) -> bool:
        """An HTTP/1.0 client: it gets no interim responses."""

    @property
    def peer(self) -> str:
        """The client's address (``""`` when unknown)."""

    @property
    def declared_length(self) -> int | None:
        """The body's declared length (0: none), or None when it is not declared."""

    @property
    def max_body_size(self) -> int:
        """The largest body (or message after a switch) the server takes."""

    @property
    def log(self) -> ExchangeLog:
        """The journal entry of the exchange (events, the body read so far)."""

    @property
    def now(self) -> float:
        """The server's clock, in seconds."""

    # ---- where the exchange stands (read-only) ---------------------------------------------

    @property
    def closed(self) -> bool:
        """The exchange ended the connection (or stream)."""

    @property
    def head_size(self) -> int:
        """The size of the request head as the protocol counts it (against max_header_size)."""

    @property
    def body_started(self) -> bool:
        """A body read was placed (or there is no body to read)."""

    @property
    def body_done(self) -> bool:
        """Every byte of the request body has been read."""

    @property
    def final_started(self) -> bool:
        """The final response (or a protocol switch) has begun to go out."""

    @property
    def waiting_for_continue(self) -> bool:
        """The client expects ``100 Continue`` and has had no reason to send the body."""

    # ---- programs ----------------------------------------------------------------------------

    def run(self, step: Step) -> Program[None]:
        """Carry out one script step."""

    def read_body(self, upto: int | None = None) -> Program[None]:
        """Read the body, or exactly ``upto`` bytes of it, into the journal."""

    def read_body_chunk(self, max_bytes: int | None = None) -> Program[bytes]:
        """The next piece of the body (at most ``max_bytes``); ``b""`` once it is complete."""

    def send_interim(self, step: Interim) -> Program[None]:
        """Send one interim (1xx) response, unless the client cannot take one."""

    def respond(
        self,
        step: Respond,
        *,
        read_first: bool,
        drains_after: bool = False,
        head_length: int | None = None,
        stream: BodySource | None = None,
    ) -> Program[None]:
        """Send the final response (with its cut and drip); ``stream``: a body read piece by
        piece as it is sent, in place of ``step``'s."""

    def respond_unsized(self, step: Respond, source: UnsizedSource) -> Program[None]:
        """Send the final response with a body whose length is known only at its end, written
        piece by piece as ``source`` gives it (in place of ``step``'s)."""

    def fault(
        self,
        how: FaultSpec | FaultHow,
        seconds: float | None = None,
        *,
        side: Side | None = None,
        body_bytes: int | None = None,
        detail: str | None = None,
        rest: bytes = b"",
    ) -> Program[None]:
        """Fire a fault now, and journal it."""

    def switch_protocols(self, headers: Headers) -> Program[tuple[bytes, bool] | None]:
        """Switch protocols (``101``); the client's bytes past the request and whether it
        closed after them, or None when the switch cannot be made."""

    def write_raw(self, data: bytes, *, journal: bool = True) -> Program[None]:
        """Write bytes outside the protocol's framing."""

    def read_raw(self, max_bytes: int) -> Program[bytes]:
        """Bytes straight from the client (after a switch); ``b""`` at the end."""

    def pause(self, seconds: float) -> Program[None]:
        """Wait, sending nothing (journaled)."""

    def close(self, how: DropHow = "close") -> Program[None]:
        """End the connection (no fault: the exchange is over)."""

    def handler_failed(self, exc: BaseException) -> Program[None]:
        """Record a handler's exception and answer 500 if nothing was answered yet."""

    # ---- bookkeeping -----------------------------------------------------------------------

    def problem(self, kind: str, message: str) -> None:
        """Record a problem for ``check()``."""

    def on_final_response(self, fn: Callable[[Respond], Respond] | None) -> None:
        """Have ``fn`` see each final response before it goes out and return the one to send."""

    def continue_on_first_read(self, interim: Interim | None) -> None:
        """The ``100 Continue`` the first body read sends to a waiting client (None: never)."""
