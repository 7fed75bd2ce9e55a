"""Proxy mode: answering a request with the upstream's answer, as programs.

Strategy. The upstream leg is HTTP/1.1 over an h11 client connection, decided here; the I/O
layer only opens, writes, reads and closes it (the ``Upstream*`` actions of
``engine.actions``, carried out by ``server/upstream.py``). One upstream connection serves one
exchange (``Connection: close`` toward the upstream), so the end of a close-delimited body is
plain and nothing of one exchange leaks into the next.

- Request. The head goes up with the hop-by-hop fields removed (RFC 9110 §7.6.1: the fields
  the ``Connection`` field names, ``Connection`` itself, ``Proxy-Connection``, ``Keep-Alive``,
  ``TE``, ``Transfer-Encoding``, ``Upgrade``), ``Expect`` removed (``100 Continue`` toward the
  client is the expectation's policy, as for any script), ``Host`` set to the upstream's
  authority and ``Via`` added (§7.6.3). The body streams up as it arrives, a read at a time:
  first what earlier steps read (``read_body(upto=N)``), then the rest, so memory stays bounded
  whatever its size; the journal keeps it as for any request (spooled to disk past
  ``spool_threshold``).
- Interims. The upstream's 1xx (102, 103, 104, ...) are relayed to the client as they come,
  through the exchange's ``send_interim`` (so an HTTP/1.0 client gets none, RFC 9110 §15.2),
  and journaled both as upstream events and as the exchange's interims. A ``100 Continue``
  from the upstream is not relayed: toward the client, 100 is the expectation's policy.
- Final response. Its head comes back with the hop-by-hop fields removed and the forward
  step's header changes applied; the framing toward the client is the exchange's own. A body
  of declared length streams through (``UpstreamBody``, a ``FetchedSource``): the exchange's
  ``respond`` fetches each piece from the upstream just before it writes it, so a
  ``.cut(at=N)`` writes exactly N bytes of the upstream's body and a ``.drip()`` paces it, as
  for a scripted body. A body without a declared length (chunked, or ended by a close) is
  relayed piece by piece as it arrives (``UnsizedUpstreamBody``, through the exchange's
  ``respond_unsized``): chunked to the client, so a stream of events reaches it as it comes.
- Web pages. A page in a browser on the same machine reaches the server too, and must not
  use it to drive the upstream or read its answers (an open relay into, say, a staging API).
  A request whose ``Host`` is not the server's (DNS rebinding) or that carries a foreign
  ``Origin`` is not forwarded: a 403 says why (``http.origin``, as for the control API).
- Trouble. An upstream that refuses, resets, sends a malformed response or stays silent for
  ``upstream_timeout`` seconds gives the client a 502 (504 for the silence) that says so, and
  a problem of kind ``upstream`` that ``check()`` reports. Once the final response has begun,
  the client's connection is reset instead: the body it was promised will not come whole.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

import h11

from ..errors import ScenarioError
from ..http.headers import HeaderPairs, Headers, HeadersInput, header_pairs
from ..http.origin import another_page, host_allowed, request_authority
from ..script.checks import check_count
from ..script.faults import FaultHow, FaultSpec
from ..script.steps import Cut, Drip, Interim, Respond, Shaped, Step
from .actions import (
    PeerGone,
    Program,
    UpstreamClose,
    UpstreamOpen,
    UpstreamReceive,
    UpstreamSend,
    UpstreamTrouble,
)
from .exchange import ExchangeContext, plain_response

if TYPE_CHECKING:
    from .surface import ExchangeSurface

#: Bytes read from the upstream, or from the client's body to go up, at once.
READ_SIZE = 65536
#: RFC 9110 §7.6.1: fields a proxy removes (with those the Connection field names).
HOP_BY_HOP = frozenset(
    ("connection", "proxy-connection", "keep-alive", "te", "transfer-encoding", "upgrade")
)
#: What the server adds to ``Via`` (RFC 9110 §7.6.3).
VIA = "1.1 mockprogress"


@dataclass(frozen=True, slots=True)
class UpstreamURL:
    """Where proxy mode forwards to: ``http://host:port`` or ``https://...``, with an optional
    base path that forwarded paths go under."""

    scheme: str
    host: str
    port: int
    base_path: str = ""

    @classmethod
    def parse(cls, url: str) -> UpstreamURL:
        """:raises ScenarioError: for anything but an http(s) URL with a host."""
        if not isinstance(url, str):
            raise ScenarioError(f"an upstream is a URL such as http://127.0.0.1:8080, got {url!r}")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ScenarioError(
                f"an upstream is an http:// or https:// URL with a host, got {url!r}"
            )
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ScenarioError(
                f"an upstream URL takes no query, fragment or credentials, got {url!r}"
            )
        try:
            port = parts.port
        except ValueError:
            raise ScenarioError(f"the upstream URL {url!r} has a bad port") from None
        default = 443 if parts.scheme == "https" else 80
        return cls(parts.scheme, parts.hostname, port or default, parts.path.rstrip("/"))

    @property
    def authority(self) -> str:
        """``host:port`` as a ``Host`` field says it (the port left out when it is the
        scheme's default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}{self.base_path}"


@dataclass(frozen=True, slots=True)
class SetUpstream:
    """The upstream a scenario document names at its top level (``upstream = "http://..."``):
    loaded, it becomes the server's, as ``MockServer(upstream=...)`` would make it."""

    url: UpstreamURL


@dataclass(frozen=True, slots=True)
class RequestCut:
    """Where a forwarded request stops: after ``at`` body bytes went up, fire ``spec``."""

    at: int
    spec: FaultSpec


@dataclass(frozen=True, slots=True)
class Forward(Shaped, Step):
    """Answer with the upstream's response (``mp.forward()``): its interims relayed, its final
    response sent with this step's header changes, ``cut`` and ``drip`` (as a response's: a
    body cut counts bytes of the upstream's body)."""

    answers: ClassVar[bool] = True

    #: Where to (None: the server's ``upstream``).
    upstream: UpstreamURL | None = None
    #: Fields set on the response, replacing the upstream's of the same names.
    headers: HeaderPairs = ()
    #: Names of the upstream's fields left out of the response (case-insensitive).
    remove_headers: tuple[str, ...] = ()
    fault: Cut | None = None
    pacing: Drip | None = None
    #: Where the request stops going up (``cut_request``).
    request_cut: RequestCut | None = None

    def cut_request(
        self, at: int, how: FaultHow = "close", *, seconds: float | None = None
    ) -> Forward:
        """Forward the request head and exactly ``at`` bytes of its body, then end the upstream
        connection there (the upstream sees a client that stopped sending) and the client's
        with a FIN, an RST or a stall (for ``seconds``): an upload interrupted at an exact
        byte, with the real server behind. The journal's fault has ``side="request"`` and
        ``body_bytes == at``. A body shorter than ``at`` goes up whole, and the unfired cut
        is a problem for ``check()``."""
        check_count(at, "cut_request(at=...)")
        spec = FaultSpec(how, seconds, "cut_request")
        return replace(self, request_cut=RequestCut(at, spec))

    def run(self, ctx: ExchangeSurface) -> Program[None]:
        """Carry the step out on ``ctx`` (``forward_exchange``)."""
        yield from forward_exchange(ctx, self)


def forward(
    url: str | None = None,
    *,
    headers: HeadersInput = None,
    remove_headers: Iterable[str] = (),
) -> Forward:
    """A final step that answers with the upstream's response: the server's ``upstream``
    (``MockServer(upstream=...)``), or ``url``. Its 1xx are relayed, its final response comes
    back with ``headers`` set (replacing the upstream's fields of those names) and
    ``remove_headers`` left out, and ``.cut(...)`` and ``.drip(...)`` apply to it as to
    ``mp.respond(...)``. Steps before it run as usual (interims, pauses, ``read_body``).

    .. code-block:: python

        srv.expect("GET", "/file", times=2).respond(mp.forward().cut(at=100, how="reset"))
    """
    names = (remove_headers,) if isinstance(remove_headers, str) else tuple(remove_headers)
    for name in names:
        if not isinstance(name, str) or not name:
            raise ScenarioError(f"forward(remove_headers=...) takes field names, got {name!r}")
    return Forward(
        None if url is None else UpstreamURL.parse(url),
        header_pairs(headers, where="forward"),
        tuple(n.lower() for n in names),
    )


class UpstreamLeg:
    """The h11 client connection to the upstream for one exchange, and its trouble."""

    def __init__(self, url: UpstreamURL, timeout: float | None, max_head: int) -> None:
        self.url = url
        self.timeout = timeout
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=max_head)
        #: What went wrong, once something did.
        self.trouble: UpstreamTrouble | None = None
        #: Body bytes of the final response received so far.
        self.body_received = 0
        #: The upstream ended its side (its end of stream was read).
        self._eof = False

    def open(self) -> Program[bool]:
        url = self.url
        result = yield UpstreamOpen(url.host, url.port, url.scheme == "https", self.timeout)
        if result is not None:
            self.trouble = result
            return False
        return True

    def send(self, event: h11.Event) -> Program[bool]:
        data = self.h11.send(event)
        if not data:
            return True
        result = yield UpstreamSend(data, self.timeout)
        if result is not None:
            self.trouble = result
            return False
        return True

    def next_event(self) -> Program[h11.Event | None]:
        """The upstream's next event; None on trouble."""
        while True:
            state = self.h11.their_state  # h11 forgets it on an error
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                self.trouble = self._broken(state, exc)
                return None
            if event is not h11.NEED_DATA:
                if isinstance(event, h11.ConnectionClosed):
                    self.trouble = self._broken(state, None)
                    return None
                if isinstance(event, h11.Data):
                    self.body_received += len(event.data)
                return event  # type: ignore[return-value]
            data = yield UpstreamReceive(READ_SIZE, self.timeout)
            if isinstance(data, UpstreamTrouble):
                self.trouble = data
                return None
            self._eof = not data
            self.h11.receive_data(data)

    def _broken(self, state: object, exc: Exception | None) -> UpstreamTrouble:
        """What an h11 error in ``state`` (or an end of stream: None) means, as trouble."""
        if self._eof and state is h11.SEND_BODY:
            detail = f"closed the connection after {self.body_received} body bytes"
            return UpstreamTrouble("reset", detail)
        if self._eof and state is h11.SEND_RESPONSE:
            return UpstreamTrouble("reset", "closed the connection without a response")
        return UpstreamTrouble("error", f"sent a malformed response: {exc}")

    def body_data(self) -> Program[bytes]:
        """The next piece of the final response's body; ``b""`` at its end (or on trouble)."""
        if self.h11.their_state is not h11.SEND_BODY:
            return b""
        event = yield from self.next_event()
        return bytes(event.data) if isinstance(event, h11.Data) else b""


