"""A strict reader of the simple, common request head, in front of h11.

h11's parse of a request head is about a quarter of what a keep-alive GET costs the core: a
regular expression per line and a state machine. Most heads a test client sends are plain:
a request line ``GET /path HTTP/1.1``, a few ``Name: value`` fields in visible ASCII, CRLF
line ends. ``simple_head`` reads exactly those and declines (returns None) anything else,
so that h11 decides it as before: a head not yet whole, bare LF line ends, leading blank
lines, obs-fold, a name that is not a token, a value with a control or non-ASCII byte, a
target that is not in origin form, a method outside ``METHODS``, a version other than 1.0
and 1.1, ``Transfer-Encoding``, ``Upgrade``. The ``h11.Request`` it returns holds what
h11's reader would have extracted (names as sent, values without their surrounding
whitespace). With Content-Length it is built by h11's own constructor, whose verdicts on
its forms (and on Host) are h11's own: when it refuses, this declines too. Without, it is
made as that constructor would make it (h11's ``Headers``, a private class, of (name as sent,
lower-case name, value)), and h11's Host rule is checked here: exactly one, or none for
HTTP/1.0.

What it accepts, h11 reads into an equal event, consuming the same bytes: a differential
test proves it over the bad-input catalogue, the request fuzzer's strategies and hand-made
edge cases (tests/core/test_simple_heads.py), asking each head twice (the second answer is
the remembered one: the last heads read are kept, a client sending the same head over and
over has it read once). The connection hands the head to h11 only
when an exchange needs h11 (``ServerConnection.h11_conn``); a plain keep-alive exchange, whose
response goes past h11, never does.
"""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

import h11
from h11._headers import Headers as H11Headers

from ..http.headers import Headers
from .request_head import RequestFraming, RequestLine, request_framing, request_line

#: Methods read here; any other goes to h11 (CONNECT, whose target is not a path, above all).
METHODS = frozenset({b"GET", b"HEAD", b"POST", b"PUT", b"PATCH", b"DELETE", b"OPTIONS"})
#: The request line: a method of ``METHODS``, an origin-form target of visible ASCII, HTTP/1.0
#: or 1.1, single spaces, CRLF.
_REQUEST_LINE = re.compile(
    rb"(" + b"|".join(sorted(METHODS)) + rb") (/[\x21-\x7e]*) HTTP/(1\.[01])\r\n"
)
#: A field line: a token (RFC 9110 §5.6.2 tchar), a colon, a value of visible ASCII, space
#: and tab, CRLF; ``_FIELD_LINES``: any number of them and nothing else.
_FIELD = rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):([\x21-\x7e \t]*)\r\n"
_FIELD_LINE = re.compile(_FIELD)
_FIELD_LINES = re.compile(rb"(?:" + _FIELD + rb")*")
#: Fields whose presence changes how h11 frames the exchange or what it does next.
_DECLINED_FIELDS = frozenset({b"transfer-encoding", b"upgrade"})


class SimpleHead(NamedTuple):
    """A head ``simple_head`` read."""

    #: The event h11 makes of it.
    request: h11.Request
    #: Its length, its blank line included.
    size: int
    #: Its fields as the journal keeps them (read-only, and shared by every exchange whose
    #: head had the same bytes).
    headers: Headers
    #: Its request line as the journal keeps it, and what it says of its exchange's framing
    #: (shared likewise).
    line: RequestLine
    framing: RequestFraming


def simple_head(data: bytes) -> SimpleHead | None:
    """The head that starts ``data``, read, or None: the head is not whole yet, or not in the
    simple form (h11 decides).

    A test client sends the same head over and over (the same request in a loop, or in test
    after test): the last ``REMEMBERED_HEADS`` heads of at most ``REMEMBERED_HEAD_SIZE`` bytes
    are remembered with what was read of them, so that such a head is read once. Reading is a
    function of the bytes alone, so a head remembered is read as it would be again.
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = data[: end + 4]
    if len(head) > REMEMBERED_HEAD_SIZE:
        return _read(head)
    return _read_remembered(head)


def _read(head: bytes) -> SimpleHead | None:
    """Read ``head``, which ends at its first blank line."""
    # The bytes are checked by regular expressions, in C: a loop over the lines cost a
    # sixth more of what a keep-alive GET costs the core.
    line = _REQUEST_LINE.match(head)
    if line is None:
        return None
    # The request line holds no CR or LF: the head's first blank line comes after it.
    block = head[line.end() : -2]
    if _FIELD_LINES.fullmatch(block) is None:
        return None  # a bare CR or LF, obs-fold, a name that is not a token, a control byte
    fields: list[tuple[bytes, bytes]] = _FIELD_LINE.findall(block)
    lowered = [name.lower() for name, _ in fields]
    if not _DECLINED_FIELDS.isdisjoint(lowered):
        return None
    method, target, http_version = line.groups()
    items = [
        (name, lower, value.strip(b" \t"))
        for (name, value), lower in zip(fields, lowered, strict=True)
    ]
    length = b"content-length" in lowered
    hosts = lowered.count(b"host")
    if length:
        # Content-Length is normalised and judged by h11's own constructor.
        try:
            request = h11.Request(
                method=method,
                target=target,
                headers=[(name, value) for name, _, value in items],
                http_version=http_version,
                _parsed=True,
            )
        except h11.LocalProtocolError:
            return None  # no Host, two of them, a bad Content-Length: h11 says so itself
    elif hosts > 1 or (hosts == 0 and http_version == b"1.1"):
        return None  # h11 refuses it (RFC 9112 §3.2)
    else:
        # The event h11's constructor makes of these fields (nothing in them to normalise),
        # made without its checks: what they check of method, target and fields is checked
        # above.
        request = object.__new__(h11.Request)
        object.__setattr__(request, "method", method)
        object.__setattr__(request, "target", target)
        object.__setattr__(request, "headers", H11Headers(items))
        object.__setattr__(request, "http_version", http_version)
    headers = Headers.from_raw(request.headers.raw_items())
    framing = request_framing(request, headers)
    return SimpleHead(request, len(head), headers, request_line(request), framing)


#: How many heads ``simple_head`` remembers, and how long each may be: 1 MiB of heads at
#: most (a few MiB with what was read of them), whatever the clients send.
REMEMBERED_HEADS = 256
REMEMBERED_HEAD_SIZE = 4096
_read_remembered = functools.lru_cache(maxsize=REMEMBERED_HEADS)(_read)
