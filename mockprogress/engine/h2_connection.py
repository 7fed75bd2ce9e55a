"""One HTTP/2 connection over h2: frames in, a stream exchange (``H2Exchange``) per request.

Strategy. The I/O layer reads the socket and hands the bytes to ``receive``, which feeds h2
and turns its events into engine state: a new request is a new ``H2Exchange`` (whose program,
``serve_stream``, the I/O layer runs in a task of its own, so streams run side by side), body
bytes go to their stream's inbox, a reset or the end of a body to its stream. ``receive``
returns what to write (SETTINGS and PING acknowledgements, ...) and which streams have news;
the I/O layer writes the one and wakes the others. Every frame leaves through h2's single
output buffer, taken whole by whoever made it (see ``engine.h2_exchange``).

The three ways in (RFC 9113 §3): the client preface on a plain connection (prior knowledge,
found by ``ServerConnection`` before h11 sees it), ALPN ``h2`` over TLS, and ``Upgrade: h2c``
(the request that carried it becomes stream 1, answered over HTTP/2).

Bad input gets the protocol's answer, never an exception out of here: what h2 refuses (a bad
preface, a frame error, a header block it cannot decode) ends the connection with the
``GOAWAY`` h2 wrote, journaled and recorded as a ``malformed-request`` problem; a client that
resets more than ``max_stream_resets`` streams on one connection (CVE-2023-44487) gets
``GOAWAY ENHANCE_YOUR_CALM``; a stream over ``max_concurrent_streams`` is refused.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
from hyperframe.frame import GoAwayFrame

from ..http.headers import Headers
from ..script.http2 import HTTP2, error_name
from .actions import PeerGone, Program
from .h2_exchange import H2Exchange
from .journal import FRAME_EVENTS, ExchangeLog, TLSRecord

if TYPE_CHECKING:
    from .state import ServerState

#: The client connection preface (RFC 9113 §3.4).
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def _setting_name(code: int) -> str:
    try:
        return h2.settings.SettingCodes(code).name
    except ValueError:
        return str(code)


@dataclass(slots=True)
class H2Input:
    """What ``receive`` made of the client's bytes, for the I/O layer."""

    #: Frames to write now (acknowledgements, a GOAWAY), in order.
    output: bytes = b""
    #: New streams, each to run ``serve_stream`` in a task of its own.
    started: list[H2Exchange] = field(default_factory=list)
    #: Streams with news (their ``WaitStream`` returns).
    woken: set[int] = field(default_factory=set)
    #: Every stream has news (a window on the connection, the connection's end).
    wake_all: bool = False
    #: The connection is over: write ``output``, then close it.
    closing: bool = False


@dataclass(frozen=True, slots=True)
class Upgrade:
    """An ``Upgrade: h2c`` request answered by ``101``: it becomes stream 1 (RFC 9113 §3.2
    of RFC 7540)."""

    settings: bytes
    method: str
    target: str
    headers: Headers
    head_size: int


@dataclass(frozen=True, slots=True)
class H2Start:
    """A connection that turns to HTTP/2: the client's bytes read so far (from its preface
    on), and the upgrade that led there (None: prior knowledge or ALPN)."""

    initial: bytes = b""
    upgrade: Upgrade | None = None


