"""One client connection over h11: requests in, exchanges answered in order, keep-alive.

``ServerConnection.run()`` is the connection's whole life as one program (see ``_actions``).
Whether the connection carries another request after an exchange is the exchange's decision
(``ExchangeContext.keeps_alive``). Pipelined requests are answered in order because h11 hands
them out one at a time and only after ``start_next_cycle``. A malformed request is answered
with h11's status hint (400, or 431 for an oversized head), recorded for ``check()``, and the
connection closed; the listener never sees an exception. A head cut (``script.faults.HeadCut``,
fired by ``engine.faults``) ends the connection after exactly N bytes of a request head: while
one is pending, the head is read at most N bytes at a time.

Time comes in as reads with a timeout (``Receive(timeout=)``): between requests the wait is
``keep_alive_timeout`` (then a plain FIN, journaled on the last exchange), and a request head
must end within ``head_timeout`` of its start (then a 408). Every request read is journaled:
pipelined ones behind an exchange whose connection ends are journaled unanswered
(``_unanswered``), each exchange counting only its own bytes (``_hand_on``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import h11

from ..http.headers import Headers
from ..script.faults import HeadCut
from ..script.tls import HandshakeFault, alert_record
from .actions import Close, PeerGone, Program, Receive, Send
from .exchange import ExchangeContext, ResponseState, plain_response
from .faults import fire
from .h2_connection import PREFACE, H2Start, Upgrade
from .heads import SimpleHead, simple_head
from .journal import ExchangeLog, ResponseRecord, TLSRecord
from .request_head import request_line

if TYPE_CHECKING:
    from .state import ServerState

_READ_SIZE = 65536


class ServerConnection:
    """The pure state of one connection."""

    def __init__(self, state: ServerState, clock: Callable[[], float], peer: str = "") -> None:
        self.state = state
        self.clock = clock
        self.peer = peer
        self.id = state.next_connection_id()
        #: The h11 state machine, made when first needed (``_machine``); None stands for one
        #: given nothing yet: both sides idle, nothing held.
        self._h11: h11.Connection | None = None
        #: The length of the request head ``simple_head`` read and h11 has not yet parsed
        #: (it is in h11's buffer, or in ``_unfed``); None while h11 is up to date.
        self._lagging: int | None = None
        #: Bytes read (counted in ``_fed``) not yet handed to h11: a simple head and what came
        #: with it, read while h11 held nothing. While they are not, h11 is as the previous
        #: request left it, and serves the next one as it is when they never need to be.
        self._unfed: bytes | None = None
        self._simple_heads = state.config.simple_heads
        self.eof = False
        self.bytes_in = 0
        # Every byte handed to h11 (``_fed`` less what h11 still holds: what it has parsed).
        self._fed = 0
        self.requests = 0
        self.current: ExchangeContext | None = None
        #: What the connection's TLS handshake settled (None on plain TCP).
        self.tls: TLSRecord | None = None
        #: When the request head now arriving must have ended (``head_timeout``; None while
        #: no head is arriving, or with no timeout).
        self._head_deadline: float | None = None
        self._head_started = 0.0
        #: The connection's last exchange, which a keep-alive close is journaled on.
        self._last: ExchangeLog | None = None
        #: The request head ``simple_head`` just read, with what it says (None: h11 read it).
        self._head: SimpleHead | None = None

    @property
    def h11_conn(self) -> h11.Connection:
        """The connection's h11 state machine, up to date: a head that ``simple_head`` read
        is handed to h11 now (it parses the same head into an equal event)."""
        machine = self._machine()
        if self._lagging is not None:
            self._flush()
            self._lagging = None
            machine.next_event()  # the Request simple_head gave
        return machine

    def _machine(self) -> h11.Connection:
        """The h11 state machine, made now if it was not yet: a plain exchange needs none (its
        head read by ``simple_head``, its response written past h11), and making one was a
        tenth of what a GET on a new connection cost the core."""
        if self._h11 is None:
            self._h11 = self._new_h11()
        return self._h11

    @property
    def our_state(self) -> object:
        """h11's state of the server side, without bringing h11 up to date: after a
        request head, h11 waits for the response."""
        if self._lagging is not None:
            return h11.SEND_RESPONSE
        return h11.IDLE if self._h11 is None else self._h11.our_state

    @property
    def their_state(self) -> object:
        """h11's state of the client side, without bringing h11 up to date: after a
        request head, h11 stands in its body (or before its ``EndOfMessage``)."""
        if self._lagging is not None:
            return h11.SEND_BODY
        return h11.IDLE if self._h11 is None else self._h11.their_state

    def trailing(self) -> tuple[bytes, bool]:
        """What h11 holds past what it has parsed (``h11.Connection.trailing_data``), as if
        it were up to date."""
        data, closed = (b"", False) if self._h11 is None else self._h11.trailing_data
        if self._unfed is not None:
            data += self._unfed
        if self._lagging is not None:
            data = data[self._lagging :]
        return data, closed

    def _trailing_size(self) -> int:
        """``len(self.trailing()[0])``, without copying the bytes."""
        unfed = 0 if self._unfed is None else len(self._unfed)
        return self._buffered() + unfed - (self._lagging or 0)

    def _buffered(self) -> int:
        """How many bytes h11 holds that it has not parsed."""
        return 0 if self._h11 is None else len(self._h11._receive_buffer)

    def _new_h11(self) -> h11.Connection:
        return h11.Connection(
            h11.SERVER, max_incomplete_event_size=self.state.config.limits.max_header_size
        )

    def next_event(self, max_bytes: int = _READ_SIZE) -> Program[h11.Event | type[h11.PAUSED]]:
        """The next h11 event, reading from the client as needed."""
        while True:
            event = self.h11_conn.next_event()
            if event is not h11.NEED_DATA:
                return event  # type: ignore[return-value]
            data = yield self._receive(max_bytes)
            if data is None:
                raise _Silence(idle=False)
            if not data:
                self.eof = True
            self.bytes_in += len(data)
            if self.current is not None:
                self.current.log.bytes_received += len(data)
            self._feed(data)

    def _feed(self, data: bytes) -> None:
        self._flush()
        self._fed += len(data)
        self._machine().receive_data(data)

    def _flush(self) -> None:
        """Hand h11 the bytes it has not been given yet (``_unfed``)."""
        if self._unfed is not None:
            self._machine().receive_data(self._unfed)
            self._unfed = None

    def _parsed(self) -> int:
        """How many bytes h11 has taken in and parsed (a request head is the difference)."""
        unfed = 0 if self._unfed is None else len(self._unfed)
        return self._fed - self._buffered() - unfed + (self._lagging or 0)

    def _request_event(self, data: bytes, *, held: bool) -> Program[h11.Event | type[h11.PAUSED]]:
        """The first event of a request whose head starts with ``data``: what h11 holds
        (``held``), or bytes just read while it held nothing, not yet handed to it. Read by
        ``simple_head`` when the head is simple, else by h11."""
        if data and self._simple_heads:
            simple = simple_head(data)
            if simple is not None:
                if not held:
                    self.bytes_in += len(data)
                    self._fed += len(data)
                    self._unfed = data
                self._lagging = simple.size
                self._head = simple
                return simple.request
        if not data and not held and (self._h11 is None or self._h11.their_state is h11.IDLE):
            # The client closed between requests, as one does after its last: what h11 says
            # of an end of input while it holds nothing, without its parser's round.
            self.eof = True
            return h11.ConnectionClosed()
        if not held:
            self._take(data)
        return (yield from self.next_event())

    def _receive(self, max_bytes: int) -> Receive:
        """A read, bounded by the head timeout while a request head is arriving."""
        if self._head_deadline is None:
            return Receive(max_bytes)
        return Receive(max_bytes, max(0.0, self._head_deadline - self.clock()))

    def receive_raw(self, max_bytes: int) -> Program[bytes]:
        """Bytes straight from the client, past h11: the rest of a Content-Length body
        (``ExchangeContext._next_chunk``). They are the current exchange's alone: unlike
        ``next_event``'s reads, they count towards no later request."""
        data: bytes = yield Receive(max_bytes)
        if not data:
            self.eof = True
        if self.current is not None:
            self.current.log.bytes_received += len(data)
        return data

    def refuse(self, active: int, reason: str | None = None) -> Program[None]:
        """Answer a connection over ``max_connections`` (or over what the descriptors allow:
        ``reason``) with a 503 before reading anything."""
        limit = self.state.config.limits.max_connections
        self.state.record("limit", reason or f"connection {active} exceeds max_connections={limit}")
        answer = reason or f"more than {limit} connections are open"
        body = f"mockprogress: {answer}\n".encode()
        yield Send(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
            + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        yield Close("close")

    def run(self) -> Program[H2Start | None]:
        """The connection's life; an ``H2Start`` when it turns to HTTP/2 (the client's preface
        on a fresh connection, or an ``Upgrade: h2c`` answered by 101)."""
        try:
            while True:
                self.current = None
                head_start = self._parsed()
                try:
                    event = yield from self._request_start()
                except _PriorKnowledge as turn:
                    return H2Start(turn.data)
                except h11.RemoteProtocolError as exc:
                    if not self.eof:
                        yield from self._malformed(exc)
                    else:
                        self._abandoned_head()
                    yield Close("close")
                    return None
                except _Silence as silence:
                    yield from self._timed_out(silence.idle)
                    return None
                finally:
                    self._head_deadline = None
                if event is None:
                    return None  # a head cut ended the connection
                if not isinstance(event, h11.Request):
                    # ConnectionClosed: the client is done with the connection.
                    yield Close("close")
                    return None
                self.requests += 1
                # The head as sent: h11 strips padding and folds, the limit counts them.
                head_size = self._parsed() - head_start
                upgrade = self._h2c(event, head_size)
                if upgrade is not None:
                    return (yield from self._switch_to_h2c(upgrade))
                ctx = self._begin(event, head_size)
                log = self._last = ctx.log
                try:
                    yield from self.state.serve(ctx)
                    yield from ctx.finish()
                finally:
                    log.body.settle()  # the last piece, unless a store shared it
                    if log.ended is None:
                        log.ended = self.clock()
                    self._hand_on(ctx)
                if ctx.closed:
                    # The exchange ended the connection itself.
                    self._unanswered(ctx, "the server closed the connection")
                    return None
                if not ctx.keeps_alive():
                    self._unanswered(ctx, "the server closed the connection")
                    yield Close("close")
                    return None
                if ctx.bypassed_h11:
                    # A fresh h11 connection is where start_next_cycle would leave it, given
                    # what the old one holds of the next request (pipelined with this one).
                    trailing, closed = self.trailing()
                    if self._unfed is None:
                        self._h11 = None  # a fresh one, made if needed
                    # else h11 was never given this request: it is as the last cycle left it.
                    self._unfed = None
                    self._lagging = None
                    if trailing:
                        self._feed(trailing)
                    if closed:
                        self._machine().receive_data(b"")
                else:
                    if self.h11_conn.their_state is h11.SEND_BODY:
                        # A request without a body whose EndOfMessage nothing read (h11 hands
                        # it out without further bytes): read it, or h11 cannot cycle.
                        self.h11_conn.next_event()
                    self.h11_conn.start_next_cycle()
        except PeerGone:
            if self.current is not None and not self.current.closed:
                ctx = self.current
                if not ctx.log.events or ctx.log.events[-1].kind != "closed":
                    ctx.log.event(self.clock(), "closed", "in", "client closed the connection")
                self._unanswered(ctx, "the client closed the connection")
            return None

    def _h2c(self, request: h11.Request, head_size: int) -> Upgrade | None:
        """The upgrade to HTTP/2 this request asks for, when the server takes it: HTTP/2 is
        on, the connection is plain TCP (h2c is cleartext only), the request carries exactly
        one ``HTTP2-Settings`` and no body (its answer goes on stream 1, which starts
        half-closed: RFC 7540 §3.2)."""
        if self.state.config.http2 is None or self.tls is not None:
            return None
        headers = Headers.from_raw(request.headers.raw_items())
        tokens = [t.strip().lower() for t in (headers.get("upgrade") or "").split(",")]
        settings = headers.getall("http2-settings")
        if "h2c" not in tokens or len(settings) != 1 or request.http_version != b"1.1":
            return None
        if "transfer-encoding" in headers or (headers.get("content-length") or "0") != "0":
            return None  # served as HTTP/1.1: the server may ignore an Upgrade
        return Upgrade(
            settings[0].encode("latin-1"),
            request.method.decode("latin-1"),
            request.target.decode("latin-1"),
            headers,
            head_size,
        )

    def _switch_to_h2c(self, upgrade: Upgrade) -> Program[H2Start]:
        """Answer ``101 Switching Protocols`` (``Upgrade: h2c``); what follows is HTTP/2."""
        self.h11_conn.next_event()  # the request's EndOfMessage (it has no body)
        data = self.h11_conn.send(
            h11.InformationalResponse(
                status_code=101,
                headers=[(b"Connection", b"Upgrade"), (b"Upgrade", b"h2c")],
                reason=b"Switching Protocols",
            )
        )
        yield Send(data or b"")
        return H2Start(bytes(self.h11_conn.trailing_data[0]), upgrade)

    def _hand_on(self, ctx: ExchangeContext) -> None:
        """Credit the bytes read with an exchange that belong to the requests after it
        (pipelined: one read can hold several) to those. Once the exchange's request was read
        whole, what h11 still holds is theirs."""
        self.bytes_in = 0
        if ctx.body_done and ctx.response_state is not ResponseState.SWITCHED:
            ahead = self._trailing_size()
            ctx.log.bytes_received -= ahead
            self.bytes_in = ahead

    def _unanswered(self, ctx: ExchangeContext, reason: str) -> None:
        """Journal the requests that were read behind ``ctx`` (pipelined) but will never be
        served, the connection ending: each with its own bytes, what of its body came, and
        why it was not answered. None is matched or recorded as a problem."""
        if not ctx.body_done or ctx.response_state is ResponseState.SWITCHED:
            return  # what h11 holds is this request's own body, or another protocol
        reader = self._new_h11()
        reader.receive_data(self.h11_conn.trailing_data[0])
        now = self.clock()
        while reader.trailing_data[0]:
            before = len(reader.trailing_data[0])
            try:
                event = reader.next_event()
            except h11.RemoteProtocolError:
                return  # not a request: nothing to journal as one
            if not isinstance(event, h11.Request):
                log = self._partial_head(reader.trailing_data[0], now)
                log.event(now, "closed", "in", f"not answered: {reason}")
                log.ended = now
                return
            log = self._log_request(event, now)
            try:
                while isinstance(data := reader.next_event(), h11.Data):
                    log.append_body(bytes(data.data))
            except h11.RemoteProtocolError:
                data = h11.NEED_DATA
            log.body_complete = isinstance(data, h11.EndOfMessage)
            log.bytes_received = before - len(reader.trailing_data[0])
            if log.body:
                state = "complete" if log.body_complete else "incomplete"
                log.event(now, "body", "in", f"{len(log.body)} body bytes ({state})")
            log.event(now, "closed", "in", f"not answered: {reason}")
            log.ended = now
            try:
                # Past this request to the next: its answer is never written.
                reader.send(h11.Response(status_code=204, headers=[]))
                reader.send(h11.EndOfMessage())
                reader.start_next_cycle()
            except h11.ProtocolError:
                return  # an incomplete body, or a request that closes the connection

    def _request_start(self) -> Program[h11.Event | type[h11.PAUSED] | None]:
        """The first event of the next request, or None when a head cut fired instead.

        A cut is chosen when the request's first bytes arrive, so it also reaches a
        connection that was already waiting. While one is pending the socket is asked for no
        more than the cut's size; bytes of a first read past the cut are never looked at.
        """
        plan = self.state.head_cuts
        fresh = self.requests == 0
        limits = self.state.config.limits
        held = b"" if self._h11 is None else self._h11.trailing_data[0]
        if held:
            # The next request was read with the previous one (pipelined): too late to cut.
            self._start_head_timeout(self.clock())
            return (yield from self._request_event(held, held=True))
        pending = plan.next_cut(fresh_connection=fresh)
        if pending is not None and pending.at == 0 and plan.claim(pending):
            yield from self._fire_head_cut(pending, b"", self.clock())
            return None
        size = _READ_SIZE if pending is None else min(pending.at, _READ_SIZE)
        if fresh:
            # A fresh connection's first head is timed from the start, as Node's
            # headersTimeout is: a connection that never sends anything is held no longer.
            self._start_head_timeout(self.clock())
            data = yield self._receive(size)
            if data and pending is None and self.state.config.http2 is not None:
                data = yield from self._sniff_preface(data)
        else:
            data = yield Receive(size, limits.keep_alive_timeout)
        if data is None:
            raise _Silence(idle=not fresh)
        started = self.clock()
        if not fresh:
            self._start_head_timeout(started)
        cut = plan.next_cut(fresh_connection=fresh) if data else None
        if cut is None or not plan.claim(cut):
            # h11 held nothing before these bytes (see above): the head starts with them.
            return (yield from self._request_event(data, held=False))
        head = bytearray()
        rest = b""
        while True:
            data, rest = data[: cut.at - len(head)], data[cut.at - len(head) :]
            head += data
            self._take(data)
            if not data:
                plan.release(cut)  # the client gave up before the cut
                return (yield from self.next_event())
            try:
                event = self.h11_conn.next_event()
            except h11.RemoteProtocolError:
                plan.release(cut)  # a malformed head: answered as such, not cut
                raise
            if event is not h11.NEED_DATA:
                plan.release(cut)
                self.state.record(
                    "scenario-error",
                    f"{cut.describe()} did not fire: the request head ended after "
                    f"{len(head)} bytes or fewer",
                )
                self._take(rest)
                return event  # type: ignore[return-value]
            if len(head) >= cut.at:
                yield from self._fire_head_cut(cut, bytes(head), started)
                return None
            data = yield self._receive(cut.at - len(head))
            if data is None:
                plan.release(cut)
                raise _Silence(idle=False)

    def _sniff_preface(self, data: bytes) -> Program[bytes]:
        """Read on while the first bytes could be the HTTP/2 client preface (prior
        knowledge, RFC 9113 §3.3); the preface whole turns the connection to HTTP/2."""
        while len(data) < len(PREFACE) and PREFACE.startswith(data):
            more = yield self._receive(_READ_SIZE)
            if not more:
                break
            data += more
        if data.startswith(PREFACE):
            raise _PriorKnowledge(data)
        return data

    def _start_head_timeout(self, now: float) -> None:
        timeout = self.state.config.limits.head_timeout
        self._head_started = now
        self._head_deadline = None if timeout is None else now + timeout

    def _take(self, data: bytes) -> None:
        """Hand bytes read at the start of a request to h11."""
        if not data:
            self.eof = True
        self.bytes_in += len(data)
        self._feed(data)

    def _fire_head_cut(self, cut: HeadCut, head: bytes, started: float) -> Program[None]:
        """Journal the partial request and end the connection as the cut says."""
        log = self._partial_head(head, started)
        self.bytes_in = 0
        detail = f"{cut.how} after {len(head)} bytes of the request head"
        try:
            yield from fire(log, cut.spec, now=self.clock(), side="request", detail=detail)
        finally:
            log.ended = self.clock()

    def handshake_failed(
        self,
        started: float,
        read: int,
        written: int,
        fired: HandshakeFault | None,
        reason: str | None,
    ) -> Program[None]:
        """Journal a TLS handshake that ended without a session, and end the connection: a
        scripted fault fires (``fired``), or the client refused or broke it (``reason``: its
        alert, say ``tlsv1 alert unknown ca`` for a certificate it does not trust)."""
        log = self.state.new_exchange(
            connection=self.id,
            started=started,
            method="",
            target="",
            http_version="",
            headers=Headers(),
        )
        log.bytes_received = read
        log.bytes_sent = written
        log.event(started, "tls", "in", f"TLS handshake: {read} bytes read, {written} written")
        try:
            if fired is None:
                log.event(self.clock(), "error", "in", f"TLS handshake failed: {reason}")
                yield Close("close")
                return
            if fired.kind == "alert":
                alert = alert_record(fired.alert)
                log.bytes_sent += len(alert)
                yield Send(alert)
            yield from fire(
                log,
                fired.spec,
                now=self.clock(),
                side="handshake",
                detail=f"TLS {fired.describe()}",
                wire_bytes=log.bytes_sent,
                received=read,
            )
        finally:
            log.ended = self.clock()

    def _abandoned_head(self) -> None:
        """Journal a request head the client closed the connection in the middle of: the
        bytes that came are counted and shown, as for a head cut (nothing is answered)."""
        head = self.h11_conn.trailing_data[0]
        if not head:
            return
        now = self.clock()
        log = self._partial_head(head, now)
        log.event(now, "closed", "in", "client closed the connection inside the request head")
        log.ended = now

    def _partial_head(self, head: bytes, now: float) -> ExchangeLog:
        """A journal entry for the part of a request head that came."""
        method, target, version = _partial_request_line(head)
        log = self.state.new_exchange(
            connection=self.id,
            started=now,
            method=method,
            target=target,
            http_version=version,
            headers=Headers(),
        )
        log.bytes_received = len(head)
        more = "..." if len(head) > 60 else ""
        log.event(now, "request", "in", f"{len(head)} bytes of a request head {head[:60]!r}{more}")
        return log

    def _timed_out(self, idle: bool) -> Program[None]:
        """End a connection the client left silent: idle between requests for
        ``keep_alive_timeout`` (a plain FIN, journaled on its last exchange), or inside a
        request head past ``head_timeout`` (a 408, and the partial head journaled and recorded
        as a ``limit`` problem). A fresh connection that never sent a byte is closed quietly:
        there is nothing to answer or to journal."""
        limits = self.state.config.limits
        now = self.clock()
        head = self.h11_conn.trailing_data[0]
        if idle or not head:
            if idle and self._last is not None:
                self._last.event(
                    now,
                    "closed",
                    "out",
                    f"idle for {limits.keep_alive_timeout:g} s: server closed the connection "
                    "(keep_alive_timeout)",
                )
            yield Close("close")
            return
        log = self._partial_head(head, self._head_started)
        message = (
            f"request head not complete after {limits.head_timeout:g} s "
            f"(head_timeout={limits.head_timeout:g})"
        )
        log.event(now, "error", "in", message)
        self.state.record("limit", message, log.index)
        yield from self._refuse(log, 408, f"mockprogress: {message}\n")
        yield Close("close")

    def _log_request(
        self, request: h11.Request, now: float, head: SimpleHead | None = None
    ) -> ExchangeLog:
        """A journal entry for a request whose head came whole (``head``: what
        ``simple_head`` read of it, if it did)."""
        if head is None:
            line = request_line(request)
            headers = Headers.from_raw(request.headers.raw_items())
        else:
            line, headers = head.line, head.headers
        log = self.state.new_exchange(
            connection=self.id,
            started=now,
            method=line.method,
            target=line.target,
            http_version=line.version,
            headers=headers,
        )
        log.tls = self.tls
        log.event(log.started, "request", "in", line.text, headers=headers)
        return log

    def _begin(self, request: h11.Request, head_size: int) -> ExchangeContext:
        head, self._head = self._head, None
        log = self._log_request(request, self.clock(), head)
        log.bytes_received = self.bytes_in
        self.bytes_in = 0
        framing = None if head is None else head.framing
        ctx = ExchangeContext(self, log, request, head_size, framing)
        if not ctx.has_body and not ctx.plain:
            # h11 holds a request without a body in SEND_BODY until its EndOfMessage has been
            # read; it needs no bytes. A protocol switch needs it read (h11 only then sees the
            # client as able to switch). For a plain request it is read in ``run`` only when h11
            # is to carry the next request: its final response usually goes past h11, after
            # which a fresh h11 connection takes over and the old one is never asked again.
            self.h11_conn.next_event()
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
        yield from self._refuse(log, status, f"malformed request: {exc}\n")

    def _refuse(self, log: ExchangeLog, status: int, text: str) -> Program[None]:
        """Answer a request that never came whole with a plain ``Connection: close`` error,
        and journal it."""
        try:
            yield from self._answer_refusal(log, status, text)
        finally:
            log.ended = self.clock()  # also when the client is gone under the answer

    def _answer_refusal(self, log: ExchangeLog, status: int, text: str) -> Program[None]:
        if self.h11_conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            step = plain_response(status, text)
            body = step.content
            head = self.h11_conn.send(
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
            data = (head or b"") + (self.h11_conn.send(h11.Data(data=body)) or b"")
            data += self.h11_conn.send(h11.EndOfMessage()) or b""
            yield Send(data)
            log.bytes_sent += len(data)
            at = log.event(
                self.clock(), "response", "out", f"{status} {step.reason}", status=status
            )
            log.response = ResponseRecord(status, step.reason, Headers(), at, len(body), True)


class _PriorKnowledge(Exception):
    """The client opened with the HTTP/2 preface: ``data`` is what it sent so far."""

    def __init__(self, data: bytes) -> None:
        super().__init__("HTTP/2 preface")
        self.data = data


class _Silence(Exception):
    """The client sent nothing for as long as the server waits: ``idle`` between requests
    (``keep_alive_timeout``), else inside a request head (``head_timeout``)."""

    def __init__(self, *, idle: bool) -> None:
        super().__init__("idle" if idle else "head")
        self.idle = idle


def _partial_request_line(head: bytes) -> tuple[str, str, str]:
    """Method, target and version of a request line, if it arrived whole; else empty."""
    line, found, _ = head.partition(b"\r\n")
    parts = line.split(b" ")
    if not found or len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
        return "", "", ""
    method, target, version = (p.decode("latin-1") for p in parts)
    return method, target, version.removeprefix("HTTP/")
