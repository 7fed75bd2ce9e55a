"""Byte-range patch documents (draft-wright-http-patch-byterange §2.6-§2.8), parsed as they
stream in.

A patch is a list of parts; each part has fields (one ``Content-Range`` at least) and a body
that covers one contiguous range. Three media types carry them:

- ``message/byterange``: one part, written as HTTP fields, a blank line, then the body;
- ``multipart/byteranges; boundary=...``: RFC 2046 multipart, one part per range;
- ``application/byteranges``: binary (RFC 9292 productions, QUIC variable-length integers):
  known-length messages (framing indicator 8) and indeterminate-length ones (10).

Strategy. A parser is fed the request body piece by piece and drives a ``PartSink``
(``begin`` / ``write`` / ``end``) as it goes, so a resource stores each byte the moment it
arrives: when the connection is cut mid-part, everything read so far is already written.
Bad input raises ``PatchFormatError`` with the status to answer; bytes written before the
error stay written (§2.5: a body shorter than its fields say is treated as an interruption).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from .content_range import ContentRange, RangeSyntaxError, parse_content_range
from .field_reader import TOKEN, FieldReader, FieldSyntaxError
from .headers import Headers

MESSAGE_BYTERANGE = "message/byterange"
MULTIPART_BYTERANGES = "multipart/byteranges"
APPLICATION_BYTERANGES = "application/byteranges"
#: Every patch format, in the order ``Accept-Patch`` lists them.
PATCH_MEDIA_TYPES = (MESSAGE_BYTERANGE, MULTIPART_BYTERANGES, APPLICATION_BYTERANGES)

#: A part's Content-Length: 1 to 18 digits (int() refuses thousands; no test needs more).
_DIGITS = re.compile(r"[0-9]{1,18}")


class PatchFormatError(ValueError):
    """A patch the server refuses: ``status`` is the answer (400, 415, 416, 422, ...),
    ``kind`` a short name of the failure, ``headers`` extra response fields."""

    def __init__(
        self,
        message: str,
        status: int = 400,
        kind: str = "syntax",
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.kind = kind
        self.headers = headers


@dataclass(frozen=True, slots=True)
class PatchOptions:
    """How strict the parsers are.

    :param unit_optional: accept ``Content-Range: 0-9/10`` without ``bytes`` (the demo).
    :param require_length: every part must carry ``Content-Length`` (the demo).
    :param max_fields: the most bytes a part's fields may take.
    """

    unit_optional: bool = False
    require_length: bool = False
    max_fields: int = 16 * 1024


@dataclass(frozen=True, slots=True)
class PartHead:
    """A part's fields, its parsed range, and how many body bytes it carries when known."""

    fields: Headers
    content_range: ContentRange
    length: int | None


class PartSink(Protocol):
    """Where a parser delivers parts. Any method may raise ``PatchFormatError``."""

    def begin(self, head: PartHead) -> None: ...

    def write(self, data: bytes) -> None: ...

    def end(self, head: PartHead, received: int) -> None: ...


class PatchParser(Protocol):
    """Feeds a ``PartSink`` from a patch body arriving in pieces."""

    def feed(self, data: bytes) -> None: ...

    def finish(self) -> None: ...


# ---- media types ----------------------------------------------------------------------------


def parse_media_type(value: str | None) -> tuple[str, dict[str, str]]:
    """``("type/subtype", {param: value})`` with the type and parameter names lower-cased.

    :raises PatchFormatError: (415) for a value that is not a media type.
    """
    if value is None or not value.strip():
        return "", {}
    essence, _, rest = value.partition(";")
    media = essence.strip(" \t").lower()
    kind, slash, sub = media.partition("/")
    if not slash or not TOKEN.fullmatch(kind) or not TOKEN.fullmatch(sub):
        raise PatchFormatError(f"Content-Type {value!r} is not a media type", 415, "media-type")
    params: dict[str, str] = {}
    reader = FieldReader(rest, "Content-Type")
    try:
        while True:
            reader.skip_ws()
            if reader.peek() == ";":
                reader.pos += 1
                continue
            if reader.peek() == "":
                break
            name = reader.token().lower()
            reader.skip_ws()
            if reader.peek() != "=":
                raise reader.error("expected '=' after a parameter name")
            reader.pos += 1
            reader.skip_ws()
            params.setdefault(name, reader.word())
            reader.skip_ws()
            if reader.peek() not in (";", ""):
                raise reader.error("expected ';'")
    except FieldSyntaxError as exc:
        detail = str(exc).split(": ", 1)[-1]
        raise PatchFormatError(f"Content-Type {value!r}: {detail}", 415, "media-type") from None
    return media, params


