"""``Content-Range`` (RFC 9110 §14.4, extended by draft-wright-http-patch-byterange §2.1) and
``Range`` (RFC 9110 §14.2): parse and format.

The forms a patch part may carry:

- ``bytes 0-11/12``: bytes 0 to 11 of a 12-byte document (the length is a hint);
- ``bytes 0-11/*``: the same bytes, the final length unknown;
- ``bytes 500-/1000`` and ``bytes 500-/*``: an indeterminate-length body starting at byte 500
  (the draft's extension);
- ``bytes */1000``: no data; set the document's length (truncate or grow).

The reference demo writes ``0-11/12`` with no unit: ``unit_optional=True`` accepts that.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .field_reader import TOKEN

#: Larger numbers are refused: no test needs them, and they would only hide a client bug.
MAX_POSITION = (1 << 62) - 1

_DIGITS = re.compile(r"[0-9]+")


class RangeSyntaxError(ValueError):
    """A ``Content-Range`` or ``Range`` value that does not follow its grammar; ``kind`` is
    ``"end"`` when the positions are out of order, else ``"syntax"``."""

    def __init__(self, message: str, kind: str = "syntax") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class ContentRange:
    """One parsed ``Content-Range`` value.

    ``first`` is None for the unsatisfied form (``*/len``); ``last`` is None for it and for the
    indeterminate-length form (``first-/len``); ``complete_length`` is None for ``*``.
    """

    unit: str
    first: int | None
    last: int | None
    complete_length: int | None

    @property
    def length(self) -> int | None:
        """The number of bytes the range covers, when it says so."""
        if self.first is None:
            return 0
        if self.last is None:
            return None
        return self.last - self.first + 1

    def __str__(self) -> str:
        total = "*" if self.complete_length is None else str(self.complete_length)
        if self.first is None:
            return f"{self.unit} */{total}"
        last = "" if self.last is None else str(self.last)
        return f"{self.unit} {self.first}-{last}/{total}"


def _number(text: str, what: str, value: str) -> int:
    if not _DIGITS.fullmatch(text):
        raise RangeSyntaxError(f"{what} in {value!r} is not a number of digits")
    # Measured first: int() of thousands of digits (leading zeros too) raises a ValueError.
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(MAX_POSITION)) or int(digits) > MAX_POSITION:
        raise RangeSyntaxError(f"{what} in {value!r} is too large")
    return int(digits)


def parse_content_range(value: str, *, unit_optional: bool = False) -> ContentRange:
    """Parse a ``Content-Range`` value in any of the forms above.

    :param unit_optional: also accept ``a-b/len`` without a unit (the reference demo's
        dialect), read as ``bytes``.
    :raises RangeSyntaxError: naming what is wrong.
    """
    text = value.strip(" \t")
    unit = "bytes"
    head, space, rest = text.partition(" ")
    if space:
        if not TOKEN.fullmatch(head):
            raise RangeSyntaxError(f"Content-Range {value!r}: {head!r} is not a range unit")
        unit, text = head, rest
    elif not unit_optional:
        raise RangeSyntaxError(
            f"Content-Range {value!r} has no range unit (expected e.g. 'bytes 0-99/100')"
        )
    positions, slash, total_text = text.partition("/")
    if not slash:
        raise RangeSyntaxError(f"Content-Range {value!r} has no '/complete-length' (or '/*')")
    total = None if total_text == "*" else _number(total_text, "the complete length", value)
    if positions == "*":
        if total is None:
            raise RangeSyntaxError(f"Content-Range {value!r}: '*/*' names neither range nor length")
        return ContentRange(unit, None, None, total)
    first_text, dash, last_text = positions.partition("-")
    if not dash:
        raise RangeSyntaxError(f"Content-Range {value!r}: expected 'first-last', got {positions!r}")
    first = _number(first_text, "the first position", value)
    last = None if last_text == "" else _number(last_text, "the last position", value)
    if last is not None and last < first:
        raise RangeSyntaxError(
            f"Content-Range {value!r}: the last position is before the first", "end"
        )
    if total is not None:
        # RFC 9110 §14.4: a complete-length must exceed the last position.
        end = last if last is not None else first - 1
        if total <= end:
            raise RangeSyntaxError(
                f"Content-Range {value!r}: the complete length {total} does not exceed the "
                f"last position {end}",
                "end",
            )
    return ContentRange(unit, first, last, total)


def format_content_range(first: int, last: int, complete_length: int | None) -> str:
    """``bytes first-last/complete_length`` (``*`` for an unknown length)."""
    total = "*" if complete_length is None else str(complete_length)
    return f"bytes {first}-{last}/{total}"


# ---- Range (requests) ----------------------------------------------------------------------

RangeSpec = tuple[int | None, int | None]


def parse_range(value: str) -> list[RangeSpec]:
    """Parse a ``Range: bytes=...`` value into ``(first, last)`` specs, unresolved:
    ``(a, b)`` for ``a-b``, ``(a, None)`` for ``a-``, ``(None, n)`` for the suffix ``-n``.

    :raises RangeSyntaxError: for another unit or a malformed set (RFC 9110 §14.2 says to
        ignore such a header, which is what the resources do).
    """
    unit, eq, specs = value.strip(" \t").partition("=")
    if not eq or unit.strip().lower() != "bytes":
        raise RangeSyntaxError(f"Range {value!r} is not a bytes range set")
    result: list[RangeSpec] = []
    for raw in specs.split(","):
        item = raw.strip(" \t")
        if not item:
            continue
        first_text, dash, last_text = item.partition("-")
        if not dash:
            raise RangeSyntaxError(f"Range {value!r}: {item!r} is not a range")
        if first_text == "":
            result.append((None, _number(last_text, "the suffix length", value)))
            continue
        first = _number(first_text, "the first position", value)
        last = None if last_text == "" else _number(last_text, "the last position", value)
        if last is not None and last < first:
            raise RangeSyntaxError(f"Range {value!r}: {item!r} ends before it starts")
        result.append((first, last))
    if not result:
        raise RangeSyntaxError(f"Range {value!r} names no range")
    return result


def satisfiable_ranges(specs: list[RangeSpec], size: int) -> list[tuple[int, int]]:
    """The specs that overlap a ``size``-byte representation, clipped to it, as inclusive
    ``(first, last)`` pairs; empty when none does (a 416)."""
    ranges: list[tuple[int, int]] = []
    for first, last in specs:
        if first is None:
            assert last is not None
            if last == 0 or size == 0:
                continue
            ranges.append((max(0, size - last), size - 1))
        elif first < size:
            ranges.append((first, size - 1 if last is None else min(last, size - 1)))
    return ranges


# ---- serving a Range (RFC 9110 §14.2) ------------------------------------------------------

#: The most range-specs a ``Range`` may list before it is ignored (RFC 9110 §14.2 lets a server
#: ignore a range set that only a broken client or an attack would send).
MAX_RANGES = 100


@dataclass(frozen=True, slots=True)
class RangePlan:
    """What to answer a ``Range`` with: ``status`` 200 (the whole representation: the
    ``Range`` is ignored, ``why`` says so), 206 (``ranges``, one part or several) or 416."""

    status: int
    ranges: tuple[tuple[int, int], ...] = ()
    why: str = ""


def coalesce(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge ranges that overlap or touch (RFC 9110 §14.2), in ascending order; when none
    does, the ranges as they came, in the client's order."""
    merged: list[tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], last))
        else:
            merged.append((first, last))
    return ranges if len(merged) == len(ranges) else merged


