"""Real clients over HTTPS: curl (--cacert), requests, httpx, aiohttp, Node's https and
``openssl s_client``, each against every certificate variant and handshake fault of
``mp.TLS``. ``OUTCOMES`` is what each client does; docs/faults.md shows the same table
("What your client does with TLS trouble")."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx
import pytest
import requests
from support.jobs_scenario import PROGRESS, expect_jobs
from support.paths import NODE_DIR, ROOT

import mockprogress as mp

NODE = shutil.which("node")
OPENSSL = shutil.which("openssl")
CURL = shutil.which("curl")
TIMEOUT = 1.0

CASES: dict[str, mp.TLS] = {
    "valid": mp.TLS(),
    "expired": mp.TLS(certificate="expired"),
    "not-yet-valid": mp.TLS(certificate="not-yet-valid"),
    "wrong-host": mp.TLS(certificate="wrong-host"),
    "untrusted": mp.TLS(certificate="untrusted"),
    "handshake stall": mp.TLS(handshake="stall"),
    "alert": mp.TLS().alert("handshake_failure"),
    "close after 100 client bytes": mp.TLS().cut(100, side="client"),
    "close after 100 server bytes": mp.TLS().cut(100, side="server"),
    "reset after 100 server bytes": mp.TLS().cut(100, side="server", how="reset"),
}

#: What each client reports, by case: pieces of its error, each found in it (or "200").
OUTCOMES: dict[str, dict[str, str]] = {
    "curl": {
        "valid": "200",
        "expired": "(60) SSL certificate problem: certificate has expired",
        "not-yet-valid": "(60) SSL certificate problem: certificate is not yet valid",
        "wrong-host": "(60) SSL: no alternative certificate subject name matches",
        "untrusted": "(60) SSL certificate problem: unable to get local issuer certificate",
        "handshake stall": "(28) Connection timed out",
        "alert": "(35)|sslv3 alert handshake failure",
        "close after 100 client bytes": "(35) OpenSSL SSL_connect: SSL_ERROR_SYSCALL",
        "close after 100 server bytes": "(35) OpenSSL SSL_connect: SSL_ERROR_SYSCALL",
        "reset after 100 server bytes": "(35) Recv failure: Connection reset by peer",
    },
    "requests": {
        "valid": "200",
        "expired": "SSLError|certificate has expired",
        "not-yet-valid": "SSLError|certificate is not yet valid",
        "wrong-host": "SSLError|IP address mismatch",
        "untrusted": "SSLError|unable to get local issuer certificate",
        "handshake stall": "ReadTimeout",
        "alert": "SSLError|sslv3 alert handshake failure",
        "close after 100 client bytes": "SSLError|EOF occurred in violation of protocol",
        "close after 100 server bytes": "SSLError|EOF occurred in violation of protocol",
        "reset after 100 server bytes": "ConnectionError|Connection reset by peer",
    },
    "httpx": {
        "valid": "200",
        "expired": "ConnectError|certificate has expired",
        "not-yet-valid": "ConnectError|certificate is not yet valid",
        "wrong-host": "ConnectError|IP address mismatch",
        "untrusted": "ConnectError|unable to get local issuer certificate",
        "handshake stall": "ConnectTimeout",
        "alert": "ConnectError|sslv3 alert handshake failure",
        "close after 100 client bytes": "ConnectError|EOF occurred in violation of protocol",
        "close after 100 server bytes": "ConnectError|EOF occurred in violation of protocol",
        "reset after 100 server bytes": "ConnectError|Connection reset by peer",
    },
    "aiohttp": {
        "valid": "200",
        "expired": "ClientConnectorCertificateError|certificate has expired",
        "not-yet-valid": "ClientConnectorCertificateError|certificate is not yet valid",
        "wrong-host": "ClientConnectorCertificateError|IP address mismatch",
        "untrusted": "ClientConnectorCertificateError|unable to get local issuer certificate",
        "handshake stall": "TimeoutError",
        "alert": "ClientConnectorSSLError|sslv3 alert handshake failure",
        "close after 100 client bytes": "ClientConnectorError",
        "close after 100 server bytes": "ClientConnectorError",
        "reset after 100 server bytes": "ClientConnectorError|Connection reset by peer",
    },
    "node": {
        "valid": "200",
        "expired": "CERT_HAS_EXPIRED",
        "not-yet-valid": "CERT_NOT_YET_VALID",
        "wrong-host": "ERR_TLS_CERT_ALTNAME_INVALID",
        "untrusted": "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
        "handshake stall": "timed out after 1000 ms",
        "alert": "EPROTO",
        "close after 100 client bytes": "ECONNRESET Client network socket disconnected before",
        "close after 100 server bytes": "ECONNRESET Client network socket disconnected before",
        # "read ECONNRESET" or "Client network socket disconnected ...", by timing.
        "reset after 100 server bytes": "ECONNRESET",
    },
    "openssl s_client": {
        "valid": "Verify return code: 0 (ok)",
        "expired": "verify error:num=10:certificate has expired",
        "not-yet-valid": "verify error:num=9:certificate is not yet valid",
        # s_client checks no host name unless asked: the certificate itself verifies.
        "wrong-host": "Verify return code: 0 (ok)",
        "untrusted": "verify error:num=20:unable to get local issuer certificate",
        "handshake stall": "timed out",
        "alert": "SSL alert number 40",
        "close after 100 client bytes": "unexpected eof while reading",
        "close after 100 server bytes": "unexpected eof while reading",
        "reset after 100 server bytes": "errno=104",
    },
}


def _error(exc: BaseException) -> str:
    """The exception's type and every message in its chain, on one line."""
    parts = [type(exc).__name__ + ":"]
    seen: BaseException | None = exc
    while seen is not None:
        parts.append(str(seen))
        seen = seen.__cause__ or seen.__context__
    return " ".join(parts)