class UnsizedUpstreamBody:
    """The upstream's body without a declared length (chunked, or ended by the close), handed
    on piece by piece as it arrives (an ``UnsizedSource``): nothing of it is held."""

    def __init__(self, leg: UpstreamLeg) -> None:
        self._leg = leg
        self._buffer = b""

    @property
    def ended_early(self) -> bool:
        return self._leg.trouble is not None

    def next_piece(self, max_bytes: int) -> Program[bytes]:
        if not self._buffer:
            self._buffer = yield from self._leg.body_data()
        piece, self._buffer = self._buffer[:max_bytes], self._buffer[max_bytes:]
        return piece


class UpstreamBody:
    """The upstream's body of a declared length, fetched piece by piece as the response goes
    out (a ``FetchedSource``): it holds only the piece being written."""

    def __init__(self, leg: UpstreamLeg, length: int) -> None:
        self._leg = leg
        self._length = length
        self._buffer = bytearray()
        self._base = 0

    def __len__(self) -> int:
        return self._length

    def fetch(self, end: int) -> Program[None]:
        while self._base + len(self._buffer) < end:
            data = yield from self._leg.body_data()
            if not data:
                return
            self._buffer += data

    def read(self, start: int, end: int) -> bytes:
        if start > self._base:
            del self._buffer[: start - self._base]
            self._base = start
        return bytes(self._buffer[start - self._base : end - self._base])