def accept_patch(media_types: tuple[str, ...] = PATCH_MEDIA_TYPES) -> str:
    """The ``Accept-Patch`` value (RFC 5789 §3.1) for these formats."""
    return ", ".join(media_types)


def patch_parser(
    content_type: str | None,
    sink: PartSink,
    options: PatchOptions | None = None,
    media_types: tuple[str, ...] = PATCH_MEDIA_TYPES,
) -> PatchParser:
    """The parser for a patch of this ``Content-Type``.

    :raises PatchFormatError: 415 (with ``Accept-Patch``) for another media type, 400 for a
        multipart type without a boundary.
    """
    options = options or PatchOptions()
    media, params = parse_media_type(content_type)
    if media not in media_types:
        shown = "no Content-Type" if not media else f"Content-Type {media}"
        raise PatchFormatError(
            f"{shown}: a patch must be one of {', '.join(media_types)}",
            415,
            "media-type",
            (("Accept-Patch", accept_patch(media_types)),),
        )
    if media == MESSAGE_BYTERANGE:
        return MessageByterangeParser(sink, options)
    if media == MULTIPART_BYTERANGES:
        boundary = params.get("boundary", "")
        if not boundary or len(boundary) > 70:
            raise PatchFormatError(
                "multipart/byteranges needs a boundary parameter of 1 to 70 characters "
                "(RFC 2046 §5.1.1)",
                400,
                "boundary",
            )
        return MultipartByterangesParser(sink, boundary, options)
    return ApplicationByterangesParser(sink, options)


# ---- part fields ----------------------------------------------------------------------------


def parse_fields(block: bytes) -> Headers:
    """Field lines (``name: value``, CRLF or LF) of a part, without the blank line."""
    pairs: list[tuple[str, str]] = []
    for raw in block.decode("latin-1").split("\n"):
        line = raw[:-1] if raw.endswith("\r") else raw
        if not line:
            continue
        if line[0] in " \t":
            raise PatchFormatError(f"part field line {line!r} is folded (obs-fold)", 400, "field")
        name, colon, value = line.partition(":")
        if not colon or not TOKEN.fullmatch(name):
            raise PatchFormatError(f"part field line {line!r} is not 'name: value'", 400, "field")
        value = value.strip(" \t")
        if any(c in value for c in "\r\x00"):
            raise PatchFormatError(f"part field {name} contains CR or NUL", 400, "field")
        pairs.append((name, value))
    return Headers(pairs)


def part_head(fields: Headers, options: PatchOptions) -> PartHead:
    """Check a part's ``Content-Range`` and ``Content-Length`` (§2.1, §2.2)."""
    ranges = fields.getall("content-range")
    if not ranges:
        raise PatchFormatError("the part has no Content-Range field", 422, "no-range")
    if len(ranges) > 1:
        raise PatchFormatError("the part has more than one Content-Range field", 400, "bad-range")
    try:
        content_range = parse_content_range(ranges[0], unit_optional=options.unit_optional)
    except RangeSyntaxError as exc:
        raise PatchFormatError(str(exc), 400, "end" if exc.kind == "end" else "bad-range") from None
    if content_range.unit.lower() != "bytes":
        raise PatchFormatError(
            f"range unit {content_range.unit!r} is not supported (only bytes)", 422, "unit"
        )
    lengths = set(fields.getall("content-length"))
    declared: int | None = None
    if lengths:
        value = next(iter(lengths))
        if len(lengths) > 1 or not _DIGITS.fullmatch(value):
            raise PatchFormatError(
                f"the part's Content-Length {', '.join(sorted(lengths))} is not one number",
                400,
                "bad-length",
            )
        declared = int(value)
    elif options.require_length:
        raise PatchFormatError("the part has no Content-Length field", 400, "no-length")
    covered = content_range.length
    if declared is not None and covered is not None and declared != covered:
        raise PatchFormatError(
            f"the part's Content-Length {declared} does not match its Content-Range "
            f"{content_range} ({covered} bytes)",
            400,
            "length-mismatch",
        )
    return PartHead(fields, content_range, covered if covered is not None else declared)


def _short(head: PartHead, received: int) -> PatchFormatError:
    return PatchFormatError(
        f"the part ended after {received} of its {head.length} bytes (they are kept)",
        400,
        "short",
    )


def _too_long(head: PartHead) -> PatchFormatError:
    return PatchFormatError(
        f"the part carries more than the {head.length} bytes its fields declare "
        "(the declared bytes are kept)",
        400,
        "too-long",
    )


