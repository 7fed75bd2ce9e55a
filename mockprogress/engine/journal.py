"""The journal: what happened in every exchange, both ways, with timings.

The server keeps one ``ExchangeLog`` per request and mutates it as the exchange runs. Readers
get ``Exchange`` snapshots: frozen copies taken on the server's loop, safe to read from any
thread. Times (``at``) are seconds since the exchange's request head arrived.
"""

from __future__ import annotations

import operator
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, overload

from ..http.headers import Headers
from .body import NO_BODY, BodyBuffer, JournalBody, ReadableBytes


class Event(NamedTuple):
    """One line of an exchange's timeline (immutable: a named tuple, cheap to make for every
    event of every exchange).

    ``direction`` is ``"in"`` (from the client), ``"out"`` (to the client) or ``""`` (the
    server's own: pauses, faults, errors). ``kind`` is one of ``request``, ``body``,
    ``interim``, ``interim-skipped``, ``response``, ``body-sent``, ``pause``, ``fault``,
    ``raw``, ``error``, ``closed``, ``upload`` (an upload resource created, completed or
    replayed an upload), ``websocket`` (a frame after a switch), ``continue`` (how much of the
    body had arrived when a ``100 Continue`` went out), ``upstream`` (proxy mode: what went to
    the upstream and what came back, and its trouble), ``goaway`` (an HTTP/2 GOAWAY sent),
    ``trailers`` (a response's trailer fields, after its body), ``frame`` (an HTTP/2 frame
    that is not the exchange's message, either way: WINDOW_UPDATE, SETTINGS, PING,
    RST_STREAM from the client, PRIORITY ignored; ``Exchange.control_frames`` counts them).
    """

    at: float
    kind: str
    direction: str
    detail: str
    status: int | None = None
    headers: Headers | None = None


#: Frame events an exchange keeps one by one for each kind, direction and scope of
#: ``FrameCount``; past them, the frames are only counted (a download of a large body has a
#: WINDOW_UPDATE every few kilobytes).
FRAME_EVENTS = 8


@dataclass(frozen=True, slots=True)
class FrameCount:
    """HTTP/2 frames of one kind, one way, that went while an exchange ran, counted.

    :ivar kind: ``WINDOW_UPDATE``, ``SETTINGS``, ``SETTINGS ACK``, ``PING``, ``RST_STREAM``
        or ``PRIORITY``.
    :ivar direction: ``in`` (from the client) or ``out`` (from the server).
    :ivar scope: ``stream`` (the exchange's own stream) or ``connection`` (stream 0, or a
        stream no exchange serves, such as a PRIORITY for a stream not yet open: it reaches
        every exchange in progress on the connection, or the next one to begin when none is).
    :ivar count: how many.
    :ivar total: for WINDOW_UPDATE, the sum of the increments (0 for the other kinds).
    """

    kind: str
    direction: str
    scope: str
    count: int
    total: int = 0


class InterimRecord(NamedTuple):
    """An interim (1xx) response as it went out (or was skipped, for HTTP/1.0 clients);
    immutable, a named tuple like ``Event``."""

    status: int
    reason: str
    headers: Headers
    at: float
    skipped: bool = False