def plan_ranges(specs: list[RangeSpec], size: int, *, max_ranges: int = MAX_RANGES) -> RangePlan:
    """Decide how to answer ``Range`` ``specs`` for a ``size``-byte representation, so that no
    range set costs more than the representation itself:

    - more than ``max_ranges`` specs: 200 with the whole representation (the set is ignored);
    - none overlapping the representation: 416;
    - ranges that together ask for more bytes than there are (``0-,0-,...``): 200 whole;
    - else 206 with the ranges coalesced (overlapping or adjacent ones merged).
    """
    if len(specs) > max_ranges:
        return RangePlan(200, why=f"{len(specs)} ranges, more than {max_ranges}")
    ranges = satisfiable_ranges(specs, size)
    if not ranges:
        return RangePlan(416)
    asked = sum(last - first + 1 for first, last in ranges)
    if asked > size:
        return RangePlan(200, why=f"the ranges ask for {asked} bytes of a {size}-byte whole")
    return RangePlan(206, tuple(coalesce(ranges)))


def multipart_sections(
    ranges: tuple[tuple[int, int], ...], size: int, content_type: str, boundary: str
) -> list[bytes | tuple[int, int]]:
    """The body of a ``multipart/byteranges`` response (RFC 9110 §14.6) as it is laid out:
    the framing as bytes, each range's content as the ``(first, last)`` to read there."""
    sections: list[bytes | tuple[int, int]] = []
    for first, last in ranges:
        part = (
            f"--{boundary}\r\nContent-Type: {content_type}\r\n"
            f"Content-Range: {format_content_range(first, last, size)}\r\n\r\n"
        )
        sections += [part.encode("latin-1"), (first, last), b"\r\n"]
    sections.append(f"--{boundary}--\r\n".encode("latin-1"))
    return sections
