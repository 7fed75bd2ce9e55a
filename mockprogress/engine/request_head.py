"""What an HTTP/1.1 request's head says, worked out once per head: its request line as the
journal keeps it, and how its exchange goes (the body's length, whether the client waits for
``100 Continue``, whether the final response may go past h11).

Functions of the head alone: ``simple_head`` keeps what they give with each head it
remembers (engine/heads.py), so a client repeating a request has it worked out once (and
its exchanges share the strings); a head h11 read has it worked out for its exchange.
"""

from __future__ import annotations

from typing import NamedTuple

import h11

from ..http.headers import Headers
from .wire import plain_exchange


class RequestLine(NamedTuple):
    """A request line, decoded as the journal keeps it."""

    method: str
    target: str
    version: str
    #: What the exchange's ``request`` event says: ``GET /path HTTP/1.1``.
    text: str


def request_line(request: h11.Request) -> RequestLine:
    method = request.method.decode("latin-1")
    target = request.target.decode("latin-1")
    version = request.http_version.decode()
    return RequestLine(method, target, version, f"{method} {target} HTTP/{version}")


class RequestFraming(NamedTuple):
    #: The Content-Length (0 without a body), or None for a chunked body.
    declared_length: int | None
    #: ``Expect: 100-continue`` from an HTTP/1.1 client (HTTP/1.0 ones get no interims).
    expects_continue: bool
    #: h11 writes a final response to it as to a plain GET (``wire.plain_exchange``).
    plain: bool


def request_framing(request: h11.Request, headers: Headers) -> RequestFraming:
    """``request``'s framing; ``headers`` are its fields."""
    expect = (headers.get("expect") or "").lower()
    return RequestFraming(
        declared_length(headers),
        request.http_version != b"1.0" and expect == "100-continue",
        plain_exchange(request, headers),
    )


def declared_length(headers: Headers) -> int | None:
    """The request's Content-Length, or None for a chunked body (h11 has validated both)."""
    if "transfer-encoding" in headers:
        return None
    value = headers.get("content-length")
    if value is None:
        return 0
    try:
        return int(value.split(",")[0].strip())
    except ValueError:
        return None
