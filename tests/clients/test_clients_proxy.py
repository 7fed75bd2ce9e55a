"""Proxy mode with real upstreams no one here wrote (Python's ``http.server``, an aiohttp app,
Node's ``http`` server sending 102 and 103 itself) and real clients in front of it (requests,
httpx, curl, Node's ``http``)."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import json
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest
import requests
from aiohttp import web
from support.paths import NODE_DIR
from support.raw_client import exchange, in_parallel

import mockprogress as mp

BODY = (bytes(range(256)) * 2)[:300]
NODE = shutil.which("node")
CURL = shutil.which("curl")


class StdlibUpstream(http.server.BaseHTTPRequestHandler):
    """Python's own server: a fixed body, and an echo of the request body's size and hash."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers["Content-Length"]))
        answer = f"{len(data)} {hashlib.sha256(data).hexdigest()} {self.headers['Via']}".encode()
        self.send_response(201)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


@pytest.fixture(scope="module")
def stdlib_upstream() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StdlibUpstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def proxy(stdlib_upstream: str) -> Iterator[mp.MockServer]:
    with mp.MockServer(upstream=stdlib_upstream) as srv:
        yield srv
        srv.check()


class TestStdlibUpstream:
    def test_requests_gets_the_real_answer_and_the_upload_goes_up_whole(
        self, proxy: mp.MockServer
    ) -> None:
        got = requests.get(proxy.url("/file"), timeout=10)
        assert (got.status_code, got.content) == (200, BODY)
        assert got.headers["Via"] == "1.1 mockprogress"
        payload = bytes(range(256)) * 4096  # 1 MiB
        sent = requests.post(proxy.url("/echo"), data=payload, timeout=10)
        digest = hashlib.sha256(payload).hexdigest()
        assert (sent.status_code, sent.text) == (201, f"{len(payload)} {digest} 1.1 mockprogress")

    def test_requests_fails_twice_then_passes_through(self, proxy: mp.MockServer) -> None:
        proxy.expect("GET", "/flaky", times=2).respond(mp.respond(503, b"busy"))
        with requests.Session() as session:
            got = [session.get(proxy.url("/flaky"), timeout=10) for _ in range(3)]
        assert [r.status_code for r in got] == [503, 503, 200]
        assert got[2].content == BODY

    def test_every_body_offset_of_the_real_body(self, proxy: mp.MockServer) -> None:
        proxy.expect("GET", "/cut").respond_with(
            lambda ex: mp.forward().cut(int(ex.query["at"]), how=ex.query["how"])  # type: ignore[arg-type]
        )
        cases = [(at, how) for at in range(len(BODY) + 1) for how in ("close", "reset")]

        def one(case: tuple[int, str]) -> tuple[bytes, str]:
            request = f"GET /cut?at={case[0]}&how={case[1]} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            got = exchange(proxy.port, request.encode())
            return got.data.partition(b"\r\n\r\n")[2], got.end

        results = in_parallel(one, cases)
        ends = {"close": "eof", "reset": "reset"}
        wrong = [
            (at, how, len(body), end)
            for (at, how), (body, end) in zip(cases, results, strict=True)
            if body != BODY[:at] or end != ends[how]
        ]
        assert wrong == []

    def test_requests_reads_exactly_n_bytes_before_the_reset(self, proxy: mp.MockServer) -> None:
        proxy.expect("GET", "/partial").respond(mp.forward().cut(at=123, how="reset"))
        got = requests.get(proxy.url("/partial"), stream=True, timeout=10)
        received = bytearray()

        def read_all() -> None:
            for piece in got.iter_content(1):  # a byte at a time: none held back at the reset
                received.extend(piece)

        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            read_all()
        assert bytes(received) == BODY[:123]
        assert proxy.journal.last.fault is not None
        assert proxy.journal.last.fault.body_bytes == 123

    @pytest.mark.skipif(CURL is None, reason="the curl command is not installed")
    def test_curl_through_a_drip(self, proxy: mp.MockServer) -> None:
        proxy.expect("GET", "/drip").respond(mp.forward().drip(chunk=100, interval=0.01))
        assert CURL is not None
        done = subprocess.run(
            [CURL, "-sS", "--max-time", "10", proxy.url("/drip")], capture_output=True, check=True
        )
        assert done.stdout == BODY
        sent = [e for e in proxy.journal.last.events if e.kind == "body-sent"]
        assert [e.detail for e in sent] == ["300 body bytes (complete)"]


