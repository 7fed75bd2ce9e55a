"""Faults carried out: which request a planned fault fires on, and firing one.

The spec of a fault (how it fires, where) is the test's (``script.faults``). The engine adds
two things, each written once:

- ``FaultPlan``: which request a planned fault applies to and how many times it has fired.
  A server's head cuts (``HeadCutPlan``: the next N request heads, whichever connection they
  arrive on) and an upload resource's interrupts (``InterruptPlan``: its K-th upload request)
  are two ways of filling one plan.
- ``fire``: the one place a fault is journaled (the ``fault`` event and the exchange's
  ``Fault`` record: how, which side, at which byte) and carried out (``Hold`` for a stall,
  then ``Close``). Response cuts, ``mp.drop``/``mp.stall``, interrupts, head cuts and
  WebSocket cuts all end here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

from ..errors import ScenarioError
from ..script.faults import FaultSpec, HeadCut, Interrupt
from .actions import Close, Hold, Program
from .journal import ExchangeLog, Fault

F = TypeVar("F")
Side = Literal["request", "response", "handshake"]


def fire(
    log: ExchangeLog,
    spec: FaultSpec,
    *,
    now: float,
    side: Side,
    detail: str,
    body_bytes: int = 0,
    wire_bytes: int = 0,
    received: int | None = None,
    rest: bytes = b"",
) -> Program[None]:
    """Journal the fault on ``log`` and carry it out: close (FIN), reset (RST), or stall (hold
    the connection silent) and then close.

    ``detail`` says where it fired ("close after 5 body bytes ..."); a stall's duration is
    added here. ``body_bytes`` and ``wire_bytes`` are the byte offsets it fired at;
    ``received`` what the server had read for the exchange (default: the log's count);
    ``rest`` the bytes after the cut, which a ``split_record`` reset sends part of a record of.
    """
    if spec.how == "stall" and spec.seconds is not None:
        detail += f", for {spec.seconds:g} s"
    detail += spec.tls_ending()
    at = log.event(now, "fault", "", detail)
    got = log.bytes_received if received is None else received
    log.fault = Fault(spec.how, side, body_bytes, wire_bytes, at, detail, got)
    if spec.how == "stall":
        yield Hold(spec.seconds)
    if spec.how == "reset":
        yield Close("reset", split=(rest or b"\0") if spec.split_record else b"")
    else:
        yield Close("close", close_notify=spec.close_notify)


@dataclass(slots=True)
class _Planned(Generic[F]):
    item: F
    request: int | None  # fires on this request only (1-based); None: on any
    times: int | None  # fires at most this often; None: every time
    fired: int = 0

    def spent(self) -> bool:
        return self.times is not None and self.fired >= self.times


class FaultPlan(Generic[F]):
    """Planned faults, in the order they were added, and how often each has fired.

    The first entry that is not spent, applies to the request being counted and passes the
    caller's ``eligible`` test is the one that fires. A fault is *claimed* when it fires (and
    given back with ``release`` when it could not, so it fires on a later request instead).
    """

    def __init__(self) -> None:
        self._planned: list[_Planned[F]] = []
        #: Requests counted so far (``count_request``).
        self.count = 0

    def add(self, item: F, *, request: int | None = None, times: int | None = 1) -> None:
        self._planned.append(_Planned(item, request, times))

    def count_request(self) -> int:
        """Count one more request; its number (1-based)."""
        self.count += 1
        return self.count

    def next(
        self, *, request: int | None = None, eligible: Callable[[F], bool] = lambda _: True
    ) -> F | None:
        """The fault the next request would get (``request``: its number), without claiming it."""
        for planned in self._planned:
            if planned.spent() or not eligible(planned.item):
                continue
            if planned.request is not None and planned.request != request:
                continue
            return planned.item
        return None

    def claim(self, item: F) -> bool:
        """Count ``item`` as fired; False if it has been used up meanwhile."""
        for planned in self._planned:
            if planned.item is item and not planned.spent():
                planned.fired += 1
                return True
        return False

    def release(self, item: F) -> None:
        """Give back a claimed fault that could not fire (the client stopped short of it)."""
        for planned in self._planned:
            if planned.item is item and planned.fired:
                planned.fired -= 1
                return

    def unfired(self, describe: Callable[[F], str]) -> list[str]:
        """One line per fault with a number of times that fired fewer times than that."""
        return [
            f"{describe(p.item)} fired {p.fired} time(s)"
            for p in self._planned
            if p.times is not None and p.fired < p.times
        ]

    def rewind(self) -> None:
        """Forget what was counted and fired; keep the plan."""
        self.count = 0
        for planned in self._planned:
            planned.fired = 0

    def clear(self) -> None:
        """Forget the plan."""
        self._planned.clear()
        self.count = 0


class HeadCutPlan:
    """A server's head cuts (``MockServer.cut_request_head``): each cuts the next ``times``
    request heads to arrive, on any connection."""

    def __init__(self) -> None:
        self._plan: FaultPlan[HeadCut] = FaultPlan()

    def add(self, cut: HeadCut) -> None:
        self._plan.add(cut, times=cut.times)

    def next_cut(self, *, fresh_connection: bool) -> HeadCut | None:
        """The cut the next request head would get. A cut at byte 0 applies only to a
        connection that has not sent a request yet (it ends before anything is read)."""
        if not self._plan._planned:
            return None  # asked twice for every request head: mostly there is no plan
        return self._plan.next(eligible=lambda cut: cut.at > 0 or fresh_connection)

    def claim(self, cut: HeadCut) -> bool:
        """Count ``cut`` as taken by a request; False if it has been used up meanwhile."""
        return self._plan.claim(cut)

    def release(self, cut: HeadCut) -> None:
        """Give back a claimed cut that could not fire (the client stopped short of it)."""
        self._plan.release(cut)

    def unfired(self) -> list[str]:
        """One line per cut with ``times=N`` that fired fewer than N times."""
        return self._plan.unfired(HeadCut.describe)

    def clear(self) -> None:
        self._plan.clear()


class InterruptPlan:
    """An upload resource's interrupts: counts its upload requests and says which one to cut,
    and where."""

    def __init__(self, interrupts: Iterable[Interrupt] = ()) -> None:
        self.interrupts = tuple(interrupts)
        self._plan: FaultPlan[Interrupt] = FaultPlan()
        for item in self.interrupts:
            if not isinstance(item, Interrupt):
                raise ScenarioError(f"interrupts takes mp.interrupt(...) values, got {item!r}")
            # request=N matches one request only; None matches every one.
            self._plan.add(item, request=item.request, times=None)

    @property
    def count(self) -> int:
        """Upload requests counted so far."""
        return self._plan.count

    def next_request(self) -> Interrupt | None:
        """Count one more upload request; the interruption that applies to it, if any."""
        item = self._plan.next(request=self._plan.count_request())
        if item is not None:
            self._plan.claim(item)
        return item

    def reset(self) -> None:
        self._plan.rewind()
