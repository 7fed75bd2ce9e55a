"""Where a cut falls and how a drip splits the bytes of a response: pure arithmetic.

A response is a list of segments, each either content (body bytes the client's parser hands to
the application) or framing (status line, headers, chunk sizes and their CRLFs). A body cut
counts content bytes; a wire cut counts every byte written for the exchange.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ._steps import Cut, Drip


@dataclass(frozen=True, slots=True)
class Segment:
    data: bytes
    content: bool


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
            if remaining <= len(segment.data):
                return offset + remaining
            remaining -= len(segment.data)
        elif remaining == 0 and offset > 0:
            return offset
        offset += len(segment.data)
    return offset


def content_within(segments: Sequence[Segment], limit: int) -> int:
    """How many content bytes lie in the first ``limit`` bytes of the joined segments."""
    offset = 0
    count = 0
    for segment in segments:
        if offset >= limit:
            break
        take = min(len(segment.data), limit - offset)
        if segment.content:
            count += take
        offset += len(segment.data)
    return count


def drip_pieces(data: bytes, head_length: int, drip: Drip | None) -> list[bytes]:
    """Split ``data`` into the writes a drip makes: the head whole (unless ``drip.head``),
    then ``drip.chunk`` bytes at a time."""
    if drip is None:
        return [data] if data else []
    pieces: list[bytes] = []
    start = 0
    if not drip.head and head_length:
        pieces.append(data[:head_length])
        start = head_length
    pieces.extend(data[i : i + drip.chunk] for i in range(start, len(data), drip.chunk))
    return pieces
