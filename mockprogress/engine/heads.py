"""A strict reader of the simple, common request head, in front of h11.

h11's parse of a request head is about a quarter of what a keep-alive GET costs the core: a
regular expression per line and a state machine. Most heads a test client sends are plain:
a request line ``GET /path HTTP/1.1``, a few ``Name: value`` fields in visible ASCII, CRLF
line ends. ``simple_head`` reads exactly those and declines (returns None) anything else,
so that h11 decides it as before: a head not yet whole, bare LF line ends, leading blank
lines, obs-fold, a name that is not a token, a value with a control or non-ASCII byte, a
target that is not in origin form, a method outside ``METHODS``, a version other than 1.0
and 1.1, ``Transfer-Encoding``, ``Upgrade``. The ``h11.Request`` it returns is built by
h11's own constructor from what h11's reader would have extracted (names as sent, values
without their surrounding whitespace), so the checks h11 makes there (Host present and
single, Content-Length forms) are h11's own; when one fails, it declines too.

What it accepts, h11 reads into an equal event, consuming the same bytes: a differential
test proves it over the bad-input catalogue, the request fuzzer's strategies and hand-made
edge cases (tests/core/test_simple_heads.py). The connection hands the head to h11 only
when an exchange needs h11 (``ServerConnection.h11_conn``); a plain keep-alive exchange, whose
response goes past h11, never does.
"""

from __future__ import annotations

import h11

#: Methods read here; any other goes to h11 (CONNECT, whose target is not a path, above all).
METHODS = frozenset({b"GET", b"HEAD", b"POST", b"PUT", b"PATCH", b"DELETE", b"OPTIONS"})
_VERSIONS = {b"HTTP/1.1": b"1.1", b"HTTP/1.0": b"1.0"}
#: RFC 9110 §5.6.2 tchar.
_TOKEN = b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
#: Visible ASCII (a target's bytes).
_VCHAR = bytes(range(0x21, 0x7F))
#: What a value may hold here: visible ASCII, space and tab.
_VALUE = _VCHAR + b" \t"
#: Fields whose presence changes how h11 frames the exchange or what it does next.
_DECLINED_FIELDS = frozenset({b"transfer-encoding", b"upgrade"})


def simple_head(data: bytes) -> tuple[h11.Request, int] | None:
    """The request whose head starts ``data`` and the head's length (its blank line
    included), or None: the head is not whole yet, or not in the simple form (h11 decides).
    """
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = data[:end]
    lines = head.split(b"\r\n")
    breaks = len(lines) - 1
    if head.count(b"\n") != breaks or head.count(b"\r") != breaks:
        return None  # a bare CR or LF inside a line
    parts = lines[0].split(b" ")
    if len(parts) != 3:
        return None
    method, target, version = parts
    http_version = _VERSIONS.get(version)
    if (
        http_version is None
        or method not in METHODS
        or not target.startswith(b"/")
        or target.translate(None, _VCHAR)
    ):
        return None
    fields: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon or not name or name.translate(None, _TOKEN):
            return None  # not a field line (obs-fold starts with whitespace: not a token)
        if value.translate(None, _VALUE) or name.lower() in _DECLINED_FIELDS:
            return None
        fields.append((name, value.strip(b" \t")))
    try:
        request = h11.Request(
            method=method, target=target, headers=fields, http_version=http_version, _parsed=True
        )
    except h11.LocalProtocolError:
        return None  # no Host, two of them, a bad Content-Length: h11 says so itself
    return request, end + 4
