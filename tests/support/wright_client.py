"""An h11 client of ours for the wright protocols (tests only).

It builds the three byte-range patch formats by hand (independently of the server's parsers),
and drives a resumable request: ``POST`` with ``Expect: 100-continue`` + ``Prefer: resume``,
then ``HEAD`` + ``PATCH`` rounds until the content is complete.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from support.recording_client import Reply, request


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def varint(value: int) -> bytes:
    """A QUIC variable-length integer, written from RFC 9000 §16's table."""
    if value < 64:
        return bytes([value])
    if value < 16384:
        return (value | 0x4000).to_bytes(2, "big")
    if value < 1 << 30:
        return (value | 0x80000000).to_bytes(4, "big")
    return (value | 0xC000000000000000).to_bytes(8, "big")


def message_byterange(
    first: int, data: bytes, total: int | str, *, unit: str = "bytes ", length: bool = True
) -> bytes:
    head = f"Content-Range: {unit}{first}-{first + len(data) - 1}/{total}\r\n"
    if length:
        head += f"Content-Length: {len(data)}\r\n"
    return head.encode() + b"\r\n" + data


def multipart_byteranges(
    parts: Iterable[tuple[int, bytes]], total: int | str, boundary: str = "BV4I7CIzc34"
) -> bytes:
    out = b""
    for first, data in parts:
        out += (
            f"--{boundary}\r\nContent-Range: bytes {first}-{first + len(data) - 1}/{total}\r\n\r\n"
        ).encode()
        out += data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def application_byteranges(parts: Iterable[tuple[int, bytes]], total: int | str) -> bytes:
    out = b""
    for first, data in parts:
        name, value = b"content-range", f"bytes {first}-{first + len(data) - 1}/{total}".encode()
        section = varint(len(name)) + name + varint(len(value)) + value
        out += varint(8) + varint(len(section)) + section + varint(len(data)) + data
    return out


FORMATS = ("message/byterange", "multipart/byteranges", "application/byteranges")


def patch_body(fmt: str, first: int, data: bytes, total: int) -> tuple[str, bytes]:
    """A patch writing ``data`` at ``first``, as ``fmt``; multipart formats use two parts."""
    content_type, body, _ = patch_parts(fmt, first, data, total)
    return content_type, body


def patch_parts(
    fmt: str, first: int, data: bytes, total: int
) -> tuple[str, bytes, list[tuple[int, int]]]:
    """Like ``patch_body``, plus where each part's data sits in the body: (start, length)."""
    half = len(data) // 2
    parts = [(first, data[:half]), (first + half, data[half:])] if half else [(first, data)]
    if fmt == "message/byterange":
        content_type, body = fmt, message_byterange(first, data, total)
        parts = [(first, data)]
    elif fmt == "multipart/byteranges":
        content_type, body = f"{fmt}; boundary=BV4I7CIzc34", multipart_byteranges(parts, total)
    else:
        content_type, body = fmt, application_byteranges(parts, total)
    spans, at = [], 0
    for _, part in parts:
        at = body.index(part, at)
        spans.append((at, len(part)))
        at += len(part)
    return content_type, body, spans


def data_within(spans: list[tuple[int, int]], prefix: int) -> int:
    """How many data bytes the first ``prefix`` body bytes carry."""
    return sum(max(0, min(prefix, start + length) - start) for start, length in spans)


RESUME = [("Expect", "100-continue"), ("Prefer", "resume")]


def post(port: int, path: str, data: bytes, headers: Iterable[tuple[str, str]] = RESUME) -> Reply:
    return request(port, "POST", path, headers=list(headers), body=data, wait_for_continue=5.0)


def locations(reply: Reply) -> tuple[str, str]:
    first = reply.interims[0]
    assert first.status == 100, first
    rcl = first.header("request-content-location")
    rml = first.header("response-message-location")
    assert rcl and rml, first.headers
    return rcl, rml


def job_of(location: str) -> str:
    """The job id in a ``Request-Content-Location`` or ``Response-Message-Location``."""
    name = location.rsplit("/", 1)[1]
    assert name.endswith((".req", ".res")), location
    return name[:-4]


def head_offset(port: int, rcl: str) -> tuple[int, int]:
    reply = request(port, "HEAD", rcl)
    assert reply.status is not None, reply.error
    return reply.status, int(reply.header("content-length") or "-1")


@dataclass
class Resumed:
    """What resuming took: every HEAD offset seen, every PATCH reply, and the last reply."""

    offsets: list[int] = field(default_factory=list)
    patches: list[Reply] = field(default_factory=list)

    @property
    def final(self) -> Reply:
        return self.patches[-1]


def resume(
    port: int, rcl: str, data: bytes, fmt: str = "message/byterange", rounds: int = 40
) -> Resumed:
    """HEAD, then PATCH the rest, until a PATCH is answered with something else than the
    incomplete status or a cut."""
    done = Resumed()
    for _ in range(rounds):
        status, offset = head_offset(port, rcl)
        done.offsets.append(offset)
        if status == 200:
            return done
        content_type, body = patch_body(fmt, offset, data[offset:], len(data))
        reply = request(port, "PATCH", rcl, headers=[("Content-Type", content_type)], body=body)
        done.patches.append(reply)
        if reply.status is not None and reply.status != 299:
            return done
    raise AssertionError(f"not complete after {rounds} rounds: offsets {done.offsets}")