def _find_head_end(buf: bytearray) -> tuple[int, int] | None:
    """Where a field block ends: (end of the fields, start of the body)."""
    if buf.startswith(b"\r\n"):
        return 0, 2
    if buf.startswith(b"\n"):
        return 0, 1
    crlf = buf.find(b"\r\n\r\n")
    lf = buf.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf + 1 <= lf):
        return crlf, crlf + 4
    if lf >= 0:
        return lf, lf + 2
    return None


# ---- message/byterange ----------------------------------------------------------------------


class MessageByterangeParser:
    """``message/byterange`` (§2.7.1): fields, a blank line, then the part's body."""

    def __init__(self, sink: PartSink, options: PatchOptions) -> None:
        self.sink = sink
        self.options = options
        self.buf = bytearray()
        self.head: PartHead | None = None
        self.received = 0

    def feed(self, data: bytes) -> None:
        if self.head is None:
            self.buf += data
            found = _find_head_end(self.buf)
            if found is None:
                if len(self.buf) > self.options.max_fields:
                    raise PatchFormatError(
                        f"the patch's fields exceed {self.options.max_fields} bytes", 400, "fields"
                    )
                return
            end, body = found
            self.head = part_head(parse_fields(bytes(self.buf[:end])), self.options)
            data = bytes(self.buf[body:])
            self.buf = bytearray()
            self.sink.begin(self.head)
        self._body(self.head, data)

    def _body(self, head: PartHead, data: bytes) -> None:
        if head.length is None:
            if data:
                self.received += len(data)
                self.sink.write(data)
            return
        room = head.length - self.received
        take = data[:room]
        if take:
            self.received += len(take)
            self.sink.write(take)
        if len(data) > room:
            raise _too_long(head)

    def finish(self) -> None:
        if self.head is None:
            if not self.buf:
                raise PatchFormatError("the patch is empty: it names no range", 422, "no-range")
            raise PatchFormatError("the patch ended inside its fields", 400, "fields")
        self.sink.end(self.head, self.received)
        if self.head.length is not None and self.received < self.head.length:
            raise _short(self.head, self.received)


# ---- multipart/byteranges -------------------------------------------------------------------


class _SteppingParser:
    """What the multi-part parsers share: a buffer fed piece by piece and consumed by
    ``_step`` as far as it allows, the part in progress and the parts seen."""

    def __init__(self, sink: PartSink, options: PatchOptions, state: str) -> None:
        self.sink = sink
        self.options = options
        self.buf = bytearray()
        self.state = state
        self.head: PartHead | None = None
        self.received = 0
        self.parts = 0

    def feed(self, data: bytes) -> None:
        self.buf += data
        while self._step():
            pass

    def _step(self) -> bool:
        """Consume what the buffer allows; True if progress was made and more may follow."""
        raise NotImplementedError


