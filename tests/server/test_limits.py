"""Every limit on what a client controls, on the wire: head size and header count (431), body
size (413, and 1009 for a WebSocket message), connections (503), upload sizes (413, or 400
for a byte-range document, §6.2), unfinished uploads (507), and the control API's documents.

Each test sends just under and just over its limit through a real socket, and checks what the
client gets, what the journal keeps, that ``check()`` names the limit, and that the server
still answers afterwards. docs/limits.md lists them all; the last test keeps it true.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from support.paths import ROOT
from support.raw_client import exchange
from support.recording_client import request
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Request,
    TextMessage,
)

import mockprogress as mp
from mockprogress.engine.limits import LIMIT_FIELDS, Limits
from mockprogress.http import byteranges as _byteranges
from mockprogress.http import content_range as _content_range
from mockprogress.resources import uploads as _upload_resource
from mockprogress.scenario import document as _scenario
from mockprogress.standalone import cli as _cli

DOC = ROOT / "docs" / "limits.md"


@contextmanager
def served(**limits: int) -> Iterator[mp.MockServer]:
    """A thread-mode server with these limits, answering GET and POST /ok with 200 "ok"."""
    with mp.MockServer(**limits) as srv:
        srv.expect("GET", "/ok").respond(mp.respond(200, b"ok"))
        srv.expect("POST", "/ok").respond(mp.read_body(), mp.respond(200, b"ok"))
        yield srv


@pytest.fixture
def server() -> Iterator[mp.MockServer]:
    with served() as srv:
        yield srv


def still_serving(srv: mp.MockServer) -> None:
    reply = request(srv.port, "GET", "/ok")
    assert (reply.status, reply.body) == (200, b"ok")


def problems(srv: mp.MockServer) -> str:
    """What ``check()`` raises (it must raise)."""
    with pytest.raises(mp.ExpectationError) as caught:
        srv.check()
    return str(caught.value)


def read_to_end(sock: socket.socket) -> bytes:
    out = bytearray()
    try:
        while chunk := sock.recv(65536):
            out += chunk
    except ConnectionResetError:
        pass
    return bytes(out)


def final_status(data: bytes) -> int:
    """The status of the first final (non-1xx) response in ``data``; 0 for none."""
    for status in re.findall(rb"^HTTP/1\.1 ([0-9]{3}) ", data, re.M):
        if not status.startswith(b"1"):
            return int(status)
    return 0


# ---- the request head ------------------------------------------------------------------------


def head_of(size: int) -> bytes:
    """A GET head of exactly ``size`` bytes (padded in an X-Pad field)."""
    start = b"GET /ok HTTP/1.1\r\nHost: h\r\n"
    pad = size - len(start) - len(b"X-Pad: \r\n\r\n")
    return start + b"X-Pad: " + b"p" * pad + b"\r\n\r\n"


def send_in_two(port: int, data: bytes, split: int) -> bytes:
    """Send ``data`` in two writes 50 ms apart (the server reads the first on its own), then
    read to the end."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(data[:split])
        time.sleep(0.05)
        try:
            sock.sendall(data[split:])
        except OSError:
            pass  # refused before the rest arrived: the answer is on its way
        return read_to_end(sock)


@pytest.mark.parametrize("pieces", ["whole", "in two reads"])
def test_a_head_over_max_header_size_is_431(pieces: str) -> None:
    """512 bytes pass, 513 do not, however they arrive. A head refused once it has arrived
    whole was read whole, so its connection goes on (the request after it is served); one
    refused while it is still arriving (h11 stops buffering past the limit) ends its
    connection."""
    with served(max_header_size=512) as server:
        for size, status in [(511, 200), (512, 200), (513, 431), (4096, 431)]:
            data = head_of(size) + b"GET /ok HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
            split = size // 2 if pieces == "in two reads" else len(data)
            out = send_in_two(server.port, data, split)
            assert out.startswith(f"HTTP/1.1 {status} ".encode()), (size, out[:60])
            unfinished_too_long = split <= size and split > 512
            if unfinished_too_long:
                assert out.count(b"HTTP/1.1 ") == 1 and b"Receive buffer too long" in out
            else:
                assert out.count(b"HTTP/1.1 ") == 2 and out.endswith(b"\r\n\r\nok")
        refusals = problems(server)
        assert "recorded 2 problem(s)" in refusals
        assert "request head of 513 bytes exceeds max_header_size=512" in refusals
        head = "request head of 4096 bytes exceeds max_header_size=512"
        assert (head if pieces == "whole" else "Receive buffer too long") in refusals
        still_serving(server)