def forward_exchange(ctx: ExchangeSurface, step: Forward) -> Program[None]:
    """Carry out a forward step: the request up, the upstream's answer down. Over HTTP/1.x
    only: a request that came over HTTP/2 is answered 502 and recorded."""
    if not isinstance(ctx, ExchangeContext):
        ctx.problem(
            "upstream", f"not forwarded: proxy mode forwards HTTP/1.x, not HTTP/{ctx.http_version}"
        )
        yield from ctx.respond(
            plain_response(502, "mockprogress: HTTP/2 requests are not forwarded\n"),
            read_first=False,
        )
        return
    config = ctx.conn.state.config
    url = step.upstream or config.upstream
    if url is None:
        ctx.problem(
            "scenario-error",
            "forward() has no upstream: give it a URL, or the server one "
            "(MockServer(upstream=...))",
        )
        yield from ctx.respond(
            plain_response(500, "mockprogress: forward() has no upstream\n"), read_first=False
        )
        return
    refusal = _web_page(ctx)
    if refusal is not None:
        ctx.problem("upstream", f"not forwarded: {refusal}")
        yield from ctx.respond(
            plain_response(403, f"mockprogress: not forwarded: {refusal}\n"), read_first=False
        )
        return
    limits = config.limits
    leg = UpstreamLeg(url, limits.upstream_timeout, limits.max_header_size)
    try:
        yield from _exchange(ctx, step, leg)
    except PeerGone:
        yield UpstreamClose()
        raise
    yield UpstreamClose()