class MultipartByterangesParser(_SteppingParser):
    """``multipart/byteranges`` (RFC 2046 §5.1.1). A part whose length is known (from its
    range or Content-Length) is read by count, then the delimiter must follow; otherwise the
    body is scanned for the delimiter (holding back at most its length)."""

    def __init__(self, sink: PartSink, boundary: str, options: PatchOptions) -> None:
        super().__init__(sink, options, "preamble")
        self.dash = b"--" + boundary.encode("latin-1")
        self.delimiter = b"\r\n" + self.dash

    def _step(self) -> bool:
        buf = self.buf
        if self.state == "preamble":
            if buf.startswith(self.dash):
                del buf[: len(self.dash)]
                self.state = "after-delimiter"
                return True
            at = buf.find(self.delimiter)
            if at >= 0:
                del buf[: at + len(self.delimiter)]
                self.state = "after-delimiter"
                return True
            if len(buf) > self.options.max_fields:
                raise PatchFormatError("no multipart boundary found", 400, "multipart")
            return False
        if self.state == "after-delimiter":
            if len(buf) < 2:
                return False
            if buf.startswith(b"--"):
                if self.parts == 0:
                    raise PatchFormatError(
                        "the multipart patch has no part: it names no range", 422, "no-range"
                    )
                self.state = "epilogue"
                return True
            line_end = buf.find(b"\n")
            if line_end < 0:
                if len(buf) > 1024:
                    raise PatchFormatError("junk after a multipart boundary", 400, "multipart")
                return False
            if buf[:line_end].rstrip(b"\r").strip(b" \t"):
                raise PatchFormatError("junk after a multipart boundary", 400, "multipart")
            del buf[: line_end + 1]
            self.state = "fields"
            return True
        if self.state == "fields":
            found = _find_head_end(buf)
            if found is None:
                if len(buf) > self.options.max_fields:
                    raise PatchFormatError(
                        f"a part's fields exceed {self.options.max_fields} bytes", 400, "fields"
                    )
                return False
            end, body = found
            self.head = part_head(parse_fields(bytes(buf[:end])), self.options)
            del buf[:body]
            self.received = 0
            self.parts += 1
            self.state = "body"
            self.sink.begin(self.head)
            return True
        if self.state == "body":
            return self._body()
        if self.state == "epilogue":
            buf.clear()
        return False

    def _body(self) -> bool:
        head = self.head
        assert head is not None
        buf = self.buf
        if head.length is not None:
            room = head.length - self.received
            if room > 0:
                take = bytes(buf[:room])
                if not take:
                    return False
                del buf[: len(take)]
                self.received += len(take)
                self.sink.write(take)
                return True
            if len(buf) < len(self.delimiter):
                return False
            if not buf.startswith(self.delimiter):
                raise _too_long(head)
            del buf[: len(self.delimiter)]
            self._end_part()
            return True
        at = buf.find(self.delimiter)
        if at >= 0:
            self._write(bytes(buf[:at]))
            del buf[: at + len(self.delimiter)]
            self._end_part()
            return True
        keep = len(self.delimiter) - 1
        if len(buf) > keep:
            cut = len(buf) - keep
            self._write(bytes(buf[:cut]))
            del buf[:cut]
        return False

    def _write(self, data: bytes) -> None:
        if data:
            self.received += len(data)
            self.sink.write(data)

    def _end_part(self) -> None:
        assert self.head is not None
        self.sink.end(self.head, self.received)
        self.head = None
        self.state = "after-delimiter"

    def finish(self) -> None:
        if self.state == "epilogue":
            return
        if self.state == "body" and self.head is not None:
            if self.head.length is None:
                # Held-back bytes that cannot start a delimiter are body bytes.
                tail = bytes(self.buf)
                keep = next(
                    (i for i in range(len(tail)) if self.delimiter.startswith(tail[i:])),
                    len(tail),
                )
                self._write(tail[:keep])
            self.sink.end(self.head, self.received)
            if self.head.length is not None and self.received < self.head.length:
                raise _short(self.head, self.received)
        if self.state == "preamble" and not self.buf:
            raise PatchFormatError("the patch is empty: it names no range", 422, "no-range")
        raise PatchFormatError(
            "the multipart patch ended before its close delimiter", 400, "multipart"
        )


# ---- application/byteranges -----------------------------------------------------------------


def read_varint(buf: bytes | bytearray, at: int = 0) -> tuple[int, int] | None:
    """A QUIC variable-length integer (RFC 9000 §16) at ``at``: ``(value, size)``, or None
    when the buffer holds only part of it."""
    if at >= len(buf):
        return None
    size = 1 << (buf[at] >> 6)
    if len(buf) - at < size:
        return None
    value = buf[at] & 0x3F
    for i in range(1, size):
        value = (value << 8) | buf[at + i]
    return value, size


def encode_varint(value: int) -> bytes:
    """The shortest QUIC variable-length encoding of ``value``."""
    if value < 0 or value >= 1 << 62:
        raise ValueError(f"{value} does not fit a QUIC varint")
    for size, prefix in ((1, 0x00), (2, 0x40), (4, 0x80), (8, 0xC0)):
        if value < 1 << (8 * size - 2):
            data = bytearray(value.to_bytes(size, "big"))
            data[0] |= prefix
            return bytes(data)
    raise AssertionError("unreachable")


def _bhttp_fields(block: bytes) -> Headers:
    """Field lines of a known-length field section: (name length, name, value length,
    value) repeated."""
    pairs: list[tuple[str, str]] = []
    at = 0
    while at < len(block):
        pair = _bhttp_field(block, at)
        if pair is None:
            raise PatchFormatError("a field section ends inside a field line", 400, "bhttp")
        name, value, at = pair
        pairs.append((name, value))
    return Headers(pairs)


def _bhttp_field(buf: bytes | bytearray, at: int) -> tuple[str, str, int] | None:
    name_len = read_varint(buf, at)
    if name_len is None:
        return None
    if name_len[0] == 0:
        raise PatchFormatError("a field line has an empty name", 400, "bhttp")
    at += name_len[1]
    if len(buf) < at + name_len[0]:
        return None
    name = bytes(buf[at : at + name_len[0]]).decode("latin-1")
    at += name_len[0]
    value_len = read_varint(buf, at)
    if value_len is None:
        return None
    at += value_len[1]
    if len(buf) < at + value_len[0]:
        return None
    value = bytes(buf[at : at + value_len[0]]).decode("latin-1")
    if not TOKEN.fullmatch(name) or any(c in value for c in "\r\n\x00"):
        raise PatchFormatError(f"field line {name!r} is not a valid field", 400, "bhttp")
    return name, value, at + value_len[0]


