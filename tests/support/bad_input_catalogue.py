"""The catalogue of bad input: what a client (or a scenario author) can get wrong, and what
mockprogress does with it. test_bad_input_catalogue.py proves every row (the wire rows on a
real server, the parser rows on the parsers) and writes the tables of docs/bad-input.md from
these rows, so the page says exactly what the suite checked.

A wire row is the bytes a client sends on a fresh connection to the catalogue's server
(``catalogue_server``, which speaks HTTP/1.1 and, to a connection that opens with the client
preface, HTTP/2); its outcome is the final status it gets (None: no answer), whether the
connection then closes, the problem kinds ``check()`` reports, and how many exchanges the
journal keeps for it. Over HTTP/2 the answer is the protocol's: a ``GOAWAY`` and its error
code, a ``RST_STREAM`` and its code on the row's stream, a status on that stream, or the
``PING`` acknowledgements it got. A parser row calls one parser with one value; its outcome is the value
it returns or the error it raises, with the error's message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hpack import Encoder
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
)

import mockprogress as mp

BIG = "9" * 5000  # more digits than int() converts
MAX_BODY = 65536
HEAD_TIMEOUT = 0.5
TUS = b"Tus-Resumable: 1.0.0\r\n"
BYTERANGE = b"Content-Type: message/byterange\r\n"


@dataclass(frozen=True)
class WireOutcome:
    status: int | None
    closes: bool
    recorded: tuple[str, ...] = ()
    journal: int = 1
    #: Where the exchange is kept: "journal", or "control log" for the control API.
    kept_in: str = "journal"
    #: HTTP/2: the error code of the GOAWAY the connection got (None: none came).
    goaway: str | None = None
    #: HTTP/2: the error code of the RST_STREAM the row's stream got (None: none came).
    reset: str | None = None
    #: HTTP/2: how many PING acknowledgements came.
    acks: int = 0


@dataclass(frozen=True)
class WireCase:
    area: str
    sends: str  # what the client does, in words
    data: bytes
    gets: WireOutcome
    why: str = ""
    #: After sending: the client waits for the answer, or closes its side first.
    then_closes: bool = False
    #: The bytes are all in the server's socket before it reads any (``observe`` sends them
    #: from the server's own loop, which cannot read meanwhile): the row is about a head
    #: that arrived whole, which a client's send of more than one segment only makes likely.
    arrives_whole: bool = False

    @property
    def http2(self) -> bool:
        """The row opens with the HTTP/2 client preface: the answer is read as frames."""
        return self.data.startswith(MAGIC)


@dataclass(frozen=True)
class ParserCase:
    area: str
    call: str  # the call, as shown
    run: Callable[[], Any]
    gets: str  # "returns ..." or "ErrorName: message"
    why: str = ""


def catalogue_server() -> mp.MockServer:
    """The server every wire row runs against, started (stop it when done)."""
    srv = mp.MockServer(max_body_size=MAX_BODY, head_timeout=HEAD_TIMEOUT, http2=True)
    srv.start()
    srv.enable_control_api()
    setup(srv)
    return srv


def setup(srv: mp.MockServer) -> None:
    """Expectations and resources (again after each row's ``reset``)."""
    srv.expect("GET", "/ok").respond(mp.respond(200, b"ok"))
    srv.expect("POST", "/ok").respond(mp.read_body(), mp.respond(200, b"ok"))
    srv.expect("GET", "/ws").respond(mp.upgrade_websocket(echo=True))
    srv.expect("POST", "/json", json={"name": "node"}).respond(mp.respond(201))
    srv.mount(mp.TusUploads("/tus", max_size=100))
    srv.mount(mp.ResumableUploads("/ietf"))
    srv.mount(mp.ByteRangeResource("/docs", documents={"/docs/a": b"0123456789"}))
    srv.mount(mp.ResumableRequests("/req"))
    srv.mount(mp.ProgressJob("/jobs", stages=[("Herding cats", 0.2)]))
    srv.mount(mp.HttpProgressDemo("/test"))


def get(path: str, extra: bytes = b"") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: h\r\n".encode() + extra + b"\r\n"


def post(path: str, body: bytes = b"", extra: bytes = b"", method: str = "POST") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: h\r\nContent-Length: {len(body)}\r\n".encode()
    return head + extra + b"\r\n" + body


def chunked(path: str, chunks: bytes, extra: bytes = b"") -> bytes:
    head = b"POST " + path.encode() + b" HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
    return head + extra + b"\r\n" + chunks


def answered(status: int, *, closes: bool = False, journal: int = 1) -> WireOutcome:
    return WireOutcome(status, closes, (), journal)


def refused(status: int, kind: str = "malformed-request", *, closes: bool = True) -> WireOutcome:
    return WireOutcome(status, closes, (kind,))


def control(status: int, *, closes: bool = False) -> WireOutcome:
    return WireOutcome(status, closes, (), 0, "control log")


def ctl(data: bytes, host: bytes = b"localhost") -> bytes:
    """A control request, for this server by name (the control API refuses other hosts)."""
    return data.replace(b"\r\nHost: h\r\n", b"\r\nHost: " + host + b"\r\n", 1)


P = "/__mockprogress/"
JSON = b"Content-Type: application/json\r\n"

#: The HTTP/2 client preface (RFC 9113 §3.4), and with the empty SETTINGS frame that ends it.
MAGIC = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
PREFACE = MAGIC + SettingsFrame(0).serialize()
REQUEST = [(":method", "GET"), (":path", "/ok"), (":scheme", "http"), (":authority", "h")]


def frame(kind: int, stream: int, payload: bytes, flags: int = 0) -> bytes:
    """A frame as bytes, whatever its type and payload say (RFC 9113 §4.1)."""
    head = len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big")
    return head + payload


def h2_get(
    stream: int,
    encoder: Encoder | None = None,
    extra: list[tuple[str, str]] | None = None,
    *,
    end: bool = True,
) -> bytes:
    """A HEADERS frame asking ``GET /ok`` on ``stream`` (``end``: no body follows)."""
    block = (encoder or Encoder()).encode(REQUEST + (extra or []))
    flags = ["END_HEADERS", "END_STREAM"] if end else ["END_HEADERS"]
    return HeadersFrame(stream, data=block, flags=flags).serialize()


def h2_continued(stream: int, extra: list[tuple[str, str]], size: int) -> bytes:
    """A GET whose header block goes in a HEADERS frame and CONTINUATION frames of ``size``."""
    block = Encoder().encode(REQUEST + extra)
    pieces = [block[i : i + size] for i in range(0, len(block), size)]
    frames = [HeadersFrame(stream, data=pieces[0], flags=["END_STREAM"]).serialize()]
    for i, piece in enumerate(pieces[1:], 2):
        flags = ["END_HEADERS"] if i == len(pieces) else []
        frames.append(ContinuationFrame(stream, data=piece, flags=flags).serialize())
    return b"".join(frames)


def rapid_reset(count: int) -> bytes:
    encoder = Encoder()
    return b"".join(
        h2_get(s, encoder, end=False) + RstStreamFrame(s, error_code=8).serialize()
        for s in range(1, 2 * count, 2)
    )


def h2_refused(code: str, kind: str = "malformed-request", *, journal: int = 1) -> WireOutcome:
    """The connection's end: a GOAWAY with ``code``, then the server closes."""
    return WireOutcome(None, True, (kind,), journal, goaway=code)


WIRE_CASES: list[WireCase] = [
    # ---- the request line ----
    WireCase(
        "request line",
        "TLS instead of HTTP (a ClientHello)",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(32)) + b"\r\n\r\n",
        refused(400),
    ),
    WireCase("request line", "no version (HTTP/0.9)", b"GET /ok\r\n\r\n", refused(400)),
    WireCase(
        "request line",
        "an HTTP version it cannot speak (HTTP/2.0 in HTTP/1 syntax)",
        b"GET /ok HTTP/2.0\r\nHost: h\r\n\r\n",
        refused(505, closes=False),
        "RFC 9112 §2.6; HTTP/1.2 would be served as HTTP/1.1",
    ),
    WireCase("request line", "a space in the target", get("/o k"), refused(400)),
    WireCase(
        "request line",
        "a byte over 0x7F in the target",
        b"GET /\xff HTTP/1.1\r\nHost: h\r\n\r\n",
        refused(400),
    ),
    WireCase(
        "request line",
        "empty lines before the request line",
        b"\r\n\r\n" + get("/ok"),
        refused(400),
        "RFC 9112 §2.2: a client MUST NOT send them (a server SHOULD tolerate one; this one "
        "shows the client's mistake instead)",
    ),
    WireCase(
        "request line",
        "a target in absolute form",
        b"GET http://h/ok HTTP/1.1\r\nHost: h\r\n\r\n",
        answered(200),
        "RFC 9112 §3.2.2: matched on its path",
    ),
    WireCase(
        "request line",
        "a request line of 20,000 bytes that never ends",
        b"GET /" + b"a" * 20000,
        refused(431, "limit"),
        "refused once the unfinished head passes max_header_size",
    ),
    # ---- header fields ----
    WireCase("header fields", "no Host", b"GET /ok HTTP/1.1\r\n\r\n", refused(400)),
    WireCase("header fields", "two Host fields", get("/ok", b"Host: i\r\n"), refused(400)),
    WireCase(
        "header fields", "a line without a colon", get("/ok", b"Bad Header\r\n"), refused(400)
    ),
    WireCase(
        "header fields",
        "whitespace between a name and its colon",
        get("/ok", b"X-Field : v\r\n"),
        refused(400),
        "RFC 9112 §5.1: a server MUST reject it",
    ),
    WireCase(
        "header fields", "a name that is not a token", get("/ok", b"X(y): v\r\n"), refused(400)
    ),
    WireCase(
        "header fields",
        "CR inside a value (header injection)",
        get("/ok", b"X-Field: a\rInjected: b\r\n"),
        refused(400),
        "RFC 9110 §5.5: invalid and dangerous",
    ),
    WireCase(
        "header fields", "NUL inside a value", get("/ok", b"X-Field: a\x00b\r\n"), refused(400)
    ),
    WireCase(
        "header fields",
        "LF alone inside a value",
        get("/ok", b"X-Field: a\nInjected: b\r\n"),
        answered(200),
        "RFC 9112 §2.2 lets LF end a line: the journal shows two fields",
    ),
    WireCase(
        "header fields",
        "other control characters in a value (0x01, 0x7F)",
        get("/ok", b"X-Field: a\x01b\x7f\r\n"),
        answered(200),
        "RFC 9110 §5.5 lets a recipient keep them; the journal does",
    ),
    WireCase(
        "header fields",
        "a folded line (obs-fold)",
        get("/ok", b"X-Field: a\r\n folded\r\n"),
        answered(200),
        "RFC 9112 §5.2: replaced with a space",
    ),
    WireCase(
        "header fields",
        "101 field lines (one over max_header_count)",
        get("/ok", b"".join(b"X-%d: v\r\n" % i for i in range(100))),
        refused(431, "limit", closes=False),
        "the head was read whole, so the connection goes on",
    ),
    WireCase(
        "header fields",
        "a value padded with 60,000 spaces (a 60 KB head)",
        get("/ok", b"X-Pad: a" + b" " * 60_000 + b"\r\n"),
        refused(431, "limit", closes=False),
        "measured as sent, not after the parser strips the padding; read whole, so the "
        "connection goes on",
        arrives_whole=True,
    ),
    WireCase(
        "header fields",
        "a value followed by 30,000 folded whitespace lines",
        get("/ok", b"X-Fold: a\r\n" + b" \t\r\n" * 30_000),
        refused(431, "limit"),
        "measured as sent, not after obs-fold is replaced",
    ),
    # ---- framing ----
    WireCase(
        "framing",
        "Content-Length and Transfer-Encoding: chunked together",
        chunked("/ok", b"3\r\nabc\r\n0\r\n\r\n", b"Content-Length: 3\r\n"),
        refused(400),
        "RFC 9112 §6.1: a request-smuggling pattern",
    ),
    WireCase(
        "framing",
        "two Content-Length values that differ",
        post("/ok", b"abc", b"Content-Length: 4\r\n"),
        refused(400),
    ),
    WireCase(
        "framing",
        "a Content-Length list of different values (3, 4)",
        b"POST /ok HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 4\r\n\r\nabc",
        refused(400),
    ),
    WireCase(
        "framing",
        "a Content-Length list of one value (3, 3)",
        b"POST /ok HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\n\r\nabc",
        answered(200),
        "RFC 9112 §6.3: the same value repeated is that value",
    ),
    WireCase(
        "framing",
        "a negative Content-Length",
        b"POST /ok HTTP/1.1\r\nHost: h\r\nContent-Length: -3\r\n\r\nabc",
        refused(400),
    ),
    WireCase(
        "framing",
        "a Content-Length of 21 digits",
        b"POST /ok HTTP/1.1\r\nHost: h\r\nContent-Length: " + b"1" * 21 + b"\r\n\r\n",
        refused(400),
    ),
    WireCase(
        "framing",
        "Transfer-Encoding: gzip",
        b"POST /ok HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\nabc",
        refused(501),
    ),
    WireCase(
        "framing",
        "Transfer-Encoding: chunked twice",
        chunked("/ok", b"0\r\n\r\n", b"Transfer-Encoding: chunked\r\n"),
        refused(501),
    ),
    WireCase(
        "framing",
        "a chunk size that is not hex",
        chunked("/ok", b"zz\r\nabc\r\n0\r\n\r\n"),
        refused(400),
    ),
    WireCase(
        "framing",
        "a chunk longer than its size",
        chunked("/ok", b"3\r\nabcXX\r\n0\r\n\r\n"),
        refused(400),
    ),
    WireCase(
        "framing",
        "a body shorter than its Content-Length, then the client closes",
        b"POST /ok HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc",
        WireOutcome(None, True),
        "nothing to answer; the journal keeps the 3 bytes",
        then_closes=True,
    ),
    WireCase(
        "framing",
        "half a request head, then the client closes",
        b"POST /ok HTTP/1.1\r\nHost: h\r\nContent-Le",
        WireOutcome(None, True),
        "the journal keeps an exchange with the bytes that came",
        then_closes=True,
    ),
    WireCase(
        "framing",
        f"half a request head, then nothing (head_timeout, {HEAD_TIMEOUT:g} s here)",
        b"POST /ok HTTP/1.1\r\nHost: h\r\nContent-Le",
        refused(408, "limit"),
        "the journal keeps an exchange with the bytes that came; one deadline for the whole "
        "head, so a client sending a byte at a time meets it too",
    ),
    WireCase(
        "framing",
        f"a Content-Length over max_body_size ({MAX_BODY:,} here)",
        b"POST /ok HTTP/1.1\r\nHost: h\r\nContent-Length: 65537\r\n\r\n",
        refused(413, "limit"),
        "before the body is read",
    ),
    WireCase(
        "framing",
        "a chunked body that passes max_body_size",
        chunked("/ok", b"".join(b"1000\r\n" + b"x" * 4096 + b"\r\n" for _ in range(17))),
        refused(413, "limit"),
        "the journal keeps exactly max_body_size bytes",
    ),
    WireCase(
        "framing",
        "a malformed request pipelined before a good one",
        b"GET /ok HTTP/1.1\r\n\r\n" + get("/ok"),
        refused(400),
        "the good one is never read: nothing after a malformed request can be trusted",
    ),
    # ---- Expect ----
    WireCase(
        "Expect",
        "an expectation other than 100-continue",
        post("/ok", b"abc", b"Expect: something\r\n"),
        answered(200),
        "RFC 9110 §10.1.1 allows 417; mockprogress ignores it and answers",
    ),
    # ---- uploads ----
    WireCase(
        "tus",
        "a creation without Tus-Resumable",
        post("/tus", extra=b"Upload-Length: 10\r\n"),
        answered(412),
    ),
    WireCase(
        "tus",
        "Upload-Length that is not a number",
        post("/tus", extra=TUS + b"Upload-Length: ten\r\n"),
        answered(400),
    ),
    WireCase(
        "tus",
        "Upload-Length of 19 digits",
        post("/tus", extra=TUS + b"Upload-Length: " + b"1" * 19 + b"\r\n"),
        answered(400),
    ),
    WireCase(
        "tus",
        "Upload-Length over Tus-Max-Size",
        post("/tus", extra=TUS + b"Upload-Length: 101\r\n"),
        answered(413),
    ),
    WireCase(
        "tus",
        "Upload-Metadata that is not key-base64 pairs",
        post("/tus", extra=TUS + b"Upload-Length: 10\r\nUpload-Metadata: name !!!\r\n"),
        answered(400),
    ),
    WireCase(
        "tus",
        "PATCH to an upload that does not exist",
        post("/tus/nope", b"abc", TUS + b"Upload-Offset: 0\r\n", "PATCH"),
        answered(404, closes=True),
        "answered before the body, which is then not read: the connection closes",
    ),
    WireCase(
        "IETF resumable upload",
        "Upload-Complete that is not a boolean (?1 or ?0)",
        post("/ietf", b"abc", b"Upload-Draft-Interop-Version: 8\r\nUpload-Complete: yes\r\n"),
        answered(200),
        "the draft ignores a field that is not a valid structured field: without "
        "Upload-Complete the request is a plain upload, stored whole",
    ),
    WireCase(
        "IETF resumable upload",
        "Upload-Offset that is not an sf-integer, on an append",
        post(
            "/ietf/nope",
            b"abc",
            b"Upload-Offset: 1.5\r\nUpload-Complete: ?1\r\n"
            b"Content-Type: application/partial-upload\r\n",
            "PATCH",
        ),
        answered(404, closes=True),
        "the upload does not exist: 404 comes first",
    ),
    WireCase(
        "byte-range PATCH",
        "a part whose last position is before its first",
        post("/docs/a", b"Content-Range: bytes 5-2/10\r\n\r\nabc", BYTERANGE, "PATCH"),
        answered(400, closes=True),
    ),
    WireCase(
        "byte-range PATCH",
        "a part without Content-Range",
        post("/docs/a", b"Content-Type: text/plain\r\n\r\nabc", BYTERANGE, "PATCH"),
        answered(422, closes=True),
    ),
    WireCase(
        "byte-range PATCH",
        "a range unit other than bytes",
        post("/docs/a", b"Content-Range: items 0-2/10\r\n\r\nabc", BYTERANGE, "PATCH"),
        answered(422, closes=True),
    ),
    WireCase(
        "byte-range PATCH",
        "a part Content-Length of 5,000 digits",
        post(
            "/docs/a",
            b"Content-Range: bytes 0-2/10\r\nContent-Length: " + BIG.encode() + b"\r\n\r\nabc",
            BYTERANGE,
            "PATCH",
        ),
        answered(400, closes=True),
        "was an internal error (int() refuses 5,000 digits)",
    ),
    WireCase(
        "byte-range PATCH",
        "a patch in another media type",
        post("/docs/a", b"abc", b"Content-Type: text/plain\r\n", "PATCH"),
        answered(415, closes=True),
        "with Accept-Patch",
    ),
    WireCase(
        "byte-range PATCH",
        "Range: bytes=0-<5,000 digits> on a GET",
        get("/docs/a", b"Range: bytes=0-" + BIG.encode() + b"\r\n"),
        answered(200),
        "RFC 9110 §14.2: an invalid Range is ignored (was an internal error)",
    ),
    WireCase(
        "byte-range PATCH",
        "Range: items=0-1 on a GET",
        get("/docs/a", b"Range: items=0-1\r\n"),
        answered(200),
        "ignored",
    ),
    WireCase(
        "byte-range PATCH",
        "Range: bytes=0-,0-,... (3,000 ranges, a 9 KB head) on a GET",
        get("/docs/a", b"Range: bytes=" + b",".join([b"0-"] * 3000) + b"\r\n"),
        answered(200),
        "the whole document: more than 100 ranges are ignored (RFC 9110 §14.2); was a "
        "multipart/byteranges body of 3,000 parts built in memory (270 MB for a 90 KB document)",
    ),
    WireCase(
        "byte-range PATCH",
        "Range: bytes=0-5,3-9 on a GET (more bytes than the document has)",
        get("/docs/a", b"Range: bytes=0-5,3-9\r\n"),
        answered(200),
        "the whole document: ranges that ask for more bytes than it has cost more than it",
    ),
    WireCase(
        "byte-range PATCH",
        "Range: bytes=0-3,4-5 on a GET (adjacent or overlapping ranges)",
        get("/docs/a", b"Range: bytes=0-3,4-5\r\n"),
        answered(206),
        "coalesced into one part (bytes 0-5); range bodies are read from the store as they "
        "are sent, never built whole",
    ),
    WireCase(
        "resumable requests",
        "Prefer: resume=bogus",
        post("/req", b"abc", b"Prefer: resume=bogus\r\n"),
        answered(400, closes=True),
    ),
    WireCase(
        "resumable requests",
        "a chunked body (the job needs its length)",
        chunked("/req", b"3\r\nabc\r\n0\r\n\r\n"),
        answered(411, closes=True),
    ),
    WireCase(
        "progress jobs",
        "Prefer: respond-async, wait=<5,000 digits>",
        post("/jobs", extra=b"Prefer: respond-async, wait=" + BIG.encode() + b"\r\n"),
        answered(200),
        "read as 2^31 seconds (RFC 9111 §1.2.2); was an internal error",
    ),
    WireCase(
        "progress jobs",
        "a malformed Prefer element among good ones",
        post("/jobs", extra=b'Prefer: @bad, respond-async, x="unterminated, wait=0\r\n'),
        answered(202),
        "RFC 7240 §2: the bad elements are ignored one by one",
    ),
    WireCase(
        "progress jobs",
        "the reference demo's test number of 5,000 digits",
        post("/test/" + BIG),
        answered(404),
        "was an internal error",
    ),
    # ---- JSON matching ----
    WireCase(
        "json= matching",
        "JSON nested 30,000 arrays deep, to a json= expectation",
        post("/json", b"[" * 30_000 + b"]" * 30_000, JSON),
        refused(500, "unmatched", closes=False),
        "the usual unmatched answer (was a RecursionError: the client got no answer)",
    ),
    WireCase(
        "json= matching",
        "a JSON body of 60,000 bytes that does not match",
        post("/json", b"[" + b"1," * 29_998 + b"1]", JSON),
        refused(500, "unmatched", closes=False),
        "the 500 and the problem quote a bounded excerpt (the whole body was echoed)",
    ),
    # ---- WebSocket ----
    WireCase(
        "WebSocket",
        "an upgrade without Sec-WebSocket-Key",
        get("/ws", b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"),
        answered(400),
    ),
    WireCase(
        "WebSocket",
        "an upgrade to WebSocket version 8",
        get(
            "/ws",
            b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 8\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
        ),
        answered(426),
        "with Sec-WebSocket-Version: 13",
    ),
    # ---- the control API ----
    WireCase(
        "control API",
        "a body that is not JSON",
        ctl(post(P + "expectations", b"{", JSON)),
        control(400),
    ),
    WireCase(
        "control API",
        "a document nested 100 arrays deep",
        ctl(post(P + "expectations", b'{"expect": ' + b"[" * 100 + b"]" * 100 + b"}", JSON)),
        control(400),
    ),
    WireCase(
        "control API",
        "a regex Python cannot compile (a{4294967296})",
        ctl(
            post(
                P + "expectations",
                b'{"expect": [{"path_regex": "a{4294967296}", "steps": [{"respond": 200}]}]}',
                JSON,
            )
        ),
        control(400),
        "was an internal error (OverflowError)",
    ),
    WireCase(
        "control API",
        "a relative store_dir",
        ctl(post(P + "resources", b'{"tus_uploads": [{"path": "/t", "store_dir": "up"}]}', JSON)),
        control(400),
        "was a directory named after the request",
    ),
    WireCase(
        "control API",
        "journal?since=%C2%B2 (a superscript two)",
        ctl(get(P + "journal?since=%C2%B2")),
        control(400),
        "was an internal error",
    ),
    WireCase(
        "control API", "an id that is not a number", ctl(get(P + "expectations/x")), control(404)
    ),
    WireCase(
        "control API", "a method a route does not take", ctl(post(P + "journal", b"")), control(405)
    ),
    WireCase(
        "control API",
        "a document as text/plain (an HTML form, a CORS simple request)",
        ctl(post(P + "expectations", b'{"expect": []}', b"Content-Type: text/plain\r\n")),
        control(415, closes=True),
        "decided on the head: the body is not read",
    ),
    WireCase(
        "control API",
        "Host: attacker.example (a page after DNS rebinding)",
        ctl(get(P + "journal"), b"attacker.example"),
        control(403),
        "names the server allows: --allowed-host",
    ),
    WireCase(
        "control API",
        "a document from Origin: http://attacker.example",
        ctl(
            post(
                P + "expectations", b'{"expect": []}', JSON + b"Origin: http://attacker.example\r\n"
            )
        ),
        control(403, closes=True),
        "decided on the head: the body is not read",
    ),
    # ---- HTTP/2 ----
    WireCase(
        "HTTP/2: the preface",
        "a client preface with something else than SETTINGS after it",
        PREFACE[:24] + h2_get(1),
        h2_refused("PROTOCOL_ERROR"),
        "RFC 9113 §3.4: the preface ends with a SETTINGS frame",
    ),
    WireCase(
        "HTTP/2: the preface",
        "PRI * HTTP/2.0, then header fields (not the preface)",
        b"PRI * HTTP/2.0\r\nHost: h\r\n\r\n",
        refused(505, closes=False),
        "on a cleartext port a connection is HTTP/2 only once the whole preface came: this is an "
        "HTTP/1.1 request of version 2.0 (over TLS with ALPN h2, or after an h2c upgrade, it "
        "gets GOAWAY PROTOCOL_ERROR: tests/server/test_http2_limits.py)",
    ),
    WireCase(
        "HTTP/2: frames",
        "a DATA frame on stream 0",
        PREFACE + frame(0, 0, b"x"),
        h2_refused("PROTOCOL_ERROR"),
        "RFC 9113 §6.1",
    ),
    WireCase(
        "HTTP/2: frames",
        "a frame over the max frame size (20,000 bytes of 16,384)",
        PREFACE + frame(0, 1, b"x" * 20000),
        h2_refused("FRAME_SIZE_ERROR"),
        "RFC 9113 §4.2; mp.HTTP2(max_frame_size=...) sets the size",
    ),
    WireCase(
        "HTTP/2: frames",
        "a WINDOW_UPDATE of 0",
        PREFACE + frame(8, 0, bytes(4)),
        h2_refused("PROTOCOL_ERROR"),
        "RFC 9113 §6.9",
    ),
    WireCase(
        "HTTP/2: frames",
        "a stream that depends on itself (PRIORITY)",
        PREFACE + frame(2, 1, (1).to_bytes(4, "big") + b"\x10"),
        h2_refused("PROTOCOL_ERROR"),
        "RFC 9113 §5.3.1; a valid PRIORITY frame is ignored (the journal says so)",
    ),
    WireCase(
        "HTTP/2: SETTINGS",
        "SETTINGS_ENABLE_PUSH of 2",
        PREFACE + frame(4, 0, (2).to_bytes(2, "big") + (2).to_bytes(4, "big")),
        h2_refused("PROTOCOL_ERROR"),
        "RFC 9113 §6.5.2: 0 or 1",
    ),
    WireCase(
        "HTTP/2: SETTINGS",
        "SETTINGS_INITIAL_WINDOW_SIZE of 2^31",
        PREFACE + frame(4, 0, (4).to_bytes(2, "big") + (1 << 31).to_bytes(4, "big")),
        h2_refused("FLOW_CONTROL_ERROR"),
        "RFC 9113 §6.5.2: at most 2^31-1",
    ),
    WireCase(
        "HTTP/2: SETTINGS",
        "SETTINGS_MAX_FRAME_SIZE of 100",
        PREFACE + frame(4, 0, (5).to_bytes(2, "big") + (100).to_bytes(4, "big")),
        h2_refused("PROTOCOL_ERROR"),
        "RFC 9113 §6.5.2: 16,384 to 2^24-1",
    ),
    WireCase(
        "HTTP/2: streams",
        "a request on an even (server) stream id",
        PREFACE + h2_get(2),
        h2_refused("PROTOCOL_ERROR"),
        "RFC 9113 §5.1.1",
    ),
    WireCase(
        "HTTP/2: streams",
        "a stream id lower than one already used",
        PREFACE + b"".join(h2_get(s, enc) for enc in [Encoder()] for s in (5, 3)),
        h2_refused("PROTOCOL_ERROR"),
        "RFC 9113 §5.1.1; a stream that came in the same read as the error is not served",
    ),
    WireCase(
        "HTTP/2: streams",
        "a DATA frame on a stream the client ended (END_STREAM)",
        PREFACE + h2_get(1) + DataFrame(1, data=b"x").serialize(),
        WireOutcome(None, False, ("malformed-request",), reset="STREAM_CLOSED"),
        "RFC 9113 §5.1: a stream error; the connection and its other streams go on",
    ),
    WireCase(
        "HTTP/2: streams",
        "a second HEADERS (not trailers) on a stream the client ended",
        PREFACE + b"".join(h2_get(1, enc) for enc in [Encoder()] for _ in (1, 2)),
        WireOutcome(None, False, ("malformed-request",), reset="STREAM_CLOSED"),
        "RFC 9113 §5.1: a stream error",
    ),
    WireCase(
        "HTTP/2: streams",
        "1,001 streams opened and reset at once (rapid reset)",
        PREFACE + rapid_reset(1001),
        h2_refused("ENHANCE_YOUR_CALM", "limit", journal=1001),
        "CVE-2023-44487: more than max_stream_resets (1,000) client resets on one connection; "
        "each stream is journaled",
    ),
    WireCase(
        "HTTP/2: flow control",
        "body bytes past the stream's flow-control window (81,920 of 65,535)",
        PREFACE + h2_get(1, end=False) + b"".join(frame(0, 1, b"x" * 16384) for _ in range(5)),
        h2_refused("FLOW_CONTROL_ERROR", journal=2),
        "RFC 9113 §6.9.1: what nobody reads stays within the windows (a stream's, and "
        "connection_window, 1 MiB, for the connection)",
    ),
    WireCase(
        "HTTP/2: header lists",
        "a header list of 40,000 bytes (in CONTINUATION frames)",
        PREFACE + h2_continued(1, [("x-big", "a" * 40000)], 16384),
        refused(431, "limit", closes=False),
        "the request's fields count against max_header_size as HTTP/2 sizes them (each name "
        "and value plus 32 bytes)",
    ),
    WireCase(
        "HTTP/2: header lists",
        "151 header fields",
        PREFACE + h2_get(1, extra=[(f"x-{i}", "v") for i in range(150)]),
        refused(431, "limit", closes=False),
        "max_header_count",
    ),
    WireCase(
        "HTTP/2: header lists",
        "a connection-specific field (Connection: keep-alive)",
        PREFACE + h2_get(1, extra=[("connection", "keep-alive")]),
        h2_refused("PROTOCOL_ERROR"),
        "RFC 9113 §8.2.2: a malformed request; h2 makes its stream error a connection error "
        "(§5.4.1 allows it)",
    ),
    WireCase(
        "HTTP/2: header lists",
        "a header block HPACK cannot decode",
        PREFACE + HeadersFrame(1, data=b"\xff" * 5, flags=["END_HEADERS"]).serialize(),
        h2_refused("PROTOCOL_ERROR"),
        "RFC 9113 §4.3 asks for COMPRESSION_ERROR; h2 answers PROTOCOL_ERROR",
    ),
    WireCase(
        "HTTP/2: header lists",
        "an HPACK bomb (a 4,000-byte field, then 100 references to it: 400 KB decoded)",
        PREFACE
        + HeadersFrame(
            1,
            data=Encoder().encode([*REQUEST, ("x-a", "a" * 4000)]) + bytes([0x80 | 62]) * 100,
            flags=["END_HEADERS", "END_STREAM"],
        ).serialize(),
        h2_refused("ENHANCE_YOUR_CALM", "limit"),
        "h2 stops decoding past the max_header_list_size the server announced (65,536)",
    ),
    WireCase(
        "HTTP/2: floods",
        "a CONTINUATION flood (a HEADERS frame, then 100 CONTINUATION frames that never end it)",
        PREFACE
        + HeadersFrame(1, data=Encoder().encode(REQUEST)).serialize()
        + ContinuationFrame(1, data=b"").serialize() * 100,
        h2_refused("PROTOCOL_ERROR"),
        "h2 takes at most 64 CONTINUATION frames in a header block: at most 64 x "
        "max_frame_size bytes are held (CVE-2024-27316 and kin)",
    ),
    WireCase(
        "HTTP/2: floods",
        "a PING flood (10,000 PINGs at once)",
        PREFACE + PingFrame(0, opaque_data=b"12345678").serialize() * 10000,
        WireOutcome(None, False, (), 0, acks=10000),
        "each is acknowledged; the server reads no more while control_backlog (64 KiB) of "
        "acknowledgements wait for a client that does not read them, so a flood costs no "
        "memory past that (tests/server/test_http2_limits.py)",
    ),
]


def _progress(text: str) -> Callable[[], Any]:
    from mockprogress.http.progress import Progress

    return lambda: str(Progress.parse(text))


def _prefer(text: str) -> Callable[[], Any]:
    from mockprogress.http.prefer import Preferences

    def run() -> str:
        prefs = Preferences.parse(text)
        kept = ", ".join(p.name + ("" if p.value is None else f"={p.value}") for p in prefs)
        return f"[{kept}], wait = {prefs.wait}"

    return run


def _content_range(text: str) -> Callable[[], Any]:
    from mockprogress.http.content_range import parse_content_range

    return lambda: str(parse_content_range(text))


def _range(text: str) -> Callable[[], Any]:
    from mockprogress.http.content_range import parse_range

    return lambda: parse_range(text)


def _item(text: str) -> Callable[[], Any]:
    from mockprogress.http.structured import parse_item

    return lambda: parse_item(text)


def _dictionary(text: str) -> Callable[[], Any]:
    from mockprogress.http.structured import parse_dictionary

    return lambda: parse_dictionary(text)


def _document(data: bytes) -> Callable[[], Any]:
    from mockprogress.scenario.document import parse_document

    return lambda: parse_document(data, None, "doc")


PARSER_CASES: list[ParserCase] = [
    ParserCase(
        "Progress",
        "Progress.parse('٣/٤')",
        _progress("٣/٤"),
        "ScenarioError: invalid Progress value '٣/٤': expected a fraction such as 1/3 at position 0",
        "DIGIT is ASCII (was read as 3/4)",
    ),
    ParserCase(
        "Progress",
        "Progress.parse('3/2')",
        _progress("3/2"),
        "ScenarioError: progress denominator 2 is smaller than the numerator 3 (draft-wright-http-progress §3.2)",
    ),
    ParserCase(
        "Progress",
        "Progress.parse('1/3 \"unterminated')",
        _progress('1/3 "unterminated'),
        "ScenarioError: invalid Progress value '1/3 \"unterminated': expected a closing quote at position 17",
    ),
    ParserCase(
        "Progress",
        "Progress.parse('1/3  two spaces')",
        _progress("1/3  two spaces"),
        "ScenarioError: invalid Progress value '1/3  two spaces': expected a fraction, a comment, a quoted-string or an ext-value at position 5",
    ),
    ParserCase(
        "Progress",
        "Progress.parse('<5,000 digits>/')",
        _progress(BIG + "/"),
        "ScenarioError: invalid Progress value '<5,000 x 9>/': expected a number of fewer digits at position 0",
        "was a ValueError from int()",
    ),
    ParserCase(
        "Prefer",
        "Prefer: wait=10, @bad, processing",
        _prefer("wait=10, @bad, processing"),
        "returns [wait=10, processing], wait = 10",
        "RFC 7240 §2: the bad element alone is ignored",
    ),
    ParserCase(
        "Prefer",
        'Prefer: respond-async; x="unterminated',
        _prefer('respond-async; x="unterminated'),
        "returns [], wait = None",
        "the open quote runs to the end of the line: one element, ignored",
    ),
    ParserCase(
        "Prefer",
        "Prefer: wait=<5,000 digits>",
        _prefer("wait=" + BIG),
        "returns [wait=<5,000 x 9>], wait = 2147483648",
        "RFC 9111 §1.2.2 (was a ValueError from int())",
    ),
    ParserCase(
        "Content-Range",
        "bytes 5-2/10",
        _content_range("bytes 5-2/10"),
        "RangeSyntaxError: Content-Range 'bytes 5-2/10': the last position is before the first",
    ),
    ParserCase(
        "Content-Range",
        "bytes 0-9/5",
        _content_range("bytes 0-9/5"),
        "RangeSyntaxError: Content-Range 'bytes 0-9/5': the complete length 5 does not exceed the last position 9",
        "RFC 9110 §14.4",
    ),
    ParserCase(
        "Content-Range",
        "bytes */*",
        _content_range("bytes */*"),
        "RangeSyntaxError: Content-Range 'bytes */*': '*/*' names neither range nor length",
    ),
    ParserCase(
        "Content-Range",
        "0-9/10 (no unit)",
        _content_range("0-9/10"),
        "RangeSyntaxError: Content-Range '0-9/10' has no range unit (expected e.g. 'bytes 0-99/100')",
        "accepted only in the reference demo's dialect",
    ),
    ParserCase(
        "Content-Range",
        "bytes 0-1/<5,000 digits>",
        _content_range("bytes 0-1/" + BIG),
        "RangeSyntaxError: the complete length in 'bytes 0-1/<5,000 x 9>' is too large",
        "was a ValueError from int()",
    ),
    ParserCase(
        "Range",
        "bytes=5-2",
        _range("bytes=5-2"),
        "RangeSyntaxError: Range 'bytes=5-2': '5-2' ends before it starts",
        "a resource ignores such a Range (RFC 9110 §14.2)",
    ),
    ParserCase(
        "Range",
        "items=0-1",
        _range("items=0-1"),
        "RangeSyntaxError: Range 'items=0-1' is not a bytes range set",
    ),
    ParserCase(
        "Range", "bytes=", _range("bytes="), "RangeSyntaxError: Range 'bytes=' names no range"
    ),
    ParserCase(
        "structured field",
        "?2 (an Item)",
        _item("?2"),
        "StructuredFieldError: a boolean is ?0 or ?1 at character 0 of '?2'",
        "a field that does not parse is treated as absent",
    ),
    ParserCase(
        "structured field",
        "1234567890123456 (an Item)",
        _item("1234567890123456"),
        "StructuredFieldError: an integer has at most 15 digits at character 16 of '1234567890123456'",
        "RFC 9651 §3.3.1",
    ),
    ParserCase(
        "structured field",
        '"é" (an Item)',
        _item('"é"'),
        "StructuredFieldError: structured fields are ASCII",
    ),
    ParserCase(
        "structured field",
        "a=1, (a Dictionary)",
        _dictionary("a=1,"),
        "StructuredFieldError: trailing ',' in a dictionary at character 4 of 'a=1,'",
    ),
    ParserCase(
        "scenario document",
        "bytes that are not UTF-8",
        _document(b"\xff\xfe"),
        "ScenarioError: doc: a scenario document is UTF-8 text",
    ),
    ParserCase(
        "scenario document",
        "JSON nested 100,000 arrays deep",
        _document(b'{"expect": ' + b"[" * 100000 + b"]" * 100000 + b"}"),
        "ScenarioError: doc: tables and arrays nest too deeply (at most 64 levels)",
        "was a RecursionError",
    ),
    ParserCase(
        "scenario document",
        "a step with two keys",
        _document(b'{"expect": [{"path": "/a", "steps": [{"pause": 1, "respond": 200}]}]}'),
        "ScenarioError: doc: expect[0].steps[0]: a step is a table with exactly one key, one of: interim, processing, early_hints, pause, read_body, respond, drop, stall, raw, index, …",
    ),
    ParserCase(
        "scenario document",
        "a final status of 42",
        _document(b'{"expect": [{"path": "/a", "steps": [{"respond": 42}]}]}'),
        "ScenarioError: doc: expect[0].steps[0].respond: final response status must be an integer in 200..999, got 42",
    ),
]
