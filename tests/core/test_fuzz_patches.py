"""Bad input to the byte-range patch parsers: ``message/byterange``, ``multipart/byteranges``
and ``application/byteranges`` (draft-wright-http-patch-byterange §2.6-§2.8).

Three properties, over patches built at random in each format:

- a whole patch delivers the same parts, whatever pieces the body arrives in;
- a patch cut anywhere delivers every data byte that arrived, and invents none (§2.5: a short
  body is an interruption, so what came is kept), then ends in nothing worse than a
  ``PatchFormatError`` with a 4xx status;
- arbitrary bytes, under any content type, end in parts or in such an error: nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.fuzzing import examples

from mockprogress.http.byteranges import (
    PartHead,
    PatchFormatError,
    PatchOptions,
    encode_varint,
    patch_parser,
)


class Recorder:
    """A PartSink that keeps each part's range and data."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, bytearray]] = []
        self.ended: list[int] = []

    def begin(self, head: PartHead) -> None:
        self.parts.append((str(head.content_range), bytearray()))

    def write(self, data: bytes) -> None:
        assert data, "a write always carries bytes"
        self.parts[-1][1].extend(data)

    def end(self, head: PartHead, received: int) -> None:
        assert received == len(self.parts[-1][1])
        self.ended.append(received)


@dataclass
class Part:
    first: int
    data: bytes
    #: The range names its last byte (``a-b/...``) rather than running on (``a-/...``).
    known: bool
    total: int | None
    content_length: bool
    #: application/byteranges: indeterminate-length framing (10), in these chunk sizes.
    chunks: list[int] | None = None

    @property
    def content_range(self) -> str:
        last = self.first + len(self.data) - 1 if self.known else ""
        return f"bytes {self.first}-{last}/{'*' if self.total is None else self.total}"

    def fields(self) -> list[tuple[str, str]]:
        out = [("Content-Range", self.content_range), ("Content-Type", "text/plain")]
        if self.content_length:
            out.append(("Content-Length", str(len(self.data))))
        return out


@dataclass
class Patch:
    content_type: str
    body: bytes
    parts: list[Part]
    #: Where each part's data sits in the body: (start, length) pieces.
    spans: list[list[tuple[int, int]]] = field(default_factory=list)
    #: multipart/byteranges: the delimiter, for parts found by scanning for it.
    delimiter: bytes = b""

    def arrived(self, prefix: int) -> list[bytes]:
        """Each part's data within the first ``prefix`` bytes of the body."""
        return [
            b"".join(self.body[s : min(s + n, prefix)] for s, n in spans if s < prefix)
            for spans in self.spans
        ]


DATA = st.binary(max_size=40) | st.lists(
    st.sampled_from([b"\r\n", b"--", b"-", b"b", b"x", b"\n", b"\r", b"\x00", b"\x0a\x08"]),
    max_size=12,
).map(b"".join)


@st.composite
def parts(draw: st.DrawFn, *, known_only: bool = False) -> Part:
    data = draw(DATA)
    known = known_only or draw(st.booleans())
    if known and not data:
        data = b"!"  # a range that names its last byte covers at least one
    first = draw(st.integers(0, 10**6))
    end = first + len(data) - 1 if known else first - 1
    total = draw(st.none() | st.integers(end + 1, end + 10**6))
    return Part(first, data, known, total, known and draw(st.booleans()))


@st.composite
def message_byteranges(draw: st.DrawFn) -> Patch:
    part = draw(parts())
    newline = draw(st.sampled_from([b"\r\n", b"\n"]))
    head = b"".join(f"{n}: {v}".encode() + newline for n, v in part.fields()) + newline
    return Patch("message/byterange", head + part.data, [part], [[(len(head), len(part.data))]])


@st.composite
def multipart_byteranges(draw: st.DrawFn) -> Patch:
    boundary = draw(st.text(alphabet="abcXYZ019'()+_-./:=?", min_size=1, max_size=70))
    dash = b"--" + boundary.encode()
    delimiter = b"\r\n" + dash
    # The first boundary opens the body, or follows a preamble (perhaps empty) and a CRLF.
    body = bytearray(draw(st.sampled_from([dash, delimiter, b"preamble" + delimiter])))
    chosen, spans = [], []
    for part in draw(st.lists(parts(), min_size=1, max_size=4)):
        if not part.known and not part.content_length:
            # Found by scanning: its data must not hold the delimiter itself.
            if (part.data + delimiter).find(delimiter) != len(part.data):
                continue
        body += draw(st.sampled_from([b"", b"  ", b"\t"])) + b"\r\n"
        body += b"".join(f"{n}: {v}\r\n".encode() for n, v in part.fields()) + b"\r\n"
        spans.append([(len(body), len(part.data))])
        body += part.data + delimiter
        chosen.append(part)
    if not chosen:
        part = Part(0, b"x", True, None, False)
        body += b"\r\nContent-Range: bytes 0-0/*\r\n\r\n"
        spans.append([(len(body), 1)])
        body += b"x" + delimiter
        chosen.append(part)
    body += b"--" + draw(st.sampled_from([b"", b"\r\n", b"\r\nepilogue"]))
    content_type = f'multipart/byteranges; boundary="{boundary}"'
    return Patch(content_type, bytes(body), chosen, spans, delimiter)