def test_a_head_that_never_ends_is_refused_once_it_passes_the_limit() -> None:
    """No waiting for the blank line: a client streaming header lines (slowloris) is answered
    431 as soon as its unfinished head is larger than the limit."""
    with served(max_header_size=512) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET /ok HTTP/1.1\r\nHost: h\r\n")
            for i in range(100):
                try:
                    sock.sendall(b"X-%03d: %s\r\n" % (i, b"v" * 20))
                except OSError:
                    break
                time.sleep(0.002)
            out = read_to_end(sock)
        assert out.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
        assert "Receive buffer too long" in problems(server)
        still_serving(server)


def test_more_header_lines_than_max_header_count_is_431() -> None:
    with served(max_header_count=10) as server:
        ten = b"GET /ok HTTP/1.1\r\nHost: h\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(8))
        ten += b"Connection: close\r\n"
        assert final_status(exchange(server.port, ten + b"\r\n").data) == 200
        eleven = ten + b"X-Eleventh: v\r\n\r\n"
        assert final_status(exchange(server.port, eleven).data) == 431
        assert "11 header lines, over max_header_count=10" in problems(server)
        still_serving(server)


# ---- the request body ------------------------------------------------------------------------


def test_a_declared_length_over_max_body_size_is_413_before_the_body() -> None:
    with served(max_body_size=1000) as server:
        assert request(server.port, "POST", "/ok", body=b"x" * 1000).status == 200
        assert server.journal.last.body == b"x" * 1000
        big = request(
            server.port, "POST", "/ok", headers=[("Expect", "100-continue")], body=b"x" * 1001
        )
        assert (big.status, [i.status for i in big.interims]) == (413, [])  # no 100 first
        assert server.journal.last.body == b""
        assert "Content-Length 1001 exceeds max_body_size=1000" in problems(server)
        still_serving(server)


def test_a_chunked_body_stops_at_max_body_size_and_keeps_exactly_that_many_bytes() -> None:
    body = bytes(range(256)) * 8  # 2,048 bytes in chunks of 300
    framed = b"".join(
        b"%x\r\n%s\r\n" % (len(body[i : i + 300]), body[i : i + 300]) for i in range(0, 2048, 300)
    )
    head = b"POST /ok HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    with served(max_body_size=1000) as server:
        got = exchange(server.port, head + framed + b"0\r\n\r\n")
        assert got.data.startswith(b"HTTP/1.1 413 Content Too Large\r\n")
        assert server.journal.last.body == body[:1000]  # every byte read within the limit
        assert "request body exceeds max_body_size=1000" in problems(server)
        still_serving(server)


def ws_exchange(port: int, message: str | bytes) -> list[Event]:
    """Open a WebSocket at /ws, send ``message``, answer the close; the events seen."""
    ws = WSConnection(ConnectionType.CLIENT)
    seen: list[Event] = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(ws.send(Request(host="h", target="/ws")))
        while data := sock.recv(65536):
            ws.receive_data(data)
            for event in ws.events():
                seen.append(event)
                if isinstance(event, AcceptConnection):
                    out = (
                        TextMessage(message) if isinstance(message, str) else BytesMessage(message)
                    )
                    sock.sendall(ws.send(out))
                elif isinstance(event, CloseConnection) and ws.state.name == "REMOTE_CLOSING":
                    sock.sendall(ws.send(event.response()))
                elif isinstance(event, TextMessage | BytesMessage):
                    sock.sendall(ws.send(CloseConnection(1000)))
    return seen


@pytest.mark.parametrize("kind", ["text", "binary"])
def test_a_websocket_message_over_max_body_size_gets_close_1009(kind: str) -> None:
    """RFC 6455 §7.4.1: 1009 is "a message that is too big for it to process"."""
    fits: str | bytes = "é" * 500 if kind == "text" else b"a" * 1000  # 1,000 bytes
    too_big: str | bytes = "é" * 500 + "a" if kind == "text" else b"a" * 1001
    with served(max_body_size=1000) as server:
        server.expect("GET", "/ws").respond(mp.upgrade_websocket(echo=True))
        echoed = [e.data for e in ws_exchange(server.port, fits) if hasattr(e, "data")]
        assert echoed == [fits]
        seen = ws_exchange(server.port, too_big)
        closes = [(e.code, e.reason) for e in seen if isinstance(e, CloseConnection)]
        assert closes == [(1009, "message exceeds 1000 bytes")]
        assert not [e for e in seen if isinstance(e, TextMessage | BytesMessage)]
        assert "a WebSocket message passed max_body_size=1000 (1001 bytes so far)" in problems(
            server
        )
        still_serving(server)


# ---- connections -----------------------------------------------------------------------------


