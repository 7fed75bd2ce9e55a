"""The control API: a running server scripted over HTTP, in the spirit of WireMock's admin API.

Every route lives under a reserved prefix (default ``/__mockprogress/``) and answers JSON:

=================================  ==========================================================
``GET    {p}``                     what this is, and the routes below
``GET    {p}expectations``         the expectations, in the order they are tried
``POST   {p}expectations``         add the ``[[expect]]`` tables of a scenario document
``DELETE {p}expectations``         delete every expectation
``GET    {p}expectations/ID``      one expectation
``PUT    {p}expectations/ID``      replace it (a document with one ``[[expect]]``), in place
``DELETE {p}expectations/ID``      delete it
``GET    {p}resources``            the mounted resources (same verbs as expectations, with
``POST   {p}resources``            documents holding resource tables)
``GET    {p}routes``               the index: each route, what it shows, a curl command
``GET    {p}journal``              ``{"exchanges": [...], "total": N}`` (``?since=N``: those
                                   after #N; ``total``: how many the journal holds)
``GET    {p}journal/N``            exchange #N
``DELETE {p}journal``              forget the exchanges and the problems
``GET    {p}problems``             what ``check()`` would raise, as a list and as its text
``POST   {p}reset``                back to the start: the server's scenario files, loaded
                                   again, and an empty journal
``GET    {p}ui``                   the live view in a browser (HTML; docs/ui.md), which
                                   reads the routes above; its script and style are
                                   ``{p}ui/app.js`` and ``{p}ui/app.css``
=================================  ==========================================================

Documents are scenario documents (docs/scenarios.md) in JSON or TOML, told apart by the
``Content-Type`` (``application/json``, ``application/toml``; any other is a 415). A document is
taken whole or not at all: a mistake answers 400 naming the key, and nothing is added.

The API is a reserved resource (``Resource.reserved``) mounted at the prefix, by
``mockprogress serve`` or ``MockServer.enable_control_api``: requests under the prefix never
reach expectations, and they are not journaled as the clients' exchanges (the server keeps its
last few in ``reserved_logs``; the terminal prints them, marked as control requests); a reset
keeps it mounted. The API answers loopback clients only unless told otherwise, and with a
token, only requests carrying ``Authorization: Bearer TOKEN``, or the cookie a browser gets
by opening ``{p}ui?token=TOKEN`` once (``HttpOnly``, ``SameSite=Strict``, for the prefix).

A page in a browser on the same machine is a loopback client as well. So the API refuses, with
a 403, a ``Host`` that is not the server's (a page after DNS rebinding) and an ``Origin`` other
than its own, on every route, and, with a 415, a document in a type a page can send without a
CORS preflight. Every refusal is decided on the request's head, before a ``100 Continue`` or a
byte of the body (``_admit``). Every answer carries the same-origin headers of
``engine/browser.py`` (nosniff, a Content-Security-Policy, ``Cross-Origin-Resource-Policy``) and
no CORS header: the live view reads the API from its own origin, and no other page can.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import hmac
import html
import importlib.resources
import ipaddress
import itertools
import json
import re
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..engine.browser import (
    DATA_POLICY,
    SAME_ORIGIN_HEADERS,
    browser_response,
    page_policy,
)
from ..engine.index import base_url, routes
from ..engine.journal_json import exchange_json_pieces
from ..engine.limits import SetLimits
from ..engine.matching import Expectation
from ..engine.proxy import SetUpstream
from ..engine.resource import Resource
from ..engine.surface import ExchangeSurface
from ..errors import ScenarioError
from ..http.origin import allowed_names, another_page, host_allowed, request_authority
from ..script.faults import HeadCut
from ..script.steps import Respond
from ..version import __version__
from .uploads import UploadResource

if TYPE_CHECKING:
    from ..engine.actions import Program
    from ..engine.journal import Exchange
    from ..engine.state import ScenarioItem, ServerState

DEFAULT_CONTROL_PREFIX = "/__mockprogress/"

Item = Expectation | Resource
#: Builds the items of a scenario document: (body, content type, source for messages).
DocumentParser = Callable[[bytes, str | None, str], Sequence["ScenarioItem"]]
Reply = tuple[int, Any]

#: An exchange number or an id: ASCII digits only (``str.isdigit`` also takes "²", which
#: ``int`` refuses, and "٣", which it reads as 3), and not thousands of them (``int`` refuses
#: those too).
_NUMBER = re.compile(r"[0-9]{1,18}")

#: The media types a scenario document may be sent as (a browser's form or a CORS "simple"
#: request can send only text/plain, multipart/form-data and application/x-www-form-urlencoded
#: without asking first).
_DOCUMENT_TYPES = ("application/json", "application/toml")

_ENDPOINTS = [
    "GET {p}expectations",
    "POST {p}expectations",
    "DELETE {p}expectations",
    "GET|PUT|DELETE {p}expectations/ID",
    "GET {p}resources",
    "POST {p}resources",
    "DELETE {p}resources",
    "GET|PUT|DELETE {p}resources/ID",
    "GET {p}routes",
    "GET {p}journal?since=N&bodies=all|none|N",
    "GET {p}journal/N?bodies=all|none|N",
    "DELETE {p}journal",
    "GET {p}problems",
    "POST {p}reset",
    "GET {p}ui",
]


_JSON_HEADERS = (
    ("Content-Type", "application/json"),
    ("Content-Security-Policy", DATA_POLICY),
    *SAME_ORIGIN_HEADERS,
)
#: The live view's files (package data, ``mockprogress/ui/``) and their types.
_UI_FILES = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}


@dataclasses.dataclass(frozen=True, slots=True)
class _Pieces:
    """A JSON answer as pieces of text made when they are written, and how many body bytes of
    the journal they carry."""

    pieces: Iterator[str]
    body_bytes: int


class _TextSource:
    """Pieces of text as a response body of unknown length (an ``UnsizedSource``), encoded
    as they are written: at most a write's worth is held."""

    ended_early = False

    def __init__(self, pieces: Iterator[str]) -> None:
        self._pieces = pieces
        self._buffer = b""

    def next_piece(self, max_bytes: int) -> Program[bytes]:
        yield from ()  # made here, no I/O to wait for
        while len(self._buffer) < max_bytes:
            piece = next(self._pieces, None)
            if piece is None:
                break
            self._buffer += piece.encode()
        data, self._buffer = self._buffer[:max_bytes], self._buffer[max_bytes:]
        return data


