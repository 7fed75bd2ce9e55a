"""Real HTTP/2 clients against ``MockServer(http2=True)``: httpx (prior knowledge and ALPN),
curl (``--http2-prior-knowledge``, ``--http2`` over TLS and the ``Upgrade: h2c`` route), and
Node's ``http2`` module (its ``'headers'`` event for every 1xx), on a port that still speaks
HTTP/1.1 to clients that do."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.paths import NODE_DIR

import mockprogress as mp
from mockprogress.engine.journal import FRAME_EVENTS
from mockprogress.engine.journal_json import exchange_from_json, exchange_to_json

CURL = shutil.which("curl")
NODE = shutil.which("node")
needs_curl = pytest.mark.skipif(CURL is None, reason="the curl command is not installed")
needs_node = pytest.mark.skipif(NODE is None, reason="the node command is not installed")


@pytest.fixture(scope="module")
def srv() -> Iterator[mp.MockServer]:
    with mp.MockServer(http2=True) as server:
        yield server


@pytest.fixture
def h2(srv: mp.MockServer) -> Iterator[mp.MockServer]:
    srv.reset()
    yield srv
    srv.check()


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    assert CURL is not None
    return subprocess.run(
        [CURL, "-sS", "--max-time", "10", *args],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )


def node_http2(method: str, url: str, *, ca_file: str | None = None) -> dict[str, Any]:
    assert NODE is not None
    env = dict(os.environ)
    if ca_file is not None:
        env["MP_CA_FILE"] = ca_file
    done = subprocess.run(
        [NODE, str(NODE_DIR / "http2.js"), method, url],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env=env,
    )
    assert done.returncode == 0, f"node exited {done.returncode}: {done.stdout}{done.stderr}"
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_httpx_prior_knowledge_with_interims_and_journal(h2: mp.MockServer) -> None:
    h2.expect("GET", "/page").respond(
        mp.early_hints("</style.css>; rel=preload; as=style"),
        mp.processing("1/2"),
        mp.respond(200, b"hello over h2\n", {"X-Served": "yes"}),
    )
    with httpx.Client(http1=False, http2=True) as client:
        response = client.get(h2.url("/page"))
    assert response.http_version == "HTTP/2"
    assert response.status_code == 200
    assert response.content == b"hello over h2\n"
    assert response.headers["x-served"] == "yes"
    ex = h2.journal.last
    assert (ex.http_version, ex.stream_id, ex.request_line) == ("2", 1, "GET /page HTTP/2")
    assert [i.status for i in ex.interims] == [103, 102]
    assert ex.interims[0].headers["link"] == "</style.css>; rel=preload; as=style"
    assert ex.response is not None and ex.response.complete
    assert ex.response.body_sent == len(b"hello over h2\n")
    assert ex.headers["host"] == f"127.0.0.1:{h2.port}"  # from :authority


def test_streams_of_one_connection_share_its_number(h2: mp.MockServer) -> None:
    h2.expect("GET", "/a").respond(mp.respond(200, b"a"))
    with httpx.Client(http1=False, http2=True) as client:
        assert [client.get(h2.url("/a")).content for _ in range(3)] == [b"a"] * 3
    assert [ex.stream_id for ex in h2.journal] == [1, 3, 5]
    assert len({ex.connection for ex in h2.journal}) == 1


def test_http11_still_served_on_the_same_port(h2: mp.MockServer) -> None:
    h2.expect("GET", "/both").respond(mp.respond(200, b"either\n"))
    with httpx.Client() as client:  # HTTP/1.1
        first = client.get(h2.url("/both"))
    with httpx.Client(http1=False, http2=True) as client:
        second = client.get(h2.url("/both"))
    assert (first.http_version, second.http_version) == ("HTTP/1.1", "HTTP/2")
    assert [ex.http_version for ex in h2.journal] == ["1.1", "2"]
    assert [ex.stream_id for ex in h2.journal] == [None, 1]


def test_read_body_upto_and_matching_on_body_and_headers(h2: mp.MockServer) -> None:
    h2.expect("PUT", "/exact", headers={"x-kind": "exact"}, body=b"payload").respond(
        mp.respond(204)
    )
    h2.expect("POST", "/upload").respond(mp.read_body(upto=1000), mp.respond(413, b"enough\n"))
    with httpx.Client(http1=False, http2=True) as client:
        put = client.put(h2.url("/exact"), content=b"payload", headers={"X-Kind": "exact"})
        # Within the stream's window: httpx sends a whole body before it reads the answer,
        # and waits forever for window once the server stops reading (docs/http2.md).
        big = client.post(h2.url("/upload"), content=b"x" * 30_000)
    assert put.status_code == 204
    assert (big.status_code, big.content) == (413, b"enough\n")
    put_ex, big_ex = h2.journal
    assert put_ex.body == b"payload" and put_ex.body_complete
    assert big_ex.body == b"x" * 1000 and not big_ex.body_complete


def test_an_upload_stalled_on_its_window_shows_the_window_updates(h2: mp.MockServer) -> None:
    """httpx sends 200,000 bytes on a stream whose window is 65,535: it stalls until the
    script reads (after a pause), and the journal shows each WINDOW_UPDATE that let it go on,
    in the timeline, counted in ``control_frames`` and in the JSON form."""
    h2.expect("POST", "/stalled").respond(mp.pause(0.2), mp.read_body(), mp.respond(200))
    body = b"x" * 200_000
    with httpx.Client(http1=False, http2=True) as client:
        assert client.post(h2.url("/stalled"), content=body).status_code == 200
    ex = h2.journal.last
    assert ex.body == body
    counted = {(c.kind, c.direction, c.scope): c for c in ex.control_frames}
    sent = counted["WINDOW_UPDATE", "out", "stream"]
    # The client could send no byte past the windows the server granted: 65,535 at first,
    # then each WINDOW_UPDATE's increment.
    assert 65_535 + sent.total >= len(body) and sent.count >= 2
    updates = [e for e in ex.events if e.kind == "frame" and e.detail.startswith("WINDOW_UPDATE")]
    out = [e for e in updates if e.direction == "out" and "(connection)" not in e.detail]
    assert len(out) == min(sent.count, FRAME_EVENTS)
    assert out[0].at >= 0.2  # none before the script read: the upload stalled until then
    assert ("SETTINGS", "in", "connection") in counted  # httpx's SETTINGS, acknowledged
    assert "-> WINDOW_UPDATE +" in ex.timeline()
    assert f"WINDOW_UPDATE out x{sent.count} +{sent.total:,} (stream)" in ex.timeline()
    shown = exchange_to_json(ex)["control_frames"]
    assert {
        "kind": "WINDOW_UPDATE",
        "direction": "out",
        "scope": "stream",
        "count": sent.count,
        "total": sent.total,
    } in shown
    assert exchange_from_json(exchange_to_json(ex)).control_frames == ex.control_frames


def test_handler_and_drip_over_http2(h2: mp.MockServer) -> None:
    async def handler(ctl: mp.HandlerControl) -> None:
        body = await ctl.read_body()
        await ctl.send(mp.processing("1/1"))
        await ctl.send(mp.respond(200, body[::-1]).drip(chunk=2, interval=0.02))

    h2.expect("POST", "/echo").respond_with(handler)
    started = time.monotonic()
    with httpx.Client(http1=False, http2=True) as client:
        response = client.post(h2.url("/echo"), content=b"abcdef")
    assert response.content == b"fedcba"
    assert time.monotonic() - started >= 0.04  # three DATA frames, 20 ms apart
    ex = h2.journal.last
    assert [i.status for i in ex.interims] == [102]


def test_a_progress_job_resource_over_http2(h2: mp.MockServer) -> None:
    h2.mount(mp.ProgressJob("/job", stages=[("one", 0.0), ("two", 0.0)]))
    with httpx.Client(http1=False, http2=True) as client:
        response = client.post(h2.url("/job"))
    assert response.status_code in (200, 201, 202)
    ex = h2.journal.last
    assert ex.http_version == "2"
    assert ex.response is not None and ex.response.complete


def test_httpx_alpn_h2_over_tls() -> None:
    with mp.MockServer(http2=True, tls=True) as srv:
        srv.expect("GET", "/secure").respond(mp.processing("1/1"), mp.respond(200, b"tls\n"))
        with httpx.Client(http2=True, verify=srv.client_ssl_context()) as client:
            response = client.get(srv.url("/secure"))
        with httpx.Client(verify=srv.client_ssl_context()) as client:  # offers http/1.1 only
            plain = client.get(srv.url("/secure"))
        srv.check()
    assert (response.http_version, response.content) == ("HTTP/2", b"tls\n")
    assert plain.http_version == "HTTP/1.1"
    first, second = srv.journal
    assert first.tls is not None and first.tls.alpn == "h2" and first.http_version == "2"
    assert second.tls is not None and second.tls.alpn == "http/1.1"


@needs_curl
def test_curl_prior_knowledge_shows_each_interim(h2: mp.MockServer) -> None:
    h2.expect("GET", "/hints").respond(
        mp.early_hints("</a.js>; rel=preload; as=script"),
        mp.respond(200, b"ok\n"),
    )
    done = curl("-i", "--http2-prior-knowledge", h2.url("/hints"))
    assert done.returncode == 0, done.stderr
    blocks = [b for b in done.stdout.split("\n\n") if b]  # text mode: CRLF read as LF
    assert blocks[0].startswith("HTTP/2 103")
    assert "link: </a.js>; rel=preload; as=script" in blocks[0]
    assert blocks[1].startswith("HTTP/2 200")
    assert blocks[2] == "ok\n"


@needs_curl
def test_curl_http2_over_tls_negotiates_h2() -> None:
    with mp.MockServer(http2=True, tls=True) as srv:
        srv.expect("GET", "/").respond(mp.respond(200, b"secure\n"))
        done = curl("-v", "--http2", "--cacert", srv.ca_file, srv.url("/"))
        srv.check()
    assert done.returncode == 0, done.stderr
    assert done.stdout == "secure\n"
    assert "ALPN: server accepted h2" in done.stderr
    assert srv.journal.last.http_version == "2"


@needs_curl
def test_curl_h2c_upgrade_is_answered_on_stream_1(h2: mp.MockServer) -> None:
    h2.expect("GET", "/upgrade").respond(mp.processing("1/1"), mp.respond(200, b"upgraded\n"))
    done = curl("-v", "--http2", h2.url("/upgrade"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "upgraded\n"
    assert "HTTP/1.1 101 Switching Protocols" in done.stderr
    assert "< HTTP/2 200" in done.stderr
    ex = h2.journal.last
    assert (ex.http_version, ex.stream_id) == ("2", 1)
    assert ex.headers["upgrade"] == "h2c"
    assert [i.status for i in ex.interims] == [102]


@needs_node
def test_node_http2_headers_event_per_interim(h2: mp.MockServer) -> None:
    h2.expect("POST", "/jobs").respond(
        mp.processing('0/2 "start"', location="/jobs/1"),
        mp.pause(0.01),
        mp.processing((1, 2, "half")),
        mp.early_hints("</x.css>; rel=preload"),
        mp.respond(201, b"created\n", {"Location": "/items/1"}),
    )
    report = node_http2("POST", h2.url("/jobs"))
    assert report["error"] is None
    info = report["information"]
    assert [i["status"] for i in info] == [102, 102, 103]
    assert info[0]["headers"]["progress"] == '0/2 "start"'
    assert info[0]["headers"]["location"] == "/jobs/1"
    assert info[2]["headers"]["link"] == "</x.css>; rel=preload"
    assert report["response"]["status"] == 201
    assert report["response"]["headers"]["location"] == "/items/1"
    assert report["body"] == "created\n"


@needs_node
def test_node_http2_over_tls() -> None:
    with mp.MockServer(http2=True, tls=True) as srv:
        srv.expect("GET", "/n").respond(mp.early_hints("</n.css>"), mp.respond(200, b"node\n"))
        report = node_http2("GET", srv.url("/n"), ca_file=srv.ca_file)
        srv.check()
    assert report["error"] is None
    assert [i["status"] for i in report["information"]] == [103]
    assert report["body"] == "node\n"


@pytest.mark.anyio
async def test_in_loop_server_speaks_http2() -> None:
    async with mp.MockServer(http2=True) as srv:
        srv.expect("GET", "/loop").respond(mp.respond(200, b"in loop\n"))
        async with httpx.AsyncClient(http1=False, http2=True) as client:
            response = await client.get(srv.url("/loop"))
        srv.check()
    assert (response.http_version, response.content) == ("HTTP/2", b"in loop\n")


def test_http2_on_a_trio_server() -> None:
    with mp.MockServer(http2=True, backend="trio") as srv:
        srv.expect("GET", "/t").respond(mp.processing("0/1"), mp.respond(200, b"trio\n"))
        srv.expect("GET", "/cut").respond(mp.respond(200, b"0123456789").cut(3, how="reset"))
        with httpx.Client(http1=False, http2=True, timeout=5) as client:
            assert client.get(srv.url("/t")).content == b"trio\n"
            with pytest.raises(httpx.RemoteProtocolError, match="error_code:8,"):
                client.get(srv.url("/cut"))
            assert client.get(srv.url("/t")).content == b"trio\n"
        srv.check()
    assert [ex.stream_id for ex in srv.journal] == [1, 3, 5]
    cut = srv.journal[1].fault
    assert cut is not None and cut.body_bytes == 3


@needs_node
def test_trailers_reach_node_after_the_body(h2: mp.MockServer) -> None:
    h2.expect("GET", "/grpc-ish").respond(
        mp.respond(200, b"payload", trailers={"Grpc-Status": "0", "X-Checksum": "sha-1"})
    )
    report = node_http2("GET", h2.url("/grpc-ish"))
    assert report["error"] is None and report["body"] == "payload"
    assert report["trailers"] == {"grpc-status": "0", "x-checksum": "sha-1"}
    ex = h2.journal.last
    assert [e.kind for e in ex.events][-2:] == ["body-sent", "trailers"]
    assert "Grpc-Status: 0; X-Checksum: sha-1" in ex.timeline()


@needs_curl
def test_trailers_over_http11_need_a_chunked_body(h2: mp.MockServer) -> None:
    h2.expect("GET", "/chunked").respond(mp.respond(200, [b"a", b"b"], trailers={"X-Sum": "2"}))
    h2.expect("GET", "/plain").respond(mp.respond(200, b"ab", trailers={"X-Sum": "2"}))
    raw = subprocess.run(
        [CURL or "curl", "-sS", "--raw", h2.url("/chunked")], capture_output=True, check=False
    )
    assert raw.stdout == b"1\r\na\r\n1\r\nb\r\n0\r\nX-Sum: 2\r\n\r\n"
    plain = curl(h2.url("/plain"))
    assert plain.stdout == "ab"
    with pytest.raises(mp.ExpectationError, match="trailers were not sent"):
        h2.check()
    h2.reset()


@needs_curl
def test_an_upgrade_with_a_body_is_served_over_http11(h2: mp.MockServer) -> None:
    """RFC 9110 §7.8 lets a server ignore an Upgrade: a request with a body stays HTTP/1.1
    (its answer would start on a half-closed stream 1 before the body was read)."""
    h2.expect("POST", "/p").respond(mp.respond(200, b"posted\n"))
    done = curl("-v", "--http2", "-d", "hello", h2.url("/p"))
    assert done.stdout == "posted\n"
    assert "> Upgrade: h2c" in done.stderr and "< HTTP/1.1 200 OK" in done.stderr
    ex = h2.journal.last
    assert (ex.http_version, ex.stream_id, ex.body) == ("1.1", None, b"hello")
