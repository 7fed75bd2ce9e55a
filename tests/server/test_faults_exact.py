"""Faults at exact byte offsets, proven with a raw-socket client over real sockets.

For every offset the client must receive exactly the scripted bytes, then a clean end of
stream (close), ECONNRESET (reset) or silence with the connection open (stall), and the
journal must name the same offsets. One server serves every sweep (a sync handler builds
each cut from the query string) and the clients run on a few threads, so a sweep of 2,000
connections takes a few seconds.

Every test runs twice: on plain TCP and over TLS, where offsets count plaintext bytes and a
clean end is a close_notify before the FIN (``fetch`` speaks whichever the server does).
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator

import pytest
from support.raw_client import Received, exchange, get, in_parallel, post

import mockprogress as mp

BODY = (bytes(range(256)) * 4)[:1000]  # every byte value: a shifted byte cannot hide
HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
INTERIM = b"HTTP/1.1 102 Processing\r\nProgress: 0/1\r\n\r\n"
CHUNKS = (b"a", BODY[:16], BODY[16:316], BODY[316:331])
CHUNKED_CONTENT = b"".join(CHUNKS)
ENDS = {"close": "eof", "reset": "reset"}


@pytest.fixture(scope="module", params=["plain", "tls"])
def server(request: pytest.FixtureRequest) -> Iterator[mp.MockServer]:
    with mp.MockServer(tls=request.param == "tls") as srv:
        yield srv


@pytest.fixture
def srv(server: mp.MockServer) -> Iterator[mp.MockServer]:
    """The shared server, checked and emptied after each test."""
    try:
        yield server
        server.check()
    finally:
        server.reset()


def cut_by_query(response: mp.Step, before: tuple[mp.Step, ...] = ()) -> object:
    """A sync handler answering ``?at=N&how=H&unit=U`` with ``before`` (interims), then
    ``response`` cut there."""
    assert isinstance(response, mp.Step)

    def handler(ex: mp.Exchange) -> list[mp.Step]:
        q = ex.query
        cut = response.cut(int(q["at"]), q.get("unit", "body"), q["how"])  # type: ignore[attr-defined]
        return [*before, cut]

    return handler


_CONTEXTS: dict[str, ssl.SSLContext] = {}


def client_context(srv: mp.MockServer) -> ssl.SSLContext | None:
    """None for a plain server; for a TLS one, a client context that trusts its CA (made once:
    a sweep opens thousands of connections)."""
    if srv.tls is None:
        return None
    if srv.ca_file not in _CONTEXTS:
        _CONTEXTS[srv.ca_file] = srv.client_ssl_context()
    return _CONTEXTS[srv.ca_file]


def fetch(srv: mp.MockServer, request: bytes, *, timeout: float = 5.0) -> Received:
    """``exchange`` with ``srv``, over TLS when it serves TLS (the data is then plaintext)."""
    return exchange(srv.port, request, timeout=timeout, tls=client_context(srv))


def sweep(srv: mp.MockServer, path: str, cases: list[tuple[int, str]], unit: str) -> list[Received]:
    return in_parallel(
        lambda case: fetch(srv, get(f"{path}?at={case[0]}&how={case[1]}&unit={unit}")), cases
    )


def mismatches(
    cases: list[tuple[int, str]], results: list[Received], expected: dict[int, bytes]
) -> list[str]:
    wrong = []
    for (at, how), got in zip(cases, results, strict=True):
        want = expected[at]
        if got.data != want or got.end != ENDS[how]:
            wrong.append(
                f"{how} at {at}: wanted {len(want)} bytes then {ENDS[how]}, "
                f"got {len(got.data)} bytes ({'same' if got.data == want else 'different'}) "
                f"then {got.end}"
            )
    return wrong


def faults_by_target(srv: mp.MockServer) -> dict[str, mp.Fault]:
    faults = {}
    for ex in srv.journal:
        assert ex.fault is not None, ex.timeline()
        faults[ex.target] = ex.fault
    return faults


class TestResponseCuts:
    def test_every_body_offset_of_a_1000_byte_body_close_and_reset(
        self, srv: mp.MockServer
    ) -> None:
        srv.expect("GET", "/body").respond_with(cut_by_query(mp.respond(200, BODY)))  # type: ignore[arg-type]
        cases = [(at, how) for at in range(len(BODY) + 1) for how in ("close", "reset")]
        results = sweep(srv, "/body", cases, "body")
        expected = {at: HEAD + BODY[:at] for at in range(len(BODY) + 1)}
        assert mismatches(cases, results, expected) == []
        faults = faults_by_target(srv)
        assert len(faults) == len(cases)
        for at, how in cases:
            fault = faults[f"/body?at={at}&how={how}&unit=body"]
            assert (fault.kind, fault.side, fault.body_bytes, fault.wire_bytes) == (
                how,
                "response",
                at,
                len(HEAD) + at,
            )

    @pytest.mark.parametrize("before", [(), (mp.processing((0, 1)),)], ids=["alone", "after-102"])
    def test_every_wire_offset_inside_the_head(
        self, srv: mp.MockServer, before: tuple[mp.Step, ...]
    ) -> None:
        """A wire offset counts every byte of the exchange, the interims' included."""
        response = cut_by_query(mp.respond(200, BODY), before)
        srv.expect("GET", "/head").respond_with(response)  # type: ignore[arg-type]
        sent = INTERIM * len(before) + HEAD
        offsets = range(len(sent) - len(HEAD), len(sent) + 1)
        cases = [(at, how) for at in offsets for how in ("close", "reset")]
        results = sweep(srv, "/head", cases, "wire")
        expected = {at: sent[:at] for at in offsets}
        assert mismatches(cases, results, expected) == []
        faults = faults_by_target(srv)
        for at, how in cases:
            fault = faults[f"/head?at={at}&how={how}&unit=wire"]
            assert (fault.kind, fault.body_bytes, fault.wire_bytes) == (how, 0, at)
        for ex in srv.journal:
            assert ex.response is not None and not ex.response.complete

    def test_every_offset_of_a_chunked_body(self, srv: mp.MockServer) -> None:
        response = mp.respond(200, list(CHUNKS))
        srv.expect("GET", "/chunked").respond_with(cut_by_query(response))  # type: ignore[arg-type]
        full = (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in CHUNKS)
            + b"0\r\n\r\n"
        )
        # A body cut at N lands right after the N-th content byte (before any framing that
        # follows it); a cut at 0 sends the head alone.
        head_length = full.index(b"\r\n\r\n") + 4
        by_body: dict[int, bytes] = {0: full[:head_length]}
        position = head_length
        count = 0
        for chunk in CHUNKS:
            position += len(b"%x\r\n" % len(chunk))
            for i in range(1, len(chunk) + 1):
                by_body[count + i] = full[: position + i]
            position += len(chunk) + 2
            count += len(chunk)
        body_cases = [(at, how) for at in range(count + 1) for how in ("close", "reset")]
        results = sweep(srv, "/chunked", body_cases, "body")
        assert mismatches(body_cases, results, by_body) == []
        wire_cases = [(at, how) for at in range(len(full) + 1) for how in ("close", "reset")]
        results = sweep(srv, "/chunked", wire_cases, "wire")
        assert mismatches(wire_cases, results, {at: full[:at] for at in range(len(full) + 1)}) == []
        faults = faults_by_target(srv)
        for at, how in body_cases:
            fault = faults[f"/chunked?at={at}&how={how}&unit=body"]
            assert (fault.body_bytes, fault.wire_bytes) == (at, len(by_body[at]))
        content_before = {len(wire): body for body, wire in sorted(by_body.items())}
        for at, how in wire_cases:
            fault = faults[f"/chunked?at={at}&how={how}&unit=wire"]
            within = max(
                body for wire, body in content_before.items() if wire <= max(at, head_length)
            )
            assert (fault.wire_bytes, fault.body_bytes) == (at, within if at >= head_length else 0)

    @pytest.mark.parametrize(("at", "unit"), [(7, "wire"), (len(HEAD), "wire"), (500, "body")])
    def test_stall_sends_exactly_the_bytes_then_holds_the_connection_open(
        self, srv: mp.MockServer, at: int, unit: str
    ) -> None:
        srv.expect("GET", "/stall").respond(mp.respond(200, BODY).cut(at, unit, "stall"))  # type: ignore[arg-type]
        got = fetch(srv, get("/stall"), timeout=0.3)
        full = HEAD + BODY
        expected = full[:at] if unit == "wire" else full[: len(HEAD) + at]
        assert (got.data, got.end) == (expected, "silent")
        fault = srv.journal.last.fault
        assert fault is not None
        assert (fault.kind, fault.wire_bytes) == ("stall", len(expected))

    def test_a_timed_stall_ends_with_a_close(self, srv: mp.MockServer) -> None:
        srv.expect("GET", "/stall").respond(mp.respond(200, BODY).cut(3, how="stall", seconds=0.2))
        started = time.monotonic()
        got = fetch(srv, get("/stall"), timeout=5)
        elapsed = time.monotonic() - started
        assert (got.data, got.end) == (HEAD + BODY[:3], "eof")
        assert 0.2 <= elapsed < 4  # the stall's length, with room for a busy machine
        fault = srv.journal.last.fault
        assert fault is not None and fault.detail.endswith("for 0.2 s")


