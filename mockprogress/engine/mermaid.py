"""Render journal exchanges as a Mermaid ``sequenceDiagram``."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .journal import Event, Exchange

# Mermaid treats ';' and '#' as syntax and '<', '>' as HTML inside messages: use entity codes.
_ESCAPES = {"#": "#35;", ";": "#59;", "<": "#lt;", ">": "#gt;", '"': "#quot;"}


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(c, c) for c in text)


def _interim_label(status: int | None, detail: str, headers: Iterable[tuple[str, str]]) -> str:
    lines = [_escape(detail)]
    lines.extend(_escape(f"{n}: {v}") for n, v in headers)
    return "<br/>".join(lines)


def journal_to_mermaid(exchanges: Iterable[Exchange]) -> str:
    """A ``sequenceDiagram``: one note per connection, then its exchanges' events. The streams
    of an HTTP/2 connection are drawn side by side: their events interleaved in time, each
    message marked with its stream."""
    exchanges = list(exchanges)
    out = ["sequenceDiagram", "    participant C as client", "    participant S as mockprogress"]
    if any(ex.upstream for ex in exchanges):
        out.append("    participant U as upstream")  # proxy mode: the upstream leg too
    for connection, group in itertools.groupby(exchanges, key=lambda ex: ex.connection):
        streams = list(group)
        if any(ex.stream_id is not None for ex in streams):
            out.append(f"    Note over C,S: connection {connection} (HTTP/2)")
            timed = sorted(
                ((ex.started + event.at, n, i), ex, event)
                for n, ex in enumerate(streams)
                for i, event in enumerate(ex.events)
            )
            for _, ex, event in timed:
                out.extend(_lines(ex, event, f"[{ex.stream_id}] "))
        else:
            out.append(f"    Note over C,S: connection {connection}")
            for ex in streams:
                for event in ex.events:
                    out.extend(_lines(ex, event, ""))
    return "\n".join(out) + "\n"


def _lines(ex: Exchange, event: Event, mark: str) -> list[str]:
    """The diagram's line for one event (none for kinds it does not draw)."""
    kind = event.kind
    if kind == "request":
        request = f"{ex.method} {ex.target}" if ex.method else "(incomplete request)"
        return [f"    C->>S: {_escape(mark + request)}"]
    if kind == "body":
        return [f"    C->>S: {_escape(mark + event.detail)}"]
    if kind == "interim":
        label = _interim_label(event.status, mark + event.detail, event.headers or ())
        return [f"    S-->>C: {label}"]
    if kind in ("response", "raw", "goaway", "trailers"):
        return [f"    S->>C: {_escape(mark + event.detail)}"]
    if kind == "fault":
        return [f"    S-xC: {_escape(mark + event.detail)}"]
    if kind == "upstream":
        return [_upstream_line(event.detail)]
    if kind == "websocket":
        arrow = "C-)S" if event.direction == "in" else "S-)C"
        return [f"    {arrow}: {_escape(mark + event.detail)}"]
    if kind in _NOTES:
        return [f"    Note over S: {_escape(mark + event.detail)}"]
    return []


_NOTES = (
    "pause",
    "interim-skipped",
    "error",
    "closed",
    "continue-skipped",
    "continue",
    "upload",
)


def _upstream_line(detail: str) -> str:
    """An upstream event (``engine.proxy``) as an arrow between the server and the upstream."""
    if detail.startswith("to upstream"):
        return f"    S->>U: {_escape(detail.split(': ', 1)[-1])}"
    if detail.startswith("from upstream"):
        return f"    U->>S: {_escape(detail.split(': ', 1)[-1])}"
    return f"    Note over S,U: {_escape(detail)}"
