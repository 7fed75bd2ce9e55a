"""The control API's guards against web pages: what a page in a browser on the same machine can
send (a CORS "simple" request, an HTML form, a request after DNS rebinding) is refused, on the
head, before any body is read or any ``100 Continue`` goes out.

The requests are the browser's, made with httpx, http.client, curl and raw sockets: the
``Origin``, ``Host`` and ``Content-Type`` a page would send.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.raw_client import exchange
from support.sansio import Wire, parse_responses
from support.standalone import Standalone

import mockprogress as mp
from mockprogress.resources.control_api import ControlAPI
from mockprogress.scenario.document import parse_document

P = "/__mockprogress/"
EXPECT = {"expect": [{"path": "/hello", "steps": [{"respond": {"body": "hi\n"}}]}]}
ATTACKER = "http://attacker.example"


@pytest.fixture
def srv() -> Iterator[mp.MockServer]:
    with mp.MockServer() as server:
        server.enable_control_api(allowed_hosts=["mock.test", ".dev.test"])
        yield server


def expectations(srv: mp.MockServer) -> list[Any]:
    return srv._call(lambda: list(srv._state.registry.expectations))


def control_bodies(srv: mp.MockServer) -> list[int]:
    """The body sizes the control log keeps."""
    return srv._call(lambda: [len(log.body) for log in srv._state.reserved_logs])


# ---- a page on another site --------------------------------------------------------------------


def test_a_cross_site_simple_request_is_refused(srv: mp.MockServer, tmp_path: Path) -> None:
    """fetch(url, {method: 'POST', mode: 'no-cors', body: '{...}'}): text/plain, no preflight."""
    store = tmp_path / "planted"
    base = f"http://127.0.0.1:{srv.port}"
    with httpx.Client(base_url=base) as client:
        browser = {"Origin": ATTACKER, "Content-Type": "text/plain;charset=UTF-8"}
        added = client.post(P + "expectations", content=json.dumps(EXPECT), headers=browser)
        mounted = client.post(
            P + "resources",
            content=json.dumps({"tus_uploads": [{"path": "/t", "store_dir": str(store)}]}),
            headers=browser,
        )
        # Even with the right content type (a preflighted request the browser would not
        # send on without CORS headers), and on reads and deletes: another origin is refused.
        typed = client.post(
            P + "expectations",
            content=json.dumps(EXPECT),
            headers={"Origin": ATTACKER, "Content-Type": "application/json"},
        )
        read = client.get(P + "journal", headers={"Origin": ATTACKER})
        cleared = client.delete(P + "journal", headers={"Origin": "null"})
        reset = client.post(P + "reset", headers={"Origin": ATTACKER})
    for reply in (added, mounted, typed, read, cleared, reset):
        assert reply.status_code == 403, reply.text
        assert reply.headers["content-type"] == "application/json"
        assert "web page cannot script this server" in reply.json()["error"]
    assert "Access-Control-Allow-Origin" not in added.headers
    assert expectations(srv) == []
    assert srv._call(lambda: list(srv._state.resources)) == []
    assert not store.exists()
    assert control_bodies(srv) == [0] * 6  # nothing of the refused bodies was read


def test_an_html_form_with_enctype_text_plain_is_refused(srv: mp.MockServer) -> None:
    """<form method=post enctype=text/plain><input name='{"expect": [...], "x": "' value='"}'>
    posts a body that parses as JSON; the same without an Origin (an older browser, a
    privacy extension) is refused by its content type: 415."""
    body = json.dumps(EXPECT)[:-1] + ', "x": "=' + '"}'
    json.loads(body)  # the form's body is a JSON document
    base = f"http://127.0.0.1:{srv.port}"
    form = {"Content-Type": "text/plain"}
    with httpx.Client(base_url=base) as client:
        with_origin = client.post(
            P + "expectations", content=body, headers={**form, "Origin": ATTACKER}
        )
        without = client.post(P + "expectations", content=body, headers=form)
        urlencoded = client.post(P + "expectations", data={"expect": "x"})
        bare = client.put(P + "expectations/1", content=body)
    assert with_origin.status_code == 403
    for reply in (without, urlencoded, bare):
        assert reply.status_code == 415, reply.text
        assert reply.headers["Accept-Post"] == "application/json, application/toml"
        assert "application/json or application/toml" in reply.json()["error"]
        assert reply.headers["Connection"] == "close"  # the body was never read
    assert expectations(srv) == []
    assert control_bodies(srv) == [0] * 4


def test_curl_as_a_browser(srv: mp.MockServer) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    url = f"http://127.0.0.1:{srv.port}{P}expectations"
    common = [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", url]
    as_page = [
        *common,
        *("-H", f"Origin: {ATTACKER}", "-H", "Content-Type: text/plain"),
        *("--data-binary", json.dumps(EXPECT)),
    ]
    as_tool = [*common, "-H", "Content-Type: application/json", "--data-binary", json.dumps(EXPECT)]
    assert subprocess.run(as_page, capture_output=True, text=True, timeout=10).stdout == "403"
    assert expectations(srv) == []
    assert subprocess.run(as_tool, capture_output=True, text=True, timeout=10).stdout == "201"
    assert len(expectations(srv)) == 1


# ---- DNS rebinding: Host -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("attacker.example", 403),
        ("attacker.example:{port}", 403),
        ("127.0.0.1.attacker.example:{port}", 403),
        ("localhost.attacker.example", 403),
        ("mock.test.attacker.example", 403),
        ("h", 403),
        ("user@127.0.0.1:{port}", 403),
        ("127.0.0.1:{port}", 200),
        ("127.0.0.1", 200),
        ("LOCALHOST:{port}", 200),
        ("app.localhost:{port}", 200),
        ("[::1]:{port}", 200),
        ("10.1.2.3:{port}", 200),  # an address: a page cannot rebind one
        ("mock.test:{port}", 200),
        ("dev.test", 200),
        ("api.dev.test:{port}", 200),
    ],
)
def test_host_after_dns_rebinding(srv: mp.MockServer, host: str, status: int) -> None:
    """A page at http://attacker.example:PORT whose name now resolves to 127.0.0.1 reads the
    journal as same-origin: its requests carry Host: attacker.example:PORT."""
    reply = exchange(
        srv.port,
        f"GET {P}journal HTTP/1.1\r\nHost: {host.format(port=srv.port)}\r\nConnection: close\r\n\r\n".encode(),
        timeout=2,
    )
    head = reply.data.split(b"\r\n", 1)[0]
    assert head.startswith(f"HTTP/1.1 {status} ".encode()), reply.data[:300]
    if status == 403:
        assert b"exchanges" not in reply.data
        assert b"--allowed-host" in reply.data


def test_host_guards_every_route_and_an_absolute_target_counts(srv: mp.MockServer) -> None:
    port = srv.port
    for method, route in [
        ("GET", ""),
        ("GET", "expectations"),
        ("GET", "problems"),
        ("DELETE", "journal"),
        ("POST", "reset"),
        ("GET", "nowhere"),
    ]:
        data = f"{method} {P}{route} HTTP/1.1\r\nHost: evil.test:{port}\r\nConnection: close\r\n\r\n".encode()
        assert exchange(port, data, timeout=2).data.startswith(b"HTTP/1.1 403 "), route
    # The authority of an absolute-form target overrides Host (RFC 9112 §3.2.2).
    absolute = f"GET http://evil.test:{port}{P}journal HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    assert exchange(port, absolute.encode(), timeout=2).data.startswith(b"HTTP/1.1 403 ")
    fine = f"GET http://127.0.0.1:{port}{P}journal HTTP/1.1\r\nHost: evil.test\r\nConnection: close\r\n\r\n"
    assert exchange(port, fine.encode(), timeout=2).data.startswith(b"HTTP/1.1 200 ")


def test_an_http10_request_without_host_is_served() -> None:
    wire = Wire()
    wire.state.mount(ControlAPI(parse=parse_document))
    out = wire.run([f"GET {P}expectations HTTP/1.0\r\n\r\n".encode()])
    assert parse_responses(out)[0].status_code == 200


# ---- the server's own origin ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "origin", "status"),
    [
        ("127.0.0.1:{port}", "http://127.0.0.1:{port}", 201),
        ("localhost:{port}", "http://localhost:{port}", 201),
        ("LocalHost:{port}", "http://localhost:{port}", 201),
        ("mock.test:{port}", "http://mock.test:{port}", 201),
        ("localhost:{port}", "http://127.0.0.1:{port}", 403),  # another origin of the same box
        ("127.0.0.1:{port}", "https://127.0.0.1:{port}", 403),
        ("127.0.0.1:{port}", "http://127.0.0.1:1", 403),
        ("127.0.0.1:{port}", "http://127.0.0.1", 403),
        ("127.0.0.1:{port}", "null", 403),
        ("127.0.0.1:{port}", "http://127.0.0.1:{port}/path", 403),
    ],
)
def test_only_the_servers_own_origin(
    srv: mp.MockServer, host: str, origin: str, status: int
) -> None:
    port = srv.port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(
            "POST",
            P + "expectations",
            body=json.dumps(EXPECT).encode(),
            headers={
                "Host": host.format(port=port),
                "Origin": origin.format(port=port),
                "Content-Type": "application/json",
            },
        )
        response = conn.getresponse()
        assert response.status == status, response.read()
    finally:
        conn.close()


def test_two_origin_fields_are_refused(srv: mp.MockServer) -> None:
    own = f"http://127.0.0.1:{srv.port}"
    data = f"GET {P} HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nOrigin: {own}\r\nOrigin: {own}\r\nConnection: close\r\n\r\n"
    assert exchange(srv.port, data.encode(), timeout=2).data.startswith(b"HTTP/1.1 403 ")


def test_over_https_the_own_origin_is_https() -> None:
    with mp.MockServer(tls=True) as srv:
        srv.enable_control_api()
        context = srv.client_ssl_context()

        def post(origin: str) -> int:
            conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=context, timeout=10)
            try:
                conn.request(
                    "POST",
                    P + "expectations",
                    body=json.dumps(EXPECT).encode(),
                    headers={"Origin": origin, "Content-Type": "application/json"},
                )
                response = conn.getresponse()
                response.read()
                return response.status
            finally:
                conn.close()

        assert post(f"http://127.0.0.1:{srv.port}") == 403
        assert post(f"https://attacker.example:{srv.port}") == 403
        assert post(f"https://127.0.0.1:{srv.port}") == 201


# ---- decided on the head ----------------------------------------------------------------------

HUGE = 50_000_000


def _head(method: str, route: str, port: int, *extra: str, length: int = HUGE) -> bytes:
    lines = [
        f"{method} {P}{route} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        f"Content-Length: {length}",
        "Expect: 100-continue",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@pytest.mark.parametrize(
    ("extra", "status"),
    [
        ((), 401),
        (("Authorization: Bearer wrong", "Content-Type: application/json"), 401),
        (("Authorization: Bearer s3cret", "Origin: http://attacker.example"), 403),
        (("Authorization: Bearer s3cret", "Content-Type: text/plain"), 415),
        (("Authorization: Bearer s3cret", "X-Host: x", "Content-Type: multipart/form-data"), 415),
    ],
)
def test_a_refusal_comes_before_100_continue_and_reads_no_body(
    extra: tuple[str, ...], status: int
) -> None:
    """An unauthenticated POST announcing 50 MB got 100 Continue, and its body was read,
    spooled and kept. Now the answer comes first, the connection ends after it, and the
    control log keeps the head only."""
    with mp.MockServer() as srv:
        srv.enable_control_api(token="s3cret")
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(_head("POST", "expectations", srv.port, *extra))
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                assert chunk, data
                data += chunk
            assert data.startswith(f"HTTP/1.1 {status} ".encode()), data
            assert b"100 Continue" not in data
            assert b"connection: close" in data.lower()
            # The client sends some of the body anyway; the server reads none of it.
            try:
                sock.sendall(b"x" * 65536)
            except OSError:
                pass
            sock.settimeout(5)
            rest = b""
            try:
                while chunk := sock.recv(65536):
                    rest += chunk
            except ConnectionResetError:
                pass
            assert b"HTTP/1.1" not in rest  # one answer, then the end
        ended = srv._call(lambda: [log.ended is not None for log in srv._state.reserved_logs])
        assert ended == [True]
        assert control_bodies(srv) == [0]
        assert expectations(srv) == []


def test_an_authorized_document_still_gets_its_100_continue() -> None:
    with mp.MockServer() as srv:
        srv.enable_control_api(token="s3cret")
        body = json.dumps(EXPECT).encode()
        head = _head(
            "POST",
            "expectations",
            srv.port,
            "Authorization: Bearer s3cret",
            "Content-Type: application/json",
            length=len(body),
        )
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(head)
            data = b""
            while b"\r\n\r\n" not in data:
                data += sock.recv(65536)
            assert data.startswith(b"HTTP/1.1 100 Continue\r\n"), data
            sock.sendall(body)
            while b"201 Created" not in data:
                data += sock.recv(65536)
        assert len(expectations(srv)) == 1


def test_reset_and_delete_journal_clear_the_control_log(srv: mp.MockServer) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{srv.port}") as client:
        for _ in range(3):
            client.post(P + "expectations", json=EXPECT)
        assert len(control_bodies(srv)) == 3 and all(control_bodies(srv))
        assert client.delete(P + "journal").status_code == 200
        assert control_bodies(srv) == []
        client.post(P + "expectations", json=EXPECT)
        assert client.post(P + "reset").status_code == 200
        assert control_bodies(srv) == []


# ---- the option ---------------------------------------------------------------------------------


def test_allowed_host_option_of_serve() -> None:
    with Standalone("--empty", "--allowed-host", "mock.test", "--allowed-host", ".lan") as served:
        port = int(served.url.rsplit(":", 1)[1])

        def status(host: str) -> int:
            data = f"GET {P}journal HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
            return int(exchange(port, data, timeout=5).data.split(b" ", 2)[1])

        assert status(f"mock.test:{port}") == 200
        assert status(f"box.lan:{port}") == 200
        assert status(f"attacker.example:{port}") == 403
        assert status(f"localhost:{port}") == 200
        assert served.stop() == 0


def test_allowed_hosts_are_validated() -> None:
    with pytest.raises(mp.ScenarioError, match="an allowed host is a name"):
        ControlAPI(allowed_hosts=["two words"], parse=parse_document)
    with pytest.raises(mp.ScenarioError, match="an allowed host is a name"):
        ControlAPI(allowed_hosts=["evil.test:80"], parse=parse_document)
    assert ControlAPI(allowed_hosts=["Mock.Test"], parse=parse_document).allowed_hosts == (
        "mock.test",
    )