class ApplicationByterangesParser(_SteppingParser):
    """``application/byteranges`` (§2.8.1): a sequence of binary messages, each a field
    section and content. Framing indicator 8 is known-length, 10 indeterminate-length."""

    def __init__(self, sink: PartSink, options: PatchOptions) -> None:
        super().__init__(sink, options, "indicator")
        self.fields: list[tuple[str, str]] = []
        self.needed = 0  # bytes of the current field section or content still to come

    def _varint(self) -> int | None:
        found = read_varint(self.buf)
        if found is None:
            return None
        del self.buf[: found[1]]
        return found[0]

    def _step(self) -> bool:
        state = self.state
        if state == "padding":
            if any(self.buf):
                raise PatchFormatError("non-zero bytes after the padding", 400, "bhttp")
            self.buf.clear()
            return False
        if state in ("content", "chunk"):
            return self._content()
        if state == "fields":
            if len(self.buf) < self.needed:
                return False
            block = bytes(self.buf[: self.needed])
            del self.buf[: self.needed]
            self._begin(_bhttp_fields(block))
            self.state = "content-length"
            return True
        if state == "indeterminate-fields":
            if len(self.buf) > self.options.max_fields:
                raise PatchFormatError("a field section is too large", 400, "bhttp")
            if self.buf[:1] == b"\x00":
                del self.buf[:1]
                self._begin(Headers(self.fields))
                self.state = "chunk-length"
                return True
            pair = _bhttp_field(self.buf, 0)
            if pair is None:
                return False
            field_name, field_value, used = pair
            del self.buf[:used]
            self.fields.append((field_name, field_value))
            return True
        value = self._varint()
        if value is None:
            return False
        if state == "indicator":
            if value == 8:
                self.state = "field-section-length"
            elif value == 10:
                self.fields = []
                self.state = "indeterminate-fields"
            elif value == 0 and self.parts:
                self.state = "padding"
            else:
                raise PatchFormatError(
                    f"framing indicator {value} is not 8 (known-length) or 10 "
                    "(indeterminate-length)",
                    400,
                    "bhttp",
                )
        elif state == "field-section-length":
            if value > self.options.max_fields:
                raise PatchFormatError("a field section is too large", 400, "bhttp")
            self.needed = value
            self.state = "fields"
        elif state == "content-length":
            head = self.head
            assert head is not None
            if head.length is not None and value != head.length:
                raise PatchFormatError(
                    f"the content length {value} does not match the part's Content-Range "
                    f"{head.content_range} ({head.length} bytes)",
                    400,
                    "length-mismatch",
                )
            self.needed = value
            self.state = "content"
        elif state == "chunk-length":
            if value == 0:
                self._end_part()
            else:
                self.needed = value
                self.state = "chunk"
        return True

    def _begin(self, fields: Headers) -> None:
        self.head = part_head(fields, self.options)
        self.received = 0
        self.parts += 1
        self.sink.begin(self.head)

    def _content(self) -> bool:
        head = self.head
        assert head is not None
        if self.needed == 0:
            if self.state == "content":
                self._end_part()
            else:
                self.state = "chunk-length"
            return True
        take = bytes(self.buf[: self.needed])
        if not take:
            return False
        del self.buf[: len(take)]
        self.needed -= len(take)
        if head.length is not None and self.received + len(take) > head.length:
            allowed = take[: head.length - self.received]
            self.received += len(allowed)
            if allowed:
                self.sink.write(allowed)
            raise _too_long(head)
        self.received += len(take)
        self.sink.write(take)
        return True

    def _end_part(self) -> None:
        assert self.head is not None
        head = self.head
        self.sink.end(head, self.received)
        if head.length is not None and self.received < head.length:
            raise _short(head, self.received)
        self.head = None
        self.state = "indicator"

    def finish(self) -> None:
        if self.state in ("indicator", "padding") and not self.buf:
            if not self.parts:
                raise PatchFormatError("the patch is empty: it names no range", 422, "no-range")
            return
        if self.head is not None and self.state in ("content", "chunk", "chunk-length"):
            self.sink.end(self.head, self.received)
            if self.head.length is not None and self.received < self.head.length:
                raise _short(self.head, self.received)
        raise PatchFormatError(f"the patch ended inside a message ({self.state})", 400, "bhttp")
