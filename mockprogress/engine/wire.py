"""Where a cut falls and how a drip splits the bytes of a response: pure arithmetic.

A response is a list of segments, each either content (body bytes the client's parser hands to
the application) or framing (status line, headers, chunk sizes and their CRLFs). A body cut
counts content bytes; a wire cut counts every byte written for the exchange.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import h11

from ..http.headers import HeaderPairs, Headers, has_header
from ..script.steps import Cut, Drip, Respond
from .actions import Program

#: The largest write a streamed body is sent in (with the head before it, in the first).
STREAM_PIECE = 1 << 16


class BodySource(Protocol):
    """A response body read piece by piece as it is sent, never held whole (a range response
    over a large document): its length, and its bytes ``[start, end)``."""

    def __len__(self) -> int: ...
    def read(self, start: int, end: int) -> bytes: ...


@runtime_checkable
class FetchedSource(BodySource, Protocol):
    """A ``BodySource`` whose bytes arrive while the response goes out (a proxied body, from
    the upstream): ``fetch(end)`` is the program that makes bytes up to ``end`` readable
    (fewer when the source ends early); ``read`` then gives them, once, in order."""

    def fetch(self, end: int) -> Program[None]: ...


class UnsizedSource(Protocol):
    """A response body whose length is known only at its end (a proxied chunked or
    close-delimited body): ``next_piece(n)`` is the program that gives its next bytes, at most
    ``n`` of them, and ``b""`` at its end; ``ended_early`` then says whether that end was not
    the body's own (its source failed)."""

    def next_piece(self, max_bytes: int) -> Program[bytes]: ...
    @property
    def ended_early(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Segment:
    data: bytes
    content: bool
    #: A streamed body instead of ``data`` (which is then empty).
    source: BodySource | None = None
    #: Its length in bytes (a field, not a property: a response reads it a dozen times).
    size: int = field(init=False)

    def __post_init__(self) -> None:
        size = len(self.data) if self.source is None else len(self.source)
        object.__setattr__(self, "size", size)


@dataclass(frozen=True, slots=True)
class ResponseHead:
    """A final response's header fields as sent (for the journal), the h11 event that sends
    them, and the bytes h11 writes for them when nothing in the exchange changes them (see
    ``plain_exchange``)."""

    fields: Headers
    event: h11.Response
    #: The status line and fields as h11 writes them answering a plain keep-alive request.
    wire: bytes
    #: False when the fields say ``Connection: close`` (the connection ends after it).
    keeps_alive: bool


def response_head(
    step: Respond,
    *,
    close_after: bool,
    head_length: int | None = None,
    method: str = "GET",
    body_length: int | None = None,
    unsized: bool = False,
) -> ResponseHead:
    """The final response's head: the script's fields, plus ``Content-Length`` for a
    non-chunked body and ``Connection: close`` when the connection ends after it.
    ``head_length`` is the Content-Length a response to HEAD declares for the body it stands
    for; ``body_length`` that of a streamed body (``step`` has none of its own); ``unsized``:
    a body whose length is not known yet, framed by chunks (HTTP/1.1) or by the close.

    :raises h11.LocalProtocolError: when h11 refuses a field.
    """
    # RFC 9110 §8.6: no Content-Length on a 204; on a 304 it would describe the
    # representation, which an empty 304 says nothing about.
    length: int | None = None
    if step.status not in (204, 304) and not step.chunked and not unsized:
        length = len(step.content) if body_length is None else body_length
        if head_length is not None and method == "HEAD":
            length = head_length
    return _response_head(step.status, step.reason, step.headers, length, close_after)


@functools.lru_cache(maxsize=512)
def _response_head(
    status: int, reason: str, headers: HeaderPairs, length: int | None, close: bool
) -> ResponseHead:
    # Built once per distinct head: validating and encoding the fields (in h11's event) is a
    # good part of what a small response costs, and a test server sends the same few heads
    # over and over. h11 never changes an event, so one serves every connection.
    if has_header(headers, "content-length"):
        length = None  # the script's own (Respond checked that it matches the body)
    close = close and not has_header(headers, "connection")
    fields = list(headers)
    if length is not None:
        fields.append(("Content-Length", str(length)))
    if close:
        fields.append(("Connection", "close"))
    raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in fields]
    event = h11.Response(status_code=status, headers=raw, reason=reason.encode())
    # What h11 writes for this head answering a plain keep-alive HTTP/1.1 GET: it may reorder
    # the fields (Host first) and never adds one there (the framing is Content-Length).
    probe = h11.Connection(h11.SERVER)
    probe.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    probe.next_event()
    probe.next_event()
    wire = probe.send(event) or b""
    return ResponseHead(Headers(fields), event, wire, _keeps_alive(fields))


