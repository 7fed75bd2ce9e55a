"""Script steps: what the server does for one exchange, in order.

Every step is a frozen dataclass validated when it is built, so a mistake fails on the line
that wrote it and never later inside the server. The lower-case factories (``mp.interim``,
``mp.respond``, ...) are the public way to build them.

A script is a sequence of steps. It ends with a final step: a response (``respond``), a fault
(``drop``, ``stall``) or raw bytes (``raw``). After a response only ``read_body``, ``pause``,
``drop`` and ``stall`` may follow; after raw bytes only more raw bytes, pauses and faults.
"""

from __future__ import annotations

import json as _json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import ClassVar, Self, TypeAlias

from ..errors import ScenarioError
from ..http.headers import HeaderPairs, HeadersInput, has_header, header_pairs
from ..http.progress import Progress, ProgressInput
from ..http.progress_order import check_progress_order
from .checks import check_count, check_reason, check_seconds, check_status
from .faults import NO_STALL, FaultSpec

# The response cut and the fault vocabulary live in script.faults; importable here as before.
from .faults import Cut as Cut
from .faults import CutHow as CutHow
from .faults import CutUnit as CutUnit
from .faults import DropHow as DropHow
from .http2 import error_code

BodyInput: TypeAlias = "bytes | str | Sequence[bytes] | None"


class Step:
    """Base class of every script step.

    A step defined outside this module (an extension such as a protocol switch) implements
    ``run(ctx)``, a program over the exchange context, and sets ``answers = True`` when it
    counts as the script's answer and ``ends_connection = True`` when nothing may follow it.
    """

    __slots__ = ()
    #: True for steps that answer the request (a response, a fault, raw bytes).
    answers: ClassVar[bool] = False
    #: True for steps after which the connection is over.
    ends_connection: ClassVar[bool] = False


@dataclass(frozen=True, slots=True)
class Interim(Step):
    """Send one interim (1xx) response. Never sent to an HTTP/1.0 client (RFC 9110 §15.2)."""

    status: int
    headers: HeaderPairs = ()
    reason: str = ""

    def __post_init__(self) -> None:
        check_status(self.status, 100, 199, "interim")
        if self.status == 101:
            raise ScenarioError(
                "101 Switching Protocols is not an interim response: use mp.upgrade_websocket() "
                "or mp.raw() for an unsolicited 101"
            )
        object.__setattr__(self, "reason", check_reason(self.reason, self.status))


@dataclass(frozen=True, slots=True)
class Pause(Step):
    """Wait, sending nothing."""

    seconds: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "seconds", check_seconds(self.seconds, "pause"))


@dataclass(frozen=True, slots=True)
class ReadBody(Step):
    """Read the request body: all of it, or exactly ``upto`` bytes of it."""

    upto: int | None = None

    def __post_init__(self) -> None:
        if self.upto is not None:
            check_count(self.upto, "read_body(upto=...)")


@dataclass(frozen=True, slots=True)
class Drip:
    """How a response trickles out: ``chunk`` bytes every ``interval`` seconds."""

    chunk: int
    interval: float
    head: bool = False

    def __post_init__(self) -> None:
        check_count(self.chunk, "drip chunk", minimum=1)
        check_seconds(self.interval, "drip interval")


#: Fields a trailer section must not carry: framing, routing and the response's own controls.
_NOT_TRAILERS = frozenset(
    ("content-length", "transfer-encoding", "host", "content-type", "content-encoding", "te")
)