ENDINGS = {
    "close": mp.drop("close"),
    "reset": mp.drop("reset"),
    "stall": mp.stall(0),
    "respond": mp.respond(413, b"too large\n"),
}


async def read_upto_then_end(ctl: mp.HandlerControl) -> None:
    """``?n=N&then=E``: read exactly N body bytes, then end as ``ENDINGS[E]`` says. (An async
    handler: a sync one runs only after the whole body was read.)"""
    query = ctl.request.query
    await ctl.read_body(upto=int(query["n"]))
    await ctl.send(ENDINGS[query["then"]])


class TestRequestCuts:
    UPLOAD = bytes(reversed(BODY))[:300]

    @pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
    def test_read_body_upto_n_keeps_exactly_n_bytes(
        self, srv: mp.MockServer, chunked: bool
    ) -> None:
        srv.expect("POST", "/up").respond_with(read_upto_then_end)
        cases = [(n, then) for n in range(len(self.UPLOAD) + 1) for then in ENDINGS]
        results = in_parallel(
            lambda case: fetch(
                srv, post(f"/up?n={case[0]}&then={case[1]}", self.UPLOAD, chunked=chunked)
            ),
            cases,
        )
        by_target = {ex.target: ex for ex in srv.journal}
        assert len(by_target) == len(cases)
        wrong = []
        for (n, then), got in zip(cases, results, strict=True):
            ex = by_target[f"/up?n={n}&then={then}"]
            if ex.body != self.UPLOAD[:n]:
                wrong.append(f"n={n} {then}: the journal holds {ex.body_size} bytes")
            if then == "respond":
                if not got.data.startswith(b"HTTP/1.1 413 Content Too Large\r\n"):
                    wrong.append(f"n={n} {then}: the client got {got.data[:40]!r}")
                continue
            # With the whole body read, the fault cuts the (unsent) response instead.
            # (A chunked body is not known to be complete until its last chunk is read.)
            whole = n == len(self.UPLOAD) and not chunked
            side, counted = ("response", 0) if whole else ("request", n)
            fault = ex.fault
            if fault is None or (fault.kind, fault.side, fault.body_bytes) != (then, side, counted):
                wrong.append(f"n={n} {then}: fault {fault}")
            if (got.data, got.end) != (b"", "reset" if then == "reset" else "eof"):
                wrong.append(f"n={n} {then}: the client got {got.data[:40]!r} then {got.end}")
        assert "\n".join(wrong) == ""


