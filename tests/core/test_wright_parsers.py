"""The pure parsers of the wright upload resources: Content-Range, Range, and the three
byte-range patch formats fed in every possible split, with their errors."""

from __future__ import annotations

import pytest

from mockprogress.http.byteranges import (
    PartHead,
    PatchFormatError,
    PatchOptions,
    encode_varint,
    parse_media_type,
    patch_parser,
    read_varint,
)
from mockprogress.http.content_range import (
    ContentRange,
    RangeSyntaxError,
    parse_content_range,
    parse_range,
    satisfiable_ranges,
)

# ---- Content-Range ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected", "length"),
    [
        ("bytes 0-11/12", ContentRange("bytes", 0, 11, 12), 12),
        ("bytes 2-5/*", ContentRange("bytes", 2, 5, None), 4),
        ("bytes 500-/1000", ContentRange("bytes", 500, None, 1000), None),
        ("bytes 500-/*", ContentRange("bytes", 500, None, None), None),
        ("bytes */1000", ContentRange("bytes", None, None, 1000), 0),
        ("bytes */0", ContentRange("bytes", None, None, 0), 0),
        ("pages 1-2/3", ContentRange("pages", 1, 2, 3), 2),
    ],
)
def test_every_content_range_form_parses_and_formats_back(
    value: str, expected: ContentRange, length: int | None
) -> None:
    parsed = parse_content_range(value)
    assert parsed == expected
    assert parsed.length == length
    assert str(parsed) == value


def test_the_demo_dialect_omits_the_unit_only_when_allowed() -> None:
    assert parse_content_range("161792-999999/1000000", unit_optional=True) == ContentRange(
        "bytes", 161792, 999999, 1000000
    )
    with pytest.raises(RangeSyntaxError, match="has no range unit"):
        parse_content_range("161792-999999/1000000")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("bytes 5-4/10", "last position is before the first"),
        ("bytes 0-9/9", "does not exceed the last position"),
        ("bytes 11-/10", "does not exceed the last position"),
        ("bytes */*", "names neither range nor length"),
        ("bytes 0-9", "no '/complete-length'"),
        ("bytes 09", "no '/complete-length'"),
        ("bytes x-9/10", "the first position"),
        ("bytes 0-+9/10", "the last position"),
        ("bytes 0-9/1e3", "the complete length"),
        ("bytes 0-9/99999999999999999999", "too large"),
        ("by(tes 0-9/10", "is not a range unit"),
        ("bytes 4/10", "expected 'first-last'"),
    ],
)
def test_bad_content_ranges_are_refused_with_a_reason(value: str, message: str) -> None:
    with pytest.raises(RangeSyntaxError, match=message):
        parse_content_range(value)


def test_range_sets_resolve_against_the_size() -> None:
    specs = parse_range("bytes=0-4, 10-, -3, 200-300")
    assert specs == [(0, 4), (10, None), (None, 3), (200, 300)]
    assert satisfiable_ranges(specs, 20) == [(0, 4), (10, 19), (17, 19)]
    assert satisfiable_ranges(parse_range("bytes=50-"), 20) == []
    assert satisfiable_ranges(parse_range("bytes=-0"), 20) == []
    for bad in ("items=0-1", "bytes=5-1", "bytes=", "bytes=a-b", "bytes=1"):
        with pytest.raises(RangeSyntaxError):
            parse_range(bad)


# ---- the patch formats ----------------------------------------------------------------------