def _web_page(ctx: ExchangeContext) -> str | None:
    """Why a request looks sent by a web page, which must not drive the upstream through the
    server nor read its answers (None: it does not): a ``Host`` that is not this server's (a
    page that rebound a name of its own to this address), or a request for another origin's
    page (``http.origin.another_page``)."""
    state = ctx.conn.state
    authority = request_authority(ctx.target, ctx.headers.get("host"))
    listening = None if state.address is None else state.address[0]
    if authority is not None and not host_allowed(authority, listening, state.config.allowed_hosts):
        return (
            f"Host {authority!r} is not this server's (a web page that rebound a name of its "
            "own to this address sends that); use its address or localhost, or allow the name "
            "(allowed_hosts, --allowed-host)"
        )
    page = another_page(ctx.headers, state.scheme, authority)
    if page is not None:
        return (
            f"a request a browser made for another page ({page}): a web page cannot drive "
            "the upstream through this server"
        )
    return None


def _exchange(ctx: ExchangeContext, step: Forward, leg: UpstreamLeg) -> Program[None]:
    request = _upstream_request(ctx, leg.url)
    ctx.log.event(
        ctx.now,
        "upstream",
        "",
        f"to upstream {leg.url}: {ctx.method} {request.target.decode('latin-1')} HTTP/1.1",
        headers=Headers.from_raw(request.headers.raw_items()),
    )
    if not (yield from leg.open()) or not (yield from leg.send(request)):
        yield from _trouble(ctx, leg)
        return
    cut = step.request_cut
    sent = yield from _send_body(ctx, leg, None if cut is None else cut.at)
    if ctx.closed:
        return  # the client's body was refused (a limit, malformed framing)
    if cut is not None and sent == cut.at:
        yield from _cut_request(ctx, leg, cut, sent)
        return
    if cut is not None and sent is not None:
        ctx.problem(
            "scenario-error",
            f"cut_request(at={cut.at}) did not fire: the request body has {sent} bytes",
        )
    if sent is not None and ctx.has_body:
        ctx.log.event(ctx.now, "upstream", "", f"to upstream: {sent} body bytes (complete)")
    while True:
        event = yield from leg.next_event()
        if event is None:
            yield from _trouble(ctx, leg)
            return
        if isinstance(event, h11.InformationalResponse):
            yield from _relay_interim(ctx, event)
            if ctx.closed:
                return
            continue
        assert isinstance(event, h11.Response)
        break
    yield from _respond(ctx, step, leg, event)