class TestHeadCuts:
    REQUEST = get("/orders/42?x=1", "User-Agent: sweep\r\nConnection: close\r\n")
    LINE = b"GET /orders/42?x=1 HTTP/1.1\r\n"

    @pytest.mark.parametrize("how", ["close", "reset"])
    def test_every_offset_inside_the_request_head(self, srv: mp.MockServer, how: str) -> None:
        srv.expect("GET", "/orders/42").respond(mp.respond(200, b"not cut\n"))
        wrong = []
        for at in range(len(self.REQUEST)):
            srv.cut_request_head(at, how)  # type: ignore[arg-type]
            got = fetch(srv, self.REQUEST)
            if (got.data, got.end) != (b"", ENDS[how]):
                wrong.append(f"at {at}: the client got {got.data[:30]!r} then {got.end}")
        assert "\n".join(wrong) == ""
        journal = srv.journal
        assert len(journal) == len(self.REQUEST)
        for at, ex in enumerate(journal):
            assert ex.fault is not None
            assert (ex.fault.kind, ex.fault.side, ex.fault.bytes_received) == (how, "request", at)
            assert (ex.fault.body_bytes, ex.fault.wire_bytes, ex.bytes_received) == (0, 0, at)
            assert ex.response is None
            whole_line = at >= len(self.LINE)
            assert (ex.method, ex.target) == (("GET", "/orders/42?x=1") if whole_line else ("", ""))
            assert ex.events[0].detail.startswith(f"{at} bytes of a request head")

    def test_a_stalled_head_holds_the_connection_silent(self, srv: mp.MockServer) -> None:
        srv.cut_request_head(10, "stall")
        got = fetch(srv, self.REQUEST, timeout=0.3)
        assert (got.data, got.end) == (b"", "silent")
        fault = srv.journal.last.fault
        assert fault is not None and (fault.kind, fault.bytes_received) == ("stall", 10)

    def test_times_counts_request_heads_and_check_reports_unfired_cuts(
        self, srv: mp.MockServer
    ) -> None:
        srv.expect("GET", "/orders/42").respond(mp.respond(200, b"served\n"))
        srv.cut_request_head(5, "reset", times=2)
        ends = [fetch(srv, self.REQUEST).end for _ in range(3)]
        assert ends == ["reset", "reset", "eof"]
        assert [ex.fault is not None for ex in srv.journal] == [True, True, False]
        srv.cut_request_head(5, times=2)
        fetch(srv, self.REQUEST)
        with pytest.raises(mp.ExpectationError, match=r"cut_request_head\(at=5.*fired 1 time"):
            srv.check()
        srv.reset()

    def test_a_kept_alive_connection_is_cut_inside_its_next_request(
        self, srv: mp.MockServer
    ) -> None:
        from support.recording_client import Client

        srv.expect("GET", "/orders/42").respond(mp.respond(200, b"first\n"))
        with Client(srv.port, tls=client_context(srv)) as client:
            assert client.request("GET", "/orders/42").body == b"first\n"
            srv.cut_request_head(12)
            second = client.request("GET", "/orders/42")
        assert second.status is None and second.error is not None  # closed, no response
        first, cut = srv.journal
        assert first.connection == cut.connection
        assert cut.fault is not None and cut.fault.bytes_received == 12

    def test_a_head_shorter_than_the_cut_is_served_and_reported(self, srv: mp.MockServer) -> None:
        srv.expect("GET", "/orders/42").respond(mp.respond(200, b"served\n"))
        srv.cut_request_head(len(self.REQUEST))
        got = fetch(srv, self.REQUEST)
        assert got.data.endswith(b"served\n")
        with pytest.raises(mp.ExpectationError, match="did not fire: the request head ended"):
            srv.check()
        srv.reset()


