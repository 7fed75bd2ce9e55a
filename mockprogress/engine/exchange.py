"""One request being answered: the steps of a script carried out over h11, as programs.

Strategy. Every method that touches the wire is a generator (a *program*, see ``_actions``):
it yields ``Send``/``Receive``/``Sleep``/... and the I/O layer carries them out. The context
keeps the facts the rules depend on:

- RFC 9110 §15.2: "A server MUST NOT send a 1xx response to an HTTP/1.0 client." h11 would
  send one anyway, so interims to HTTP/1.0 clients are skipped here and journaled as skipped.
- ``Expect: 100-continue`` (RFC 9110 §10.1.1): by default the 100 goes out when the body is
  first read, unless a 100 went out already; an expectation's policy (``_continue``) can send
  it earlier, later or never (``lazy_continue``). Every 100 that answers the expectation notes
  how many body bytes had reached the server before it (``body_before_continue``). h11
  forgets that the client waits as soon as *any* 1xx is sent, so we track it ourselves. A
  final response sent while the client still waits means the body will never come: the
  response carries ``Connection: close``.
- A final response sent before the whole body was read closes the connection afterwards
  (unless the script drains the body after it), so a cut at ``read_body(upto=N)`` leaves
  exactly N body bytes in the journal.
- Byte offsets are exact: every byte written for the exchange is counted (``wire_out``), and
  a cut writes exactly the bytes before its offset, then closes, resets or stalls
  (``engine.faults.fire`` journals and carries out every fault).

State. The exchange's state is three enums (``BodyState``, ``ResponseState``, ``WireState``),
written only here; others read them through properties. ``keeps_alive()`` is the one place
that decides whether the connection may carry another request. Resources, handlers, the
continue policy and the WebSocket switch see the exchange through ``ExchangeSurface``
(``engine.surface``), which this class is the HTTP/1.1-over-h11 implementation of.
"""

from __future__ import annotations

import enum
from dataclasses import replace
from typing import TYPE_CHECKING

import h11

from ..http.headers import Headers
from ..script.faults import DropHow, FaultHow, FaultSpec
from ..script.steps import (
    Cut,
    Drop,
    GoAway,
    Interim,
    Pause,
    Raw,
    ReadBody,
    Respond,
    Script,
    Stall,
    Step,
)
from .actions import Close, PeerGone, PendingInput, Program, Send, Sleep
from .exchange_common import BodyTooLarge, CommonExchange
from .exchange_common import plain_response as plain_response
from .faults import Side, fire
from .journal import ExchangeLog, InterimRecord, JournalMark, ResponseRecord
from .request_head import RequestFraming, request_framing
from .wire import (
    STREAM_PIECE,
    BodySource,
    FetchedSource,
    ResponseHead,
    Segment,
    UnsizedSource,
    content_within,
    cut_offset,
    piece_bounds,
    read_segments,
    response_head,
    response_segments,
)

if TYPE_CHECKING:
    from .connection import ServerConnection
    from .surface import ExchangeSurface

_READ_SIZE = 262144


class BodyState(enum.Enum):
    """How far the request body has been read."""

    #: Nothing read yet, and no read placed.
    UNREAD = "unread"
    #: A read was placed (``read_body(upto=0)`` too); more of the body may come.
    READING = "reading"
    #: Every byte read; a request without a body starts here.
    COMPLETE = "complete"


class ResponseState(enum.Enum):
    """How far the final response has gone out."""

    #: No final response yet: interims may still go out.
    NONE = "none"
    #: The final response is being written (it may be dripped or cut).
    STARTED = "started"
    #: The final response went out, as far as its cut let it.
    SENT = "sent"
    #: ``101 Switching Protocols`` went out: the connection speaks another protocol now.
    SWITCHED = "switched"


class WireState(enum.Enum):
    """What the connection carries for this exchange."""

    #: HTTP, framed as the protocol (h11) frames it.
    HTTP = "http"
    #: Raw bytes went out: the client's view is no longer HTTP; the connection ends after.
    RAW = "raw"
    #: The exchange ended the connection (a fault, a limit, a malformed body).
    CLOSED = "closed"


