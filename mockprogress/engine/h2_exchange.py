"""One request on an HTTP/2 stream: ``ExchangeSurface`` over h2, so every step, handler and
resource works per stream as it works over HTTP/1.1.

Strategy. The connection (``engine.h2_connection``) owns the ``h2.connection.H2Connection``
and hands each stream's news to its exchange: body bytes into ``_inbox``, the end of the
body, a reset by the client. The exchange's programs read that state and yield
``WaitStream`` when there is nothing to do yet (no body byte, no flow-control window to send
in). Whatever asks h2 for frames takes them (``data_to_send``) and yields them as one ``Send``
at once: HPACK's encoder state makes header blocks depend on every block before them, so
frames must reach the wire in the order h2 made them, and nothing may come between.

On the wire:

- an interim is an informational HEADERS frame on the stream (RFC 9113 §8.1), the final
  response a HEADERS frame and the body DATA frames, within the client's flow-control windows
  and frame size; a ``drip`` is DATA frames of ``chunk`` bytes, ``interval`` apart;
- ``cut(at=N)`` sends exactly N body bytes on the stream, then ``how="reset"`` is a
  ``RST_STREAM`` (``CANCEL`` unless the cut names another code; the connection and its
  other streams go on), ``how="close"`` closes the TCP connection, ``how="stall"`` sends no
  more on this stream (for ``seconds``, then a ``RST_STREAM``; the connection goes on);
  ``unit="wire"`` counts every frame byte written for the exchange and cuts the connection
  there, mid-frame if that is where the byte falls;
- ``read_body(upto=N)`` takes exactly N bytes off the stream; the client may have sent more
  (up to its window), which nobody reads. With ``initial_window_size=0`` the client sends
  no byte the script did not ask for: each read opens the window by what it wants.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import h2.errors
import h2.exceptions

from ..http.headers import HeaderPairs, Headers, has_header
from ..script.faults import DropHow, FaultHow, FaultSpec
from ..script.http2 import error_name
from ..script.steps import Cut, GoAway, Interim, Respond, Step
from .actions import Close, PeerGone, Program, Send, Sleep, WaitStream
from .exchange import carry_out
from .exchange_common import BodyTooLarge, CommonExchange, plain_response
from .faults import Side, fire
from .journal import ExchangeLog, InterimRecord, ResponseRecord
from .wire import STREAM_PIECE, BodySource, UnsizedSource, piece_bounds

if TYPE_CHECKING:
    from .h2_connection import H2ServerConnection
    from .surface import ExchangeSurface

#: Header fields HTTP/2 forbids (RFC 9113 §8.2.2): a script's are left out of the frames.
CONNECTION_FIELDS = frozenset(
    ("connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade")
)
#: The ``100 Continue`` a first body read sends by default.
_LAZY_CONTINUE = Interim(100)


class StreamState(enum.Enum):
    """How far this side of the stream has gone."""

    #: Open: interims and the final response may still go out.
    OPEN = "open"
    #: The final response has begun.
    RESPONDING = "responding"
    #: The response ended (END_STREAM sent) or the stream was cut, reset or stalled.
    DONE = "done"


class H2Exchange(CommonExchange):
    """One exchange on one HTTP/2 stream (the second implementation of ``ExchangeSurface``)."""

    def __init__(
        self,
        conn: H2ServerConnection,
        stream_id: int,
        log: ExchangeLog,
        *,
        authority: str,
        head_size: int,
        ended: bool,
    ) -> None:
        super().__init__(conn, log)
        self._conn = conn
        self.stream_id = stream_id
        self._authority = authority
        self._head_size = head_size
        declared = self._headers.get("content-length")
        self._declared: int | None
        if ended:
            self._declared = 0
        else:
            try:
                self._declared = int(declared) if declared is not None else None
            except ValueError:
                self._declared = None
        expect = (self._headers.get("expect") or "").lower()
        self._expects_continue = expect == "100-continue" and not ended
        #: Request body bytes the connection handed over that nobody has read yet.
        self._inbox = bytearray()
        #: The client ended the stream (END_STREAM): no more body bytes will come.
        self._remote_ended = ended
        #: The client reset the stream (its error code), or the connection ended under it.
        self._gone: str | None = None
        self._body_started = ended
        self._body_done = ended
        log.body_complete = ended
        self._state = StreamState.OPEN
        self._closed = False
        self._continue_sent = False
        #: Every frame byte written for the exchange (a wire cut counts from here).
        self._wire_out = 0
        #: The absolute wire offset a response's wire cut fires at, while one is pending.
        self._wire_cut: int | None = None
        #: Raw bytes went into the frame stream: no HTTP/2 answer follows them.
        self._raw = False

    # ---- what the connection tells the stream ----------------------------------------------

    def arrived(self, data: bytes) -> None:
        """Body bytes came on the stream."""
        self._inbox += data

    def remote_ended(self) -> None:
        """The client ended its side of the stream."""
        self._remote_ended = True

    def gone(self, reason: str) -> None:
        """The client reset the stream, or the connection is over."""
        if self._gone is None:
            self._gone = reason

    @property
    def gone_reason(self) -> str | None:
        """Why the stream is over for the client (reset, connection ended); None while not."""
        return self._gone

    @property
    def finished(self) -> bool:
        """Nothing more will be sent on the stream."""
        return self._state is StreamState.DONE or self._closed

    # ---- facts ----------------------------------------------------------------------------

    @property
    def is_http10(self) -> bool:
        return False

    @property
    def declared_length(self) -> int | None:
        return self._declared

    @property
    def head_size(self) -> int:
        """The request's header list as HTTP/2 sizes it (RFC 9113 §6.5.2: each field's name
        and value plus 32 bytes)."""
        return self._head_size

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def raw_mode(self) -> bool:
        return self._raw

    @property
    def body_started(self) -> bool:
        return self._body_started

    @property
    def body_done(self) -> bool:
        return self._body_done

    @property
    def final_started(self) -> bool:
        return self._state is not StreamState.OPEN

    @property
    def waiting_for_continue(self) -> bool:
        return (
            self._expects_continue
            and not self._continue_sent
            and not self.final_started
            and not self._body_done
            and len(self._log.body) == 0
            and not self._inbox
        )

    # ---- bookkeeping -----------------------------------------------------------------------

    # ---- writing ---------------------------------------------------------------------------

    def _frames(self) -> Program[bool]:
        """Write the frames h2 has made (all of them, at once: see the module's strategy).
        True when a pending wire cut fired inside them (its bytes before the cut went)."""
        data = self._conn.h2.data_to_send()
        if not data:
            return False
        cut = self._wire_cut
        fired = cut is not None and self._wire_out + len(data) >= cut
        if cut is not None and fired:
            data = data[: cut - self._wire_out]
        if data:
            self._conn.outgoing(data)
            yield Send(data)
            self._wire_out += len(data)
            self._log.bytes_sent += len(data)
        return fired

    def _h2(self, call: Callable[..., object], *args: Any, **kwargs: Any) -> None:
        """Call h2 for this stream; a stream the client reset meanwhile is the client gone."""
        if self._gone is not None:
            raise PeerGone(self._gone)
        try:
            call(*args, **kwargs)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError) as exc:
            self.gone(f"the stream is closed ({exc})")
            raise PeerGone(self._gone) from None

    def _wait(self) -> Program[None]:
        """Wait for news on the stream; the client gone is ``PeerGone``."""
        if self._gone is not None:
            raise PeerGone(self._gone)
        yield WaitStream()
        if self._gone is not None:
            self._log.event(self.now, "closed", "in", self._gone)
            raise PeerGone(self._gone)

    def run(self, step: Step) -> Program[None]:
        if self.closed:
            return
        if isinstance(step, GoAway):
            yield from self.goaway(step)
            return
        yield from carry_out(self, step)

    def send_interim(self, step: Interim) -> Program[None]:
        if self.closed:
            return
        if self.final_started:
            self.problem("scenario-error", f"interim {step.status} after the final response")
            return
        headers = Headers(step.headers)
        label = f"{step.status} {step.reason}"
        if not self._progress_in_order(step.status, step.headers, f"interim {label}"):
            return
        fields = [(":status", str(step.status)), *_fields(step.headers)]
        self._h2(self._conn.h2.send_headers, self.stream_id, fields)
        if step.status == 100 and self._expects_continue and not self._continue_sent:
            arrived = len(self._log.body) + len(self._inbox)
            self._log.body_before_continue = arrived
            note = f"{arrived} body bytes had arrived when the 100 went out"
            self._log.event(self.now, "continue", "", note)
        at = self._log.event(self.now, "interim", "out", label, status=step.status, headers=headers)
        self._log.add_interim(InterimRecord(step.status, step.reason, headers, at))
        if step.status == 100:
            self._continue_sent = True
        yield from self._frames()

    def write_raw(self, data: bytes, *, journal: bool = True) -> Program[None]:
        """Write ``data`` into the connection's frame stream as it is (a malformed frame, say).
        The client's HTTP/2 state and ours part ways: the connection ends after the exchange."""
        self._conn.broken = True
        self._raw = True
        yield Send(data)
        self._wire_out += len(data)
        self._log.bytes_sent += len(data)
        if journal:
            preview = data[:40]
            more = "..." if len(data) > 40 else ""
            self._log.event(self.now, "raw", "out", f"raw {len(data)} bytes {preview!r}{more}")

    def read_raw(self, max_bytes: int) -> Program[bytes]:
        """No bytes straight from the client on a stream: its bytes are HTTP/2 frames."""
        return b""
        yield  # a program

    def switch_protocols(self, headers: Headers) -> Program[tuple[bytes, bool] | None]:
        """HTTP/2 has no ``101`` (RFC 9113 §8.6): recorded, and nothing is sent."""
        self.problem("scenario-error", "cannot switch protocols over HTTP/2 (no 101 there)")
        return None
        yield  # a program

    # ---- reading ---------------------------------------------------------------------------

    def read_body(self, upto: int | None = None) -> Program[None]:
        self._body_started = True
        while not self.closed and not self._body_done:
            room = None if upto is None else upto - len(self._log.body)
            if room is not None and room <= 0:
                self._log.event(
                    self.now,
                    "body",
                    "in",
                    f"{len(self._log.body)} body bytes (stopped at read_body(upto={upto}))",
                )
                return
            chunk = yield from self.read_body_chunk(room)
            if not chunk and not self._body_done:
                return

    def read_body_chunk(self, max_bytes: int | None = None) -> Program[bytes]:
        if self.closed or self._body_done:
            return b""
        if self.final_started and self._expects_continue and not self._continue_sent:
            return b""
        if self.waiting_for_continue and self._lazy_continue is not None:
            yield from self.send_interim(self._lazy_continue)
        self._body_started = True
        while not self._inbox:
            if self._remote_ended:
                self._body_complete()
                return b""
            yield from self._open_window(max_bytes)
            yield from self._wait()
        take = len(self._inbox) if max_bytes is None else min(max_bytes, len(self._inbox))
        data = bytes(self._inbox[:take])
        del self._inbox[:take]
        try:
            self._store(data, self.max_body_size)
        except BodyTooLarge:
            limit = self.max_body_size
            self.problem("limit", f"request body exceeds max_body_size={limit}")
            if not self.final_started:
                yield from self.respond(
                    plain_response(413, f"request body exceeds {limit} bytes\n"), read_first=False
                )
            yield from self.close("reset")
            return b""
        if self._gone is None:
            # The bytes are consumed: the client may send as many more (WINDOW_UPDATE).
            self._h2(self._conn.h2.acknowledge_received_data, take, self.stream_id)
            yield from self._frames()
        if not self._inbox and self._remote_ended:
            self._body_complete()
        return data

    def _open_window(self, wanted: int | None) -> Program[None]:
        """With the stream's window at 0 (``initial_window_size=0``), let the client send what
        the read wants (a window's worth when it wants all)."""
        h2conn = self._conn.h2
        if self._gone is not None or h2conn.remote_flow_control_window(self.stream_id) > 0:
            return
        size = min(wanted or 65535, 65535)
        self._h2(h2conn.increment_flow_control_window, size, self.stream_id)
        yield from self._frames()

    def _body_complete(self) -> None:
        self._body_done = True
        self._log.body_complete = True
        self._log.event(self.now, "body", "in", f"{len(self._log.body)} body bytes (complete)")

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
        to_send = yield from self._final_to_send(step, read_first, stream)
        if to_send is None:
            return
        step = to_send
        bodiless = self.method == "HEAD" or step.status in (204, 304)
        content = b"" if stream is not None else step.content
        size = 0 if bodiless else (len(stream) if stream is not None else len(content))
        fields = [(":status", str(step.status)), *_fields(step.headers)]
        if step.status not in (204, 304) and not has_header(step.headers, "content-length"):
            length = size if head_length is None or self.method != "HEAD" else head_length
            if not step.chunked or self.method == "HEAD":
                fields.append(("content-length", str(length)))
        cut = step.fault
        limit = size
        if cut is not None and cut.unit == "body":
            limit = min(cut.at, size)
        elif cut is not None:
            self._wire_cut = cut.at
            if cut.at < self._wire_out:
                self.problem(
                    "scenario-error",
                    f"cut at wire byte {cut.at} is before this response (the exchange had "
                    f"written {self._wire_out} bytes)",
                )
                self._wire_cut = self._wire_out
        self._state = StreamState.RESPONDING
        trailers = [] if bodiless else _fields(step.trailers)
        end_now = size == 0 and cut is None and not trailers
        self._h2(self._conn.h2.send_headers, self.stream_id, fields, end_stream=end_now)
        sent_headers = Headers(step.headers)
        at = self._log.event(
            self.now,
            "response",
            "out",
            f"{step.status} {step.reason}",
            status=step.status,
            headers=sent_headers,
        )
        self._log.response = ResponseRecord(step.status, step.reason, sent_headers, at, 0, end_now)
        sent = 0
        pieces = list(piece_bounds(limit, 0, step.pacing))
        # The HEADERS frame goes out with the first DATA frame, in one write, when nothing
        # comes between them (a small response is one write, as over HTTP/1.1); before a
        # wait for window it goes alone. A wire cut sees each frame written on its own.
        together = bool(pieces) and (cut is None or cut.unit == "body")
        fired = False if together else (yield from self._frames())
        for i, (_, end) in enumerate(pieces):
            if i and step.pacing is not None and step.pacing.interval:
                yield Sleep(step.pacing.interval)
            while sent < end and not fired:
                window = self._conn.h2.local_flow_control_window(self.stream_id)
                room = min(window, self._conn.h2.max_outbound_frame_size, end - sent)
                if room <= 0:
                    fired = yield from self._frames()  # the HEADERS frame, if still held
                    if not fired:
                        yield from self._wait()  # the client's window is full: wait for more
                    continue
                piece = (
                    content[sent : sent + room]
                    if stream is None
                    else stream.read(sent, sent + room)
                )
                last = sent + room == size and cut is None and not trailers
                self._h2(self._conn.h2.send_data, self.stream_id, piece, end_stream=last)
                # Journaled before the bytes go: a test that reads the journal once its client
                # has them must find them there (a wire cut corrects it below).
                self._log.response = ResponseRecord(
                    step.status, step.reason, sent_headers, at, sent + room, last
                )
                if sent + room >= limit and (cut is None or cut.unit == "body"):
                    state = "complete" if cut is None else "cut"
                    body_note = f"{sent + room} body bytes ({state})"
                    self._log.event(self.now, "body-sent", "out", body_note)
                before = self._wire_out
                fired = yield from self._frames()
                if fired and cut is not None and cut.unit == "wire":
                    # Cut inside this DATA frame: its 9-byte header, then part of the piece.
                    room = max(0, min(room, self._wire_out - before - 9))
                    self._log.response = ResponseRecord(
                        step.status, step.reason, sent_headers, at, sent + room, False
                    )
                sent += room
        wire_cut = cut is not None and cut.unit == "wire"
        if size and (sent or cut is None) and (wire_cut or not pieces):
            state = "complete" if cut is None else "cut"
            self._log.event(self.now, "body-sent", "out", f"{sent} body bytes ({state})")
        if trailers and cut is None:
            # The trailer section: a HEADERS frame that ends the stream (RFC 9113 §8.1).
            self._h2(self._conn.h2.send_headers, self.stream_id, trailers, end_stream=True)
            shown = Headers(step.trailers)
            self._log.event(self.now, "trailers", "out", "trailers", headers=shown)
            self._log.response = ResponseRecord(
                step.status, step.reason, sent_headers, at, sent, True
            )
            yield from self._frames()
        self._wire_cut = None
        self._state = StreamState.DONE
        if cut is not None:
            yield from self._fire(cut, sent, wire=cut.unit == "wire")

    def respond_unsized(self, step: Respond, source: UnsizedSource) -> Program[None]:
        """The final response with a body whose length is known only at its end: HEADERS
        without a content-length, then DATA frames as its pieces come (within the client's
        windows and frame size), an empty one ending the stream. Its only caller over HTTP/2
        is the control API (proxy mode forwards HTTP/1.x): a cut or a drip is not carried out
        here, which is a scenario error, and the body goes out whole."""
        to_send = yield from self._unsized_to_send(step)
        if to_send is None:
            return
        step = to_send
        if step.pacing is not None or step.fault is not None:
            self.problem(
                "scenario-error",
                f"the {step.status} response's cut or drip is not carried out over HTTP/2 for "
                "a body without a length: it went out whole",
            )
        self._state = StreamState.RESPONDING
        fields = [(":status", str(step.status)), *_fields(step.headers)]
        self._h2(self._conn.h2.send_headers, self.stream_id, fields, end_stream=False)
        headers = Headers(step.headers)
        what = f"{step.status} {step.reason}"
        at = self._log.event(self.now, "response", "out", what, status=step.status, headers=headers)
        self._log.response = ResponseRecord(step.status, step.reason, headers, at, 0, False)
        yield from self._frames()
        sent = 0
        while data := (yield from source.next_piece(STREAM_PIECE)):
            view = memoryview(data)
            while view:
                window = self._conn.h2.local_flow_control_window(self.stream_id)
                room = min(window, self._conn.h2.max_outbound_frame_size, len(view))
                if room <= 0:
                    yield from self._wait()  # the client's window is full: wait for more
                    continue
                self._h2(self._conn.h2.send_data, self.stream_id, bytes(view[:room]))
                view, sent = view[room:], sent + room
                self._log.response = ResponseRecord(
                    step.status, step.reason, headers, at, sent, False
                )
                yield from self._frames()
        if source.ended_early:
            self._log.event(self.now, "body-sent", "out", f"{sent} body bytes (source ended)")
            yield from self.close("reset")
            return
        self._state = StreamState.DONE
        self._h2(self._conn.h2.send_data, self.stream_id, b"", end_stream=True)
        self._log.response = ResponseRecord(step.status, step.reason, headers, at, sent, True)
        self._log.event(self.now, "body-sent", "out", f"{sent} body bytes (complete)")
        yield from self._frames()

    # ---- faults ----------------------------------------------------------------------------

    def _fire(self, cut: Cut, body_sent: int, *, wire: bool) -> Program[None]:
        detail = f"{cut.how} after {body_sent} body bytes (wire byte {self._wire_out})"
        yield from self.fault(
            cut.spec, side="response", body_bytes=body_sent, detail=detail, connection=wire
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
        connection: bool = False,
    ) -> Program[None]:
        """Fire a fault on the stream: ``reset`` is a ``RST_STREAM`` (the spec's error code,
        ``CANCEL`` by default), ``close`` closes the TCP connection, ``stall`` sends nothing
        more on the stream (then a ``RST_STREAM``). ``connection``: the fault is the
        connection's (a wire cut: the frame stream is broken), a reset is a TCP RST."""
        spec = how if isinstance(how, FaultSpec) else FaultSpec(how, seconds)
        if side is None:
            side = "request" if not self.final_started and not self._body_done else "response"
        if body_bytes is None:
            body_bytes = len(self._log.body) if side == "request" else 0
        code = h2.errors.ErrorCodes.CANCEL if spec.code is None else spec.code
        if detail is None:
            unit = "body bytes read" if side == "request" else "body bytes sent"
            detail = f"{spec.how} after {body_bytes} {unit} (wire byte {self._wire_out})"
        if connection:
            detail += " (the TCP connection)"
        elif spec.how != "close":
            detail += f", then RST_STREAM {error_name(code)}"
        self._closed = True
        self._state = StreamState.DONE
        program = fire(
            self._log,
            spec,
            now=self.now,
            side=side,
            detail=detail,
            body_bytes=body_bytes,
            wire_bytes=self._wire_out,
        )
        # fire() speaks of the connection; on a stream its Close("reset") is a RST_STREAM and
        # a stall's end resets the stream too. A close (FIN) is the connection's.
        for action in program:
            if isinstance(action, Close) and not connection and spec.how != "close":
                yield from self._reset(code)
            else:
                yield action  # a stall's Hold, a close's FIN, a wire cut's end

    def _reset(self, code: int) -> Program[None]:
        """Send ``RST_STREAM`` with ``code``, unless the stream is over already."""
        if self._gone is not None:
            return
        try:
            self._conn.h2.reset_stream(self.stream_id, code)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            return
        yield from self._frames()

    def close(self, how: DropHow = "close") -> Program[None]:
        """End the stream (no fault: the exchange is over): ``RST_STREAM`` ``CANCEL`` for a
        reset, ``NO_ERROR`` for a close (RFC 9113 §8.1: the client may stop sending)."""
        self._closed = True
        self._state = StreamState.DONE
        code = h2.errors.ErrorCodes.CANCEL if how == "reset" else h2.errors.ErrorCodes.NO_ERROR
        yield from self._reset(code)

    def abort(self, exc: BaseException) -> Program[None]:
        """End a stream the server failed on: a 500 saying so when no response has begun,
        else ``RST_STREAM INTERNAL_ERROR``."""
        if not self.final_started and not self.closed:
            answer = plain_response(500, f"mockprogress: the server failed: {exc!r}\n")
            yield from self.respond(answer, read_first=False)
            return
        self._closed = True
        self._state = StreamState.DONE
        yield from self._reset(h2.errors.ErrorCodes.INTERNAL_ERROR)

    def goaway(self, step: GoAway) -> Program[None]:
        """Send ``GOAWAY``: no stream past ``last_stream_id`` will be processed."""
        last = self._conn.highest_stream if step.last_stream_id is None else step.last_stream_id
        data = self._conn.goaway_frame(last, step.code, step.debug)
        detail = f"GOAWAY last_stream_id={last} {error_name(step.code)}"
        self._log.event(self.now, "goaway", "out", detail)
        yield Send(data)
        self._wire_out += len(data)
        self._log.bytes_sent += len(data)

    # ---- ending ----------------------------------------------------------------------------

    def finish(self) -> Program[None]:
        """Make sure the client got an answer; stop a body nobody will read."""
        if not self.final_started and not self.closed and not self._raw:
            self.problem("scenario-error", "the exchange ended without a final response")
            yield from self.respond(
                plain_response(500, "mockprogress: the script ended without a final response\n"),
                read_first=False,
            )
        if not self._closed and not self._raw and not self._remote_ended and self._gone is None:
            # The response is complete and the client is still sending: RFC 9113 §8.1 lets
            # the server stop it with RST_STREAM NO_ERROR.
            yield from self.close("close")


def _fields(headers: HeaderPairs) -> list[tuple[str, str]]:
    """A script's header fields as HTTP/2 carries them: lower-case names, without the
    connection-specific ones (RFC 9113 §8.2.2)."""
    return [(n.lower(), v) for n, v in headers if n.lower() not in CONNECTION_FIELDS]


if TYPE_CHECKING:

    def _implements_the_surface(ex: H2Exchange) -> ExchangeSurface:
        return ex
