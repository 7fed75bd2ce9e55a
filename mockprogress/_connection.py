"""One client connection over h11: requests in, exchanges answered in order, keep-alive.

``ServerConnection.run()`` is the connection's whole life as one program (see ``_actions``).
Pipelined requests are answered in order because h11 hands them out one at a time and only
after ``start_next_cycle``. A malformed request is answered with h11's status hint (400, or
431 for an oversized head), recorded for ``check()``, and the connection closed; the listener
never sees an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import h11

from ._actions import Close, PeerGone, Program, Receive, Send
from ._exchange import ExchangeContext, plain_response
from ._headers import Headers
from ._journal import ResponseRecord

if TYPE_CHECKING:
    from ._state import ServerState

_READ_SIZE = 65536


class ServerConnection:
    """The pure state of one connection."""

    def __init__(self, state: ServerState, clock: Callable[[], float], peer: str = "") -> None:
        self.state = state
        self.clock = clock
        self.peer = peer
        self.id = state.next_connection_id()
        self.h11 = h11.Connection(
            h11.SERVER, max_incomplete_event_size=state.config.max_header_size
        )
        self.eof = False
        self.bytes_in = 0
        self.current: ExchangeContext | None = None

    def next_event(self, max_bytes: int = _READ_SIZE) -> Program[h11.Event | type[h11.PAUSED]]:
        """The next h11 event, reading from the client as needed."""
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            data = yield Receive(max_bytes)
            if not data:
                self.eof = True
            self.bytes_in += len(data)
            if self.current is not None:
                self.current.log.bytes_received += len(data)
            self.h11.receive_data(data)

    def refuse(self, active: int) -> Program[None]:
        """Answer a connection over ``max_connections`` with a 503 before reading anything."""
        limit = self.state.config.max_connections
        self.state.record("limit", f"connection {active} exceeds max_connections={limit}")
        body = f"mockprogress: more than {limit} connections are open\n".encode()
        yield Send(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        yield Close("close")

    def run(self) -> Program[None]:
        try:
            while True:
                self.current = None
                try:
                    event = yield from self.next_event()
                except h11.RemoteProtocolError as exc:
                    if not self.eof:
                        yield from self._malformed(exc)
                    yield Close("close")
                    return
                if not isinstance(event, h11.Request):
                    # ConnectionClosed: the client is done with the connection.
                    yield Close("close")
                    return
                ctx = self._begin(event)
                try:
                    yield from self.state.serve(ctx)
                    yield from ctx.finish()
                finally:
                    if ctx.log.ended is None:
                        ctx.log.ended = self.clock()
                if ctx.closed:
                    return
                if (
                    ctx.body_done
                    and not ctx.raw_mode
                    and self.h11.their_state is h11.SEND_BODY
                    and ctx.declared_length == 0
                ):
                    # A request without a body: nothing read its EndOfMessage, which h11 hands
                    # out without further bytes. Without it the client stays in SEND_BODY and
                    # the connection would be closed instead of kept alive.
                    self.h11.next_event()
                if (
                    ctx.raw_mode
                    or self.h11.our_state is not h11.DONE
                    or self.h11.their_state is not h11.DONE
                ):
                    yield Close("close")
                    return
                self.h11.start_next_cycle()
        except PeerGone:
            if self.current is not None and not self.current.closed:
                ctx = self.current
                if not ctx.log.events or ctx.log.events[-1].kind != "closed":
                    ctx.log.event(self.clock(), "closed", "in", "client closed the connection")
            return

    def _begin(self, request: h11.Request) -> ExchangeContext:
        version = request.http_version.decode()
        log = self.state.new_exchange(
            connection=self.id,
            started=self.clock(),
            method=request.method.decode("latin-1"),
            target=request.target.decode("latin-1"),
            http_version=version,
            headers=Headers.from_raw(request.headers.raw_items()),
        )
        log.bytes_received = self.bytes_in
        self.bytes_in = 0
        log.event(
            log.started,
            "request",
            "in",
            f"{log.method} {log.target} HTTP/{version}",
            headers=log.headers,
        )
        ctx = ExchangeContext(self, log, request)
        if not ctx.has_body:
            # h11 holds a request without a body in SEND_BODY until its EndOfMessage has been
            # read; it needs no bytes. Unread, the connection could never be kept alive.
            self.h11.next_event()
        self.current = ctx
        return ctx

    def _malformed(self, exc: h11.RemoteProtocolError) -> Program[None]:
        """Answer a request h11 could not parse, and journal it."""
        log = self.state.new_exchange(
            connection=self.id,
            started=self.clock(),
            method="",
            target="",
            http_version="",
            headers=Headers(),
        )
        log.bytes_received = self.bytes_in
        status = exc.error_status_hint
        log.event(log.started, "error", "in", f"malformed request: {exc}")
        kind = "limit" if status == 431 else "malformed-request"
        self.state.record(kind, f"malformed request: {exc}", log.index)
        if self.h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            step = plain_response(status, f"malformed request: {exc}\n")
            body = step.content
            head = self.h11.send(
                h11.Response(
                    status_code=status,
                    headers=[
                        *Headers(step.headers).raw(),
                        (b"Content-Length", str(len(body)).encode()),
                        (b"Connection", b"close"),
                    ],
                    reason=step.reason.encode(),
                )
            )
            data = (head or b"") + (self.h11.send(h11.Data(data=body)) or b"")
            data += self.h11.send(h11.EndOfMessage()) or b""
            yield Send(data)
            log.bytes_sent += len(data)
            at = log.event(
                self.clock(), "response", "out", f"{status} {step.reason}", status=status
            )
            log.response = ResponseRecord(status, step.reason, Headers(), at, len(body), True)
        log.ended = self.clock()
