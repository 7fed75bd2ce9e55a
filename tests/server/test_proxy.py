"""Proxy mode over real sockets: a MockServer in front of another (the upstream), raw-socket
clients in front of it, and the exact bytes both ways."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support import raw_client
from support.raw_client import Received, exchange, in_parallel

import mockprogress as mp

BODY = (bytes(range(256)) * 4)[:1000]  # every byte value: a shifted byte cannot hide
ENDS = {"close": "eof", "reset": "reset"}


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[mp.MockServer, mp.MockServer]]:
    with mp.MockServer() as upstream, mp.MockServer(upstream=upstream.url()) as proxy:
        yield upstream, proxy


@pytest.fixture
def upstream(servers: tuple[mp.MockServer, mp.MockServer]) -> Iterator[mp.MockServer]:
    srv = servers[0]
    try:
        yield srv
        srv.check()
    finally:
        srv.reset()


@pytest.fixture
def proxy(
    servers: tuple[mp.MockServer, mp.MockServer], upstream: mp.MockServer
) -> Iterator[mp.MockServer]:
    srv = servers[1]
    try:
        yield srv
        srv.check()
    finally:
        srv.reset()


def get(path: str, extra: str = "") -> bytes:
    """A GET for this machine's address (the proxy forwards no request for another Host)."""
    return raw_client.get(path, extra).replace(b"Host: raw", b"Host: 127.0.0.1", 1)


def post(path: str, body: bytes, *, chunked: bool = False) -> bytes:
    return raw_client.post(path, body, chunked=chunked).replace(b"Host: raw", b"Host: 127.0.0.1", 1)