class Recorder:
    """A PartSink that records what a parser delivered, joining adjacent writes."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def begin(self, head: PartHead) -> None:
        self.events.append(("begin", str(head.content_range)))

    def write(self, data: bytes) -> None:
        if self.events and self.events[-1][0] == "data":
            self.events[-1] = ("data", self.events[-1][1] + data)  # type: ignore[operator]
        else:
            self.events.append(("data", data))

    def end(self, head: PartHead, received: int) -> None:
        self.events.append(("end", received))


def run(content_type: str, body: bytes, split: int | None = None, **options: bool) -> Recorder:
    """Feed ``body`` whole, or in two pieces at ``split``, then finish."""
    sink = Recorder()
    parser = patch_parser(content_type, sink, PatchOptions(**options))
    pieces = [body] if split is None else [body[:split], body[split:]]
    for piece in pieces:
        parser.feed(piece)
    parser.finish()
    return sink


def every_split(content_type: str, body: bytes, expected: list[tuple[str, object]]) -> None:
    for split in range(len(body) + 1):
        assert run(content_type, body, split).events == expected, f"split at {split}"
    sink = Recorder()
    parser = patch_parser(content_type, sink)
    for byte in body:
        parser.feed(bytes([byte]))
    parser.finish()
    assert sink.events == expected, "byte by byte"


def test_message_byterange_in_every_split() -> None:
    body = b"Content-Range: bytes 2-5/12\r\nContent-Type: text/plain\r\n\r\nwxyz"
    every_split(
        "message/byterange", body, [("begin", "bytes 2-5/12"), ("data", b"wxyz"), ("end", 4)]
    )


def test_message_byterange_with_an_indeterminate_range_takes_the_rest_of_the_body() -> None:
    body = b"Content-Range: bytes 10-/*\n\nthe rest\r\n\r\n of it"
    every_split(
        "message/byterange",
        body,
        [("begin", "bytes 10-/*"), ("data", b"the rest\r\n\r\n of it"), ("end", 18)],
    )


MULTIPART = (
    b"preamble to ignore\r\n"
    b"--THIS_STRING_SEPARATES\r\n"
    b"Content-Range: bytes 2-6/25\r\n"
    b"Content-Type: text/plain\r\n\r\n"
    b"23456\r\n"
    b"--THIS_STRING_SEPARATES  \r\n"
    b"Content-Range: bytes 17-/*\r\n\r\n"
    b"78901\r\n--THIS_STRING\r\n"
    b"\r\n--THIS_STRING_SEPARATES--\r\n"
    b"epilogue"
)


def test_multipart_byteranges_by_count_and_by_scanning_in_every_split() -> None:
    every_split(
        "multipart/byteranges; boundary=THIS_STRING_SEPARATES",
        MULTIPART,
        [
            ("begin", "bytes 2-6/25"),
            ("data", b"23456"),
            ("end", 5),
            ("begin", "bytes 17-/*"),
            ("data", b"78901\r\n--THIS_STRING\r\n"),
            ("end", 22),
        ],
    )


def binary_message(fields: list[tuple[bytes, bytes]], content: bytes) -> bytes:
    section = b"".join(encode_varint(len(n)) + n + encode_varint(len(v)) + v for n, v in fields)
    return (
        encode_varint(8)
        + encode_varint(len(section))
        + section
        + encode_varint(len(content))
        + content
    )


def indeterminate_message(fields: list[tuple[bytes, bytes]], chunks: list[bytes]) -> bytes:
    out = encode_varint(10)
    for n, v in fields:
        out += encode_varint(len(n)) + n + encode_varint(len(v)) + v
    out += encode_varint(0)
    for chunk in chunks:
        out += encode_varint(len(chunk)) + chunk
    return out + encode_varint(0)


def test_application_byteranges_known_and_indeterminate_length_in_every_split() -> None:
    big = bytes(range(256)) * 2  # a 512-byte content needs a 2-byte varint
    body = (
        binary_message([(b"content-range", b"bytes 0-511/600")], big)
        + indeterminate_message([(b"content-range", b"bytes 512-/600")], [b"abc", b"defgh"])
        + b"\x00\x00\x00"  # padding
    )
    every_split(
        "application/byteranges",
        body,
        [
            ("begin", "bytes 0-511/600"),
            ("data", big),
            ("end", 512),
            ("begin", "bytes 512-/600"),
            ("data", b"abcdefgh"),
            ("end", 8),
        ],
    )


def test_quic_varints_round_trip_at_every_size_boundary() -> None:
    for value in (0, 63, 64, 16383, 16384, (1 << 30) - 1, 1 << 30, (1 << 62) - 1):
        encoded = encode_varint(value)
        assert read_varint(encoded) == (value, len(encoded))
        assert read_varint(encoded[:-1]) is None or len(encoded) == 1
    assert [len(encode_varint(v)) for v in (63, 64, 16384, 1 << 30)] == [1, 2, 4, 8]
    with pytest.raises(ValueError):
        encode_varint(1 << 62)


def test_media_types_are_matched_case_insensitively_with_quoted_parameters() -> None:
    assert parse_media_type('Multipart/ByteRanges; Boundary="a b;c"') == (
        "multipart/byteranges",
        {"boundary": "a b;c"},
    )
    with pytest.raises(PatchFormatError) as info:
        patch_parser("application/json", Recorder())
    assert info.value.status == 415
    assert dict(info.value.headers)["Accept-Patch"] == (
        "message/byterange, multipart/byteranges, application/byteranges"
    )
    with pytest.raises(PatchFormatError, match="boundary") as info:
        patch_parser("multipart/byteranges", Recorder())
    assert info.value.status == 400


def failure(content_type: str, body: bytes, **options: bool) -> tuple[PatchFormatError, Recorder]:
    sink = Recorder()
    parser = patch_parser(content_type, sink, PatchOptions(**options))

    def feed_and_finish() -> None:
        parser.feed(body)
        parser.finish()

    with pytest.raises(PatchFormatError) as info:
        feed_and_finish()
    return info.value, sink


MBR = "message/byterange"


@pytest.mark.parametrize(
    ("body", "status", "kind"),
    [
        (b"Content-Type: text/plain\r\n\r\nxyz", 422, "no-range"),
        (b"", 422, "no-range"),
        (b"Content-Range: bytes 0-2/3\r\nContent-Range: bytes 0-2/3\r\n\r\nxyz", 400, "bad-range"),
        (b"Content-Range: bytes 2-1/3\r\n\r\n", 400, "end"),
        (b"Content-Range: bytes 0-3/3\r\n\r\n", 400, "end"),
        (b"Content-Range: bytes 0-x/3\r\n\r\n", 400, "bad-range"),
        (b"Content-Range: lines 0-2/3\r\n\r\nxyz", 422, "unit"),
        (b"Content-Range: bytes 0-2/3\r\nContent-Length: 4\r\n\r\nxyz", 400, "length-mismatch"),
        (b"Content-Range: bytes 0-2/3\r\nContent-Length: x\r\n\r\nxyz", 400, "bad-length"),
        (b"Content-Range: bytes 0-2/3\r\n folded\r\n\r\nxyz", 400, "field"),
        (b"Content-Range bytes 0-2/3\r\n\r\nxyz", 400, "field"),
        (b"Content-Range: bytes 0-2/3\r\n", 400, "fields"),
        (b"Content-Range: bytes */3\r\n\r\nx", 400, "too-long"),
    ],
)
def test_message_byterange_errors_name_their_status(body: bytes, status: int, kind: str) -> None:
    error, _ = failure(MBR, body)
    assert (error.status, error.kind) == (status, kind), error.message


def test_bytes_before_an_error_are_delivered_short_and_long() -> None:
    error, sink = failure(MBR, b"Content-Range: bytes 0-9/10\r\n\r\nabcd")
    assert (error.status, error.kind) == (400, "short")
    assert sink.events == [("begin", "bytes 0-9/10"), ("data", b"abcd"), ("end", 4)]
    error, sink = failure(MBR, b"Content-Range: bytes 0-3/10\r\n\r\nabcdefgh")
    assert (error.status, error.kind) == (400, "too-long")
    assert sink.events == [("begin", "bytes 0-3/10"), ("data", b"abcd")]


def test_the_demo_dialect_requires_a_content_length_and_takes_unitless_ranges() -> None:
    error, _ = failure(
        MBR, b"Content-Range: 0-2/3\r\n\r\nxyz", unit_optional=True, require_length=True
    )
    assert (error.status, error.kind) == (400, "no-length")
    ok = run(
        MBR,
        b"Content-Range: 0-2/3\r\nContent-Length: 3\r\n\r\nxyz",
        unit_optional=True,
        require_length=True,
    )
    assert ok.events == [("begin", "bytes 0-2/3"), ("data", b"xyz"), ("end", 3)]


def test_multipart_errors() -> None:
    ct = "multipart/byteranges; boundary=B"
    error, _ = failure(ct, b"--B--\r\n")
    assert (error.status, error.kind) == (422, "no-range")
    error, sink = failure(ct, b"--B\r\nContent-Range: bytes 0-3/4\r\n\r\nabcdXX\r\n--B--")
    assert (error.status, error.kind) == (400, "too-long")
    assert sink.events == [("begin", "bytes 0-3/4"), ("data", b"abcd")]
    error, sink = failure(ct, b"--B\r\nContent-Range: bytes 0-/*\r\n\r\nabcdef\r")
    assert (error.status, error.kind) == (400, "multipart")
    assert sink.events == [("begin", "bytes 0-/*"), ("data", b"abcdef"), ("end", 6)]
    error, _ = failure(ct, b"--B junk\r\n")
    assert error.kind == "multipart"
    error, _ = failure(ct, b"x" * 20000)
    assert error.kind == "multipart"


def test_application_byteranges_errors() -> None:
    ct = "application/byteranges"
    error, _ = failure(ct, encode_varint(9))
    assert (error.status, error.kind) == (400, "bhttp")
    error, _ = failure(ct, b"")
    assert (error.status, error.kind) == (422, "no-range")
    error, _ = failure(ct, binary_message([(b"content-range", b"bytes 0-3/4")], b"abc"))
    assert error.kind == "length-mismatch"
    error, sink = failure(ct, binary_message([(b"content-range", b"bytes 0-3/4")], b"abcd")[:-2])
    assert (error.kind, sink.events[-1]) == ("short", ("end", 2))
    error, sink = failure(
        ct, indeterminate_message([(b"content-range", b"bytes 0-3/4")], [b"abc", b"de"])
    )
    assert (error.kind, sink.events) == (
        "too-long",
        [("begin", "bytes 0-3/4"), ("data", b"abcd")],
    )
    error, _ = failure(ct, binary_message([(b"content-range", b"bytes 0-0/1")], b"x") + b"\x00\x01")
    assert error.kind == "bhttp"
    error, _ = failure(ct, encode_varint(8) + encode_varint(3) + b"\x05ab")
    assert error.kind == "bhttp"