class ExchangeContext(CommonExchange):
    """The state of one exchange and the programs that move it forward (HTTP/1.1 over h11:
    the first implementation of ``ExchangeSurface``)."""

    def __init__(
        self,
        conn: ServerConnection,
        log: ExchangeLog,
        request: h11.Request,
        head_size: int,
        framing: RequestFraming | None = None,
    ) -> None:
        """``framing``: the request's, if worked out already (with a remembered head)."""
        super().__init__(conn, log)
        self._conn = conn
        self._request = request
        self._is_http10 = request.http_version == b"1.0"
        if framing is None:
            framing = request_framing(request, self._headers)
        self._expects_continue = framing.expects_continue
        self._declared_length = framing.declared_length
        # The size of the request head as sent, padding and folded lines included (h11
        # enforces its limit only on heads that arrive in several reads, so the server checks
        # whole heads against it too).
        self._head_size = head_size
        self._body = BodyState.UNREAD if self._declared_length != 0 else BodyState.COMPLETE
        log.body_complete = self._body is BodyState.COMPLETE
        self._response = ResponseState.NONE
        self._wire = WireState.HTTP
        self._continue_sent = False
        #: Every byte written for the exchange (a wire cut counts from here).
        self._wire_out = 0
        self._pending = b""
        #: Bytes of a Content-Length body still to read past h11 (None: h11 reads the body).
        self._unframed_left: int | None = None
        #: h11 writes a final response to this request as to a plain GET (``plain_exchange``).
        self._plain = framing.plain
        #: The final response was written past h11 (``respond``), which says nothing of it.
        self._sent_past_h11 = False
        #: For such a response: the connection stays open after it.
        self._keeps_alive_after = False

    # ---- facts ----------------------------------------------------------------------------

    @property
    def conn(self) -> ServerConnection:
        """The connection (engine use only: resources and handlers see ``ExchangeSurface``)."""
        return self._conn

    @property
    def request(self) -> h11.Request:
        return self._request

    @property
    def plain(self) -> bool:
        """h11 would write a final response to this request as it answers a plain GET
        (``wire.plain_exchange``): the response may go past h11, and no protocol switch."""
        return self._plain

    @property
    def is_http10(self) -> bool:
        """An HTTP/1.0 client: it gets no interim responses (RFC 9110 §15.2)."""
        return self._is_http10

    @property
    def declared_length(self) -> int | None:
        """The request's Content-Length (0 without a body), or None for a chunked body."""
        return self._declared_length

    @property
    def has_body(self) -> bool:
        return self._declared_length != 0

    @property
    def head_size(self) -> int:
        """The size of the request head as sent."""
        return self._head_size

    @property
    def body_state(self) -> BodyState:
        return self._body

    @property
    def response_state(self) -> ResponseState:
        return self._response

    @property
    def wire_state(self) -> WireState:
        return self._wire

    @property
    def body_started(self) -> bool:
        """A body read was placed (or there is no body to read)."""
        return self._body is not BodyState.UNREAD

    @property
    def body_done(self) -> bool:
        """Every byte of the body has been read."""
        return self._body is BodyState.COMPLETE

    @property
    def final_started(self) -> bool:
        """The final response (or a protocol switch) has begun to go out."""
        return self._response is not ResponseState.NONE

    @property
    def final_sent(self) -> bool:
        return self._response in (ResponseState.SENT, ResponseState.SWITCHED)

    @property
    def raw_mode(self) -> bool:
        return self._wire is WireState.RAW

    @property
    def closed(self) -> bool:
        """The exchange ended the connection."""
        return self._wire is WireState.CLOSED

    @property
    def wire_out(self) -> int:
        """Every byte written for the exchange so far."""
        return self._wire_out

    @property
    def bypassed_h11(self) -> bool:
        """Part of the exchange went past h11 (the rest of a Content-Length body, or the final
        response), so h11 lags behind it: the next request needs a fresh h11 connection."""
        return self._unframed_left is not None or self._sent_past_h11

    @property
    def waiting_for_continue(self) -> bool:
        """The client sent ``Expect: 100-continue`` and has had no reason to send the body."""
        return (
            self._expects_continue
            and not self._continue_sent
            and not self.final_started
            and not self.body_done
            and len(self._log.body) == 0
            and not self._pending
        )

    def keeps_alive(self) -> bool:
        """Whether the connection may carry another request once this exchange is over: the
        one place that decides it. Both sides must be done with the exchange, as h11 sees
        them or, for what went past h11, as the exchange knows it."""
        if self._wire is not WireState.HTTP:
            return False  # closed by the exchange, or raw bytes the client cannot frame
        # Read without bringing h11 up to date (ServerConnection.our_state, .their_state).
        conn = self._conn
        if self._sent_past_h11:
            ours_done = self.final_sent and self._keeps_alive_after
        else:
            ours_done = conn.our_state is h11.DONE
        theirs = conn.their_state
        body_done = self._body is BodyState.COMPLETE
        theirs_done = (
            theirs is h11.DONE
            # The rest of a Content-Length body was read past h11; all of it.
            or (self._unframed_left is not None and body_done)
            # A request without a body whose EndOfMessage nobody read: h11 hands it out
            # without further bytes (ServerConnection.run reads it).
            or (theirs is h11.SEND_BODY and body_done and self._declared_length == 0)
        )
        return ours_done and theirs_done

    # ---- seeing responses before they go out ----------------------------------------------

    # ---- writing ---------------------------------------------------------------------------

    def _send(
        self, data: bytes, journaled: JournalMark | None = None, what: str = ""
    ) -> Program[None]:
        """Write ``data``. What the journal says of it was written first, from ``journaled``
        on (a test that reads the journal once its client has the bytes must find them): if
        the client is gone and the bytes were not written, that is taken back, so the journal
        holds only what was written, and says what was not (``what``)."""
        if data:
            try:
                yield Send(data)
            except PeerGone:
                if journaled is not None:
                    self._log.take_back(journaled)
                    self._log.event(
                        self.now,
                        "closed",
                        "in",
                        f"client closed the connection: {what} not written ({len(data)} bytes)",
                    )
                raise
            self._wire_out += len(data)
            self._log.bytes_sent += len(data)

    def _h11_send(self, event: h11.Event) -> bytes:
        data = self._conn.h11_conn.send(event)
        return data or b""

    def run(self, step: Step) -> Program[None]:
        """Carry out one step."""
        if self.closed:
            return
        if isinstance(step, GoAway):
            self.problem("scenario-error", "mp.goaway() is an HTTP/2 step; this is HTTP/1.x")
            return
        yield from carry_out(self, step)

    def send_interim(self, step: Interim) -> Program[None]:
        if self.closed:
            return
        if self.final_started or self.raw_mode:
            self.problem("scenario-error", f"interim {step.status} after the final response")
            return
        headers = Headers(step.headers)
        label = f"{step.status} {step.reason}"
        if not self._progress_in_order(step.status, step.headers, f"interim {label}"):
            return
        if self._is_http10:
            at = self._log.event(
                self.now,
                "interim-skipped",
                "",
                f"{label} not sent: HTTP/1.0 client (RFC 9110 §15.2)",
                status=step.status,
                headers=headers,
            )
            self.log.add_interim(InterimRecord(step.status, step.reason, headers, at, True))
            return
        try:
            data = self._h11_send(
                h11.InformationalResponse(
                    status_code=step.status, headers=headers.raw(), reason=step.reason.encode()
                )
            )
        except h11.LocalProtocolError as exc:
            self.problem("scenario-error", f"cannot send interim {step.status}: {exc}")
            return
        if step.status == 100 and self._expects_continue and not self._continue_sent:
            arrived = yield from self._body_arrived()
            self.log.body_before_continue = arrived
            note = f"{arrived} body bytes had arrived when the 100 went out"
            self.log.event(self.now, "continue", "", note)
        # Journaled as the bytes are handed to the socket: once the client has them, a test
        # reading the journal must find them there.
        mark = self.log.mark()
        at = self.log.event(self.now, "interim", "out", label, status=step.status, headers=headers)
        self.log.add_interim(InterimRecord(step.status, step.reason, headers, at))
        if step.status == 100:
            self._continue_sent = True
        yield from self._send(data, mark, label)

    def _body_arrived(self) -> Program[int]:
        """Body bytes that have reached the server so far, read or not: in the journal, held
        back by a cut, in h11's buffer, and still in the socket (a chunked body counts its
        framing)."""
        buffered = len(self._conn.h11_conn.trailing_data[0])
        unread: int = yield PendingInput()
        arrived = len(self.log.body) + len(self._pending) + buffered + unread
        if self._declared_length is not None:
            arrived = min(arrived, self._declared_length)
        return arrived

    def write_raw(self, data: bytes, *, journal: bool = True) -> Program[None]:
        """Write ``data`` as it is, outside the protocol's framing; the client's view of the
        exchange is no longer HTTP, so the connection ends after it. ``journal=False`` for
        bytes the caller journals its own way (WebSocket frames)."""
        if self._wire is WireState.HTTP:
            self._wire = WireState.RAW
        yield from self._send(data)
        if not journal:
            return
        preview = data[:40]
        more = "..." if len(data) > 40 else ""
        self.log.event(self.now, "raw", "out", f"raw {len(data)} bytes {preview!r}{more}")

    # ---- reading ---------------------------------------------------------------------------

    def read_body(self, upto: int | None = None) -> Program[None]:
        """Read the body, or exactly ``upto`` bytes of it, sending the lazy 100 first (as the
        expectation's ``expect_continue`` policy says)."""
        # Even upto=0 places the read: a response that follows must not read the body.
        self._start_reading()
        while not self.closed and not self.body_done:
            room = None if upto is None else upto - len(self.log.body)
            if room is not None and room <= 0 and len(self.log.body) != self._declared_length:
                self.log.event(
                    self.now,
                    "body",
                    "in",
                    f"{len(self.log.body)} body bytes (stopped at read_body(upto={upto}))",
                )
                return
            chunk = yield from self.read_body_chunk(room)
            if not chunk and not self.body_done:
                return  # answered before the body, or the connection ended

    def read_body_chunk(self, max_bytes: int | None = None) -> Program[bytes]:
        """Read the next piece of the body (at most ``max_bytes``), keep it in the journal and
        return it; ``b""`` once the body is complete. Upload resources store what this returns,
        so every byte read lands both in the journal and in their store."""
        if self.closed or self.body_done:
            return b""
        if self.final_started and self._expects_continue and not self._continue_sent:
            return b""  # answered before the body: the client will not send it
        if self.waiting_for_continue and self._lazy_continue is not None:
            yield from self.send_interim(self._lazy_continue)
        self._start_reading()
        try:
            return (yield from self._next_chunk(max_bytes))
        except BodyTooLarge:
            limit = self.max_body_size
            self.problem("limit", f"request body exceeds max_body_size={limit}")
            if not self.final_started:
                yield from self.respond(
                    plain_response(413, f"request body exceeds {limit} bytes\n"), read_first=False
                )
            yield from self.close("close")
            return b""
        except h11.RemoteProtocolError as exc:
            if self._conn.eof:
                self.log.event(
                    self.now,
                    "closed",
                    "in",
                    f"client closed the connection after {len(self.log.body)} body bytes",
                )
                raise PeerGone("client closed mid-body") from None
            self.problem("malformed-request", f"malformed request body: {exc}")
            if not self.final_started:
                yield from self.respond(
                    plain_response(exc.error_status_hint, f"malformed request body: {exc}\n"),
                    read_first=False,
                )
            yield from self.close("close")
            return b""

    def _start_reading(self) -> None:
        if self._body is BodyState.UNREAD:
            self._body = BodyState.READING

    def _next_chunk(self, room: int | None) -> Program[bytes]:
        limit = self.max_body_size
        while not self.body_done:
            if self._pending:
                chunk = self._pending if room is None else self._pending[:room]
                self._pending = self._pending[len(chunk) :]
                self._store(chunk, limit)
                return chunk
            if self._unframed_left is not None:
                # The rest of a Content-Length body, straight from the socket (see below).
                if not self._unframed_left:
                    self._body_complete()
                    continue
                hint = min(self._receive_hint(room), self._unframed_left)
                data = yield from self._conn.receive_raw(hint)
                if not data:
                    raise h11.RemoteProtocolError("peer closed the connection mid-body")
                self._unframed_left -= len(data)
            else:
                event = self._conn.h11_conn.next_event()
                if event is h11.NEED_DATA and self._declared_length is not None:
                    # h11 has handed out every body byte it holds. The rest of a
                    # Content-Length body is that many bytes, nothing to parse: read them
                    # past h11, which would copy each byte three times on the way (its
                    # buffer, two slices). Asked for no more than what is left, the socket
                    # never gives a byte of the next request; the connection takes a fresh
                    # h11 connection for that one (ServerConnection.run).
                    self._unframed_left = self._declared_length - len(self.log.body)
                    continue
                if event is h11.NEED_DATA:
                    event = yield from self._conn.next_event(self._receive_hint(room))
                if isinstance(event, h11.EndOfMessage):
                    self._body_complete()
                    continue
                if not isinstance(event, h11.Data):
                    raise h11.RemoteProtocolError(f"unexpected {type(event).__name__} in a body")
                data = bytes(event.data)
            if room is not None and len(data) > room:
                self._pending = data[room:]
                data = data[:room]
            if data:
                self._store(data, limit)
                return data
        return b""

    def _body_complete(self) -> None:
        self._body = BodyState.COMPLETE
        self.log.body_complete = True
        size = len(self.log.body)
        self.log.event(self.now, "body", "in", f"{size} body bytes (complete)")

    def _receive_hint(self, room: int | None) -> int:
        # With Content-Length framing, h11 hands out every buffered body byte before asking for
        # more, so asking the socket for exactly `room` bytes never reads past a cut.
        if room is not None and self._declared_length is not None:
            return max(1, min(room, _READ_SIZE))
        return _READ_SIZE

    # ---- the final response ----------------------------------------------------------------

    def respond(
        self,
        step: Respond,
        *,
        read_first: bool,
        drains_after: bool = False,
        head_length: int | None = None,
        stream: BodySource | None = None,
    ) -> Program[None]:
        """Send the final response, applying its cut and drip. ``head_length`` is the
        Content-Length a response to HEAD declares for the body it stands for. ``stream`` is
        a body read piece by piece as it is sent (``step`` has none of its own); a cut counts
        its bytes as it counts any body's."""
        to_send = yield from self._final_to_send(step, read_first, stream)
        if to_send is None:
            return
        step = to_send
        method = self._log.method
        close_after = self._body is not BodyState.COMPLETE and (
            self.waiting_for_continue or not drains_after
        )
        bodiless = method == "HEAD" or step.status in (204, 304)
        if step.trailers and not step.chunked:
            self.problem(
                "scenario-error",
                f"the {step.status} response's trailers were not sent: over HTTP/1.1 they need "
                "a chunked body (chunked=True)",
            )
        at_once = False
        try:
            head = response_head(
                step,
                close_after=close_after,
                head_length=head_length,
                method=method,
                body_length=None if stream is None else len(stream),
            )
            if (
                self._conn.state.config.responses_past_h11
                and self._plain
                and not bodiless
                and not step.chunked
                and self._conn.our_state is h11.SEND_RESPONSE
            ):
                # What h11 would write, written past it: the head as h11 rendered it for the
                # same exchange state (ResponseHead.wire), then the body as it is (Content-Length
                # framing adds nothing). h11's bookkeeping of our side (three events through its
                # state machine, most of a small response's cost) is skipped; the connection
                # takes a fresh h11 connection for its next request (ServerConnection.run).
                self._sent_past_h11 = True
                self._keeps_alive_after = head.keeps_alive
                # One write, no cut, drip or stream: no segments needed (_respond_at_once).
                at_once = step.fault is None and step.pacing is None and stream is None
                segments = [] if at_once else [Segment(head.wire, False)]
                if step.content and not at_once:
                    segments.append(Segment(step.content, True))
            elif stream is not None and not bodiless:
                segments = [Segment(self._h11_send(head.event), False)]
            else:
                segments = response_segments(self._h11_send, step, head, bodiless=bodiless)
            if stream is not None and not bodiless:
                # Content-Length framing adds nothing to the body: it goes after the head as it
                # is read. h11 (when the response goes through it) counts it as it goes.
                segments.append(Segment(b"", True, stream))
        except h11.LocalProtocolError as exc:
            self.problem("scenario-error", f"cannot send {step.status}: {exc}")
            return
        self._response = ResponseState.STARTED
        if at_once:
            yield from self._respond_at_once(step, head)
            return
        head_length = len(segments[0].data)
        total = sum(s.size for s in segments)
        limit = total
        if step.fault is not None:
            limit = cut_offset(segments, step.fault, self._wire_out)
            if limit < 0 or limit > total:
                self.problem(
                    "scenario-error",
                    f"cut at wire byte {step.fault.at} is outside this response (the exchange "
                    f"wrote bytes {self._wire_out}..{self._wire_out + total})",
                )
                limit = max(0, min(limit, total))
        # Each piece is journaled as it is handed to the socket, before the client can have it:
        # a test that reads the journal after its client got the response finds it there.
        streamed = stream is not None and not bodiless
        pieces = list(
            piece_bounds(limit, head_length, step.pacing, STREAM_PIECE if streamed else None)
        )
        fetched = stream if streamed and isinstance(stream, FetchedSource) else None
        complete = step.fault is None
        body_sent = content_within(segments, limit)
        head_at: float | None = None
        sent_headers = head.fields
        sent = 0
        for i, (start, end) in enumerate(pieces):
            if i and step.pacing is not None and step.pacing.interval:
                # The I/O layer keeps consecutive sleeps on one timeline (no drift).
                yield Sleep(step.pacing.interval)
            if fetched is not None:
                yield from fetched.fetch(max(0, end - head_length))  # a proxied body arriving
            mark = self.log.mark()
            piece = read_segments(segments, start, end)
            # A streamed body that shrank under the response, or a proxied one whose upstream
            # ended early: the client gets what there is (of a proxied body), then a reset.
            short = len(piece) != end - start
            if short and fetched is None:
                self.problem("scenario-error", f"the {step.status} response's body ended early")
                yield from self.close("reset")
                return
            if streamed and not self._sent_past_h11:
                self._h11_send(h11.Data(data=piece[max(head_length - start, 0) :]))
            sent += len(piece)
            if head_at is None and sent >= head_length:
                head_at = self.log.event(
                    self.now,
                    "response",
                    "out",
                    f"{step.status} {step.reason}",
                    status=step.status,
                    headers=sent_headers,
                )
            last = i == len(pieces) - 1
            self.log.response = ResponseRecord(
                step.status,
                step.reason,
                sent_headers,
                self.now - self.log.started if head_at is None else head_at,
                content_within(segments, sent),
                complete and last and not short,
            )
            if short:
                done = content_within(segments, sent)
                self.log.event(self.now, "body-sent", "out", f"{done} body bytes (source ended)")
                yield from self._send(piece, mark, f"{step.status} {step.reason}")
                yield from self.close("reset")
                return
            if last and head_at is not None and (body_sent or not complete):
                state = "complete" if complete else "cut"
                self.log.event(self.now, "body-sent", "out", f"{body_sent} body bytes ({state})")
            yield from self._send(piece, mark, f"{step.status} {step.reason}")
        if not pieces:  # a cut at wire byte 0 of the response: nothing of it went out
            self.log.response = ResponseRecord(
                step.status, step.reason, sent_headers, self.now - self.log.started, 0, False
            )
        self._response = ResponseState.SENT
        if step.trailers and step.chunked and step.fault is None and not bodiless:
            trailers = Headers(step.trailers)
            self.log.event(self.now, "trailers", "out", "trailers", headers=trailers)
        if streamed and not self._sent_past_h11 and step.fault is None:
            self._h11_send(h11.EndOfMessage())  # Content-Length framing: writes nothing
        if step.fault is not None:
            # What a split_record reset sends part of: of a streamed body, one record's worth.
            rest = read_segments(
                segments, limit, min(limit + (1 << 14), total) if streamed else total
            )
            yield from self._fire(step.fault, body_sent, rest)

    def _respond_at_once(self, step: Respond, head: ResponseHead) -> Program[None]:
        """``respond``'s loop for a response written whole in one write (past h11, no cut,
        drip or stream): the same journal, in the same order, read from the same clock."""
        what = f"{step.status} {step.reason}"
        content = step.content
        body_sent = len(content)
        fields = head.fields
        mark = self._log.mark()
        piece = head.wire + content if body_sent else head.wire
        now = self._carrier.clock()  # head and body go out in the same write
        head_at = self._log.event(now, "response", "out", what, status=step.status, headers=fields)
        self._log.response = ResponseRecord(
            step.status, step.reason, fields, head_at, body_sent, True
        )
        if body_sent:
            self._log.event(now, "body-sent", "out", f"{body_sent} body bytes (complete)")
        yield from self._send(piece, mark, what)
        self._response = ResponseState.SENT

    def respond_unsized(self, step: Respond, source: UnsizedSource) -> Program[None]:
        """Send the final response with a body whose length is known only at its end (a
        proxied chunked or close-delimited body): chunked to an HTTP/1.1 client, ended by the
        close to an HTTP/1.0 one, each piece written as it comes, never held whole. The
        response's cut and drip apply as to any body: a cut at body byte N writes exactly N
        body bytes (the size line of the chunk it falls in announces the whole chunk), a wire
        cut exactly N bytes of the exchange, a drip ``chunk`` bytes every ``interval``. A
        body that ends before its cut is cut at its end; one whose source fails is reset
        after what came."""
        to_send = yield from self._unsized_to_send(step)
        if to_send is None:
            return
        step = to_send
        try:
            head = response_head(
                step, close_after=not self.body_done, method=self.method, unsized=True
            )
            out = self._h11_send(head.event)
        except h11.LocalProtocolError as exc:
            self.problem("scenario-error", f"cannot send {step.status}: {exc}")
            return
        self._response = ResponseState.STARTED
        cut, pacing, what = step.fault, step.pacing, f"{step.status} {step.reason}"
        if cut is not None and cut.unit == "wire" and cut.at < self._wire_out:
            self.problem(
                "scenario-error",
                f"cut at wire byte {cut.at} is before this response (the exchange had written "
                f"{self._wire_out} bytes)",
            )
            cut = replace(cut, at=self._wire_out)
        head_length, content_at, data = len(out), len(out), b""
        body_sent, writes = 0, 0
        head_at: float | None = None
        while True:
            # Where this write must stop for the cut (None: it goes whole).
            stop: int | None = None
            if cut is not None and cut.unit == "body" and body_sent + len(data) >= cut.at:
                stop = content_at + cut.at - body_sent
            elif cut is not None and cut.unit == "wire" and self._wire_out + len(out) >= cut.at:
                stop = cut.at - self._wire_out
            for start, end in piece_bounds(len(out) if stop is None else stop, head_length, pacing):
                if writes and pacing is not None and pacing.interval:
                    yield Sleep(pacing.interval)
                writes += 1
                mark = self.log.mark()
                if head_at is None and end >= head_length:
                    head_at = self.log.event(
                        self.now, "response", "out", what, status=step.status, headers=head.fields
                    )
                within = body_sent + max(0, min(end, content_at + len(data)) - content_at)
                at = self.now - self.log.started if head_at is None else head_at
                self.log.response = ResponseRecord(
                    step.status, step.reason, head.fields, at, within
                )
                yield from self._send(out[start:end], mark, what)
            if stop is not None:
                assert cut is not None
                sent = body_sent + max(0, min(stop, content_at + len(data)) - content_at)
                self.log.event(self.now, "body-sent", "out", f"{sent} body bytes (cut)")
                self._response = ResponseState.SENT
                yield from self._fire(cut, sent, out[stop:])
                return
            body_sent += len(data)
            data = yield from source.next_piece(STREAM_PIECE)
            if not data:
                break
            out = self._h11_send(h11.Data(data=data))
            # h11 frames the piece as a chunk (size line, data, CRLF) or not at all.
            head_length = 0
            content_at = 0 if len(out) == len(data) else len(out) - len(data) - 2
        if source.ended_early:
            self.log.event(self.now, "body-sent", "out", f"{body_sent} body bytes (source ended)")
            yield from self.close("reset")
            return
        self._response = ResponseState.SENT
        last_chunk = self._h11_send(h11.EndOfMessage())  # b"" when the close ends the body
        if cut is not None:  # past the body: a wire cut in its last chunk, else at its end
            stop = (
                max(0, min(cut.at - self._wire_out, len(last_chunk))) if cut.unit == "wire" else 0
            )
            if cut.unit == "body" or cut.at > self._wire_out + len(last_chunk):
                self.problem(
                    "scenario-error",
                    f"cut at {cut.unit} byte {cut.at} but the {step.status} response ended "
                    f"after {body_sent} body bytes (wire byte {self._wire_out + len(last_chunk)}): "
                    "cut at its end",
                )
                stop = 0 if cut.unit == "body" else len(last_chunk)
            yield from self._send(last_chunk[:stop], self.log.mark(), what)
            self.log.event(self.now, "body-sent", "out", f"{body_sent} body bytes (cut)")
            yield from self._fire(cut, body_sent, last_chunk[stop:])
            return
        at = self.now - self.log.started if head_at is None else head_at
        self.log.response = ResponseRecord(
            step.status, step.reason, head.fields, at, body_sent, True
        )
        self.log.event(self.now, "body-sent", "out", f"{body_sent} body bytes (complete)")
        yield from self._send(last_chunk, self.log.mark(), what)

    # ---- faults ----------------------------------------------------------------------------

    def _fire(self, cut: Cut, body_sent: int, rest: bytes) -> Program[None]:
        detail = f"{cut.how} after {body_sent} body bytes (wire byte {self._wire_out})"
        yield from self.fault(
            cut.spec, side="response", body_bytes=body_sent, detail=detail, rest=rest
        )

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
        """Fire a fault now: ``close`` (FIN), ``reset`` (RST) or ``stall``, as ``how`` (a
        ``FaultSpec``; a bare how and ``seconds`` are the older spelling) says. ``side``,
        ``body_bytes`` and ``detail`` default to where the exchange stands; ``rest`` is what
        a ``split_record`` reset sends part of a TLS record of."""
        spec = how if isinstance(how, FaultSpec) else FaultSpec(how, seconds)
        if side is None:
            side = "request" if not self.final_started and not self.body_done else "response"
        if body_bytes is None:
            body_bytes = len(self._log.body) if side == "request" else 0
        if detail is None:
            unit = "body bytes read" if side == "request" else "body bytes sent"
            detail = f"{spec.how} after {body_bytes} {unit} (wire byte {self._wire_out})"
        self._wire = WireState.CLOSED
        yield from fire(
            self._log,
            spec,
            now=self.now,
            side=side,
            detail=detail,
            body_bytes=body_bytes,
            wire_bytes=self._wire_out,
            rest=rest,
        )

    def close(self, how: DropHow = "close") -> Program[None]:
        """End the connection now (no fault: the exchange is over)."""
        self._wire = WireState.CLOSED
        yield Close(how)

    # ---- switching protocols ---------------------------------------------------------------

    def switch_protocols(self, headers: Headers) -> Program[tuple[bytes, bool] | None]:
        """Send ``101 Switching Protocols`` with ``headers``. The result is what the client
        sent past the request (the new protocol's first bytes) and whether it closed after
        them; None when the switch cannot be made (recorded as a problem)."""
        switch = h11.InformationalResponse(
            status_code=101, headers=headers.raw(), reason=b"Switching Protocols"
        )
        try:
            data = self._h11_send(switch)
        except h11.LocalProtocolError as exc:
            self.problem("scenario-error", f"cannot switch protocols: {exc}")
            return None
        self._response = ResponseState.SWITCHED
        yield from self._send(data)
        label = "101 Switching Protocols"
        at = self._log.event(self.now, "response", "out", label, status=101, headers=headers)
        self._log.response = ResponseRecord(101, "Switching Protocols", headers, at, 0, True)
        trailing, closed = self._conn.h11_conn.trailing_data
        return bytes(trailing), closed

    def read_raw(self, max_bytes: int) -> Program[bytes]:
        """Bytes straight from the client (after a protocol switch); ``b""`` at its end."""
        data: bytes = yield from self._conn.receive_raw(max_bytes)
        return data

    # ---- ending ----------------------------------------------------------------------------

    def finish(self) -> Program[None]:
        """Make sure the client got an answer, and stamp the end of the exchange."""
        # No final response began, and the connection is neither closed nor raw.
        if self._response is ResponseState.NONE and self._wire is WireState.HTTP:
            self.problem("scenario-error", "the exchange ended without a final response")
            yield from self.respond(
                plain_response(500, "mockprogress: the script ended without a final response\n"),
                read_first=False,
            )
        self._log.ended = self._carrier.clock()