def head_and_body(data: bytes) -> tuple[bytes, bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", body


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class TestPassThrough:
    def test_an_unmatched_request_comes_back_unchanged_and_both_legs_are_journaled(
        self, upstream: mp.MockServer, proxy: mp.MockServer
    ) -> None:
        upstream.expect("GET", "/plain").respond(
            mp.respond(200, b"hello\n", {"Content-Type": "text/plain", "X-Up": "yes"})
        )
        got = exchange(proxy.port, get("/plain?q=1", "Connection: close\r\n"))
        head, body = head_and_body(got.data)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"\r\nContent-Type: text/plain\r\nX-Up: yes\r\nVia: 1.1 mockprogress\r\n" in head
        assert body == b"hello\n"
        ex = proxy.journal.last
        assert ex.handled_by == f"upstream {upstream.url()}".rstrip("/")
        assert ex.response is not None and ex.response.status == 200 and ex.response.complete
        details = [e.detail for e in ex.upstream]
        assert details[0] == f"to upstream {upstream.url().rstrip('/')}: GET /plain?q=1 HTTP/1.1"
        assert details[1:] == [
            "from upstream: 200 OK",
            "from upstream: 6 of 6 body bytes (all of it)",
        ]
        assert ex.upstream[1].headers is not None and ex.upstream[1].headers["x-up"] == "yes"
        assert upstream.journal.last.target == "/plain?q=1"

    def test_hop_by_hop_fields_stay_on_their_hop(
        self, upstream: mp.MockServer, proxy: mp.MockServer
    ) -> None:
        upstream.expect("GET", "/hop").respond(
            mp.respond(
                200, b"ok", {"Keep-Alive": "timeout=5", "X-Private": "1", "Connection": "X-Private"}
            )
        )
        extra = "Connection: close, X-Secret\r\nX-Secret: s\r\nKeep-Alive: 1\r\nTE: trailers\r\nX-End: e\r\n"
        got = exchange(proxy.port, get("/hop", extra))
        head, body = head_and_body(got.data)
        assert body == b"ok"
        for field in (b"Keep-Alive", b"X-Private"):
            assert field not in head
        sent = upstream.journal.last.headers
        host = upstream.url().split("//")[1].rstrip("/")
        assert sent["host"] == host
        assert sent["via"] == "1.1 mockprogress"
        assert sent["x-end"] == "e"
        assert sent["connection"] == "close"  # the proxy's own, for its own hop
        for name in ("x-secret", "keep-alive", "te"):
            assert name not in sent

    def test_request_bodies_go_up_whole_content_length_and_chunked(
        self, upstream: mp.MockServer, proxy: mp.MockServer
    ) -> None:
        upstream.expect("POST", "/up").respond(mp.respond(201, b"stored"))
        payload = bytes(range(256)) * 1200
        for chunked in (False, True):
            got = exchange(proxy.port, post("/up", payload, chunked=chunked))
            assert got.data.startswith(b"HTTP/1.1 201 Created\r\n")
            assert upstream.journal.last.body == payload
            assert proxy.journal.last.body == payload
        assert upstream.journal.last.headers["transfer-encoding"] == "chunked"

    def test_a_head_request_keeps_the_upstreams_length(
        self, upstream: mp.MockServer, proxy: mp.MockServer
    ) -> None:
        upstream.expect("HEAD", "/doc").respond(mp.respond(200, b"x" * 42))
        got = exchange(
            proxy.port, b"HEAD /doc HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        )
        head, body = head_and_body(got.data)
        assert b"\r\nContent-Length: 42\r\n" in head and body == b""

    def test_a_chunked_upstream_body_comes_whole_and_chunked(
        self, upstream: mp.MockServer, proxy: mp.MockServer
    ) -> None:
        upstream.expect("GET", "/chunks").respond(mp.respond(200, (b"abc", b"defg", b"h")))
        got = exchange(proxy.port, get("/chunks", "Connection: close\r\n"))
        head, body = head_and_body(got.data)
        assert b"Transfer-Encoding: chunked\r\n" in head and b"Content-Length" not in head
        assert body == b"3\r\nabc\r\n4\r\ndefg\r\n1\r\nh\r\n0\r\n\r\n"
        assert got.end == "eof"


class TestScripts:
    def test_fail_twice_then_pass_through(
        self, upstream: mp.MockServer, proxy: mp.MockServer
    ) -> None:
        upstream.expect("GET", "/flaky").respond(mp.respond(200, b"real answer"))
        proxy.expect("GET", "/flaky", times=2).respond(mp.respond(503, b"try again"))
        statuses = []
        for _ in range(3):
            got = exchange(proxy.port, get("/flaky", "Connection: close\r\n"))
            statuses.append(got.data.split(b"\r\n")[0])
        assert statuses == [
            b"HTTP/1.1 503 Service Unavailable",
            b"HTTP/1.1 503 Service Unavailable",
            b"HTTP/1.1 200 OK",
        ]
        assert got.data.endswith(b"real answer")
        assert len(upstream.journal) == 1

    def test_interims_before_a_forward_then_the_upstreams_own(
        self, upstream: mp.MockServer, proxy: mp.MockServer
    ) -> None:
        upstream.expect("POST", "/jobs").respond(
            mp.processing('1/2 "halfway"'),
            mp.early_hints("</app.css>; rel=preload"),
            mp.respond(201, b"made"),
        )
        proxy.expect("POST", "/jobs").respond(
            mp.processing('0/2 "queued"'), mp.pause(0.01), mp.forward()
        )
        got = exchange(proxy.port, post("/jobs", b"{}"))
        lines = [line for line in got.data.split(b"\r\n") if line.startswith(b"HTTP/1.1")]
        assert lines == [
            b"HTTP/1.1 102 Processing",
            b"HTTP/1.1 102 Processing",
            b"HTTP/1.1 103 Early Hints",
            b"HTTP/1.1 201 Created",
        ]
        assert b'Progress: 1/2 "halfway"' in got.data
        ex = proxy.journal.last
        assert [i.status for i in ex.interims] == [102, 102, 103]
        assert ex.interims[2].headers["link"] == "</app.css>; rel=preload"
        assert [e.status for e in ex.upstream if e.status] == [102, 103, 201]

    def test_an_http10_client_gets_no_relayed_interims(
        self, upstream: mp.MockServer, proxy: mp.MockServer
    ) -> None:
        upstream.expect("GET", "/hints").respond(mp.early_hints("</a>"), mp.respond(200, b"x"))
        got = exchange(proxy.port, b"GET /hints HTTP/1.0\r\n\r\n")
        assert got.data.startswith(b"HTTP/1.1 200 OK\r\n")
        assert [i.skipped for i in proxy.journal.last.interims] == [True]

    def test_header_changes(self, upstream: mp.MockServer, proxy: mp.MockServer) -> None:
        upstream.expect("GET", "/h").respond(mp.respond(200, b"x", {"ETag": '"1"', "X-A": "a"}))
        proxy.expect("GET", "/h").respond(
            mp.forward(headers={"X-A": "changed", "X-New": "n"}, remove_headers=["etag"])
        )
        head, _ = head_and_body(exchange(proxy.port, get("/h", "Connection: close\r\n")).data)
        assert b"ETag" not in head and b"X-A: a" not in head
        assert b"\r\nX-A: changed\r\nX-New: n\r\n" in head

    def test_a_forward_to_its_own_url_on_a_server_without_upstream(
        self, upstream: mp.MockServer
    ) -> None:
        upstream.expect("GET", "/there").respond(mp.respond(200, b"from there"))
        with mp.MockServer() as plain:
            plain.expect("GET", "/there").respond(mp.forward(upstream.url()))
            got = exchange(plain.port, get("/there", "Connection: close\r\n"))
            plain.check()
        assert got.data.endswith(b"from there")

    def test_the_body_read_before_the_forward_goes_up_first(
        self, upstream: mp.MockServer, proxy: mp.MockServer
    ) -> None:
        upstream.expect("PUT", "/file").respond(mp.respond(204))
        proxy.expect("PUT", "/file").respond(mp.read_body(upto=10), mp.processing(), mp.forward())
        exchange(proxy.port, post("/file", BODY).replace(b"POST", b"PUT", 1))
        assert upstream.journal.last.body == BODY


class TestExactCuts:
    def test_every_body_offset_of_a_real_upstream_body(
        self, upstream: mp.MockServer, proxy: mp.MockServer
    ) -> None:
        def handler(ex: mp.Exchange) -> mp.Step:
            return mp.forward().cut(int(ex.query["at"]), "body", ex.query["how"])  # type: ignore[arg-type]

        proxy.expect("GET", "/cut").respond_with(handler)
        upstream.expect("GET", "/cut").respond(mp.respond(200, BODY))
        cases = [(at, how) for at in range(len(BODY) + 1) for how in ("close", "reset")]
        results: list[Received] = in_parallel(
            lambda case: exchange(proxy.port, get(f"/cut?at={case[0]}&how={case[1]}")), cases
        )
        head, body = head_and_body(results[-1].data)  # cut after its last byte: all of it
        assert body == BODY and head.startswith(b"HTTP/1.1 200 OK\r\n")
        wrong = [
            f"{how} at {at}: {len(got.data) - len(head)} body bytes then {got.end}"
            for (at, how), got in zip(cases, results, strict=True)
            if got.data != head + BODY[:at] or got.end != ENDS[how]
        ]
        assert wrong == []
        faults = {ex.target: ex.fault for ex in proxy.journal if ex.path == "/cut"}
        for at, how in cases:
            fault = faults[f"/cut?at={at}&how={how}"]
            assert fault is not None
            assert (fault.kind, fault.body_bytes, fault.wire_bytes) == (how, at, len(head) + at)

    def test_a_wire_cut_counts_the_relayed_interims_too(
        self, upstream: mp.MockServer, proxy: mp.MockServer
    ) -> None:
        upstream.expect("GET", "/w").respond(mp.early_hints("</a>"), mp.respond(200, BODY))
        full = exchange(proxy.port, get("/w", "Connection: close\r\n")).data
        proxy.expect("GET", "/w").respond(mp.forward().cut(at=len(full) - 10, unit="wire"))
        got = exchange(proxy.port, get("/w", "Connection: close\r\n"))
        assert (got.data, got.end) == (full[:-10], "eof")

    def test_a_cut_past_the_upstreams_body_is_a_problem(
        self, upstream: mp.MockServer, proxy: mp.MockServer
    ) -> None:
        upstream.expect("GET", "/short").respond(mp.respond(200, b"12345"))
        proxy.expect("GET", "/short").respond(mp.forward().cut(at=9))
        got = exchange(proxy.port, get("/short"))
        assert got.data.endswith(b"\r\n\r\n12345") and got.end == "eof"
        with pytest.raises(mp.ExpectationError, match="upstream's body has 5 bytes"):
            proxy.check()
        proxy.reset()

    def test_a_drip_paces_the_upstreams_body(
        self, upstream: mp.MockServer, proxy: mp.MockServer
    ) -> None:
        upstream.expect("GET", "/slow").respond(mp.respond(200, b"x" * 50))
        proxy.expect("GET", "/slow").respond(mp.forward().drip(chunk=10, interval=0.03))
        started = time.monotonic()
        got = exchange(proxy.port, get("/slow", "Connection: close\r\n"))
        assert got.data.endswith(b"x" * 50)
        assert time.monotonic() - started >= 0.12
        sent = [e for e in proxy.journal.last.events if e.kind == "body-sent"]
        assert sent[-1].detail == "50 body bytes (complete)"


class TestUpstreamTrouble:
    def test_a_refusing_upstream_gives_502_and_a_problem(self) -> None:
        port = closed_port()
        with mp.MockServer(upstream=f"http://127.0.0.1:{port}") as proxy:
            got = exchange(proxy.port, get("/x", "Connection: close\r\n"))
            assert got.data.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
            assert b"refused the connection" in got.data
            with pytest.raises(mp.ExpectationError, match=r"upstream.*refused the connection"):
                proxy.check()

    def test_a_silent_upstream_gives_504(self, upstream: mp.MockServer) -> None:
        upstream.expect("GET", "/silent").respond(mp.stall(1.0))
        with mp.MockServer(upstream=upstream.url(), upstream_timeout=0.2) as proxy:
            got = exchange(proxy.port, get("/silent", "Connection: close\r\n"))
            assert got.data.startswith(b"HTTP/1.1 504 Gateway Timeout\r\n")
            assert b"sent nothing for 0.2 s" in got.data
            with pytest.raises(mp.ExpectationError, match=r"sent nothing for 0\.2 s"):
                proxy.check()
        upstream.reset()

    def test_an_upstream_reset_before_its_answer_gives_502(
        self, upstream: mp.MockServer, proxy: mp.MockServer
    ) -> None:
        upstream.expect("GET", "/rst").respond(mp.drop("reset"))
        got = exchange(proxy.port, get("/rst", "Connection: close\r\n"))
        assert got.data.startswith(b"HTTP/1.1 502 Bad Gateway\r\n")
        with pytest.raises(mp.ExpectationError, match="upstream"):
            proxy.check()
        proxy.reset()

    def test_an_upstream_cut_mid_body_resets_the_client(
        self, upstream: mp.MockServer, proxy: mp.MockServer
    ) -> None:
        upstream.expect("GET", "/mid").respond(mp.respond(200, BODY).cut(at=300))
        got = exchange(proxy.port, get("/mid"))
        head, body = head_and_body(got.data)
        assert b"Content-Length: 1000" in head
        assert (body, got.end) == (BODY[:300], "reset")
        with pytest.raises(mp.ExpectationError, match="closed the connection after 300 body"):
            proxy.check()
        proxy.reset()


class TestWebPages:
    @pytest.mark.parametrize(
        ("extra", "why"),
        [
            ("Host: evil.example\r\n", "Host 'evil.example' is not this server's"),
            ("Origin: http://evil.example\r\n", "Origin 'http://evil.example'"),
            # an <img> or <script> of another page: no Origin, but the browser says whose
            ("Sec-Fetch-Site: cross-site\r\n", "Sec-Fetch-Site: cross-site"),
            ("Sec-Fetch-Site: same-site\r\n", "Sec-Fetch-Site: same-site"),
        ],
    )
    def test_a_web_page_cannot_drive_the_upstream(
        self, upstream: mp.MockServer, proxy: mp.MockServer, extra: str, why: str
    ) -> None:
        request = f"GET /secret HTTP/1.1\r\nConnection: close\r\n{extra}"
        if "Host:" not in extra:
            request += "Host: 127.0.0.1\r\n"
        got = exchange(proxy.port, (request + "\r\n").encode())
        assert got.data.startswith(b"HTTP/1.1 403 Forbidden\r\n")
        assert why.encode() in got.data
        assert len(upstream.journal) == 0
        with pytest.raises(mp.ExpectationError, match="not forwarded"):
            proxy.check()
        proxy.reset()

    def test_its_own_origin_and_names_are_forwarded(
        self, upstream: mp.MockServer, proxy: mp.MockServer
    ) -> None:
        upstream.expect("GET", "/page").respond(mp.respond(200, b"ok"))
        for host in (f"localhost:{proxy.port}", f"127.0.0.1:{proxy.port}"):
            extra = f"Connection: close\r\nOrigin: http://{host}\r\n"
            got = exchange(
                proxy.port, f"GET /page HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()
            )
            assert got.data.startswith(b"HTTP/1.1 200 OK\r\n")


class TestScenarios:
    def test_a_file_names_the_upstream_and_a_forward_step(
        self, upstream: mp.MockServer, tmp_path: Path
    ) -> None:
        path = tmp_path / "proxy.toml"
        path.write_text(
            f'upstream = "{upstream.url()}"\n'
            '[[expect]]\npath = "/s"\nsteps = [{ forward = { cut = 3 } }]\n'
        )
        upstream.expect("GET", "/s").respond(mp.respond(200, b"abcdef"))
        upstream.expect("GET", "/t").respond(mp.respond(200, b"passed"))
        with mp.MockServer() as srv:
            srv.load(path)
            cut = exchange(srv.port, get("/s"))
            assert (head_and_body(cut.data)[1], cut.end) == (b"abc", "eof")
            whole = exchange(srv.port, get("/t", "Connection: close\r\n"))
            assert head_and_body(whole.data)[1] == b"passed"
            srv.check()

    def test_the_control_api_takes_the_upstream_and_forward_steps(
        self, upstream: mp.MockServer
    ) -> None:
        upstream.expect("GET", "/c").respond(mp.respond(200, b"0123456789"))
        document = {
            "upstream": upstream.url(),
            "expect": [{"path": "/c", "steps": [{"forward": {"cut": {"at": 2}}}]}],
        }
        with mp.MockServer() as srv:
            srv.enable_control_api()
            added = httpx.post(srv.url("/__mockprogress/expectations"), json=document)
            assert added.status_code == 201, added.text
            cut = exchange(srv.port, get("/c"))
            assert head_and_body(cut.data)[1] == b"01"
            srv.check()


def test_an_https_upstream() -> None:
    """The upstream leg verifies the upstream's certificate (here the throwaway CA's)."""
    with mp.MockServer(tls=True) as secure, mp.MockServer(upstream=secure.url()) as proxy:
        secure.expect("GET", "/s").respond(mp.early_hints("</x>"), mp.respond(200, b"secret"))
        got = exchange(proxy.port, get("/s", "Connection: close\r\n"))
        assert got.data.startswith(b"HTTP/1.1 103 Early Hints\r\n")
        assert head_and_body(got.data.split(b"\r\n\r\n", 1)[1])[1] == b"secret"
        assert secure.journal.last.tls is not None
        secure.check()
        proxy.check()


class TestRequestCuts:
    def test_every_request_body_offset_goes_up_exactly(
        self, upstream: mp.MockServer, proxy: mp.MockServer
    ) -> None:
        body = BODY[:300]

        cases = [(at, how) for at in range(len(body) + 1) for how in ("close", "reset")]
        for at, how in cases:  # scripts, not handlers: a handler reads the body first
            proxy.expect("POST", f"/up/{at}/{how}").respond(mp.forward().cut_request(at, how))  # type: ignore[arg-type]
        upstream.expect("POST", re.compile("/up/.*")).respond(mp.respond(201))
        results = in_parallel(
            lambda case: exchange(proxy.port, post(f"/up/{case[0]}/{case[1]}", body)), cases
        )
        assert [got.end for got in results] == [ENDS[how] for _, how in cases]
        assert all(got.data == b"" for got in results)
        upstream.wait_idle()
        bodies = {ex.target: ex.body for ex in upstream.journal}
        faults = {ex.target: ex.fault for ex in proxy.journal}
        read = {ex.target: ex.body for ex in proxy.journal}  # the proxy read only what went up
        wrong = []
        for at, how in cases:
            target = f"/up/{at}/{how}"
            fault = faults[target]
            assert fault is not None and (fault.side, fault.kind) == ("request", how)
            if {bodies.get(target, b""), read[target]} != {body[:at]} or fault.body_bytes != at:
                wrong.append((at, how, len(bodies.get(target, b""))))
        assert wrong == []


def test_on_trio_too(upstream: mp.MockServer) -> None:
    upstream.expect("GET", "/t").respond(mp.processing(), mp.respond(200, b"trio"))
    with mp.MockServer(backend="trio", upstream=upstream.url()) as proxy:
        got = exchange(proxy.port, get("/t", "Connection: close\r\n"))
        assert got.data.startswith(b"HTTP/1.1 102 Processing\r\n")
        assert got.data.endswith(b"\r\n\r\ntrio")
        proxy.check()


def test_stopping_while_the_upstream_is_silent_ends_at_once(upstream: mp.MockServer) -> None:
    upstream.expect("GET", "/hang").respond(mp.stall())
    with mp.MockServer(upstream=upstream.url()) as proxy:
        sock = socket.create_connection(("127.0.0.1", proxy.port))
        sock.sendall(get("/hang"))
        deadline = time.monotonic() + 5
        while not upstream.journal.find("GET", "/hang") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert upstream.journal.find("GET", "/hang")
        started = time.monotonic()
    assert time.monotonic() - started < 1.0
    assert sock.recv(100) == b""  # closed, unanswered
    sock.close()
    upstream.reset()


def test_allowed_host_names_are_forwarded(upstream: mp.MockServer) -> None:
    upstream.expect("GET", "/n").respond(mp.respond(200, b"named"))
    with mp.MockServer(upstream=upstream.url(), allowed_hosts=[".mock.test"]) as proxy:
        for host, status in (
            ("api.mock.test", b"200"),
            ("mock.test:80", b"200"),
            ("x.test", b"403"),
        ):
            request = f"GET /n HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
            assert exchange(proxy.port, request.encode()).data.startswith(b"HTTP/1.1 " + status)
        with pytest.raises(mp.ExpectationError, match=r"Host 'x\.test' is not this server's"):
            proxy.check()
    with pytest.raises(mp.ScenarioError, match="an allowed host is a name"):
        mp.MockServer(allowed_hosts=["bad name"])