class Shaped:
    """``cut`` and ``drip`` for the steps that send a final response (``Respond``, and the
    proxy's ``Forward``): each is a frozen dataclass with ``fault`` and ``pacing`` fields."""

    __slots__ = ()
    #: The cut, if any (a field of each step that takes one).
    fault: Cut | None

    def cut(
        self,
        at: int,
        unit: CutUnit = "body",
        how: CutHow = "close",
        *,
        seconds: float | None = None,
        close_notify: bool = True,
        split_record: bool = False,
        error_code: int | str | None = None,
    ) -> Self:
        """Stop after exactly ``at`` bytes, then close (FIN), reset (RST) or stall.

        ``unit="body"`` counts content bytes of this response; ``unit="wire"`` counts every byte
        written for the exchange (interims, head, chunk framing, body). A stall holds the
        connection silent for ``seconds`` (default: until the client closes or the server
        stops). Over TLS, ``close_notify=False`` ends with a bare FIN (a truncation), and
        ``split_record=True`` puts a reset in the middle of a TLS record (docs/https.md).
        Over HTTP/2 a reset is a ``RST_STREAM`` with ``error_code`` (``"CANCEL"`` by default;
        docs/http2.md).
        """
        cut = Cut(at, unit, how, seconds, close_notify, split_record, error_code)
        return replace(self, fault=cut)  # type: ignore[type-var]

    def drip(
        self,
        bytes_per_second: float | None = None,
        *,
        chunk: int | None = None,
        interval: float | None = None,
        head: bool = False,
    ) -> Self:
        """Trickle the body (and the head too with ``head=True``) out slowly.

        Give a rate, or a chunk size and an interval, or a rate and a chunk size. With a rate
        alone the bytes go out in steps of about 10 ms.
        """
        pacing = make_drip(bytes_per_second, chunk, interval, head)
        return replace(self, pacing=pacing)  # type: ignore[type-var]


@dataclass(frozen=True, slots=True)
class Respond(Shaped, Step):
    """Send the final response. ``body`` as a tuple of byte strings is sent chunked, one chunk
    per item; ``chunked=True`` sends a bytes body as a single chunk."""

    answers: ClassVar[bool] = True

    status: int = 200
    body: bytes | tuple[bytes, ...] = b""
    headers: HeaderPairs = ()
    reason: str = ""
    chunked: bool = False
    fault: Cut | None = None
    pacing: Drip | None = None
    #: Trailer fields after the body: a HEADERS frame over HTTP/2, the last chunk's fields
    #: over HTTP/1.1 (which needs a chunked body for them).
    trailers: HeaderPairs = ()
    #: The body as one byte string (joined once here: every exchange the step answers reads
    #: it several times).
    content: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "content", b"".join(self.body) if isinstance(self.body, tuple) else self.body
        )
        check_status(self.status, 200, 999, "final response")
        for name, _ in self.trailers:
            if name.lower() in _NOT_TRAILERS:
                raise ScenarioError(f"{name} cannot be a trailer field (RFC 9110 §6.5.1)")
        object.__setattr__(self, "reason", check_reason(self.reason, self.status))
        if isinstance(self.body, tuple):
            object.__setattr__(self, "chunked", True)
        if self.status in (204, 304) and self.content:
            raise ScenarioError(f"a {self.status} response cannot carry a body")
        if has_header(self.headers, "transfer-encoding"):
            raise ScenarioError(
                "set chunked=True (or pass the body as a list of chunks) instead of a "
                "Transfer-Encoding header"
            )
        for name, value in self.headers:
            if name.lower() == "content-length":
                if self.chunked:
                    raise ScenarioError("a chunked response cannot carry Content-Length")
                if value != str(len(self.content)):
                    raise ScenarioError(
                        f"Content-Length {value} does not match the {len(self.content)}-byte "
                        "body; a lying Content-Length is written with mp.raw()"
                    )
        if self.fault is not None and self.fault.unit == "body":
            if self.fault.at > len(self.content):
                raise ScenarioError(
                    f"cut at body byte {self.fault.at} but the body has {len(self.content)} bytes"
                )

    def relaying(self, fault: Cut) -> Respond:
        """This response with ``fault``, for a body that is not its own: a proxy relays the
        upstream's, and checks the cut against that body's length itself."""
        relayed = replace(self)
        object.__setattr__(relayed, "fault", fault)  # not checked against ``content``
        return relayed