class H2ServerConnection:
    """The pure state of one HTTP/2 connection."""

    def __init__(
        self,
        state: ServerState,
        clock: Callable[[], float],
        spec: HTTP2,
        *,
        peer: str = "",
        connection_id: int | None = None,
        tls: TLSRecord | None = None,
    ) -> None:
        self.state = state
        self.clock = clock
        self.peer = peer
        self.spec = spec
        self.id = state.next_connection_id() if connection_id is None else connection_id
        self.tls = tls
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.h2 = h2.connection.H2Connection(config)
        # The SETTINGS that restrict the client take effect once it acknowledges them (RFC
        # 9113 §6.5.3): it may have sent by the defaults meanwhile. They go in a second
        # SETTINGS frame (``_restrictions``); the others in the first.
        codes = h2.settings.SettingCodes
        self.h2.local_settings = h2.settings.Settings(
            client=False,
            initial_values={
                codes.MAX_CONCURRENT_STREAMS: max(spec.max_concurrent_streams, 100),
                codes.MAX_FRAME_SIZE: spec.max_frame_size,
                codes.INITIAL_WINDOW_SIZE: max(spec.initial_window_size, 65535),
                codes.MAX_HEADER_LIST_SIZE: spec.max_header_list_size,
                codes.ENABLE_PUSH: 0,
            },
        )
        self.h2.max_inbound_frame_size = spec.max_frame_size
        self._restrictions: dict[h2.settings.SettingCodes | int, int] = {}
        if spec.max_concurrent_streams < 100:
            self._restrictions[codes.MAX_CONCURRENT_STREAMS] = spec.max_concurrent_streams
        if spec.initial_window_size < 65535:
            self._restrictions[codes.INITIAL_WINDOW_SIZE] = spec.initial_window_size
        self.streams: dict[int, H2Exchange] = {}
        #: The highest stream id the client has opened (a GOAWAY's default last stream).
        self.highest_stream = 0
        #: Raw bytes went into the frame stream: the connection ends after its streams.
        self.broken = False
        #: A GOAWAY went out: no new stream is served, the connection ends after the others.
        self.going_away = False
        self.resets = 0
        #: Frames on the connection while no exchange is in progress, for the next one to
        #: begin: (kind, direction, detail, amount), at most FRAME_EVENTS of a kind and
        #: direction, and the rest counted by kind and direction ([count, total]).
        self._pending: list[tuple[str, str, str, int]] = []
        self._pending_more: dict[tuple[str, str], list[int]] = {}
        #: The client's first bytes until its first frame's header came (the preface's end).
        self._opening: bytearray | None = bytearray()
        #: The connection's last exchange (a keep-alive close is journaled there).
        self.last: ExchangeLog | None = None

    # ---- starting --------------------------------------------------------------------------

    def start(self, initial: bytes, upgrade: Upgrade | None = None) -> H2Input:
        """Begin: the server's SETTINGS (and, after an upgrade, stream 1), then ``initial``,
        the client's first bytes (its preface, read already)."""
        result = H2Input()
        if upgrade is None:
            self.h2.initiate_connection()
        else:
            try:
                self.h2.initiate_upgrade_connection(upgrade.settings)
            except (h2.exceptions.ProtocolError, ValueError) as exc:
                self.state.record("malformed-request", f"bad HTTP2-Settings on an upgrade: {exc}")
                result.closing = True
                return result
            self._begin(
                1, upgrade.method, upgrade.target, upgrade.headers, upgrade.head_size, True, result
            )
            self._grow_window()
            self.streams[1].log.event(
                self.clock(), "request", "in", "upgraded from HTTP/1.1 (Upgrade: h2c)"
            )
        if upgrade is None:
            self._grow_window()
        if self._restrictions:
            self.h2.update_settings(self._restrictions)
        more = self.receive(initial) if initial else H2Input()
        first = self.h2.data_to_send()
        self.outgoing(first)
        more.output = first + more.output
        more.started[:0] = result.started
        return more

    def _grow_window(self) -> None:
        window = self.state.config.limits.connection_window
        grow = window - self.h2.inbound_flow_control_window
        if grow > 0:
            self.h2.increment_flow_control_window(grow)

    # ---- the client's bytes ----------------------------------------------------------------

    def receive(self, data: bytes) -> H2Input:
        """Feed the client's bytes (``b""``: it closed the connection) to h2."""
        result = H2Input()
        if not data:
            self._all_gone("the client closed the connection")
            result.wake_all = True
            result.closing = True
            return result
        try:
            self._check_preface(data)
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._protocol_error(exc)
            result.output = self.h2.data_to_send()
            if self.h2.state_machine.state is not h2.connection.ConnectionState.CLOSED:
                # h2 refuses a bad preface before its state machine runs: no GOAWAY of its
                # own, so the server writes one.
                code = int(getattr(exc, "error_code", h2.errors.ErrorCodes.PROTOCOL_ERROR))
                result.output += self.goaway_frame(self.highest_stream, code, b"")
            result.wake_all = result.closing = True
            return result
        for event in events:
            self._event(event, result)
        limit = self.state.config.limits.max_stream_resets
        if self.resets > limit and not result.closing:
            self.h2.close_connection(h2.errors.ErrorCodes.ENHANCE_YOUR_CALM)
            self.state.record(
                "limit",
                f"connection {self.id}: the client reset more than max_stream_resets={limit} "
                "streams (a rapid-reset flood): GOAWAY ENHANCE_YOUR_CALM",
            )
            self._all_gone("the server ended the connection (rapid reset)")
            result.wake_all = result.closing = True
        result.output = self.h2.data_to_send()
        self.outgoing(result.output)
        return result

    def _check_preface(self, data: bytes) -> None:
        """The client preface is the magic, then a SETTINGS frame (RFC 9113 §3.4: anything
        else is a connection error of type PROTOCOL_ERROR). h2 checks the magic only."""
        opening = self._opening
        if opening is None:
            return
        opening += data[: len(PREFACE) + 9 - len(opening)]
        if len(opening) < len(PREFACE) + 9:
            return
        self._opening = None
        kind, flags = opening[len(PREFACE) + 3], opening[len(PREFACE) + 4]
        if opening.startswith(PREFACE) and (kind != 0x4 or flags & 0x1):
            raise h2.exceptions.ProtocolError(
                "the client preface does not end with a SETTINGS frame (RFC 9113 §3.4)"
            )

    def _event(self, event: h2.events.Event, result: H2Input) -> None:
        if isinstance(event, h2.events.RequestReceived):
            assert event.stream_id is not None and event.headers is not None
            self._request(event.stream_id, event.headers, event.stream_ended is not None, result)
        elif isinstance(event, h2.events.DataReceived):
            assert event.stream_id is not None and event.data is not None
            size = event.flow_controlled_length or 0
            stream = self.streams.get(event.stream_id)
            if stream is None or stream.finished:
                # Nobody will read it (a stream answered or cut): give the window back.
                if size:
                    self.h2.acknowledge_received_data(size, event.stream_id)
                return
            if size > len(event.data):  # padding: nobody reads that either
                self.h2.acknowledge_received_data(size - len(event.data), event.stream_id)
            stream.arrived(event.data)
            result.woken.add(event.stream_id)
        elif isinstance(event, h2.events.StreamEnded):
            stream = self.streams.get(event.stream_id or 0)
            if stream is not None:
                stream.remote_ended()
                result.woken.add(stream.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            stream = self.streams.get(event.stream_id or 0)
            code = error_name(int(event.error_code or 0))
            if not event.remote_reset:
                # h2 reset the stream on its own: its answer to a stream error of the client's
                # (a DATA frame after the client's END_STREAM, say: RFC 9113 §5.1).
                message = f"HTTP/2 stream error on stream {event.stream_id}: RST_STREAM {code}"
                index = None if stream is None else stream.log.index
                self.state.record("malformed-request", message, index)
                if stream is not None:
                    stream.log.event(self.clock(), "error", "out", message)
                    stream.gone(f"the server reset the stream (RST_STREAM {code})")
                    result.woken.add(stream.stream_id)
                return
            self.resets += 1
            self._frame(event.stream_id or 0, "RST_STREAM", "in", f"RST_STREAM {code}")
            if stream is not None:
                stream.gone(f"the client reset the stream (RST_STREAM {code})")
                result.woken.add(stream.stream_id)
        elif isinstance(event, h2.events.WindowUpdated):
            delta = event.delta or 0
            self._frame(
                event.stream_id or 0, "WINDOW_UPDATE", "in", f"WINDOW_UPDATE +{delta:,}", delta
            )
            if event.stream_id:
                result.woken.add(event.stream_id)
            else:
                result.wake_all = True
        elif isinstance(event, h2.events.RemoteSettingsChanged):
            changed = ", ".join(
                f"{_setting_name(code)}={setting.new_value}"
                for code, setting in event.changed_settings.items()
            )
            self._frame(0, "SETTINGS", "in", f"SETTINGS {changed or '(none)'}: acknowledged")
            result.wake_all = True
        elif isinstance(event, h2.events.SettingsAcknowledged):
            self._frame(0, "SETTINGS ACK", "in", "SETTINGS ACK: the client took the server's")
        elif isinstance(event, h2.events.PingReceived):
            data = (event.ping_data or b"").hex()
            self._frame(0, "PING", "in", f"PING {data}: acknowledged")
        elif isinstance(event, h2.events.PriorityUpdated):
            detail = f"PRIORITY ignored (weight {event.weight}, depends on {event.depends_on}" + (
                ", exclusive)" if event.exclusive else ")"
            )
            self._frame(event.stream_id or 0, "PRIORITY", "in", detail)
        elif isinstance(event, h2.events.ConnectionTerminated):
            # The client's GOAWAY: it opens no new stream; those in flight go on.
            pass

    # ---- the frames around the messages (the journal's control_frames) ---------------------

    def outgoing(self, data: bytes) -> None:
        """Journal the WINDOW_UPDATE frames in ``data``, frames the server writes."""
        at = 0
        while at + 9 <= len(data):
            length = int.from_bytes(data[at : at + 3], "big")
            if data[at + 3] == 0x8 and length == 4:
                sid = int.from_bytes(data[at + 5 : at + 9], "big") & 0x7FFFFFFF
                grow = int.from_bytes(data[at + 9 : at + 13], "big") & 0x7FFFFFFF
                self._frame(sid, "WINDOW_UPDATE", "out", f"WINDOW_UPDATE +{grow:,}", grow)
            at += 9 + length

    def _frame(
        self, stream_id: int, kind: str, direction: str, detail: str, amount: int = 0
    ) -> None:
        """Journal a frame on the exchange of its stream; one on the connection (or on a
        stream no exchange serves) on every exchange in progress, or the next to begin."""
        now = self.clock()
        stream = self.streams.get(stream_id) if stream_id else None
        if stream is not None:
            stream.log.frame(now, kind, direction, "stream", detail, amount)
            return
        scope = "connection" if not stream_id else f"stream {stream_id}"
        detail = f"{detail} ({scope})"
        for other in self.streams.values():
            other.log.frame(now, kind, direction, "connection", detail, amount)
        if self.streams:
            return
        if sum(k == kind and d == direction for k, d, _, _ in self._pending) < FRAME_EVENTS:
            self._pending.append((kind, direction, detail, amount))
        else:
            more = self._pending_more.setdefault((kind, direction), [0, 0])
            more[0] += 1
            more[1] += amount

    def _catch_up(self, log: ExchangeLog) -> None:
        """Give the first exchange of a while the frames that came while none ran."""
        now = self.clock()
        for kind, direction, detail, amount in self._pending:
            log.frame(now, kind, direction, "connection", f"{detail}, before this stream", amount)
        for (kind, direction), (count, total) in self._pending_more.items():
            log.count_frames(kind, direction, "connection", count, total)
        self._pending.clear()
        self._pending_more.clear()

    def _request(
        self, stream_id: int, raw: list[tuple[bytes, bytes]], ended: bool, result: H2Input
    ) -> None:
        self.highest_stream = max(self.highest_stream, stream_id)
        if self.going_away:
            self.h2.reset_stream(stream_id, h2.errors.ErrorCodes.REFUSED_STREAM)
            return
        pseudo: dict[str, str] = {}
        fields: list[tuple[str, str]] = []
        size = 0
        for name, value in raw:
            n, v = name.decode("latin-1"), value.decode("latin-1")
            size += len(name) + len(value) + 32
            if n.startswith(":"):
                pseudo[n] = v
            else:
                fields.append((n, v))
        authority = pseudo.get(":authority", "")
        if authority and not any(n == "host" for n, _ in fields):
            fields.insert(0, ("host", authority))  # what HTTP/1.1 resources look for
        self._begin(
            stream_id,
            pseudo.get(":method", ""),
            pseudo.get(":path", ""),
            Headers(fields),
            size,
            ended,
            result,
        )

    def _begin(
        self,
        stream_id: int,
        method: str,
        target: str,
        headers: Headers,
        size: int,
        ended: bool,
        result: H2Input,
    ) -> None:
        now = self.clock()
        log = self.state.new_exchange(
            connection=self.id,
            started=now,
            method=method,
            target=target,
            http_version="2",
            headers=headers,
        )
        log.tls = self.tls
        log.stream_id = stream_id
        log.event(
            now, "request", "in", f"{method} {target} HTTP/2 (stream {stream_id})", headers=headers
        )
        self.last = log
        if self._pending:
            self._catch_up(log)
        stream = H2Exchange(
            self, stream_id, log, authority=headers.get("host") or "", head_size=size, ended=ended
        )
        self.streams[stream_id] = stream
        result.started.append(stream)

    def _protocol_error(self, exc: h2.exceptions.ProtocolError) -> None:
        """Journal what h2 refused (its GOAWAY is in the output) and end every stream."""
        now = self.clock()
        log = self.state.new_exchange(
            connection=self.id,
            started=now,
            method="",
            target="",
            http_version="2",
            headers=Headers(),
        )
        log.tls = self.tls
        code = error_name(int(getattr(exc, "error_code", h2.errors.ErrorCodes.PROTOCOL_ERROR)))
        message = f"HTTP/2 protocol error: {exc} (answered GOAWAY {code})"
        log.event(now, "error", "in", message)
        log.ended = now
        # h2's DenialOfServiceError: a header block that decodes past max_header_list_size.
        dos = isinstance(exc, h2.exceptions.DenialOfServiceError)
        self.state.record("limit" if dos else "malformed-request", message, log.index)
        self._all_gone("the server ended the connection (protocol error)")

    def _all_gone(self, reason: str) -> None:
        for stream in self.streams.values():
            stream.gone(reason)

    def goaway_frame(self, last_stream_id: int, code: int, debug: bytes) -> bytes:
        """A GOAWAY frame, written past h2's state machine (which would refuse every frame
        after it, and a script may still answer a stream the GOAWAY keeps)."""
        self.going_away = True
        frame = GoAwayFrame(
            stream_id=0, last_stream_id=last_stream_id, error_code=code, additional_data=debug
        )
        return frame.serialize()

    def idle_goaway(self) -> bytes:
        """The GOAWAY that ends an idle connection (``keep_alive_timeout``)."""
        self.h2.close_connection(h2.errors.ErrorCodes.NO_ERROR)
        if self.last is not None and self.state.config.limits.keep_alive_timeout is not None:
            self.last.event(
                self.clock(),
                "closed",
                "out",
                f"idle for {self.state.config.limits.keep_alive_timeout:g} s: GOAWAY NO_ERROR, "
                "server closed the connection (keep_alive_timeout)",
            )
        return self.h2.data_to_send()

    @property
    def active(self) -> int:
        """Streams being served."""
        return len(self.streams)

    @property
    def over(self) -> bool:
        """No stream runs and none will: the connection may close."""
        return not self.streams and (self.broken or self.going_away)

    # ---- a stream's life -------------------------------------------------------------------

    def serve_stream(self, stream: H2Exchange) -> Program[None]:
        """One stream's whole life as a program: the request served as any other."""
        log = stream.log
        try:
            yield from self.state.serve(stream)
            yield from stream.finish()
        except PeerGone:
            if not log.events or log.events[-1].kind != "closed":
                log.event(self.clock(), "closed", "in", "the client went away")
        except Exception as exc:  # contained to its stream: the others and the connection go on
            text = "".join(traceback.format_exception(exc)).rstrip()
            self.state.record(
                "internal-error",
                f"HTTP/2 stream {stream.stream_id} failed: {exc!r}\n{text}",
                log.index,
            )
            log.event(self.clock(), "error", "", f"the server failed: {exc!r}")
            yield from stream.abort(exc)
        finally:
            log.body.settle()
            if log.ended is None:
                log.ended = self.clock()
            self.streams.pop(stream.stream_id, None)
