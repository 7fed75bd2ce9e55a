"""Problems the server records for ``check()`` to raise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ExpectationError
from .journal import Exchange

#: What each kind of problem means, for the report.
KINDS = {
    "unmatched": "a request matched no expectation",
    "unconsumed": "an expectation was not used as often as required",
    "out-of-order": "a request arrived out of its ordered group's order",
    "handler-error": "a handler raised",
    "scenario-error": "a script could not be carried out",
    "malformed-request": "the client sent a malformed request",
    "limit": "a request exceeded a server limit",
    "websocket": "a WebSocket client did not do what the frame script expected",
    "internal-error": "mockprogress failed (a bug: please report it)",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing that makes ``check()`` fail."""

    kind: str
    message: str
    exchange: int | None = None

    def __str__(self) -> str:
        where = f" (exchange #{self.exchange})" if self.exchange is not None else ""
        return f"[{self.kind}]{where} {self.message}"


def problems_error(problems: Sequence[Problem], exchanges: Sequence[Exchange]) -> ExpectationError:
    """An ``ExpectationError`` naming every problem, with the timelines of the exchanges."""
    lines = [f"mockprogress recorded {len(problems)} problem(s):"]
    lines.extend(f"  {i}. {p}" for i, p in enumerate(problems, 1))
    involved = {p.exchange for p in problems if p.exchange is not None}
    shown = [ex for ex in exchanges if ex.index in involved] or list(exchanges[-10:])
    if shown:
        lines.append("")
        lines.append("timeline:")
        lines.extend(ex.timeline() for ex in shown)
    return ExpectationError("\n".join(lines))