def make_drip(
    bytes_per_second: float | None, chunk: int | None, interval: float | None, head: bool
) -> Drip:
    if chunk is not None:
        check_count(chunk, "drip chunk", minimum=1)
    if bytes_per_second is not None:
        rate = check_seconds(bytes_per_second, "drip bytes_per_second")
        assert rate is not None
        if rate <= 0:
            raise ScenarioError("drip bytes_per_second must be > 0")
        if interval is not None and chunk is not None:
            raise ScenarioError("drip takes a rate with a chunk or an interval, not both")
        if chunk is None:
            if interval is not None:
                chunk = max(1, round(rate * interval))
            else:
                chunk = max(1, math.ceil(rate / 100))
        return Drip(chunk, chunk / rate, head)
    if chunk is None and interval is None:
        raise ScenarioError("drip needs bytes_per_second, chunk or interval")
    return Drip(1 if chunk is None else chunk, 0.0 if interval is None else interval, head)


@dataclass(frozen=True, slots=True)
class Drop(Step):
    """Close the connection now: a FIN (``close``) or an RST (``reset``); over TLS a FIN
    follows a close_notify unless ``close_notify`` is False."""

    answers: ClassVar[bool] = True
    ends_connection: ClassVar[bool] = True

    how: DropHow = "close"
    close_notify: bool = True
    #: Over HTTP/2: the ``RST_STREAM`` error code of a reset (None: ``CANCEL``).
    error_code: int | str | None = None
    #: The validated "how" (``script.faults``).
    spec: FaultSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spec = FaultSpec(
            self.how,
            None,
            "drop",
            NO_STALL,
            close_notify=self.close_notify,
            error_code=self.error_code,
        )
        object.__setattr__(self, "spec", spec)


@dataclass(frozen=True, slots=True)
class Stall(Step):
    """Hold the connection open and silent: for ``seconds``, or until the client closes or the
    server stops. The connection is closed afterwards."""

    answers: ClassVar[bool] = True
    ends_connection: ClassVar[bool] = True

    seconds: float | None = None
    #: The validated "how" (``script.faults``).
    spec: FaultSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        spec = FaultSpec("stall", self.seconds, "stall", seconds_label="stall")
        object.__setattr__(self, "spec", spec)
        object.__setattr__(self, "seconds", spec.seconds)


@dataclass(frozen=True, slots=True)
class GoAway(Step):
    """HTTP/2: send ``GOAWAY`` (RFC 9113 §6.8): the server processes no stream past
    ``last_stream_id`` (None: the highest the client has opened so far) and says why
    (``error_code``). The script goes on: a response may still follow on a stream the
    GOAWAY keeps, and the connection closes once its streams are over."""

    last_stream_id: int | None = None
    error_code: int | str = 0
    debug: bytes = b""

    def __post_init__(self) -> None:
        if self.last_stream_id is not None:
            check_count(self.last_stream_id, "goaway(last_stream_id=...)")
        object.__setattr__(
            self, "error_code", error_code(self.error_code, "goaway(error_code=...)")
        )
        if not isinstance(self.debug, bytes):
            raise ScenarioError(f"goaway(debug=...) takes bytes, got {self.debug!r}")

    @property
    def code(self) -> int:
        """``error_code`` as the number it was checked to be."""
        return int(self.error_code)


@dataclass(frozen=True, slots=True)
class Raw(Step):
    """Write these bytes as they are, outside HTTP framing. The connection closes after the
    script, since the client's view of the exchange is no longer HTTP."""

    answers: ClassVar[bool] = True

    data: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.data, bytes):
            raise ScenarioError(f"raw() takes bytes, got {type(self.data).__name__}")