def plain_exchange(request: h11.Request, headers: Headers) -> bool:
    """Whether h11 writes a final response to ``request`` (whose fields are ``headers``) as it
    would answer a plain GET, so a ``ResponseHead.wire`` and the body, byte for byte, are what
    it would send: an HTTP/1.1 request that keeps the connection (no ``Connection: close``),
    proposes no protocol switch (no ``Upgrade``, not CONNECT) and is not a HEAD (whose
    response carries no body)."""
    if request.http_version != b"1.1" or request.method in (b"HEAD", b"CONNECT"):
        return False
    if "upgrade" in headers:
        return False
    connection = headers.getall("connection")
    return not connection or not any(
        b"close" in _tokens(value.encode("latin-1")) for value in connection
    )


def _keeps_alive(fields: Sequence[tuple[str, str]]) -> bool:
    # As h11 reads a Connection field: comma-separated tokens, case-insensitive.
    return not any(
        n.lower() == "connection" and b"close" in _tokens(v.encode("latin-1")) for n, v in fields
    )


def _tokens(value: bytes) -> list[bytes]:
    return [token.strip().lower() for token in value.split(b",")]


def response_segments(
    send: Callable[[h11.Event], bytes | None],
    step: Respond,
    head: ResponseHead,
    *,
    bodiless: bool,
) -> list[Segment]:
    """The bytes of a final response as h11 frames them (``send`` is the connection's
    ``h11.Connection.send``), split into framing and content segments.

    :raises h11.LocalProtocolError: when h11 refuses the response.
    """
    segments = [Segment(send(head.event) or b"", False)]
    if not bodiless:
        chunks = step.body if isinstance(step.body, tuple) else (step.body,)
        for chunk in chunks:
            if not chunk:
                continue
            framed = send(h11.Data(data=chunk)) or b""
            prefix = len(framed) - len(chunk) - (2 if step.chunked else 0)
            if prefix:
                segments.append(Segment(framed[:prefix], False))
            segments.append(Segment(chunk, True))
            if step.chunked:
                segments.append(Segment(framed[prefix + len(chunk) :], False))
    trailers = list(step.trailers) if step.chunked and not bodiless else []
    end = send(h11.EndOfMessage(headers=trailers))
    if end:
        segments.append(Segment(end, False))
    return segments


def render_response(step: Respond, method: str = "GET") -> list[Segment]:
    """The segments ``step`` is sent as, answering an HTTP/1.1 request without a body (the
    same bytes the server writes, through a throwaway h11 connection)."""
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(f"{method} / HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    conn.next_event()
    conn.next_event()
    bodiless = method == "HEAD" or step.status in (204, 304)
    return response_segments(
        conn.send, step, response_head(step, close_after=False), bodiless=bodiless
    )


def cut_offset(segments: Sequence[Segment], cut: Cut, written_before: int) -> int:
    """The number of bytes of ``segments`` (joined) to write before the fault fires.

    For a body cut at N that is the position just after the N-th content byte (just after the
    head for N = 0). For a wire cut it is N minus what the exchange already wrote; the caller
    checks the result against 0 and the total.
    """
    if cut.unit == "wire":
        return cut.at - written_before
    offset = 0
    remaining = cut.at
    for segment in segments:
        if segment.content:
            if remaining <= segment.size:
                return offset + remaining
            remaining -= segment.size
        elif remaining == 0 and offset > 0:
            return offset
        offset += segment.size
    return offset


def content_within(segments: Sequence[Segment], limit: int) -> int:
    """How many content bytes lie in the first ``limit`` bytes of the joined segments."""
    offset = 0
    count = 0
    for segment in segments:
        if offset >= limit:
            break
        take = min(segment.size, limit - offset)
        if segment.content:
            count += take
        offset += segment.size
    return count


def read_segments(segments: Sequence[Segment], start: int, end: int) -> bytes:
    """Bytes ``[start, end)`` of the joined segments, reading a streamed body's part of them
    from its source."""
    out: list[bytes] = []
    offset = 0
    for segment in segments:
        size = segment.size
        a, b = max(start - offset, 0), min(end - offset, size)
        if a < b:
            out.append(segment.data[a:b] if segment.source is None else segment.source.read(a, b))
        offset += size
        if offset >= end:
            break
    return b"".join(out)


def piece_bounds(
    limit: int, head_length: int, drip: Drip | None, piece: int | None = None
) -> Iterator[tuple[int, int]]:
    """Where the writes of the first ``limit`` bytes of a response begin and end: with a drip,
    the head whole (unless ``drip.head``), then ``drip.chunk`` bytes at a time; without one,
    ``piece`` bytes at a time (None: all in one write)."""
    if limit <= 0:
        return
    start = 0
    step = piece
    if drip is not None:
        step = drip.chunk
        if not drip.head and head_length:
            start = min(head_length, limit)
            yield 0, start
    if step is None:
        if start < limit:
            yield start, limit
        return
    for at in range(start, limit, step):
        yield at, min(at + step, limit)