class ResponseRecord(NamedTuple):
    """The final response: its head, and how much of its body was written; immutable, a
    named tuple like ``Event``."""

    status: int
    reason: str
    headers: Headers
    at: float
    body_sent: int = 0
    complete: bool = False


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault that fired, and the exact byte it fired at.

    :ivar kind: ``close`` (FIN), ``reset`` (RST) or ``stall``.
    :ivar side: ``response`` (it cut what the server wrote), ``request`` (it cut what the
        client sent: its body after ``read_body(upto=N)``, or its head, see
        ``MockServer.cut_request_head``) or ``handshake`` (a TLS handshake fault,
        ``mp.TLS().cut(...)``: ``wire_bytes`` and ``bytes_received`` count its bytes).
    :ivar body_bytes: content bytes at the cut: of the response body sent, for the response
        side; of the request body read, for the request side.
    :ivar wire_bytes: every byte the server had written for the exchange (interims, head,
        chunk framing, body).
    :ivar at: when it fired, in seconds since the request head arrived (since the connection
        was accepted, for a cut inside the request head).
    :ivar detail: a sentence for reports.
    :ivar bytes_received: every byte the server had read for the exchange (request head,
        chunk framing, body).
    """

    kind: str
    side: str
    body_bytes: int
    wire_bytes: int
    at: float
    detail: str = ""
    bytes_received: int = 0


@dataclass(frozen=True, slots=True)
class StoredPayload:
    """A message's payload in its exchange's frame store (``ExchangeLog.store_payload``):
    bytes ``start`` to ``start + length``, UTF-8 for a text message. The store spools to
    disk past ``spool_threshold`` like a body, so a long WebSocket costs disk, not memory."""

    store: ReadableBytes = field(repr=False, compare=False)
    start: int
    length: int
    text: bool

    def read(self) -> str | bytes:
        raw = self.store.read(self.start, self.start + self.length)
        return raw.decode() if self.text else raw


@dataclass(frozen=True, slots=True)
class Frame:
    """One WebSocket frame after a ``101 Switching Protocols``, either way (``direction`` is
    ``"in"`` or ``"out"``). ``kind`` is ``text``, ``binary``, ``ping``, ``pong`` or ``close``;
    a text or binary entry is a whole message (its fragments joined). ``code`` and ``data``
    (the reason, as text) describe a close."""

    direction: str
    kind: str
    #: ``data`` as kept: a message's in the frame store, the others as they are.
    payload: str | bytes | StoredPayload
    at: float
    code: int | None = None

    @property
    def data(self) -> str | bytes:
        """The message (text or bytes), the ping's or pong's payload, the close's reason."""
        payload = self.payload
        return payload.read() if isinstance(payload, StoredPayload) else payload


@dataclass(frozen=True, slots=True)
class TLSRecord:
    """What the TLS handshake of the exchange's connection settled (None on plain TCP).

    :ivar version: ``TLSv1.3``, ``TLSv1.2``.
    :ivar cipher: the cipher suite's OpenSSL name.
    :ivar server_name: the name the client sent in SNI (None: it sent none, as for an IP).
    :ivar alpn: the protocol ALPN settled on (None: the client offered none we speak).
    :ivar peer_subject: the client certificate's subject (mutual TLS), e.g. ``commonName=client``.
    """

    version: str
    cipher: str
    server_name: str | None = None
    alpn: str | None = None
    peer_subject: str | None = None