class ControlError(Exception):
    """An answer other than success: the status and what went wrong."""

    def __init__(self, status: int, message: str, headers: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.headers = tuple(headers)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and their IPv4-mapped IPv6 forms."""
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


class ControlAPI(Resource):
    """The control API of one server (see the module docstring), a reserved resource.

    :param prefix: the reserved path prefix; it must start and end with ``/``.
    :param token: when set, requests must carry ``Authorization: Bearer TOKEN``.
    :param allow_remote: answer clients that are not on a loopback address.
    :param allowed_hosts: names a ``Host`` may carry besides the listening address, IP
        addresses and ``localhost`` (``.example.test``: that name and every name under it).
    :param parse: builds the items of a scenario document.
    :param baseline: the items a reset starts again from.
    """

    reserved = True

    def __init__(
        self,
        prefix: str = DEFAULT_CONTROL_PREFIX,
        *,
        token: str | None = None,
        allow_remote: bool = False,
        allowed_hosts: Sequence[str] = (),
        parse: DocumentParser,
        baseline: Callable[[], Sequence[ScenarioItem]] = list,
    ) -> None:
        if (
            not isinstance(prefix, str)
            or not prefix.startswith("/")
            or prefix.strip("/") == ""
            or any(c in prefix for c in "?#% \r\n")
        ):
            raise ScenarioError(
                f"the control prefix must be a path such as /__mockprogress/, got {prefix!r}"
            )
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.page = self.prefix + "ui"
        # The resource's path is the prefix without its final slash: it handles that path and
        # everything under the prefix.
        super().__init__(self.prefix)
        if token is not None and (not token or any(c.isspace() for c in token)):
            raise ScenarioError("the control token must be a non-empty word without spaces")
        self.token = token
        self.allow_remote = allow_remote
        self.allowed_hosts = allowed_names(allowed_hosts)
        self.parse = parse
        self.baseline = baseline
        # The server it answers about, from the moment that server mounts it.
        self._state: ServerState | None = None
        self._by_id: dict[int, Item] = {}
        self._id_of: dict[int, int] = {}  # id(item) -> its control-API id
        self._next_id = 1

    # ---- one request -----------------------------------------------------------------------

    def describe(self) -> str:
        return "control API"

    def mounted(self, state: ServerState) -> None:
        self._state = state

    def serve(self, ctx: ExchangeSurface) -> Program[None]:
        """Answer one control request, about the server that received it. The guards decide
        on the head: a refused request gets no ``100 Continue``, and its body is never read
        (the connection closes after the answer instead), so nothing of it is kept."""
        state = self._state
        if state is None:
            raise RuntimeError("the control API serves only once a server has mounted it")
        try:
            self._admit(ctx, state)
        except ControlError as exc:
            yield from self._reply(ctx, exc.status, {"error": str(exc)}, exc.headers)
            return
        yield from ctx.read_body()
        if ctx.closed:
            return
        try:
            status, payload = self._answer(ctx, state)
            headers: tuple[tuple[str, str], ...] = ()
        except ControlError as exc:
            status, payload, headers = exc.status, {"error": str(exc)}, exc.headers
        except ScenarioError as exc:
            status, payload, headers = 400, {"error": str(exc)}, ()
        if isinstance(payload, _Pieces):
            yield from self._reply_in_pieces(ctx, state, payload)
            return
        if isinstance(payload, Respond):
            yield from ctx.respond(payload, read_first=False)
            return
        yield from self._reply(ctx, status, payload, headers)

    def _reply_in_pieces(
        self, ctx: ExchangeSurface, state: ServerState, answer: _Pieces
    ) -> Program[None]:
        """A JSON answer made of pieces (the journal). Small, it is one response like any
        other. When its bodies are larger than ``spool_threshold`` it is written as it is
        made, a piece at a time (no more than a slice of any body in memory, and the loop
        free between writes), as a body whose length is known at its end (chunked over
        HTTP/1.1, DATA frames over HTTP/2)."""
        if answer.body_bytes <= state.config.limits.spool_threshold:
            data = "".join(answer.pieces).encode()
            yield from ctx.respond(Respond(200, data, _JSON_HEADERS), read_first=False)
            return
        answer_head = Respond(200, b"", _JSON_HEADERS)
        yield from ctx.respond_unsized(answer_head, _TextSource(answer.pieces))

    def _reply(
        self,
        ctx: ExchangeSurface,
        status: int,
        payload: Any,
        headers: Sequence[tuple[str, str]] = (),
    ) -> Program[None]:
        data = (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode()
        yield from ctx.respond(Respond(status, data, (*_JSON_HEADERS, *headers)), read_first=False)

    def _admit(self, ctx: ExchangeSurface, state: ServerState) -> None:
        """Refuse a request from its head alone (``ControlError``): a client that is not on
        loopback, a ``Host`` that is not this server's (DNS rebinding), an ``Origin`` other
        than its own or a ``Sec-Fetch-Site`` other than ``same-origin`` and ``none`` (a web
        page), a missing token, a document that is not JSON or TOML."""
        if not self.allow_remote and not is_loopback(ctx.peer):
            raise ControlError(
                403,
                f"the control API answers loopback clients only, not {ctx.peer or '?'} "
                "(a server started with --host on another address answers everyone)",
            )
        authority = request_authority(ctx.log.target, ctx.headers.get("host"))
        if authority is not None and not self._host_allowed(authority, state):
            raise ControlError(
                403,
                f"the control API answers requests for this server only, not for Host "
                f"{authority!r} (a page that rebound a name of its own to this address sends "
                "that); allow a name with --allowed-host NAME",
            )
        page = another_page(ctx.headers, state.scheme, authority)
        if page is not None:
            raise ControlError(
                403,
                f"the control API answers its own pages only, not a request a browser made for "
                f"another page ({page}): a web page cannot script this server",
            )
        parts = _parts(ctx.log.target, self.prefix)
        if self.token is not None and not self._authorized(ctx, state, parts):
            raise ControlError(
                401,
                "this control API needs the header Authorization: Bearer <token> (a browser: "
                f"open {self.page}?token=<token> once)",
                [("WWW-Authenticate", 'Bearer realm="mockprogress"')],
            )
        if _takes_document(parts, ctx.method) and ctx.declared_length != 0:
            content_type = ctx.headers.get("content-type")
            if not _document_type(content_type):
                raise ControlError(
                    415,
                    f"a scenario document is sent as Content-Type: application/json or "
                    f"application/toml, not {content_type or 'without one'}",
                    [("Accept-Post", "application/json, application/toml")],
                )

    def _host_allowed(self, authority: str, state: ServerState) -> bool:
        listening = None if state.address is None else state.address[0]
        return host_allowed(authority, listening, self.allowed_hosts)

    def _answer(self, ctx: ExchangeSurface, state: ServerState) -> Reply:
        split = urllib.parse.urlsplit(ctx.log.target)
        query = _query(ctx)
        parts = _parts(ctx.log.target, self.prefix)
        self._prune(state)
        method = ctx.method
        body = ctx.log.body.read()
        source = f"{method} {split.path}"
        handlers = self._handlers(parts, state, body, query, ctx, source)
        if handlers is None:
            raise ControlError(404, f"no control route {split.path} (see GET {self.prefix})")
        handler = handlers.get(method)
        if handler is None:
            allowed = ", ".join(handlers)
            raise ControlError(
                405, f"{split.path} takes {allowed}, not {method}", [("Allow", allowed)]
            )
        return handler()

    def _authorized(self, ctx: ExchangeSurface, state: ServerState, parts: list[str]) -> bool:
        """The token in ``Authorization: Bearer``, the browser's cookie, or (opening the live
        view, which then sets that cookie) ``?token=``."""
        expected = (self.token or "").encode()
        scheme, _, credentials = (ctx.headers.get("authorization") or "").partition(" ")
        given = credentials.strip().encode()
        if scheme.lower() == "bearer" and hmac.compare_digest(given, expected):
            return True
        name, value = self._cookie(state)
        for header in ctx.headers.getall("cookie"):
            for pair in header.split(";"):
                key, _, sent = pair.strip().partition("=")
                if key == name and hmac.compare_digest(sent.encode(), value.encode()):
                    return True
        given_token = _query(ctx).get("token")
        return (
            parts == ["ui"]
            and ctx.method == "GET"
            and given_token is not None
            and hmac.compare_digest(given_token.encode(), expected)
        )

    def _cookie(self, state: ServerState) -> tuple[str, str]:
        """The name and value of the cookie that stands for the token: named by the port
        (cookies are shared by every port of a host), valued by a hash of the token (a cookie
        value cannot hold every character a token may)."""
        port = "" if state.address is None else f"_{state.address[1]}"
        digest = hashlib.sha256(f"mockprogress cookie:{self.token}".encode()).hexdigest()
        return f"mockprogress{port}", digest

    def _handlers(
        self,
        parts: list[str],
        state: ServerState,
        body: bytes,
        query: dict[str, str],
        ctx: ExchangeSurface,
        source: str,
    ) -> dict[str, Callable[[], Reply]] | None:
        match parts:
            case []:
                return {"GET": self._overview}
            case ["expectations"]:
                return {
                    "GET": lambda: (200, {"expectations": self._expectations(state)}),
                    "POST": lambda: self._add_expectations(state, body, ctx, source),
                    "DELETE": lambda: self._delete_expectations(state),
                }
            case ["expectations", ident]:
                return {
                    "GET": lambda: (200, self._expectation_json(self._expectation(state, ident))),
                    "PUT": lambda: self._replace_expectation(state, ident, body, ctx, source),
                    "DELETE": lambda: self._delete_expectation(state, ident),
                }
            case ["resources"]:
                return {
                    "GET": lambda: (
                        200,
                        {"resources": [self._resource_json(r) for r in state.resources]},
                    ),
                    "POST": lambda: self._add_resources(state, body, ctx, source),
                    "DELETE": lambda: self._delete_resources(state),
                }
            case ["resources", ident]:
                return {
                    "GET": lambda: (200, self._resource_json(self._resource(state, ident))),
                    "PUT": lambda: self._replace_resource(state, ident, body, ctx, source),
                    "DELETE": lambda: self._delete_resource(state, ident),
                }
            case ["routes"]:
                return {"GET": lambda: self._routes(state, ctx)}
            case ["journal"]:
                return {
                    "GET": lambda: self._journal(state, query),
                    "DELETE": lambda: self._clear_journal(state),
                }
            case ["journal", number]:
                return {"GET": lambda: self._exchange(state, number, query)}
            case ["problems"]:
                return {"GET": lambda: self._problems(state)}
            case ["reset"]:
                return {"POST": lambda: self._reset(state)}
            case ["ui"]:
                return {"GET": lambda: self._live_view(state, query)}
            case ["ui", name] if name in _UI_FILES and name != "index.html":
                return {"GET": lambda: (200, _ui_file(name, self.prefix))}
        return None

    # ---- ids -------------------------------------------------------------------------------

    def _id(self, item: Item) -> int:
        key = id(item)
        if key not in self._id_of:
            self._assign(item, self._next_id)
            self._next_id += 1
        return self._id_of[key]

    def _assign(self, item: Item, ident: int) -> None:
        self._by_id[ident] = item
        self._id_of[id(item)] = ident

    def _prune(self, state: ServerState) -> None:
        """Forget the ids of items the server no longer holds (a reset, ``srv.reset()``)."""
        held = {id(e) for e in state.registry.expectations} | {id(r) for r in state.resources}
        for ident, item in list(self._by_id.items()):
            if id(item) not in held:
                del self._by_id[ident]
                del self._id_of[id(item)]

    def _lookup(self, ident: str, kind: type[Item], what: str) -> Item:
        item = self._by_id.get(int(ident)) if _NUMBER.fullmatch(ident) else None
        if not isinstance(item, kind):
            raise ControlError(404, f"no {what} with id {ident}")
        return item

    def _expectation(self, state: ServerState, ident: str) -> Expectation:
        for exp in state.registry.expectations:
            self._id(exp)
        item = self._lookup(ident, Expectation, "expectation")
        assert isinstance(item, Expectation)
        return item

    def _resource(self, state: ServerState, ident: str) -> Resource:
        for resource in state.resources:
            self._id(resource)
        item = self._lookup(ident, Resource, "resource")
        assert isinstance(item, Resource)
        return item

    # ---- views -----------------------------------------------------------------------------

    def _overview(self) -> Reply:
        return 200, {
            "mockprogress": __version__,
            "prefix": self.prefix,
            "endpoints": [e.replace("{p}", self.prefix) for e in _ENDPOINTS],
        }

    def _expectation_json(self, exp: Expectation) -> dict[str, Any]:
        path = exp.path
        return {
            "id": self._id(exp),
            "method": exp.method,
            "path": path if isinstance(path, str) else None,
            "path_regex": path.pattern if isinstance(path, re.Pattern) else None,
            "name": exp.name,
            "description": exp.description,
            "curl": exp.curl,
            "times": exp.times,
            "calls": exp.calls,
            "ordered": False if exp.group is None else (exp.group or True),
            "describe": exp.describe(),
        }

    def _expectations(self, state: ServerState) -> list[dict[str, Any]]:
        return [self._expectation_json(e) for e in state.registry.expectations]

    def _resource_json(self, resource: Resource) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "id": self._id(resource),
            "type": type(resource).__name__,
            "path": resource.path,
            "description": resource.description,
            "curl": resource.curl,
            "describe": resource.describe(),
        }
        if isinstance(resource, UploadResource):
            answer["uploads"] = [
                {
                    "id": upload.id,
                    "offset": upload.offset,
                    "length": upload.length,
                    "complete": upload.complete,
                    "invalid": upload.invalid,
                }
                for upload in resource.store
            ]
        return answer

    def _live_view(self, state: ServerState, query: dict[str, str]) -> Reply:
        """The page; opened with ``?token=`` (checked by ``_admit``), a redirect to it that
        sets the cookie standing for the token, so the token leaves the address bar."""
        if "token" not in query or self.token is None:
            return 200, _ui_file("index.html", self.prefix)
        name, value = self._cookie(state)
        secure = "; Secure" if state.scheme == "https" else ""
        cookie = f"{name}={value}; Path={self.prefix}; HttpOnly; SameSite=Strict{secure}"
        return 303, browser_response(
            303,
            b"the live view: the token is kept in a cookie\n",
            "text/plain; charset=utf-8",
            DATA_POLICY,
            (("Location", self.prefix + "ui"), ("Set-Cookie", cookie)),
        )

    def _routes(self, state: ServerState, ctx: ExchangeSurface) -> Reply:
        base = base_url(state, ctx.headers.get("host"))
        return 200, {
            "url": base,
            "routes": [
                {
                    "route": r.route,
                    "description": r.description,
                    "curl": r.curl,
                    "handled_by": r.handled_by,
                }
                for r in routes(state, base)
            ],
        }

    def _journal(self, state: ServerState, query: dict[str, str]) -> Reply:
        since = query.get("since", "0")
        if not _NUMBER.fullmatch(since):
            raise ControlError(400, f"since must be an exchange number, got {since!r}")
        limit = _body_limit(query)
        # Snapshots of the exchanges asked for only: the live view asks several times a second
        # for the few after the last it has.
        exchanges = [log.snapshot() for log in state.logs if log.index > int(since)]

        def pieces() -> Iterator[str]:
            yield '{"exchanges": ['
            for i, ex in enumerate(exchanges):
                if i:
                    yield ", "
                yield from exchange_json_pieces(ex, body_limit=limit)
            # How many exchanges the journal holds: fewer than a reader has seen means it was
            # cleared since (the live view starts over).
            yield f'], "total": {len(state.logs)}}}\n'

        return 200, _Pieces(pieces(), _body_bytes(exchanges, limit))

    def _exchange(self, state: ServerState, number: str, query: dict[str, str]) -> Reply:
        limit = _body_limit(query)
        for ex in state.journal():
            if str(ex.index) == number:
                whole = itertools.chain(exchange_json_pieces(ex, body_limit=limit), ["\n"])
                return 200, _Pieces(whole, _body_bytes([ex], limit))
        raise ControlError(404, f"no exchange #{number} in the journal")

    def _problems(self, state: ServerState) -> Reply:
        error = state.check_error()
        return 200, {
            "problems": [
                {"kind": p.kind, "message": p.message, "exchange": p.exchange}
                for p in state.all_problems()
            ],
            "report": None if error is None else str(error),
        }

    # ---- changes ---------------------------------------------------------------------------

    def _document(
        self, body: bytes, ctx: ExchangeSurface, source: str, kind: type[Item]
    ) -> list[ScenarioItem]:
        if not body.strip():
            raise ControlError(400, f"{source}: send a scenario document (JSON or TOML)")
        items = list(self.parse(body, ctx.headers.get("content-type"), source))
        # Head cuts and the upstream come with expectations: they script how requests are
        # answered.
        allowed = (Expectation, HeadCut, SetUpstream) if kind is Expectation else kind
        wrong = [i for i in items if not isinstance(i, allowed)]
        limits = next((i for i in wrong if isinstance(i, SetLimits)), None)
        if limits is not None:
            raise ControlError(
                400,
                f"{source}: sets limits ({', '.join(sorted(limits.values))}), which are the "
                "server's and are set when it starts: a scenario file it loads, MockServer's "
                "keywords or the options of mockprogress serve (docs/limits.md)",
            )
        if kind is Expectation and wrong:
            raise ControlError(
                400,
                f"{source}: takes [[expect]] tables only; send resources to {self.prefix}resources",
            )
        if kind is Resource and wrong:
            raise ControlError(
                400,
                f"{source}: takes resource tables only; send [[expect]] tables to "
                f"{self.prefix}expectations",
            )
        if not items:
            raise ControlError(400, f"{source}: the document defines nothing")
        return items

    def _add_expectations(
        self, state: ServerState, body: bytes, ctx: ExchangeSurface, source: str
    ) -> Reply:
        items = self._document(body, ctx, source, Expectation)
        for item in items:
            state.add_item(item)
        added = [i for i in items if isinstance(i, Expectation)]
        reply: dict[str, Any] = {"expectations": [self._expectation_json(e) for e in added]}
        cuts = [i.describe() for i in items if isinstance(i, HeadCut)]
        if cuts:
            reply["head_cuts"] = cuts
        return 201, reply

    def _replace_expectation(
        self, state: ServerState, ident: str, body: bytes, ctx: ExchangeSurface, source: str
    ) -> Reply:
        old = self._expectation(state, ident)
        items = self._document(body, ctx, source, Expectation)
        if len(items) != 1 or not isinstance(items[0], Expectation):
            raise ControlError(400, f"{source}: send exactly one [[expect]] table")
        new = items[0]
        position = next(i for i, e in enumerate(state.registry.expectations) if e is old)
        state.registry.expectations[position] = new
        self._forget(old)
        self._assign(new, int(ident))
        return 200, self._expectation_json(new)

    def _delete_expectation(self, state: ServerState, ident: str) -> Reply:
        old = self._expectation(state, ident)
        state.registry.expectations[:] = [e for e in state.registry.expectations if e is not old]
        self._forget(old)
        return 200, {"deleted": 1}

    def _delete_expectations(self, state: ServerState) -> Reply:
        count = len(state.registry.expectations)
        state.registry.clear()
        return 200, {"deleted": count}

    def _add_resources(
        self, state: ServerState, body: bytes, ctx: ExchangeSurface, source: str
    ) -> Reply:
        added = [r for r in self._document(body, ctx, source, Resource) if isinstance(r, Resource)]
        taken = {r.path for r in state.resources}
        for resource in added:
            if resource.path in taken:
                raise ControlError(
                    409, f"{source}: a resource is already mounted at {resource.path}"
                )
            taken.add(resource.path)
        for resource in added:
            state.mount(resource)
        return 201, {"resources": [self._resource_json(r) for r in added]}

    def _replace_resource(
        self, state: ServerState, ident: str, body: bytes, ctx: ExchangeSurface, source: str
    ) -> Reply:
        old = self._resource(state, ident)
        items = self._document(body, ctx, source, Resource)
        if len(items) != 1 or not isinstance(items[0], Resource):
            raise ControlError(400, f"{source}: send exactly one resource table")
        new = items[0]
        if any(r.path == new.path and r is not old for r in state.resources):
            raise ControlError(409, f"{source}: a resource is already mounted at {new.path}")
        position = next(i for i, r in enumerate(state.resources) if r is old)
        state.resources[position] = new
        old.close()
        self._forget(old)
        self._assign(new, int(ident))
        return 200, self._resource_json(new)

    def _delete_resource(self, state: ServerState, ident: str) -> Reply:
        old = self._resource(state, ident)
        state.resources[:] = [r for r in state.resources if r is not old]
        old.close()
        self._forget(old)
        return 200, {"deleted": 1}

    def _delete_resources(self, state: ServerState) -> Reply:
        count = len(state.resources)
        for resource in state.resources:
            resource.close()
        state.resources.clear()
        return 200, {"deleted": count}

    def _clear_journal(self, state: ServerState) -> Reply:
        count = len(state.logs)
        state.clear_journal()
        return 200, {"deleted": count}

    def _reset(self, state: ServerState) -> Reply:
        items = list(self.baseline())  # first, so that a broken file changes nothing
        state.reset()
        for item in items:
            state.add_item(item)
        self._by_id.clear()
        self._id_of.clear()
        return 200, {
            "expectations": self._expectations(state),
            "resources": [self._resource_json(r) for r in state.resources],
        }

    def _forget(self, item: Item) -> None:
        ident = self._id_of.pop(id(item), None)
        if ident is not None:
            self._by_id.pop(ident, None)


# ---- reading the head ----------------------------------------------------------------------


def _parts(target: str, prefix: str) -> list[str]:
    """The route's segments below the prefix."""
    path = urllib.parse.urlsplit(target).path
    return [p for p in path[len(prefix) :].split("/") if p]


