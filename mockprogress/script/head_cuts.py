"""Cuts inside the request head: the connection ends while the client is still sending its
request line and header fields, before any expectation could match.

A head cut is a server-wide plan (``MockServer.cut_request_head``): the next request heads to
arrive, on any connection, are cut after exactly ``at`` bytes. The server never reads past the
cut, and journals the partial request with the fault.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ScenarioError
from .checks import check_count, check_seconds
from .steps import CutHow


@dataclass(frozen=True, slots=True)
class HeadCut:
    """Cut ``times`` request heads (None: every one) after ``at`` bytes, then ``how``."""

    at: int
    how: CutHow = "close"
    seconds: float | None = None
    times: int | None = 1

    def __post_init__(self) -> None:
        check_count(self.at, "cut_request_head(at=...)")
        if self.how not in ("close", "reset", "stall"):
            raise ScenarioError(
                f"cut_request_head how must be 'close', 'reset' or 'stall', got {self.how!r}"
            )
        if self.seconds is not None and self.how != "stall":
            raise ScenarioError("cut_request_head(seconds=...) only applies to how='stall'")
        check_seconds(self.seconds, "cut_request_head(seconds=...)", allow_none=True)
        if self.times is not None:
            check_count(self.times, "cut_request_head(times=...)", minimum=1)

    def describe(self) -> str:
        times = "every request" if self.times is None else f"{self.times} request(s)"
        return f"cut_request_head(at={self.at}, how={self.how!r}) for {times}"


class HeadCutPlan:
    """The head cuts of one server, and how often each has fired."""

    def __init__(self) -> None:
        self._cuts: list[HeadCut] = []
        self._fired: list[int] = []

    def add(self, cut: HeadCut) -> None:
        self._cuts.append(cut)
        self._fired.append(0)

    def next_cut(self, *, fresh_connection: bool) -> HeadCut | None:
        """The cut the next request head would get. A cut at byte 0 applies only to a
        connection that has not sent a request yet (it ends before anything is read)."""
        if not self._cuts:
            return None
        for cut, fired in zip(self._cuts, self._fired, strict=True):
            if cut.times is not None and fired >= cut.times:
                continue
            if cut.at == 0 and not fresh_connection:
                continue
            return cut
        return None

    def claim(self, cut: HeadCut) -> bool:
        """Count ``cut`` as taken by a request; False if it has been used up meanwhile."""
        for i, (known, fired) in enumerate(zip(self._cuts, self._fired, strict=True)):
            if known is cut and (cut.times is None or fired < cut.times):
                self._fired[i] += 1
                return True
        return False

    def release(self, cut: HeadCut) -> None:
        """Give back a claimed cut that could not fire (the client stopped short of it)."""
        for i, known in enumerate(self._cuts):
            if known is cut and self._fired[i]:
                self._fired[i] -= 1
                return

    def unfired(self) -> list[str]:
        """One line per cut with ``times=N`` that fired fewer than N times."""
        return [
            f"{cut.describe()} fired {fired} time(s)"
            for cut, fired in zip(self._cuts, self._fired, strict=True)
            if cut.times is not None and fired < cut.times
        ]

    def clear(self) -> None:
        self._cuts.clear()
        self._fired.clear()