def run_curl(srv: mp.MockServer) -> str:
    assert CURL is not None
    done = subprocess.run(
        [CURL, "-sS", "--max-time", str(TIMEOUT), "--cacert", srv.ca_file, srv.url("/")],
        capture_output=True,
        text=True,
        check=False,
    )
    return "200" if done.returncode == 0 and done.stdout == "ok" else done.stderr


def run_requests(srv: mp.MockServer) -> str:
    try:
        return str(requests.get(srv.url("/"), verify=srv.ca_file, timeout=TIMEOUT).status_code)
    except requests.RequestException as exc:
        return _error(exc)


def run_httpx(srv: mp.MockServer) -> str:
    try:
        context = srv.client_ssl_context()
        return str(httpx.get(srv.url("/"), verify=context, timeout=TIMEOUT).status_code)
    except httpx.HTTPError as exc:
        return _error(exc)


def run_aiohttp(srv: mp.MockServer) -> str:
    async def get() -> int:
        async with aiohttp.ClientSession() as session:
            timeout = aiohttp.ClientTimeout(total=TIMEOUT)
            async with session.get(
                srv.url("/"), ssl=srv.client_ssl_context(), timeout=timeout
            ) as response:
                return response.status

    try:
        return str(asyncio.run(get()))
    except (aiohttp.ClientError, TimeoutError) as exc:
        return _error(exc)