def _takes_document(parts: list[str], method: str) -> bool:
    """Whether the route and method read a scenario document from the body."""
    match parts:
        case ["expectations" | "resources"]:
            return method == "POST"
        case ["expectations" | "resources", _]:
            return method == "PUT"
    return False


def _document_type(content_type: str | None) -> bool:
    """JSON (``application/json``, ``application/*+json``) or TOML (``application/toml``)."""
    kind = (content_type or "").split(";")[0].strip().lower()
    return kind in _DOCUMENT_TYPES or (kind.startswith("application/") and kind.endswith("+json"))


def _body_limit(query: dict[str, str]) -> int | None:
    """``?bodies=all`` (the default), ``none`` or N: how much of each body the journal shows."""
    value = query.get("bodies", "all")
    if value == "all":
        return None
    if value == "none":
        return 0
    if _NUMBER.fullmatch(value):
        return int(value)
    raise ControlError(400, f"bodies must be all, none or a number of bytes, got {value!r}")


def _body_bytes(exchanges: Sequence[Exchange], limit: int | None) -> int:
    return sum(ex.body_size if limit is None else min(ex.body_size, limit) for ex in exchanges)


def _query(ctx: ExchangeSurface) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(ctx.log.target).query))


@functools.cache
def _ui_text(name: str) -> str:
    return importlib.resources.files("mockprogress.ui").joinpath(name).read_text("utf-8")


def _ui_file(name: str, prefix: str) -> Respond:
    """One of the live view's files. The page names the prefix (``{{prefix}}``, escaped); its
    policy lets it run its own script and style only, and fetch from its own origin."""
    text = _ui_text(name)
    if name == "index.html":
        text = text.replace("{{prefix}}", html.escape(prefix))
    policy = page_policy(scripts=True) if name == "index.html" else DATA_POLICY
    return browser_response(200, text.encode(), _UI_FILES[name], policy)
