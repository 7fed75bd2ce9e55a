"""The fault spec: how a connection fault fires, validated once, and the places a test puts one.

Every way a test makes the server misbehave on purpose ends the same way: the connection is
closed (FIN), reset (RST) or stalled (held open and silent, for ``seconds`` or until the client
gives up). ``FaultSpec`` is that "how", checked in one place; the spec types below say *where*
it fires and carry one:

- ``Cut``: after ``at`` bytes of a final response (``mp.respond(...).cut(...)``);
- ``HeadCut``: after ``at`` bytes of a request head, on the next request(s) to arrive
  (``MockServer.cut_request_head``);
- ``Interrupt``: after ``after`` body bytes of an upload resource's N-th upload request
  (``mp.interrupt``);
- ``WsCut``: after ``at`` bytes of a WebSocket frame (``mp.ws_send(...).cut(...)``).

``Drop`` and ``Stall`` (``mp.drop``, ``mp.stall``), which fire where the script puts them, are
steps (``script.steps``) and carry the same spec. Which request a planned fault fires on, and
firing it, is the engine's (``engine.faults``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from ..errors import ScenarioError
from .checks import check_count, check_seconds
from .http2 import error_code

FaultHow: TypeAlias = Literal["close", "reset", "stall"]
#: The name steps and the public face have always used for it.
CutHow: TypeAlias = FaultHow
#: A fault that fires at once, never waiting (``mp.drop``, WebSocket cuts).
DropHow: TypeAlias = Literal["close", "reset"]
CutUnit: TypeAlias = Literal["body", "wire"]

ANY_HOW: tuple[FaultHow, ...] = ("close", "reset", "stall")
NO_STALL: tuple[FaultHow, ...] = ("close", "reset")


def _options(hows: tuple[str, ...]) -> str:
    quoted = [repr(h) for h in hows]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """How a fault fires: ``close`` (FIN), ``reset`` (RST) or ``stall`` (silent for ``seconds``;
    None: until the client closes or the server stops), then the connection ends.

    ``where`` names what the test wrote (``"cut"``, ``"interrupt"``, ...) in the messages;
    ``hows`` narrows the choice for faults that cannot stall.

    Over TLS the end of the stream says more. ``close_notify=False`` ends a ``close`` (or the
    end of a ``stall``) with a FIN and no close_notify alert first: a truncation that a careful
    client must detect when the body has no framing of its own. ``split_record=True`` sends
    part of one more TLS record before a ``reset``'s RST: the client sees the RST in the middle
    of a record. Over plain TCP both change nothing.
    """

    how: FaultHow = "close"
    seconds: float | None = None
    where: str = field(default="fault", compare=False, repr=False)
    hows: tuple[FaultHow, ...] = field(default=ANY_HOW, compare=False, repr=False)
    #: The name of the seconds in messages (default ``where(seconds=...)``).
    seconds_label: str | None = field(default=None, compare=False, repr=False)
    close_notify: bool = True
    split_record: bool = False
    #: Over HTTP/2: the ``RST_STREAM`` error code of a reset (None: ``CANCEL``), by name or
    #: number (``script.http2.ERROR_CODES``); over HTTP/1.x nothing carries it.
    error_code: int | str | None = None

    def __post_init__(self) -> None:
        if self.how not in self.hows:
            raise ScenarioError(f"{self.where} how must be {_options(self.hows)}, got {self.how!r}")
        label = self.seconds_label or f"{self.where}(seconds=...)"
        if self.seconds is not None and self.how != "stall":
            raise ScenarioError(f"{label} only applies to how='stall'")
        object.__setattr__(self, "seconds", check_seconds(self.seconds, label, allow_none=True))
        if not isinstance(self.close_notify, bool) or not isinstance(self.split_record, bool):
            raise ScenarioError(f"{self.where} close_notify and split_record must be True or False")
        if not self.close_notify and self.how == "reset":
            raise ScenarioError(
                f"{self.where}(close_notify=False) applies to how='close' or 'stall'"
            )
        if self.split_record and self.how != "reset":
            raise ScenarioError(f"{self.where}(split_record=True) only applies to how='reset'")
        if self.error_code is not None:
            if self.how == "close":
                raise ScenarioError(
                    f"{self.where}(error_code=...) applies to how='reset' or 'stall'"
                )
            code = error_code(self.error_code, f"{self.where}(error_code=...)")
            object.__setattr__(self, "error_code", code)

    @property
    def code(self) -> int | None:
        """``error_code`` as the number it was checked to be (None: not given)."""
        return None if self.error_code is None else int(self.error_code)

    def tls_ending(self) -> str:
        """How the end differs over TLS, for journal details (``""`` when it does not)."""
        if not self.close_notify:
            return ", no close_notify over TLS"
        if self.split_record:
            return ", mid-record over TLS"
        return ""


@dataclass(frozen=True, slots=True)
class Cut:
    """Where a response stops: after ``at`` bytes, counted in body content or on the wire."""

    at: int
    unit: CutUnit = "body"
    how: CutHow = "close"
    seconds: float | None = None
    #: Over TLS: end with a close_notify (else a bare FIN), or RST mid-record (``FaultSpec``).
    close_notify: bool = True
    split_record: bool = False
    #: Over HTTP/2: the ``RST_STREAM`` error code (None: ``CANCEL``).
    error_code: int | str | None = None
    #: The validated "how" (set from ``how`` and ``seconds``).
    spec: FaultSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_count(self.at, "cut(at=...)")
        if self.unit not in ("body", "wire"):
            raise ScenarioError(f"cut unit must be 'body' or 'wire', got {self.unit!r}")
        spec = FaultSpec(
            self.how,
            self.seconds,
            close_notify=self.close_notify,
            split_record=self.split_record,
            where="cut",
            error_code=self.error_code,
        )
        _carry(self, spec)


@dataclass(frozen=True, slots=True)
class HeadCut:
    """Cut ``times`` request heads (None: every one) after ``at`` bytes, then ``how``.

    A server-wide plan (``MockServer.cut_request_head``): the next request heads to arrive, on
    any connection, are cut after exactly ``at`` bytes, before any expectation could match.
    """

    at: int
    how: CutHow = "close"
    seconds: float | None = None
    times: int | None = 1
    #: The validated "how" (set from ``how`` and ``seconds``).
    spec: FaultSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_count(self.at, "cut_request_head(at=...)")
        _carry(self, FaultSpec(self.how, self.seconds, "cut_request_head"))
        if self.times is not None:
            check_count(self.times, "cut_request_head(times=...)", minimum=1)

    def describe(self) -> str:
        times = "every request" if self.times is None else f"{self.times} request(s)"
        return f"cut_request_head(at={self.at}, how={self.how!r}) for {times}"


@dataclass(frozen=True, slots=True)
class Interrupt:
    """Cut upload request number ``request`` (1-based, counting the requests of the resource
    that carry upload data; None for every one) after ``after`` body bytes.

    This is how a client's resume logic is tested: the resource stores exactly the bytes it
    read, then the connection ends, and the client has to find out what the server holds.

    .. code-block:: python

        mp.TusUploads("/files", interrupts=[mp.interrupt(after=4096, request=1, how="reset")])
    """

    after: int
    request: int | None = 1
    how: CutHow = "reset"
    seconds: float | None = None
    #: The validated "how" (set from ``how`` and ``seconds``).
    spec: FaultSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_count(self.after, "interrupt(after=...)")
        if self.request is not None:
            check_count(self.request, "interrupt(request=...)", minimum=1)
        _carry(self, FaultSpec(self.how, self.seconds, "interrupt"))


def interrupt(
    after: int, *, request: int | None = 1, how: CutHow = "reset", seconds: float | None = None
) -> Interrupt:
    """Cut the ``request``-th upload request (None: every one) after ``after`` body bytes."""
    return Interrupt(after, request, how, seconds)


@dataclass(frozen=True, slots=True)
class WsCut:
    """Where a WebSocket frame stops: after ``at`` bytes of it, then a FIN or an RST (the frame
    size is checked by ``WsSend``, which knows it)."""

    at: int
    how: DropHow = "close"
    #: The validated "how" (set from ``how`` and ``seconds``).
    spec: FaultSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_count(self.at, "ws_send(...).cut(at=...)")
        _carry(self, FaultSpec(self.how, None, "cut", NO_STALL))


def _carry(item: Cut | HeadCut | Interrupt | WsCut, spec: FaultSpec) -> None:
    """Keep the validated spec on ``item`` (and its seconds, as a float)."""
    object.__setattr__(item, "spec", spec)
    if not isinstance(item, WsCut):
        object.__setattr__(item, "seconds", spec.seconds)