def node(srv: mp.MockServer, method: str, path: str) -> dict[str, Any]:
    assert NODE is not None
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": srv.ca_file, "MP_TIMEOUT_MS": "1000"}
    done = subprocess.run(
        [NODE, str(NODE_DIR / "information.js"), method, srv.url(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def run_node(srv: mp.MockServer) -> str:
    report = node(srv, "GET", "/")
    return report["error"] or str(report["response"]["statusCode"])


def run_s_client(srv: mp.MockServer) -> str:
    assert OPENSSL is not None
    args = [OPENSSL, "s_client", "-connect", f"127.0.0.1:{srv.port}", "-CAfile", srv.ca_file]
    try:
        done = subprocess.run(args, input="", capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return "timed out"
    return done.stdout + done.stderr


CLIENTS: dict[str, tuple[Callable[[mp.MockServer], str], str | None]] = {
    "curl": (run_curl, CURL),
    "requests": (run_requests, "python"),
    "httpx": (run_httpx, "python"),
    "aiohttp": (run_aiohttp, "python"),
    "node": (run_node, NODE),
    "openssl s_client": (run_s_client, OPENSSL),
}


@pytest.mark.parametrize("client", list(CLIENTS))
@pytest.mark.parametrize("case", list(CASES))
def test_what_each_client_does(client: str, case: str) -> None:
    run, tool = CLIENTS[client]
    if tool is None:
        pytest.fail(f"{client} is not installed: the Makefile's set-up should provide it")
    with mp.MockServer(tls=CASES[case]) as srv:
        srv.expect("GET", "/", times=None).respond(mp.respond(200, b"ok"))
        got = run(srv)
        said = " ".join(got.split())
        missing = [p for p in OUTCOMES[client][case].split("|") if p not in said]
        assert not missing, said


def test_node_https_reports_each_interim() -> None:
    with mp.MockServer(tls=True) as srv:
        expect_jobs(srv)
        report = node(srv, "POST", "/jobs")
        assert report["error"] is None
        assert [i["statusCode"] for i in report["information"]] == [102, 102, 102]
        assert [i["headers"]["progress"] for i in report["information"]] == PROGRESS
        assert report["response"]["statusCode"] == 201


def test_curl_shows_interims_over_https() -> None:
    assert CURL is not None
    with mp.MockServer(tls=True) as srv:
        expect_jobs(srv)
        done = subprocess.run(
            [CURL, "-sS", "-i", "--cacert", srv.ca_file, "-X", "POST", srv.url("/jobs")],
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.count("HTTP/1.1 102 Processing") == 3
        assert "HTTP/1.1 201 Created" in done.stdout


def test_mutual_tls_with_curl() -> None:
    assert CURL is not None
    with mp.MockServer(tls=mp.TLS(client_certificate="required")) as srv:
        srv.expect("GET", "/", times=None).respond(mp.respond(200, b"hello, client"))
        cert, key = srv.client_certificate_files("curl-user")
        ok = subprocess.run(
            [CURL, "-sS", "--cacert", srv.ca_file, "--cert", cert, "--key", key, srv.url("/")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert ok.stdout == "hello, client", ok.stderr
        tls = srv.journal.last.tls
        assert tls is not None and tls.peer_subject is not None
        assert tls.peer_subject.endswith("commonName=curl-user")
        refused = subprocess.run(
            [CURL, "-sS", "--cacert", srv.ca_file, srv.url("/")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert refused.returncode != 0


# ---- everything that works over TCP works over TLS ---------------------------------------------


def curl_https(srv: mp.MockServer) -> list[str]:
    assert CURL is not None
    return [CURL, "-sS", "-i", "--cacert", srv.ca_file]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_aiohttp_websocket_over_wss() -> None:
    async with mp.MockServer(tls=True) as srv:
        srv.expect("GET", "/ws").respond(mp.upgrade_websocket(echo=True))
        url = srv.url("/ws").replace("https://", "wss://")
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url, ssl=srv.client_ssl_context()) as ws,
        ):
            await ws.send_str("over TLS")
            assert await ws.receive_str() == "over TLS"
            await ws.close()
        frames = srv.journal.last.frames
        assert ("in", "text", "over TLS") in [(f.direction, f.kind, f.data) for f in frames]


def test_curl_expect_continue_over_https() -> None:
    assert CURL is not None
    with mp.MockServer(tls=True) as srv:
        srv.expect("PUT", "/up", expect_continue="immediate").respond(mp.respond(201, b"stored"))
        args = ["-X", "PUT", "-H", "Expect: 100-continue", "--data-binary", "x" * 5000]
        done = subprocess.run(
            [*curl_https(srv), *args, srv.url("/up")],
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.startswith("HTTP/1.1 100 Continue")
        assert done.stdout.endswith("stored")
        assert srv.journal.last.body == b"x" * 5000


def test_curl_long_running_operation_over_https() -> None:
    assert CURL is not None
    with mp.MockServer(tls=True) as srv:
        srv.mount(
            mp.ProgressJob(
                "/jobs", stages=[("one", 0.02), ("two", 0.02)], result=mp.respond(201, b"done")
            )
        )
        done = subprocess.run(
            [*curl_https(srv), "-X", "POST", "-H", "Prefer: processing", srv.url("/jobs")],
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout.count("HTTP/1.1 102 Processing") == 2
        assert done.stdout.endswith("done")


def test_tuspy_upload_over_https_resumes_after_a_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    from tusclient import client as tus_client

    with mp.MockServer(tls=True) as srv:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", srv.ca_file)
        data = os.urandom(100_000)
        files = srv.mount(mp.TusUploads("/files", interrupts=[mp.interrupt(after=12_345)]))
        uploader = tus_client.TusClient(srv.url("/files")).uploader(
            file_stream=io.BytesIO(data), retries=2, retry_delay=0
        )
        uploader.upload()
        [upload] = files.uploads.values()
        assert upload.complete and upload.data == data
        cut = [ex.fault for ex in srv.journal if ex.fault is not None]
        assert [f.body_bytes for f in cut] == [12_345]


def outcome_table() -> str:
    """``OUTCOMES`` as the Markdown table docs/faults.md shows."""
    clients = list(OUTCOMES)
    lines = ["| | " + " | ".join(clients) + " |", "|---|" + "---|" * len(clients)]
    for case in CASES:
        cells = [f"`{OUTCOMES[c][case].replace('|', ' … ')}`" for c in clients]
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def test_docs_faults_shows_what_each_client_does() -> None:
    """docs/faults.md's table is this file's ``OUTCOMES``, which the tests above check."""
    page = (ROOT / "docs" / "faults.md").read_text()
    assert outcome_table() in page


# ---- the end of a TLS stream -------------------------------------------------------------------

UNFRAMED = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\npartial"


@pytest.mark.parametrize("close_notify", [True, False])
def test_no_client_tells_a_truncated_unframed_body(close_notify: bool) -> None:
    """A body without Content-Length or chunking ends with the connection; over TLS only the
    close_notify tells a complete body from a truncated one (RFC 8446 §6.1). Measured: curl,
    requests, httpx, aiohttp and Node's https all take the 7 bytes as the whole body either
    way (tests/server/test_tls.py proves the server leaves the alert out)."""
    with mp.MockServer(tls=True) as srv:
        srv.expect("GET", "/", times=None).respond(
            mp.raw(UNFRAMED), mp.drop(close_notify=close_notify)
        )
        assert run_curl_body(srv) == (0, "partial")
        assert requests.get(srv.url("/"), verify=srv.ca_file, timeout=5).text == "partial"
        assert httpx.get(srv.url("/"), verify=srv.client_ssl_context()).text == "partial"
        assert run_aiohttp_body(srv) == "partial"
        report = node(srv, "GET", "/")
        assert report["error"] is None
        assert (report["response"]["body"], report["response"]["complete"]) == ("partial", True)
        ended = [ex.fault.detail for ex in srv.journal if ex.fault is not None]
        assert len(ended) == 5
        assert all(d.endswith("no close_notify over TLS") is not close_notify for d in ended)


def run_curl_body(srv: mp.MockServer) -> tuple[int, str]:
    assert CURL is not None
    done = subprocess.run(
        [CURL, "-sS", "--cacert", srv.ca_file, srv.url("/")],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stdout


def run_aiohttp_body(srv: mp.MockServer) -> str:
    async def get() -> str:
        async with (
            aiohttp.ClientSession() as session,
            session.get(srv.url("/"), ssl=srv.client_ssl_context()) as response,
        ):
            return await response.text()

    return asyncio.run(get())
