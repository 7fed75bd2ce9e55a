"""Cut sweeps: every place worth cutting a response, for a parametrized test.

``cut_points(response)`` renders the response exactly as the server sends it and lists cut
offsets with a name for the place each falls in (``in-status-line``,
``after-header-content-length``, ``in-chunk-2-data``, ``complete``...) and the bytes the client
receives before the fault. A small response gets every offset; a large one gets the edges of
every part (status line, each header line, the blank line, the body's first and last byte,
each chunk) plus a reproducible sample of the rest.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import h11

from ..engine.wire import Segment, content_within, cut_offset, render_response
from ..errors import ScenarioError
from ..http.headers import Headers
from ..script.steps import Cut, CutHow, CutUnit, Interim, Respond

#: Responses with at most this many cut offsets are swept at every offset.
EVERY_OFFSET_UP_TO = 512


@dataclass(frozen=True, slots=True)
class CutPoint:
    """One place to cut a response.

    :ivar at: the offset, in ``unit``.
    :ivar unit: ``"wire"`` (bytes of the exchange) or ``"body"`` (content bytes).
    :ivar how: ``"close"``, ``"reset"`` or ``"stall"``.
    :ivar where: the part of the response the cut falls in or just after.
    :ivar response: the response with this cut applied, ready for ``.respond(...)``.
    :ivar expected: exactly the bytes the client receives before the fault (interims
        included).
    :ivar body_bytes: how many of them are body content (the journal's ``fault.body_bytes``).
    """

    at: int
    unit: CutUnit
    how: CutHow
    where: str
    response: Respond
    expected: bytes
    body_bytes: int

    @property
    def id(self) -> str:
        """The test id: unit, offset, place and kind, e.g. ``wire-20-in-header-host-close``."""
        return f"{self.unit}-{self.at}-{self.where}-{self.how}"

    def __str__(self) -> str:
        return self.id


@dataclass(frozen=True, slots=True)
class _Region:
    name: str
    start: int
    end: int
    content: bool


def cut_points(
    response: Respond,
    *,
    unit: CutUnit = "wire",
    how: CutHow | Iterable[CutHow] = "close",
    interims: Sequence[Interim] = (),
    every_offset_up_to: int = EVERY_OFFSET_UP_TO,
    sample: int = 16,
    seed: int = 0,
) -> list[CutPoint]:
    """The cut offsets worth testing for ``response``, one ``CutPoint`` per offset and kind.

    The response is rendered as the server sends it in answer to an HTTP/1.1 ``GET`` (after
    the script's ``interims``, which count towards wire offsets; a cut cannot fall inside
    them). A client that sends ``Connection: close`` gets that field added (or moved) to the
    end of the head by h11: give the response a ``Connection: close`` field of its own to
    keep the head's length the same for every client.

    When the response has at most ``every_offset_up_to`` offsets, every one is listed;
    otherwise the first, second, middle, second-to-last and last offset of each part (status
    line, each header line, the blank line, the body or each chunk's size line, data and
    CRLF), plus ``sample`` offsets drawn with ``random.Random(seed)``.

    .. code-block:: python

        RESPONSE = mp.respond(200, b"x" * 1000)

        @pytest.mark.parametrize("cut", mp.cut_points(RESPONSE, how=["close", "reset"]), ids=str)
        def test_download_reports_truncation(mockprogress_server, cut):
            mockprogress_server.expect("GET", "/file").respond(cut.response)
            ...

    :raises ScenarioError: when the response already has a cut, or for an unknown unit/how.
    """
    if response.fault is not None:
        raise ScenarioError("cut_points() takes a response without a cut; it adds the cuts")
    if unit not in ("wire", "body"):
        raise ScenarioError(f"cut unit must be 'body' or 'wire', got {unit!r}")
    kinds: tuple[CutHow, ...] = (how,) if isinstance(how, str) else tuple(how)
    for kind in kinds:
        if kind not in ("close", "reset", "stall"):
            raise ScenarioError(f"cut how must be 'close', 'reset' or 'stall', got {kind!r}")
    prefix = _render_interims(interims)
    segments = render_response(response)
    regions = _regions(segments, len(prefix), chunked=response.chunked)
    total = len(prefix) + sum(len(s.data) for s in segments)
    content_length = len(response.content)
    if unit == "wire":
        low, high = len(prefix), total
        edges = [(r.start, r.end) for r in regions]
    else:
        low, high = 0, content_length
        edges = _content_edges(regions)
    offsets = _choose(low, high, edges, every_offset_up_to, sample, seed)
    data = prefix + b"".join(s.data for s in segments)
    points: list[CutPoint] = []
    for at in offsets:
        if unit == "wire":
            limit = at
            where = _where_wire(regions, at, len(prefix))
        else:
            limit = len(prefix) + cut_offset(segments, Cut(at, "body"), 0)
            where = _where_body(regions, at, content_length)
        body_bytes = content_within(segments, limit - len(prefix))
        points.extend(
            CutPoint(at, unit, kind, where, response.cut(at, unit, kind), data[:limit], body_bytes)
            for kind in kinds
        )
    return points


def _render_interims(interims: Sequence[Interim]) -> bytes:
    conn = h11.Connection(h11.SERVER)
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    conn.next_event()
    out = b""
    for step in interims:
        if not isinstance(step, Interim):
            raise ScenarioError(f"interims takes interim steps (mp.interim(...)), got {step!r}")
        event = h11.InformationalResponse(
            status_code=step.status, headers=Headers(step.headers).raw(), reason=step.reason
        )
        out += conn.send(event) or b""
    return out


def _regions(segments: Sequence[Segment], start: int, *, chunked: bool) -> list[_Region]:
    """Name every part of the rendered response: the head's lines, then the body's pieces."""
    regions: list[_Region] = []
    head = segments[0].data
    offset = start
    lines = head.split(b"\r\n")[:-2]  # the head ends with an empty line, then nothing
    seen: dict[str, int] = {}
    for i, line in enumerate(lines):
        if i == 0:
            name = "status-line"
        else:
            field = line.partition(b":")[0].decode("latin-1").lower()
            seen[field] = seen.get(field, 0) + 1
            name = f"header-{field}" + (f"-{seen[field]}" if seen[field] > 1 else "")
        regions.append(_Region(name, offset, offset + len(line) + 2, False))
        offset += len(line) + 2
    regions.append(_Region("blank-line", offset, offset + 2, False))
    offset += 2
    chunk = 0
    for segment in segments[1:]:
        size = len(segment.data)
        if segment.content:
            name = f"chunk-{chunk}-data" if chunked else "body"
        elif segment.data.startswith(b"0\r\n"):
            name = "last-chunk"
        elif segment.data == b"\r\n":
            name = f"chunk-{chunk}-crlf"
        else:
            chunk += 1
            name = f"chunk-{chunk}-size"
        regions.append(_Region(name, offset, offset + size, segment.content))
        offset += size
    return regions


def _content_edges(regions: Sequence[_Region]) -> list[tuple[int, int]]:
    edges = []
    count = 0
    for region in regions:
        if region.content:
            length = region.end - region.start
            edges.append((count, count + length))
            count += length
    return edges or [(0, 0)]


def _choose(
    low: int, high: int, edges: Sequence[tuple[int, int]], every: int, sample: int, seed: int
) -> list[int]:
    if high - low + 1 <= every:
        return list(range(low, high + 1))
    chosen = {low, high}
    for start, end in edges:
        for at in (start, start + 1, (start + end) // 2, end - 1, end):
            if low <= at <= high:
                chosen.add(at)
    rng = random.Random(seed)
    chosen.update(rng.randint(low, high) for _ in range(sample))
    return sorted(chosen)


def _where_wire(regions: Sequence[_Region], at: int, start: int) -> str:
    if at == start:
        return "after-interims" if start else "nothing"
    if at == regions[-1].end:
        return "complete"
    content = [r for r in regions if r.content]
    if content and at == content[0].start + 1 < content[0].end:
        return "after-first-body-byte"
    if content and at == content[-1].end - 1 > content[-1].start:
        return "before-last-body-byte"
    for region in regions:
        if at == region.end:
            return "after-head" if region.name == "blank-line" else f"after-{region.name}"
        if region.start < at < region.end:
            return f"in-{region.name}"
    raise AssertionError(f"offset {at} lies outside the response")


def _where_body(regions: Sequence[_Region], at: int, length: int) -> str:
    if at == 0:
        return "no-body"
    if at == length:
        return "all-body"
    if at == 1:
        return "after-first-body-byte"
    if at == length - 1:
        return "before-last-body-byte"
    count = 0
    for region in regions:
        if not region.content:
            continue
        size = region.end - region.start
        name = region.name.removesuffix("-data")
        if at == count + size:
            return f"after-{name}"
        if count < at < count + size:
            return f"in-{name}"
        count += size
    raise AssertionError(f"body offset {at} lies outside the response")