@dataclass(frozen=True)
class Exchange:
    """One request and everything the server did about it."""

    index: int
    connection: int
    method: str
    target: str
    http_version: str
    headers: Headers
    body_complete: bool
    interims: tuple[InterimRecord, ...]
    response: ResponseRecord | None
    fault: Fault | None
    events: tuple[Event, ...]
    started: float
    duration: float | None
    handled_by: str | None
    bytes_received: int
    bytes_sent: int
    _body: ReadableBytes = field(repr=False, compare=False)
    _body_size: int = field(repr=False, compare=False)
    #: For ``Expect: 100-continue``: how many body bytes had reached the server when the
    #: ``100 Continue`` went out (None when none went out).
    body_before_continue: int | None = None
    #: After a switch to WebSocket: the frames both ways, in order.
    frames: tuple[Frame, ...] = ()
    #: The connection's TLS (None on plain TCP).
    tls: TLSRecord | None = None
    #: The HTTP/2 stream that carried the exchange (None over HTTP/1.x).
    stream_id: int | None = None
    #: HTTP/2: the frames that are not the exchange's messages, counted (``FrameCount``).
    control_frames: tuple[FrameCount, ...] = ()

    @property
    def path(self) -> str:
        """The target's path, percent-decoding left as sent."""
        return urllib.parse.urlsplit(self.target).path

    @property
    def upstream(self) -> tuple[Event, ...]:
        """The upstream leg in proxy mode, in order: the request as it went up, each interim
        and the final response as they came back (with their fields), the body bytes, and
        any trouble (empty when the exchange was not forwarded)."""
        return tuple(e for e in self.events if e.kind == "upstream")

    @property
    def raw_query(self) -> str:
        """The target's query string as sent, without the ``?`` (empty when none)."""
        return urllib.parse.urlsplit(self.target).query

    @property
    def query(self) -> dict[str, str]:
        """Query parameters; for a repeated name, the last value."""
        return dict(urllib.parse.parse_qsl(self.raw_query, keep_blank_values=True))

    @property
    def body(self) -> bytes:
        """The request body bytes the server read (all of them, or up to a scripted cut)."""
        return self._body.read(0, self._body_size)

    @property
    def body_size(self) -> int:
        """How many request body bytes the server read (``len(body)``, without reading them)."""
        return self._body_size

    def read_body(self, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``start:end`` of the body, without reading the rest (a large body is on
        disk): for writing it out a slice at a time."""
        end = self._body_size if end is None else min(end, self._body_size)
        return self._body.read(start, end) if start < end else b""

    @property
    def request_line(self) -> str:
        """``METHOD target HTTP/x.y``, or ``(incomplete request)`` when the request line never
        arrived whole (a malformed request, a cut inside the head)."""
        if not self.method:
            return "(incomplete request)"
        return f"{self.method} {self.target} HTTP/{self.http_version}"

    def timeline(self) -> str:
        """A readable account of the exchange, one event per line."""
        head = f"#{self.index} {self.request_line}"
        extra = [f"connection {self.connection}"]
        if self.stream_id is not None:
            extra.append(f"stream {self.stream_id}")
        if self.handled_by:
            extra.append(self.handled_by)
        lines = [f"{head}  [{', '.join(extra)}]"]
        for event in self.events:
            arrow = {"in": "<-", "out": "->"}.get(event.direction, "..")
            detail = event.detail
            if event.kind in ("interim", "interim-skipped", "trailers") and event.headers:
                detail += "  " + "; ".join(f"{n}: {v}" for n, v in event.headers)
            lines.append(f"  {event.at * 1000:9.1f} ms  {arrow} {detail}")
        if self.control_frames:
            counted = "; ".join(
                f"{c.kind} {c.direction} x{c.count:,}"
                + (f" +{c.total:,}" if c.total else "")
                + f" ({c.scope})"
                for c in self.control_frames
            )
            lines.append(f"  frames: {counted}")
        return "\n".join(lines)


class JournalMark(NamedTuple):
    """How far an exchange's log had gone (``ExchangeLog.mark``): its events, its interims
    and its response then (a tuple: one is made for every write)."""

    events: int
    interims: int
    response: ResponseRecord | None


#: How many fields an event has: an ``ExchangeLog`` keeps them one after the other.
_EVENT_FIELDS = len(Event._fields)
#: The fields of an ``ExchangeLog``'s ``ResponseRecord``, read in order.
_response_fields = operator.attrgetter(
    "_status", "_reason", "_response_headers", "_response_at", "_body_sent", "_complete"
)


class ExchangeLog:
    """The mutable record the server keeps while an exchange runs."""

    # Slots: one is made per request, and setting its fields is a good part of that.
    __slots__ = (
        "_body_sent",
        "_complete",
        "_ended",
        "_frame_counts",
        "_frame_store",
        "_reason",
        "_response_at",
        "_response_headers",
        "_spool_threshold",
        "_status",
        "_timeline",
        "body",
        "body_before_continue",
        "body_complete",
        "bytes_received",
        "bytes_sent",
        "connection",
        "fault",
        "frames",
        "handled_by",
        "headers",
        "http_version",
        "index",
        "interims",
        "listeners",
        "method",
        "on_end",
        "reserved",
        "started",
        "stream_id",
        "target",
        "tls",
    )

    def __init__(
        self,
        index: int,
        connection: int,
        started: float,
        *,
        method: str,
        target: str,
        http_version: str,
        headers: Headers,
        spool_threshold: int,
    ) -> None:
        self.index = index
        self.connection = connection
        self.started = started
        self.method = method
        self.target = target
        self.http_version = http_version
        self.headers = headers
        #: The request body as read: ``NO_BODY`` until some is (``append_body``).
        self.body = NO_BODY
        self._spool_threshold = spool_threshold
        self.body_complete = False
        # Made at the first interim (``add_interim``), as ``frames`` at the first frame: most
        # exchanges have neither, and an empty list is one more object for the garbage
        # collector to walk for as long as the journal keeps the exchange.
        self.interims: list[InterimRecord] | tuple[InterimRecord, ...] = ()
        # The final response's fields (``response``): the others are set with ``_status``.
        self._status: int | None = None
        self._reason: str
        self._response_headers: Headers
        self._response_at: float
        self._body_sent: int
        self._complete: bool
        self.fault: Fault | None = None
        # The events' fields one after the other, ``_EVENT_FIELDS`` per event, in one list
        # (``events`` makes the ``Event``s when read), and the response's in fields of the
        # log (``response``): each object a log keeps brings the cyclic garbage collector's
        # next round nearer, and with a named tuple per event and one for the response its
        # rounds came 3.5 times as often (a full one walks the whole journal).
        self._timeline: list[float | str | int | Headers | None] = []
        self._ended: float | None = None
        #: Called with the log once it ends (``ServerState`` keeps the exchanges in progress).
        self.on_end: Callable[[ExchangeLog], None] | None = None
        self.handled_by: str | None = None
        self.bytes_received = 0
        self.bytes_sent = 0
        #: True for a request to a reserved resource (the control API): kept apart from the
        #: journal.
        self.reserved = False
        self.body_before_continue: int | None = None
        self.frames: list[Frame] | tuple[Frame, ...] = ()
        # The payloads of the WebSocket messages in ``frames``, spooled like a body.
        self._frame_store: BodyBuffer | None = None
        self.tls: TLSRecord | None = None
        #: The HTTP/2 stream that carries the exchange (None over HTTP/1.x).
        self.stream_id: int | None = None
        #: HTTP/2: (kind, direction, scope) -> [count, total] of ``control_frames``; made at
        #: the first frame counted (``count_frames``), as ``interims`` and ``frames``.
        self._frame_counts: dict[tuple[str, str, str], list[int]] | None = None
        #: Called with (log, event) for every event as it happens (the CLI prints them); the
        #: server's own list, or none.
        self.listeners: Sequence[Callable[[ExchangeLog, Event], None]] = ()

    @property
    def events(self) -> tuple[Event, ...]:
        """The exchange's events so far, in order (made at each read, so a tuple: the log's
        own methods add and take back events, ``event`` and ``take_back``)."""
        timeline, size = self._timeline, _EVENT_FIELDS
        return tuple(Event._make(timeline[i : i + size]) for i in range(0, len(timeline), size))

    @property
    def response(self) -> ResponseRecord | None:
        """The final response as far as it went out; None before it began."""
        if self._status is None:
            return None
        return ResponseRecord._make(_response_fields(self))

    @response.setter
    def response(self, record: ResponseRecord | None) -> None:
        if record is None:
            self._status = None
            return
        (
            self._status,
            self._reason,
            self._response_headers,
            self._response_at,
            self._body_sent,
            self._complete,
        ) = record

    @property
    def ended(self) -> float | None:
        """When the exchange ended; None while it is in progress."""
        return self._ended

    @ended.setter
    def ended(self, at: float | None) -> None:
        ending = self._ended is None and at is not None
        self._ended = at
        if ending and self.on_end is not None:
            self.on_end(self)

    def append_body(self, data: bytes) -> None:
        """Keep request body bytes (``JournalBody.append``)."""
        if self.body is NO_BODY:
            if not data:
                return
            self.body = JournalBody(self._spool_threshold)
        self.body.append(data)

    def add_interim(self, record: InterimRecord) -> None:
        if isinstance(self.interims, list):
            self.interims.append(record)
        else:
            self.interims = [record]

    def mark(self) -> JournalMark:
        """How far the log has gone: taken before writing bytes it describes, to go back to
        if they never go out (``take_back``)."""
        response = None if self._status is None else self.response
        return JournalMark(len(self._timeline) // _EVENT_FIELDS, len(self.interims), response)

    def take_back(self, mark: JournalMark) -> None:
        """Go back to ``mark``: what was journaled since described bytes that never went
        out."""
        del self._timeline[mark.events * _EVENT_FIELDS :]
        self.interims = self.interims[: mark.interims]
        self.response = mark.response

    def add_frame(self, frame: Frame) -> None:
        if isinstance(self.frames, list):
            self.frames.append(frame)
        else:
            self.frames = [frame]

    def store_payload(self, data: str | bytes) -> StoredPayload:
        """Keep a WebSocket message's payload in the exchange's frame store."""
        store = self._frame_store
        if store is None:
            store = self._frame_store = BodyBuffer(self._spool_threshold)
        raw = data.encode() if isinstance(data, str) else data
        start = len(store)
        store.append(raw)
        return StoredPayload(store, start, len(raw), isinstance(data, str))

    def close_storage(self) -> None:
        """Release the body's and the frames' temporary files; both read empty afterwards."""
        self.body.close()
        if self._frame_store is not None:
            self._frame_store.close()

    def event(
        self,
        now: float,
        kind: str,
        direction: str,
        detail: str,
        *,
        status: int | None = None,
        headers: Headers | None = None,
    ) -> float:
        at = now - self.started
        self._timeline.extend((at, kind, direction, detail, status, headers))
        if self.listeners:
            event = Event(at, kind, direction, detail, status, headers)
            for listener in self.listeners:
                listener(self, event)
        return at

    def frame(
        self, now: float, kind: str, direction: str, scope: str, detail: str, amount: int = 0
    ) -> None:
        """Count an HTTP/2 frame (``FrameCount``), and journal it as a ``frame`` event while
        fewer than ``FRAME_EVENTS`` of its kind, direction and scope were."""
        counted = self.count_frames(kind, direction, scope, 1, amount)
        if counted <= FRAME_EVENTS:
            if counted == FRAME_EVENTS:
                detail += f" (more {kind} {direction} are counted only)"
            self.event(now, "frame", direction, detail)

    def count_frames(self, kind: str, direction: str, scope: str, count: int, total: int) -> int:
        """Add ``count`` HTTP/2 frames (``total``: their increments) to ``control_frames``,
        without journaling them; how many of the kind, direction and scope there are now."""
        counts = self._frame_counts
        if counts is None:
            counts = self._frame_counts = {}
        counted = counts.setdefault((kind, direction, scope), [0, 0])
        counted[0] += count
        counted[1] += total
        return counted[0]

    def snapshot(self) -> Exchange:
        return Exchange(
            index=self.index,
            connection=self.connection,
            method=self.method,
            target=self.target,
            http_version=self.http_version,
            headers=self.headers,
            body_complete=self.body_complete,
            interims=tuple(self.interims),
            response=self.response,
            fault=self.fault,
            events=self.events,
            started=self.started,
            duration=None if self.ended is None else self.ended - self.started,
            handled_by=self.handled_by,
            bytes_received=self.bytes_received,
            bytes_sent=self.bytes_sent,
            _body=self.body,
            _body_size=len(self.body),
            body_before_continue=self.body_before_continue,
            frames=tuple(self.frames),
            tls=self.tls,
            stream_id=self.stream_id,
            control_frames=tuple(
                FrameCount(kind, direction, scope, count, total)
                for (kind, direction, scope), (count, total) in (self._frame_counts or {}).items()
            ),
        )


class Journal(Sequence[Exchange]):
    """The exchanges the server has seen, oldest first: a snapshot, safe to keep."""

    def __init__(self, exchanges: Sequence[Exchange] = ()) -> None:
        self._exchanges = tuple(exchanges)

    @overload
    def __getitem__(self, index: int) -> Exchange: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Exchange]: ...
    def __getitem__(self, index: int | slice) -> Exchange | Sequence[Exchange]:
        return self._exchanges[index]

    def __len__(self) -> int:
        return len(self._exchanges)

    def __iter__(self) -> Iterator[Exchange]:
        return iter(self._exchanges)

    def __repr__(self) -> str:
        return f"<Journal of {len(self)} exchange(s)>"

    @property
    def last(self) -> Exchange:
        """The most recent exchange.

        :raises IndexError: when no request has reached the server.
        """
        if not self._exchanges:
            raise IndexError("the journal is empty: no request has reached the server")
        return self._exchanges[-1]

    def find(self, method: str | None = None, path: str | None = None) -> list[Exchange]:
        """The exchanges with this method and/or path."""
        return [
            ex
            for ex in self._exchanges
            if (method is None or ex.method == method.upper()) and (path is None or ex.path == path)
        ]

    def to_text(self) -> str:
        """Every exchange's timeline, one after another."""
        if not self._exchanges:
            return "(no exchanges)"
        return "\n".join(ex.timeline() for ex in self._exchanges)

    def to_mermaid(self) -> str:
        """A Mermaid ``sequenceDiagram`` of the exchanges."""
        from .mermaid import journal_to_mermaid

        return journal_to_mermaid(self._exchanges)
