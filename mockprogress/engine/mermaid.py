"""Render journal exchanges as a Mermaid ``sequenceDiagram``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .journal import Exchange

# Mermaid treats ';' and '#' as syntax and '<', '>' as HTML inside messages: use entity codes.
_ESCAPES = {"#": "#35;", ";": "#59;", "<": "#lt;", ">": "#gt;", '"': "#quot;"}


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(c, c) for c in text)


def _interim_label(status: int | None, detail: str, headers: Iterable[tuple[str, str]]) -> str:
    lines = [_escape(detail)]
    lines.extend(_escape(f"{n}: {v}") for n, v in headers)
    return "<br/>".join(lines)


def journal_to_mermaid(exchanges: Iterable[Exchange]) -> str:
    exchanges = list(exchanges)
    out = ["sequenceDiagram", "    participant C as client", "    participant S as mockprogress"]
    if any(ex.upstream for ex in exchanges):
        out.append("    participant U as upstream")  # proxy mode: the upstream leg too
    connection: int | None = None
    for ex in exchanges:
        if ex.connection != connection:
            connection = ex.connection
            out.append(f"    Note over C,S: connection {connection}")
        for event in ex.events:
            kind = event.kind
            if kind == "request":
                request = f"{ex.method} {ex.target}" if ex.method else "(incomplete request)"
                out.append(f"    C->>S: {_escape(request)}")
            elif kind == "body":
                out.append(f"    C->>S: {_escape(event.detail)}")
            elif kind == "interim":
                label = _interim_label(event.status, event.detail, event.headers or ())
                out.append(f"    S-->>C: {label}")
            elif kind == "response":
                out.append(f"    S->>C: {_escape(event.detail)}")
            elif kind == "raw":
                out.append(f"    S->>C: {_escape(event.detail)}")
            elif kind == "fault":
                out.append(f"    S-xC: {_escape(event.detail)}")
            elif kind == "upstream":
                out.append(_upstream_line(event.detail))
            elif kind == "websocket":
                arrow = "C-)S" if event.direction == "in" else "S-)C"
                out.append(f"    {arrow}: {_escape(event.detail)}")
            elif kind in (
                "pause",
                "interim-skipped",
                "error",
                "closed",
                "continue-skipped",
                "continue",
                "upload",
            ):
                out.append(f"    Note over S: {_escape(event.detail)}")
    return "\n".join(out) + "\n"


def _upstream_line(detail: str) -> str:
    """An upstream event (``engine.proxy``) as an arrow between the server and the upstream."""
    if detail.startswith("to upstream"):
        return f"    S->>U: {_escape(detail.split(': ', 1)[-1])}"
    if detail.startswith("from upstream"):
        return f"    U->>S: {_escape(detail.split(': ', 1)[-1])}"
    return f"    Note over S,U: {_escape(detail)}"