@st.composite
def application_byteranges(draw: st.DrawFn) -> Patch:
    body = bytearray()
    chosen, spans = [], []
    for part in draw(st.lists(parts(), min_size=1, max_size=4)):
        lines = b"".join(
            encode_varint(len(n)) + n.encode() + encode_varint(len(v)) + v.encode()
            for n, v in part.fields()
        )
        if draw(st.booleans()):
            body += encode_varint(8) + encode_varint(len(lines)) + lines
            body += encode_varint(len(part.data))
            spans.append([(len(body), len(part.data))])
            body += part.data
        else:
            body += encode_varint(10) + lines + encode_varint(0)
            pieces: list[tuple[int, int]] = []
            at = 0
            while at < len(part.data):
                size = draw(st.integers(1, len(part.data) - at))
                body += encode_varint(size)
                pieces.append((len(body), size))
                body += part.data[at : at + size]
                at += size
            body += encode_varint(0)
            spans.append(pieces)
        chosen.append(part)
    body += b"\x00" * draw(st.integers(0, 3))  # padding
    return Patch("application/byteranges", bytes(body), chosen, spans)


patches = st.one_of(message_byteranges(), multipart_byteranges(), application_byteranges())


def parse(
    content_type: str, data: bytes, pieces: list[int], options: PatchOptions | None = None
) -> tuple[Recorder, PatchFormatError | None]:
    """Feed ``data`` in pieces of these sizes (the rest at once), then finish; the parts
    delivered, and the error that ended the patch, if any (a 4xx, always)."""
    sink = Recorder()
    error = None
    try:
        parser = patch_parser(content_type, sink, options or PatchOptions())
        at = 0
        for size in pieces:
            parser.feed(data[at : at + size])
            at += size
        parser.feed(data[at:])
        parser.finish()
    except PatchFormatError as exc:
        error = exc
    assert error is None or (400 <= error.status <= 499 and error.kind), error
    return sink, error


def feed(patch: Patch, data: bytes, pieces: list[int]) -> tuple[Recorder, PatchFormatError | None]:
    return parse(patch.content_type, data, pieces)


@examples(300)
@given(patches, st.lists(st.integers(0, 9), max_size=30))
def test_a_whole_patch_delivers_its_parts_in_any_pieces(patch: Patch, pieces: list[int]) -> None:
    sink, error = feed(patch, patch.body, pieces)
    assert error is None
    assert [(r, bytes(d)) for r, d in sink.parts] == [
        (p.content_range, p.data) for p in patch.parts
    ]
    assert sink.ended == [len(p.data) for p in patch.parts]


@examples(300)
@given(patches, st.data())
def test_a_cut_patch_keeps_every_data_byte_that_arrived(patch: Patch, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(patch.body)))
    pieces = data.draw(st.lists(st.integers(0, 9), max_size=10))
    sink, _ = feed(patch, patch.body[:cut], pieces)
    delivered = [bytes(d) for _, d in sink.parts]
    arrived = patch.arrived(cut)
    assert len(delivered) <= len(patch.parts)
    for i, came in enumerate(arrived):
        got = delivered[i] if i < len(delivered) else b""
        part = patch.parts[i]
        if patch.delimiter and not part.known and not part.content_length:
            # Found by scanning: a tail that could start the delimiter is held back.
            assert came.startswith(got) and patch.delimiter.startswith(came[len(got) :])
        else:
            assert got == came, f"part {i}"


CONTENT_TYPES = [
    "message/byterange",
    "multipart/byteranges; boundary=b",
    'multipart/byteranges; boundary="b"',
    "multipart/byteranges",
    "multipart/byteranges; boundary=" + "b" * 71,
    "application/byteranges",
    "text/plain",
    "application/byteranges; q",
    "/",
    "",
]
SOUP = st.lists(
    st.sampled_from(
        [
            b"Content-Range: bytes 0-4/10\r\n",
            b"Content-Range: bytes 2-/*\r\n",
            b"Content-Range: bytes */5\r\n",
            b"Content-Range: items 0-4/10\r\n",
            b"Content-Length: 5\r\n",
            b"Content-Length: " + b"9" * 5000 + b"\r\n",
            b" folded\r\n",
            b"\r\n",
            b"--b\r\n",
            b"--b--",
            b"hello",
            b"\x08",
            b"\x0a",
            b"\x00",
            b"\x40\x05",
            b"\xff" * 8,
        ]
    ),
    max_size=14,
).map(b"".join)


@examples(500)
@given(
    st.sampled_from(CONTENT_TYPES),
    st.binary(max_size=120) | SOUP,
    st.lists(st.integers(0, 9), max_size=20),
    st.booleans(),
    st.booleans(),
)
def test_any_bytes_are_parts_or_a_patch_format_error(
    content_type: str, body: bytes, pieces: list[int], unit_optional: bool, require_length: bool
) -> None:
    sink, _ = parse(content_type, body, pieces, PatchOptions(unit_optional, require_length))
    assert sum(len(d) for _, d in sink.parts) <= len(body)


@pytest.mark.parametrize(
    "content_type",
    ["message/byterange", "multipart/byteranges; boundary=b", "application/byteranges"],
)
def test_a_part_content_length_of_thousands_of_digits_is_a_400(content_type: str) -> None:
    """int() raised a plain ValueError past 4,300 digits, which no resource catches."""
    fields = [("Content-Range", "bytes 0-4/10"), ("Content-Length", "9" * 5000)]
    if content_type == "application/byteranges":
        lines = b"".join(
            encode_varint(len(n)) + n.encode() + encode_varint(len(v)) + v.encode()
            for n, v in fields
        )
        body = encode_varint(8) + encode_varint(len(lines)) + lines + b"\x05hello"
    else:
        head = b"".join(f"{n}: {v}\r\n".encode() for n, v in fields) + b"\r\nhello"
        body = head if content_type == "message/byterange" else b"--b\r\n" + head + b"\r\n--b--"
    patch = Patch(content_type, body, [])
    _, error = feed(patch, body, [])
    assert error is not None and (error.status, error.kind) == (400, "bad-length")