@dataclass(frozen=True, slots=True)
class Script:
    """A validated sequence of steps."""

    steps: tuple[Step, ...] = field(default_factory=tuple)
    #: True when the script places its own ``read_body`` step.
    reads_explicitly: bool = field(init=False, repr=False, compare=False)
    #: For each step: a ``read_body`` that reads the whole body comes after it (a response
    #: followed by one keeps the connection for the rest of the body).
    drains_after: tuple[bool, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Worked out once here, not for every exchange the script answers.
        object.__setattr__(
            self, "reads_explicitly", any(isinstance(s, ReadBody) for s in self.steps)
        )
        drains: list[bool] = []
        later = False  # a whole read_body among the steps after this one (one pass, from the end)
        for step in reversed(self.steps):
            drains.append(later)
            later = later or (isinstance(step, ReadBody) and step.upto is None)
        object.__setattr__(self, "drains_after", tuple(reversed(drains)))

    @classmethod
    def of(cls, steps: Iterable[Step]) -> Script:
        items = tuple(steps)
        if not items:
            raise ScenarioError("a script needs at least one step, e.g. mp.respond(200)")
        for i, step in enumerate(items):
            if not isinstance(step, Step):
                raise ScenarioError(
                    f"step {i} is {step!r}, not a step: build steps with mp.respond(), "
                    "mp.interim(), mp.pause(), ..."
                )
        state = "open"  # then "responded", "raw" or "ended"
        for i, step in enumerate(items):
            name = type(step).__name__
            if state == "responded" and not isinstance(step, ReadBody | Pause | Drop | Stall):
                raise ScenarioError(
                    f"step {i} ({name}) follows the final response; only read_body, pause, "
                    "drop and stall may"
                )
            if state == "raw" and not isinstance(step, Raw | Pause | Drop | Stall):
                raise ScenarioError(
                    f"step {i} ({name}) follows raw bytes; only raw, pause, drop and stall may"
                )
            if state == "ended":
                raise ScenarioError(f"step {i} ({name}) follows a step that ends the connection")
            if step.ends_connection:
                state = "ended"
            elif isinstance(step, Shaped):  # a response (or a forward: the upstream's)
                state = "ended" if step.fault is not None else "responded"
            elif isinstance(step, Raw):
                state = "raw"
        if not any(s.answers for s in items):
            raise ScenarioError(
                "the script never answers: end it with mp.respond(...), mp.drop(), mp.stall() "
                "or mp.raw(...)"
            )
        check_progress_order(
            (s.status, [v for n, v in s.headers if n.lower() == "progress"], f"step {i}")
            for i, s in enumerate(items)
            if isinstance(s, Interim | Respond)
        )
        return cls(items)


# ---- public factories -----------------------------------------------------------------------


def interim(status: int, headers: HeadersInput = None, reason: str | None = None) -> Interim:
    """An interim response: any 1xx but 101, with its headers.

    .. code-block:: python

        mp.interim(104, {"Location": "/uploads/1"})
    """
    return Interim(status, header_pairs(headers), reason or "")


def processing(
    progress: ProgressInput | None = None,
    *,
    location: str | None = None,
    status_uri: tuple[int, str] | Sequence[tuple[int, str]] | None = None,
    headers: HeadersInput = None,
) -> Interim:
    """A ``102 Processing`` with ``Progress`` (draft-wright-http-progress §3.2), ``Location`` of
    the status document and ``Status-URI`` pairs.

    .. code-block:: python

        mp.processing('0/3 "Herding cats"', location="/jobs/1/status")
        mp.processing((1, 3, "Knitting sweaters"))
    """
    pairs: list[tuple[str, str]] = []
    if progress is not None:
        pairs.append(("Progress", str(Progress.of(progress))))
    if location is not None:
        pairs.extend(header_pairs([("Location", location)]))
    if status_uri is not None:
        items = [status_uri] if isinstance(status_uri, tuple) else list(status_uri)
        for item in items:
            try:
                code, uri = item
            except (TypeError, ValueError):
                raise ScenarioError(f"status_uri takes (code, uri) pairs, got {item!r}") from None
            check_status(code, 100, 599, "Status-URI")
            if any(c in str(uri) for c in "<>\r\n "):
                raise ScenarioError(f"Status-URI reference {uri!r} contains <, >, spaces or CRLF")
            pairs.append(("Status-URI", f"{code} <{uri}>"))
    pairs.extend(header_pairs(headers))
    return Interim(102, tuple(pairs))


def early_hints(*links: str, headers: HeadersInput = None) -> Interim:
    """A ``103 Early Hints`` with one ``Link`` line per argument (RFC 8297).

    .. code-block:: python

        mp.early_hints("</style.css>; rel=preload; as=style")
    """
    for link in links:
        if isinstance(link, list | tuple):
            spread = ", ".join(repr(item) for item in link)
            raise ScenarioError(
                f"early_hints takes each link as a separate argument: "
                f"mp.early_hints({spread}), not a {type(link).__name__} of them"
            )
    pairs = header_pairs([("Link", link) for link in links], where="early_hints")
    return Interim(103, pairs + header_pairs(headers))


def pause(seconds: float) -> Pause:
    """Wait ``seconds`` before the next step."""
    return Pause(seconds)


def read_body(upto: int | None = None) -> ReadBody:
    """Read the request body here: all of it, or exactly ``upto`` bytes.

    A script without ``read_body`` reads the whole body just before its final response. On a
    request with ``Expect: 100-continue`` the ``100 Continue`` goes out when the body is first
    read, unless the script sent its own ``interim(100)`` before.
    """
    return ReadBody(upto)


def respond(
    status: int = 200,
    body: BodyInput = b"",
    headers: HeadersInput = None,
    *,
    reason: str | None = None,
    json: object = None,
    chunked: bool = False,
    trailers: HeadersInput = None,
) -> Respond:
    """The final response. A ``str`` body is sent as UTF-8 ``text/plain`` unless headers say
    otherwise; ``json=`` serialises a value as ``application/json``; a list of byte strings is
    sent chunked with those chunk boundaries. ``trailers`` are fields after the body (over
    HTTP/1.1 only with a chunked body).

    .. code-block:: python

        mp.respond(201, b"created\\n", {"Location": "/items/1"})
        mp.respond(200, json={"ok": True}).cut(at=5, how="reset")
    """
    pairs = header_pairs(headers)
    content: bytes | tuple[bytes, ...]
    if json is not None:
        if body:
            raise ScenarioError("respond() takes body= or json=, not both")
        content = _json.dumps(json).encode()
        if not has_header(pairs, "content-type"):
            pairs += (("Content-Type", "application/json"),)
    elif body is None:
        content = b""
    elif isinstance(body, str):
        content = body.encode()
        if not has_header(pairs, "content-type"):
            pairs += (("Content-Type", "text/plain; charset=utf-8"),)
    elif isinstance(body, bytes | bytearray | memoryview):
        content = bytes(body)
    elif isinstance(body, Sequence) and all(isinstance(c, bytes) for c in body):
        chunks = tuple(c for c in body if isinstance(c, bytes))
        if not all(chunks):
            raise ScenarioError("an empty chunk would end a chunked body early")
        content = chunks
    else:
        raise ScenarioError(f"respond() body must be bytes, str or a list of bytes, got {body!r}")
    return Respond(status, content, pairs, reason or "", chunked, trailers=header_pairs(trailers))


def drop(
    how: DropHow = "close", *, close_notify: bool = True, error_code: int | str | None = None
) -> Drop:
    """Close the connection at this point: ``"close"`` sends a FIN, ``"reset"`` an RST. Over
    TLS, ``close_notify=False`` leaves out the close_notify alert before the FIN: the end of
    an unframed body that a careful client must take for a truncation (docs/https.md). Over
    HTTP/2 a reset is the stream's ``RST_STREAM`` with ``error_code`` (default ``CANCEL``)."""
    return Drop(how, close_notify, error_code)


def goaway(
    last_stream_id: int | None = None, *, error_code: int | str = "NO_ERROR", debug: bytes = b""
) -> GoAway:
    """HTTP/2: send ``GOAWAY`` with ``last_stream_id`` (None: the highest stream opened so
    far) and ``error_code`` (a name from RFC 9113 §7 or a number)."""
    return GoAway(last_stream_id, error_code, debug)


def stall(seconds: float | None = None) -> Stall:
    """Go silent with the connection open: for ``seconds``, or until the client closes or the
    server stops."""
    return Stall(seconds)


def raw(data: bytes) -> Raw:
    """Write ``data`` verbatim: malformed status lines, lying framing, an unsolicited 101."""
    return Raw(data)