@pytest.fixture(scope="module")
def node_upstream() -> Iterator[str]:
    assert NODE is not None
    proc = subprocess.Popen(
        [NODE, str(NODE_DIR / "upstream_interims.js")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening "), line
        yield f"http://127.0.0.1:{line.split()[1]}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.skipif(NODE is None, reason="the node command is not installed")
class TestNodeUpstream:
    def test_nodes_own_102_and_103_reach_a_node_client_and_the_journal(
        self, node_upstream: str
    ) -> None:
        assert NODE is not None
        with mp.MockServer(upstream=node_upstream) as proxy:
            done = subprocess.run(
                [NODE, str(NODE_DIR / "information.js"), "GET", proxy.url("/node?x=1")],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
            report: dict[str, Any] = json.loads(done.stdout)
            ex = proxy.journal.last
            proxy.check()
        assert [(i["statusCode"], i["statusMessage"]) for i in report["information"]] == [
            (102, "Processing"),
            (103, "Early Hints"),
        ]
        assert report["information"][1]["headers"]["link"] == "</node.css>; rel=preload; as=style"
        assert report["response"]["statusCode"] == 200
        assert report["response"]["body"] == "GET /node?x=1 0 via 1.1 mockprogress\n"
        assert [i.status for i in ex.interims] == [102, 103]
        assert [e.detail for e in ex.upstream if e.status in (102, 103)] == [
            "from upstream: 102 Processing",
            "from upstream: 103 Early Hints",
        ]

    @pytest.mark.skipif(CURL is None, reason="the curl command is not installed")
    def test_curl_sees_a_scripted_102_then_nodes_own(self, node_upstream: str) -> None:
        assert CURL is not None
        with mp.MockServer(upstream=node_upstream) as proxy:
            proxy.expect("POST", "/job").respond(mp.processing(), mp.forward())
            done = subprocess.run(
                [CURL, "-sS", "-i", "--max-time", "10", "--data-binary", "abc", proxy.url("/job")],
                capture_output=True,
                check=True,
            )
            proxy.check()
        statuses = [line for line in done.stdout.split(b"\r\n") if line.startswith(b"HTTP/")]
        assert statuses == [
            b"HTTP/1.1 102 Processing",
            b"HTTP/1.1 102 Processing",
            b"HTTP/1.1 103 Early Hints",
            b"HTTP/1.1 200 OK",
        ]
        assert done.stdout.endswith(b"POST /job 3 via 1.1 mockprogress\n")


@pytest.fixture
async def aiohttp_upstream() -> AsyncIterator[str]:
    async def stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)  # no Content-Length: aiohttp sends it chunked
        for i in range(10):
            await response.write(f"line {i}\n".encode())
        await response.write_eof()
        return response

    async with aiohttp_app("/stream", stream) as url:
        yield url


@contextlib.asynccontextmanager
async def aiohttp_app(path: str, handler: Any) -> AsyncIterator[str]:
    """An aiohttp application answering GET ``path`` with ``handler``, on a free port: its URL."""
    app = web.Application()
    app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


EXPECTED = b"".join(f"line {i}\n".encode() for i in range(10))


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_an_aiohttp_apps_chunked_body_whole_and_cut(aiohttp_upstream: str) -> None:
    async with mp.MockServer(upstream=aiohttp_upstream) as proxy:
        proxy.expect("GET", "/stream", times=1).respond(mp.forward().cut(at=17))
        async with httpx.AsyncClient() as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(proxy.url("/stream"))
            whole = await client.get(proxy.url("/stream"))
        assert whole.content == EXPECTED
        assert whole.headers["transfer-encoding"] == "chunked"  # relayed as it came
        fault = proxy.journal[0].fault
        assert fault is not None and fault.body_bytes == 17
        proxy.check()


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_stream_of_events_reaches_the_client_as_the_upstream_sends_it() -> None:
    # The upstream sends its second event only once the client has the first through the
    # proxy: a proxy that held the body until its end would never deliver either.
    first_seen = anyio.Event()
    waited_in_vain: list[bool] = []

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: one\n\n")
        with anyio.move_on_after(3) as wait:
            await first_seen.wait()
        waited_in_vain.append(wait.cancelled_caught)
        await response.write(b"data: two\n\n")
        await response.write_eof()
        return response

    async with aiohttp_app("/events", events) as upstream:
        async with mp.MockServer(upstream=upstream) as proxy:
            async with httpx.AsyncClient() as client:
                with anyio.fail_after(10):
                    async with client.stream("GET", proxy.url("/events")) as response:
                        received = b""
                        async for piece in response.aiter_bytes():
                            received += piece
                            if received == b"data: one\n\n":
                                first_seen.set()
            assert waited_in_vain == [False]  # the first event was through before the second
            assert received == b"data: one\n\ndata: two\n\n"
            proxy.check()