class TestPacing:
    """Stalls anywhere in a script, and drips, on a real socket (their timing precision is
    measured in benchmarks/bench_timing.py, not asserted here)."""

    def test_a_stall_before_the_head_sends_nothing(self, srv: mp.MockServer) -> None:
        srv.expect("GET", "/s").respond(mp.stall())
        got = fetch(srv, get("/s"), timeout=0.3)
        assert (got.data, got.end) == (b"", "silent")
        ex = srv.journal.last
        assert ex.response is None and ex.fault is not None and ex.fault.kind == "stall"

    def test_a_stall_after_the_interims_sends_exactly_them(self, srv: mp.MockServer) -> None:
        srv.expect("GET", "/s").respond(
            mp.processing((0, 1)), mp.early_hints("</a.css>; rel=preload"), mp.stall()
        )
        got = fetch(srv, get("/s"), timeout=0.3)
        assert got.data == (
            b"HTTP/1.1 102 Processing\r\nProgress: 0/1\r\n\r\n"
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
        )
        assert got.end == "silent"
        fault = srv.journal.last.fault
        assert fault is not None and fault.wire_bytes == len(got.data)

    def test_a_drip_with_its_head_delivers_every_byte_in_paced_pieces(
        self, srv: mp.MockServer
    ) -> None:
        response = mp.respond(200, BODY[:40], {"Connection": "close"})
        srv.expect("GET", "/d").respond(response.drip(chunk=16, interval=0.02, head=True))
        started = time.monotonic()
        got = fetch(srv, get("/d"))
        elapsed = time.monotonic() - started
        expected = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 40\r\n\r\n" + BODY[:40]
        assert (got.data, got.end) == (expected, "eof")
        pieces = -(-len(expected) // 16)
        assert elapsed >= (pieces - 1) * 0.02  # never early; lateness is the benchmark's job
        ex = srv.journal.last
        assert ex.response is not None and ex.response.complete


def test_a_stall_mid_upload_reads_nothing_more_so_the_upload_blocks(srv: mp.MockServer) -> None:
    """After ``read_body(upto=N)`` a stall reads nothing: once the kernel buffers are full the
    client's send blocks (32 MiB is more than loopback's buffers hold), and the journal keeps
    exactly N bytes."""
    srv.expect("PUT", "/big").respond(mp.read_body(upto=1000), mp.stall())
    body = bytes(32 << 20)
    head = f"PUT /big HTTP/1.1\r\nHost: raw\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    context = client_context(srv)
    raw = socket.create_connection(("127.0.0.1", srv.port), timeout=0.5)
    with raw if context is None else context.wrap_socket(raw, server_hostname="127.0.0.1") as sock:
        with pytest.raises(TimeoutError):
            sock.sendall(head + body)
        ex = srv.journal.last
        assert ex.body == bytes(1000) and not ex.body_complete
        assert ex.fault is not None and (ex.fault.kind, ex.fault.body_bytes) == ("stall", 1000)