if TYPE_CHECKING:

    def _implements_the_surface(ctx: ExchangeContext) -> ExchangeSurface:
        return ctx  # mypy checks that ExchangeContext has everything the Protocol names


def carry_out(ctx: ExchangeSurface, step: Step) -> Program[None]:
    """Carry out one step with what every protocol's exchange has (``ExchangeSurface``)."""
    if isinstance(step, Interim):
        yield from ctx.send_interim(step)
    elif isinstance(step, Pause):
        yield from ctx.pause(step.seconds)
    elif isinstance(step, ReadBody):
        yield from ctx.read_body(step.upto)
    elif isinstance(step, Respond):
        yield from ctx.respond(step, read_first=not ctx.body_started)
    elif isinstance(step, Drop | Stall):
        yield from ctx.fault(step.spec)
    elif isinstance(step, Raw):
        yield from ctx.write_raw(step.data)
    else:
        run_extension = getattr(step, "run", None)
        if run_extension is None:
            ctx.problem("scenario-error", f"mockprogress cannot carry out {step!r}")
            return
        yield from run_extension(ctx)


def run_script(ctx: ExchangeSurface, script: Script) -> Program[None]:
    """Run a script's steps in order. Without an explicit ``read_body`` the whole body is read
    just before the final response."""
    read_first = not script.reads_explicitly
    for step, drains in zip(script.steps, script.drains_after, strict=True):
        if isinstance(step, Respond):
            yield from ctx.respond(step, read_first=read_first, drains_after=drains)
        else:
            yield from ctx.run(step)
        if ctx.closed:
            return