def _send_body(
    ctx: ExchangeContext, leg: UpstreamLeg, upto: int | None = None
) -> Program[int | None]:
    """Send the request body up as it arrives, then its end; with ``upto``, exactly that many
    bytes and no end (the request cut, when the body has them). The bytes sent, or None when
    the upstream went away first (its answer, if any, is still read)."""
    sent = 0

    def room() -> int:
        return READ_SIZE if upto is None else min(READ_SIZE, upto - sent)

    if ctx.has_body:
        already = len(ctx.log.body)
        while sent < already and room() > 0:  # what earlier steps read (read_body(upto=N))
            piece = ctx.log.body.read(sent, min(sent + room(), already))
            if not (yield from leg.send(h11.Data(data=piece))):
                return None
            sent += len(piece)
        while not ctx.body_done and room() > 0:
            chunk = yield from ctx.read_body_chunk(room())
            if ctx.closed:
                return None
            if not chunk:
                break
            if not (yield from leg.send(h11.Data(data=chunk))):
                return None
            sent += len(chunk)
    if upto is not None and sent == upto:
        return sent
    if not (yield from leg.send(h11.EndOfMessage())):
        return None
    return sent


def _cut_request(
    ctx: ExchangeContext, leg: UpstreamLeg, cut: RequestCut, sent: int
) -> Program[None]:
    """The request cut fires: the upstream connection ends after exactly ``sent`` body bytes
    (it sees a client that stopped sending), then the fault ends the client's."""
    detail = f"to upstream: {sent} body bytes, then the connection closed (cut_request)"
    ctx.log.event(ctx.now, "upstream", "", detail)
    yield UpstreamClose()
    yield from ctx.fault(
        cut.spec,
        side="request",
        body_bytes=sent,
        detail=f"{cut.spec.how} after {sent} body bytes read and forwarded",
    )


def _relay_interim(ctx: ExchangeContext, event: h11.InformationalResponse) -> Program[None]:
    headers = Headers.from_raw(event.headers.raw_items())
    label = f"{event.status_code} {event.reason.decode('latin-1')}".rstrip()
    if event.status_code == 100:
        detail = f"from upstream: {label} (not relayed: 100 is the expectation's policy)"
        ctx.log.event(ctx.now, "upstream", "", detail, status=100, headers=headers)
        return
    ctx.log.event(ctx.now, "upstream", "", f"from upstream: {label}", status=event.status_code)
    try:
        interim = Interim(event.status_code, tuple(headers), event.reason.decode("latin-1"))
    except ScenarioError as exc:
        ctx.problem("upstream", f"upstream interim {label} not relayed: {exc}")
        return
    yield from ctx.send_interim(interim)


def _respond(
    ctx: ExchangeContext, step: Forward, leg: UpstreamLeg, response: h11.Response
) -> Program[None]:
    status = response.status_code
    reason = response.reason.decode("latin-1")
    upstream_headers = Headers.from_raw(response.headers.raw_items())
    ctx.log.event(
        ctx.now,
        "upstream",
        "",
        f"from upstream: {status} {reason}".rstrip(),
        status=status,
        headers=upstream_headers,
    )
    declared = _content_length(upstream_headers)
    bodiless = ctx.method == "HEAD" or status in (204, 304)
    sized = declared is not None and "transfer-encoding" not in upstream_headers
    fields = _response_fields(upstream_headers, step)
    try:
        answer = Respond(status, b"", fields, reason, pacing=step.pacing)
    except ScenarioError as exc:
        leg.trouble = UpstreamTrouble("error", f"sent a response not relayed: {exc}")
        yield from _trouble(ctx, leg)
        return
    if bodiless or sized:
        length = 0 if bodiless or declared is None else declared
        if step.fault is not None:
            answer = _with_cut(ctx, answer, step.fault, length)
        yield from ctx.respond(
            answer,
            read_first=False,
            head_length=declared if ctx.method == "HEAD" else None,
            stream=UpstreamBody(leg, length) if length else None,
        )
    else:
        # A body without a declared length (chunked, or ended by the close) is relayed as it
        # comes: a stream of events, or a long poll, reaches the client piece by piece.
        if step.fault is not None:
            answer = _with_cut(ctx, answer, step.fault, None)
        yield from ctx.respond_unsized(answer, UnsizedUpstreamBody(leg))
        length = leg.body_received
    if leg.trouble is not None:
        yield from _trouble(ctx, leg)
    whole = "all of it" if leg.body_received == length else "the rest not read"
    if leg.trouble is not None:
        whole = "its body ended there"
    ctx.log.event(
        ctx.now,
        "upstream",
        "",
        f"from upstream: {leg.body_received} of {length} body bytes ({whole})",
    )