def test_connections_over_max_connections_get_503_and_a_freed_slot_is_served() -> None:
    with served(max_connections=3) as server:
        held = []
        for _ in range(3):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n")
            assert sock.recv(65536).endswith(b"ok")  # served, and kept open
            held.append(sock)
        refused = exchange(server.port, b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n")
        assert refused.data.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert refused.end == "eof"
        held.pop().close()
        request_ = b"GET /ok HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
        deadline = time.monotonic() + 5
        while final_status(exchange(server.port, request_).data) != 200:
            assert time.monotonic() < deadline, "the freed connection slot never came back"
            time.sleep(0.01)
        for sock in held:
            sock.close()
        assert "connection 4 exceeds max_connections=3" in problems(server)


# ---- upload sizes ----------------------------------------------------------------------------

TUS = ("Tus-Resumable", "1.0.0")
V8 = ("Upload-Draft-Interop-Version", "8")
BYTERANGE = ("Content-Type", "message/byterange")


def test_every_upload_resource_refuses_an_upload_over_its_size(server: mp.MockServer) -> None:
    server.mount(mp.TusUploads("/tus", max_size=10))
    server.mount(mp.ResumableUploads("/ietf", max_size=10))
    server.mount(mp.ByteRangeResource("/docs", max_size=10))
    port = server.port
    assert request(port, "POST", "/tus", headers=[TUS, ("Upload-Length", "11")]).status == 413
    assert request(port, "POST", "/tus", headers=[TUS, ("Upload-Length", "10")]).status == 201
    ietf = [V8, ("Upload-Complete", "?1")]
    assert request(port, "POST", "/ietf", headers=ietf, body=b"x" * 11).status == 413
    assert request(port, "POST", "/ietf", headers=ietf, body=b"x" * 10).status == 200
    over = b"Content-Range: bytes 0-10/11\r\n\r\n" + b"x" * 11
    assert request(port, "PATCH", "/docs/a", headers=[BYTERANGE], body=over).status == 400
    fits = b"Content-Range: bytes 0-9/10\r\n\r\n" + b"x" * 10
    assert request(port, "PATCH", "/docs/a", headers=[BYTERANGE], body=fits).status == 200
    server.check()  # a resource's own size limit is its protocol's answer, not a problem
    still_serving(server)


# ---- unfinished uploads ----------------------------------------------------------------------

KINDS = ["tus", "ietf", "byte-range", "resumable-requests"]


def pending_resource(kind: str) -> mp.UploadResource:
    if kind == "tus":
        return mp.TusUploads("/up", max_pending=2)
    if kind == "ietf":
        return mp.ResumableUploads("/up", max_pending=2)
    if kind == "byte-range":
        return mp.ByteRangeResource("/up", max_pending=2)
    # Every request is cut after 3 of its 10 bytes, and kept for resuming.
    return mp.ResumableRequests(
        "/up", max_pending=2, interrupts=[mp.interrupt(after=3, request=None)]
    )


def start_unfinished(port: int, kind: str, n: int) -> int:
    """Start one more unfinished upload of ``kind``: the final status answered (0 for a
    request cut before its answer)."""
    if kind == "tus":
        return request(port, "POST", "/up", headers=[TUS, ("Upload-Length", "10")]).status
    if kind == "ietf":
        headers = [V8, ("Upload-Complete", "?0")]
        return request(port, "POST", "/up", headers=headers, body=b"abc").status
    if kind == "byte-range":
        body = b"Content-Range: bytes 0-2/10\r\n\r\nabc"
        return request(port, "PATCH", f"/up/doc{n}", headers=[BYTERANGE], body=body).status
    head = b"POST /up HTTP/1.1\r\nHost: h\r\nPrefer: resume\r\nContent-Length: 10\r\n\r\n"
    return final_status(exchange(port, head + b"0123456789").data)


def location(kind: str, upload_id: str) -> str:
    if kind == "byte-range":
        return upload_id  # a document's id is its path
    return f"/up/{upload_id}" + (".req" if kind == "resumable-requests" else "")


@pytest.mark.parametrize("kind", KINDS)
def test_an_upload_past_max_pending_unfinished_ones_is_507(
    server: mp.MockServer, kind: str
) -> None:
    resource = server.mount(pending_resource(kind))
    for n in range(2):
        assert start_unfinished(server.port, kind, n) in (0, 200, 201)
    assert len(resource.uploads) == 2
    assert not any(u.complete for u in resource.uploads.values())
    assert start_unfinished(server.port, kind, 2) == 507
    assert len(resource.uploads) == 2  # nothing was created
    assert "keeps 2 unfinished uploads, as many as its max_pending=2 allows" in problems(server)
    # Deleting one makes room.
    first = next(iter(resource.uploads))
    assert request(server.port, "DELETE", location(kind, first), headers=[TUS]).status == 204
    assert start_unfinished(server.port, kind, 3) in (0, 200, 201)
    assert len(resource.uploads) == 2
    still_serving(server)


def test_a_range_set_over_max_ranges_gets_the_whole_document(server: mp.MockServer) -> None:
    doc = bytes(range(256)) * 2
    server.mount(mp.ByteRangeResource("/r", documents={"/r/d": doc}))
    limit = _content_range.MAX_RANGES
    for count, status in [(limit, 206), (limit + 1, 200)]:
        ranges = ",".join(f"{2 * i}-{2 * i}" for i in range(count))
        reply = request(server.port, "GET", "/r/d", headers=[("Range", f"bytes={ranges}")])
        assert reply.status == status, count
        assert reply.body.count(b"Content-Range: bytes ") == (count if status == 206 else 0)
    reply = request(server.port, "GET", "/r/d", headers=[("Range", "bytes=0-,0-")])
    assert (reply.status, reply.body) == (200, doc)  # 1,024 bytes asked of 512
    still_serving(server)


# ---- the control API -------------------------------------------------------------------------


def test_control_requests_meet_the_same_limits_and_a_nesting_limit() -> None:
    with served(max_header_count=5) as server:
        server.enable_control_api()
        many = [(f"X-{i}", "v") for i in range(5)]
        assert request(server.port, "GET", "/__mockprogress/", headers=many).status == 431
        deep = b'{"expect": ' + b"[" * 100 + b"]" * 100 + b"}"
        reply = request(
            server.port,
            "POST",
            "/__mockprogress/expectations",
            headers=[("Content-Type", "application/json")],
            body=deep,
        )
        assert reply.status == 400 and "nest" in json.loads(reply.body)["error"]
        assert "control API request GET /__mockprogress/: request has 6 header lines" in (
            problems(server)
        )
        still_serving(server)


# ---- the one place they are written down -----------------------------------------------------


def test_every_limit_is_a_server_keyword_and_a_cli_option_with_its_default() -> None:
    """MockServer's keywords and `mockprogress serve`'s options come from ``Limits``."""
    parser = _cli._parser()
    defaults = parser.parse_args(["serve"])
    for limit in LIMIT_FIELDS:
        option = "--" + limit.name.replace("_", "-")
        assert getattr(defaults, limit.name) == limit.default
        args = parser.parse_args(["serve", option, str(limit.default + 1)])
        assert getattr(args, limit.name) == limit.default + 1, option
        server = mp.MockServer(**{limit.name: limit.default + 1})
        assert getattr(server._state.config.limits, limit.name) == limit.default + 1
    assert mp.MockServer()._state.config.limits == Limits()
    help_text = _help(parser)
    for limit in LIMIT_FIELDS:
        assert limit.metadata["help"] in help_text


def _help(parser: argparse.ArgumentParser) -> str:
    serve = next(
        action for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    ).choices["serve"]
    return " ".join(serve.format_help().split())


def test_a_bad_limit_is_refused_naming_it() -> None:
    with pytest.raises(mp.ScenarioError, match=r"max_header_count must be an integer >= 0, got -1"):
        mp.MockServer(max_header_count=-1)
    with pytest.raises(mp.ScenarioError, match=r"max_body_size must be an integer >= 0, got 'x'"):
        mp.MockServer(max_body_size="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'max_body_sise' \(its limits are max_header_size, "):
        mp.MockServer(max_body_sise=1)


def test_docs_limits_lists_every_limit_with_its_default() -> None:
    text = DOC.read_text()
    rows = dict(re.findall(r"^\| `([A-Za-z_]+)` \|[^|\n]*\| ([0-9,]+) \|", text, re.M))
    defaults = {
        # Every field of the server's Limits has its row, with its default.
        **{limit.name: limit.default for limit in LIMIT_FIELDS},
        "max_pending": _upload_resource.DEFAULT_MAX_PENDING,
        "max_fields": _byteranges.PatchOptions().max_fields,
        "MAX_DEPTH": _scenario.MAX_DEPTH,
        "MAX_RANGES": _content_range.MAX_RANGES,
    }
    # Counts with thousands separators; seconds as the shortest number (5, 60, 0.5).
    assert rows == {
        name: f"{value:,}" if isinstance(value, int) else f"{value:g}"
        for name, value in defaults.items()
    }
    assert "docs/limits.md" in (DOC.parent.parent / "README.md").read_text()
