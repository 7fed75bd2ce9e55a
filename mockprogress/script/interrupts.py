"""Interruptions for stateful upload resources: cut the Nth upload request after K body bytes.

This is how a client's resume logic is tested: the resource stores exactly the K bytes it read,
then closes, resets or stalls the connection, and the client has to find out what the server
holds and finish the job.

.. code-block:: python

    mp.TusUploads("/files", interrupts=[mp.interrupt(after=4096, request=1, how="reset")])
    mp.ResumableRequests("/jobs", interrupts=[mp.interrupt(after=100_000, request=None)])  # every
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import ScenarioError
from .checks import check_count, check_seconds
from .steps import CutHow


@dataclass(frozen=True, slots=True)
class Interrupt:
    """Cut upload request number ``request`` (1-based, counting the requests of the resource
    that carry upload data; None for every one) after ``after`` body bytes."""

    after: int
    request: int | None = 1
    how: CutHow = "reset"
    seconds: float | None = None

    def __post_init__(self) -> None:
        check_count(self.after, "interrupt(after=...)")
        if self.request is not None:
            check_count(self.request, "interrupt(request=...)", minimum=1)
        if self.how not in ("close", "reset", "stall"):
            raise ScenarioError(f"interrupt how must be close, reset or stall, got {self.how!r}")
        if self.seconds is not None and self.how != "stall":
            raise ScenarioError("interrupt(seconds=...) only applies to how='stall'")
        check_seconds(self.seconds, "interrupt(seconds=...)", allow_none=True)


def interrupt(
    after: int, *, request: int | None = 1, how: CutHow = "reset", seconds: float | None = None
) -> Interrupt:
    """Cut the ``request``-th upload request (None: every one) after ``after`` body bytes."""
    return Interrupt(after, request, how, seconds)


class InterruptPlan:
    """Counts a resource's upload requests and says which one to cut, and where."""

    def __init__(self, interrupts: Iterable[Interrupt] = ()) -> None:
        self.interrupts = tuple(interrupts)
        for item in self.interrupts:
            if not isinstance(item, Interrupt):
                raise ScenarioError(f"interrupts takes mp.interrupt(...) values, got {item!r}")
        self.count = 0

    def next_request(self) -> Interrupt | None:
        """Count one more upload request; the interruption that applies to it, if any."""
        self.count += 1
        for item in self.interrupts:
            if item.request is None or item.request == self.count:
                return item
        return None

    def reset(self) -> None:
        self.count = 0