def _with_cut(ctx: ExchangeContext, answer: Respond, cut: Cut, length: int | None) -> Respond:
    """The response with the forward step's cut, checked against the upstream's body (of
    ``length`` bytes; None: known at its end, where ``respond_unsized`` checks it), which a
    scripted response's own check (``Respond``) could not see."""
    if length is not None and cut.unit == "body" and cut.at > length:
        ctx.problem(
            "scenario-error",
            f"cut at body byte {cut.at} but the upstream's body has {length} bytes: cut at "
            f"{length}",
        )
        cut = replace(cut, at=length)
    return answer.relaying(cut)  # the body is the upstream's, checked above


def _trouble(ctx: ExchangeContext, leg: UpstreamLeg) -> Program[None]:
    """Say what went wrong upstream: a 502 (504 for silence) while the client has no answer
    yet, else a reset; journaled and recorded for ``check()``."""
    trouble = leg.trouble or UpstreamTrouble("error", "failed")
    message = f"upstream {leg.url} {trouble.detail}"
    ctx.log.event(ctx.now, "upstream", "", f"upstream trouble: {trouble.detail}")
    ctx.problem("upstream", message)
    if ctx.closed:
        return
    if ctx.final_started:
        yield from ctx.close("reset")
        return
    status = 504 if trouble.kind == "timeout" else 502
    yield from ctx.respond(plain_response(status, f"mockprogress: {message}\n"), read_first=False)


def _upstream_request(ctx: ExchangeContext, url: UpstreamURL) -> h11.Request:
    """The request as it goes up: hop-by-hop fields out, Host and Via set, the body framed as
    the client framed it."""
    target = urllib.parse.urlsplit(ctx.target)
    path = url.base_path + (target.path or "/")
    if target.query:
        path += "?" + target.query
    fields: list[tuple[str, str]] = [("Host", url.authority)]
    fields += [
        (name, value)
        for name, value in _end_to_end(ctx.headers)
        if name.lower() not in ("host", "expect", "content-length", "via")
    ]
    fields.append(("Via", _via(ctx.headers)))
    declared = ctx.declared_length
    if declared is None:
        fields.append(("Transfer-Encoding", "chunked"))
    elif declared or "content-length" in ctx.headers:
        fields.append(("Content-Length", str(declared)))
    fields.append(("Connection", "close"))
    return h11.Request(
        method=ctx.method.encode("latin-1"),
        target=path.encode("latin-1"),
        headers=[(n.encode("latin-1"), v.encode("latin-1")) for n, v in fields],
    )


def _response_fields(upstream: Headers, step: Forward) -> HeaderPairs:
    """The final response's fields as they go to the client."""
    replaced = {name.lower() for name, _ in step.headers}
    dropped = {*step.remove_headers, "content-length", "via"} | replaced
    fields = [(n, v) for n, v in _end_to_end(upstream) if n.lower() not in dropped]
    if "via" not in step.remove_headers:
        fields.append(("Via", _via(upstream)))
    return (*fields, *step.headers)


def _end_to_end(headers: Headers) -> list[tuple[str, str]]:
    """The fields without the hop-by-hop ones (RFC 9110 §7.6.1)."""
    named = {
        token.strip().lower()
        for value in headers.getall("connection")
        for token in value.split(",")
    }
    return [(n, v) for n, v in headers if n.lower() not in HOP_BY_HOP and n.lower() not in named]


def _via(headers: Headers) -> str:
    before = ", ".join(headers.getall("via"))
    return f"{before}, {VIA}" if before else VIA


def _content_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    if value is None:
        return None
    try:
        return int(value.split(",")[0].strip())
    except ValueError:
        return None
