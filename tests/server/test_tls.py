"""HTTPS on the server: the journal's TLS record, handshake faults at exact bytes, certificate
variants, and the same behaviour in thread and in-loop modes, asyncio and trio. Our own clients
here (Python's ssl); real clients are in tests/clients/test_clients_tls.py. The exactness
sweeps (cuts, stalls and drips at every offset, counted in plaintext bytes) run over TLS in
tests/server/test_faults_exact.py."""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from support.raw_client import Received, exchange, get, post

import mockprogress as mp
from mockprogress.engine.journal_json import exchange_from_json, exchange_to_json

BODY = (bytes(range(256)) * 4)[:600]
HEAD_LEN = len(b"HTTP/1.1 200 OK\r\nContent-Length: 600\r\n\r\n")


@pytest.fixture(scope="module")
def server() -> Iterator[mp.MockServer]:
    with mp.MockServer(tls=True) as srv:
        yield srv


@pytest.fixture
def srv(server: mp.MockServer) -> Iterator[mp.MockServer]:
    try:
        yield server
        server.check()
    finally:
        server.reset()


def test_url_ca_file_and_client_context(srv: mp.MockServer) -> None:
    assert srv.url("/x").startswith("https://127.0.0.1:")
    with open(srv.ca_file, "rb") as f:
        assert f.read().startswith(b"-----BEGIN CERTIFICATE-----")
    context = srv.client_ssl_context()
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    srv.expect("GET", "/x").respond(mp.respond(200, b"over TLS"))
    got = exchange(srv.port, get("/x", "Connection: close\r\n"), tls=context)
    assert got.data.endswith(b"\r\n\r\nover TLS") and got.end == "eof"


def test_every_server_shares_one_ca() -> None:
    with mp.MockServer(tls=True) as a, mp.MockServer(tls=mp.TLS(certificate="expired")) as b:
        assert a.ca_file == b.ca_file


def test_read_body_upto_counts_plaintext_bytes(srv: mp.MockServer) -> None:
    body = bytes(range(200)) * 50
    for upto in (0, 1, 4095, 4096, 9999):
        srv.expect("POST", f"/up{upto}").respond(mp.read_body(upto=upto), mp.drop("reset"))
        got = exchange(srv.port, post(f"/up{upto}", body), tls=srv.client_ssl_context())
        assert got.end == "reset"
        assert srv.journal.last.body == body[:upto]


def test_journal_records_the_tls_session(srv: mp.MockServer) -> None:
    srv.expect("GET", "/").respond(mp.respond(200))
    context = srv.client_ssl_context()
    context.set_alpn_protocols(["http/1.1"])
    with socket.create_connection(("127.0.0.1", srv.port)) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(get("/", "Connection: close\r\n"))
            while tls.recv(4096):
                pass
    record = srv.journal.last.tls
    assert record is not None
    assert record.version == "TLSv1.3"
    assert record.cipher
    assert record.server_name == "localhost"
    assert record.alpn == "http/1.1"
    assert record.peer_subject is None


def test_plain_tcp_exchanges_have_no_tls_record() -> None:
    with mp.MockServer() as plain:
        plain.expect("GET", "/").respond(mp.respond(200))
        exchange(plain.port, get("/", "Connection: close\r\n"))
        assert plain.journal.last.tls is None


def test_interims_go_over_tls(srv: mp.MockServer) -> None:
    srv.expect("POST", "/jobs").respond(
        mp.processing((0, 2, "a")), mp.early_hints("</s.css>; rel=preload"), mp.respond(201)
    )
    got = exchange(srv.port, post("/jobs", b"x"), tls=srv.client_ssl_context())
    assert got.data.startswith(
        b'HTTP/1.1 102 Processing\r\nProgress: 0/2 "a"\r\n\r\n'
        b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 201 Created\r\n"
    )


def _journaled(srv: mp.MockServer, count: int = 1) -> mp.Exchange:
    """The server's last exchange, once it has journaled ``count``: a refused handshake is
    journaled just after the alert the client fails on."""
    deadline = time.monotonic() + 5
    while len(srv.journal) < count and time.monotonic() < deadline:
        time.sleep(0.01)
    return srv.journal.last


def test_maximum_version_and_mutual_tls() -> None:
    spec = mp.TLS(maximum_version="1.2", client_certificate="required")
    with mp.MockServer(tls=spec) as srv:
        srv.expect("GET", "/").respond(mp.respond(200, b"hi"))
        context = srv.client_ssl_context(certificate="alice")
        got = exchange(srv.port, get("/", "Connection: close\r\n"), tls=context)
        assert got.data.endswith(b"hi")
        record = srv.journal.last.tls
        assert record is not None
        assert record.version == "TLSv1.2"
        assert record.peer_subject == (
            "organizationName=mockprogress, organizationalUnitName=client certificate, "
            "commonName=alice"
        )
        # The JSON journal (control API, --journal) keeps the whole record.
        as_json = exchange_to_json(srv.journal.last)
        assert as_json["tls"]["peer_subject"] == record.peer_subject
        assert exchange_from_json(json.loads(json.dumps(as_json))).tls == record
        # Without a client certificate the handshake fails, and the journal says why.
        with pytest.raises(ssl.SSLError):
            exchange(srv.port, get("/"), tls=srv.client_ssl_context())
        failed = _journaled(srv, 2)
        assert failed.method == "" and failed.response is None
        assert any("TLS handshake failed" in e.detail for e in failed.events)


def test_minimum_version_refuses_an_older_client() -> None:
    """A client that stops below ``minimum_version`` gets a protocol_version alert and no
    session; the journal records the refused handshake. A client that can go higher is served."""
    with mp.MockServer(tls=mp.TLS(minimum_version="1.3")) as srv:
        old = srv.client_ssl_context()
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(ssl.SSLError, match="alert protocol version"):
            exchange(srv.port, get("/"), tls=old)
        refused = _journaled(srv)
        assert refused.method == "" and refused.response is None and refused.tls is None
        assert refused.fault is None  # the client's version, not a scripted fault
        assert refused.bytes_sent == 7  # one alert record in the clear, nothing else
        details = [e.detail for e in refused.events]
        assert "TLS handshake failed: unsupported_protocol" in details
        srv.expect("GET", "/").respond(mp.respond(200, b"hi"))
        got = exchange(srv.port, get("/", "Connection: close\r\n"), tls=srv.client_ssl_context())
        assert got.data.endswith(b"hi")
        record = srv.journal.last.tls
        assert record is not None and record.version == "TLSv1.3"


def test_an_optional_client_certificate() -> None:
    """``client_certificate="optional"``: a client without a certificate is served; one that
    presents a certificate from the CA is served too, and its subject is in the journal."""
    with mp.MockServer(tls=mp.TLS(client_certificate="optional")) as srv:
        srv.expect("GET", "/", times=2).respond(mp.respond(200, b"hi"))
        request = get("/", "Connection: close\r\n")
        for certificate, subject in [(None, None), ("bob", "commonName=bob")]:
            context = srv.client_ssl_context(certificate=certificate)
            assert exchange(srv.port, request, tls=context).data.endswith(b"hi")
            record = srv.journal.last.tls
            assert record is not None
            if subject is None:
                assert record.peer_subject is None
            else:
                assert record.peer_subject is not None and record.peer_subject.endswith(subject)


@pytest.mark.parametrize(
    ("offered", "chosen"),
    [
        (["x-two", "x-one"], "x-one"),  # the server's order decides
        (["x-two"], "x-two"),
        # Nothing in common: Python's ssl goes on without ALPN (RFC 7301 §3.2 would have the
        # server refuse with no_application_protocol: script that with .alert()); HTTP/1.1
        # is served and the journal records no protocol.
        (["http/1.1"], None),
    ],
)
def test_a_custom_alpn_list(offered: list[str], chosen: str | None) -> None:
    with mp.MockServer(tls=mp.TLS(alpn=["x-one", "x-two"])) as srv:
        srv.expect("GET", "/").respond(mp.respond(200, b"hi"))
        context = srv.client_ssl_context()
        context.set_alpn_protocols(offered)
        got = exchange(srv.port, get("/", "Connection: close\r\n"), tls=context)
        assert got.data.endswith(b"hi")
        record = srv.journal.last.tls
        assert record is not None and record.alpn == chosen


@pytest.mark.parametrize(
    ("variant", "error"),
    [
        ("expired", "certificate has expired"),
        ("not-yet-valid", "certificate is not yet valid"),
        ("wrong-host", "IP address mismatch"),
        ("untrusted", "unable to get local issuer certificate"),
    ],
)
def test_certificate_variants_fail_verification(variant: str, error: str) -> None:
    with mp.MockServer(tls=mp.TLS(certificate=variant)) as srv:  # type: ignore[arg-type]
        with pytest.raises(ssl.SSLCertVerificationError, match=error):
            exchange(srv.port, get("/"), tls=srv.client_ssl_context())
        assert any("TLS handshake failed" in e.detail for e in _journaled(srv).events)


def _handshake_bytes(port: int, timeout: float = 1.0) -> tuple[bytes, str]:
    """A TLS client's view of a handshake fault: what came back, and how it ended ("silent":
    nothing more for ``timeout`` seconds)."""
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    received = bytearray()
    try:  # a reset right after the accept can beat connect() or the ClientHello
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(outgoing.read())
            while chunk := sock.recv(65536):
                received += chunk
    except ConnectionResetError:
        return bytes(received), "reset"
    except TimeoutError:
        return bytes(received), "silent"
    return bytes(received), "eof"


@pytest.mark.parametrize("how", ["close", "reset"])
@pytest.mark.parametrize("at", [0, 1, 5, 100, 700])
def test_handshake_cut_after_n_server_bytes(how: str, at: int) -> None:
    with mp.MockServer(tls=mp.TLS().cut(at, side="server", how=how)) as srv:  # type: ignore[arg-type]
        data, end = _handshake_bytes(srv.port)
        assert (len(data), end) == (at, "eof" if how == "close" else "reset")
        fault = srv.journal.last.fault
        assert fault is not None
        assert (fault.kind, fault.side, fault.wire_bytes) == (how, "handshake", at)


@pytest.mark.parametrize("how", ["close", "reset"])
@pytest.mark.parametrize("at", [0, 1, 5, 100])
def test_handshake_cut_after_n_client_bytes(how: str, at: int) -> None:
    with mp.MockServer(tls=mp.TLS().cut(at, side="client", how=how)) as srv:  # type: ignore[arg-type]
        data, end = _handshake_bytes(srv.port)
        assert (data, end) == (b"", "eof" if how == "close" else "reset")
        fault = srv.journal.last.fault
        assert fault is not None
        assert (fault.kind, fault.side, fault.bytes_received, fault.wire_bytes) == (
            how,
            "handshake",
            at,
            0,
        )


@pytest.mark.parametrize(
    ("side", "seconds", "end"),
    [("client", None, "silent"), ("server", None, "silent"), ("server", 0.1, "eof")],
)
def test_handshake_cut_with_a_stall(side: str, seconds: float | None, end: str) -> None:
    """``how="stall"``: exactly ``at`` bytes of the handshake, then silence with the connection
    open (for ``seconds``, then a FIN); the journal says where, and for how long once."""
    spec = mp.TLS().cut(100, side=side, how="stall", seconds=seconds)  # type: ignore[arg-type]
    with mp.MockServer(tls=spec) as srv:
        data, got_end = _handshake_bytes(srv.port, timeout=0.3 if seconds is None else 5)
        sent = 100 if side == "server" else 0
        assert (len(data), got_end) == (sent, end)
        fault = srv.journal.last.fault
        assert fault is not None
        assert (fault.kind, fault.side, fault.wire_bytes) == ("stall", "handshake", sent)
        if side == "client":
            assert fault.bytes_received == 100
        where = "written of the server's" if side == "server" else "read of the client's"
        timed = "" if seconds is None else f", for {seconds:g} s"
        assert fault.detail == f"TLS stall after 100 bytes {where} handshake{timed}"


def test_handshake_stall_and_alert() -> None:
    with mp.MockServer(tls=mp.TLS(handshake="stall")) as srv:
        assert _handshake_bytes(srv.port) == (b"", "silent")
    with mp.MockServer(tls=mp.TLS().alert("protocol_version")) as srv:
        assert _handshake_bytes(srv.port) == (b"\x15\x03\x03\x00\x02\x02\x46", "eof")


def test_tls_spec_mistakes_fail_where_written() -> None:
    with pytest.raises(mp.ScenarioError, match="certificate must be one of"):
        mp.TLS(certificate="self-signed")  # type: ignore[arg-type]
    with pytest.raises(mp.ScenarioError, match="side must be 'client' or 'server'"):
        mp.TLS().cut(10, side="both")  # type: ignore[arg-type]
    with pytest.raises(mp.ScenarioError, match="unknown TLS alert"):
        mp.TLS().alert("teapot")
    with pytest.raises(mp.ScenarioError, match=r"tls must be True, False or mp\.TLS"):
        mp.MockServer(tls="yes")  # type: ignore[arg-type]
    # ALPN names are 1 to 255 bytes (RFC 7301 §3.1), ASCII for Python's ssl: a name it would
    # refuse fails here, not later in MockServer() with an error of ssl's.
    for alpn in ("h2", ["h2", ""], [b"h2"], None, ["x" * 256], ["h\u00e9"]):
        with pytest.raises(mp.ScenarioError, match="TLS alpn must be a list of protocol names"):
            mp.TLS(alpn=alpn)  # type: ignore[arg-type]
    assert mp.TLS(alpn=("x" * 255,)).alpn == ("x" * 255,)
    with pytest.raises(mp.ScenarioError, match="client_certificate must be None, 'optional'"):
        mp.TLS(client_certificate="sometimes")  # type: ignore[arg-type]
    with pytest.raises(mp.ScenarioError, match=r"minimum_version must be '1\.2' or '1\.3'"):
        mp.TLS(minimum_version="1.1")  # type: ignore[arg-type]
    with pytest.raises(mp.ScenarioError, match="minimum_version is above maximum_version"):
        mp.TLS(minimum_version="1.3", maximum_version="1.2")
    with pytest.raises(mp.ScenarioError, match="handshake must be 'stall', 'alert' or a fault"):
        mp.TLS(handshake="hang")  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_in_loop_mode_serves_tls(anyio_backend: str) -> None:
    async with mp.MockServer(tls=True) as srv:
        srv.expect("GET", "/").respond(mp.processing((0, 1)), mp.respond(200, b"in loop"))
        context = srv.client_ssl_context()
        stream = await anyio.connect_tcp(
            "127.0.0.1", srv.port, ssl_context=context, tls_standard_compatible=False
        )
        async with stream:
            await stream.send(get("/", "Connection: close\r\n"))
            data = b""
            with anyio.fail_after(5):
                try:
                    while True:
                        data += await stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError):
                    pass
        assert data.startswith(b"HTTP/1.1 102 Processing") and data.endswith(b"in loop")


def test_thread_mode_on_trio() -> None:
    with mp.MockServer(tls=True, backend="trio") as srv:
        srv.expect("GET", "/").respond(mp.respond(200, b"trio"))
        got = exchange(srv.port, get("/", "Connection: close\r\n"), tls=srv.client_ssl_context())
        assert got.data.endswith(b"trio") and got.end == "eof"


# ---- the end of a TLS stream -------------------------------------------------------------------


@pytest.mark.parametrize(("close_notify", "end"), [(True, "eof"), (False, "truncated")])
def test_cut_with_and_without_close_notify(
    srv: mp.MockServer, close_notify: bool, end: str
) -> None:
    srv.expect("GET", "/").respond(mp.respond(200, BODY).cut(123, close_notify=close_notify))
    got = exchange(srv.port, get("/"), tls=srv.client_ssl_context())
    assert (got.data[HEAD_LEN:], got.end) == (BODY[:123], end)
    fault = srv.journal.last.fault
    assert fault is not None and fault.body_bytes == 123
    assert fault.detail.endswith("no close_notify over TLS") is not close_notify


def test_an_unframed_body_ended_without_close_notify(srv: mp.MockServer) -> None:
    """No Content-Length: only the close_notify tells a complete body from a truncated one."""
    head = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
    srv.expect("GET", "/").respond(mp.raw(head + b"partial"), mp.drop(close_notify=False))
    got = exchange(srv.port, get("/"), tls=srv.client_ssl_context())
    assert (got.data, got.end) == (head + b"partial", "truncated")


def _records(port: int, context: ssl.SSLContext, request: bytes) -> tuple[bytes, str]:
    """Every ciphertext byte after the handshake, and how the TCP stream ended."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        obj = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
        while True:
            try:
                obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(outgoing.read())
                incoming.write(sock.recv(65536))
        obj.write(request)
        sock.sendall(outgoing.read())
        raw = bytearray(incoming.read())  # what came with the handshake's last flight
        try:
            while chunk := sock.recv(65536):
                raw += chunk
        except ConnectionResetError:
            return bytes(raw), "reset"
        return bytes(raw), "eof"


def _whole_records(raw: bytes) -> tuple[int, int]:
    """(whole records, bytes of a record cut short at the end)."""
    at = count = 0
    while at + 5 <= len(raw):
        length = int.from_bytes(raw[at + 3 : at + 5], "big")
        if at + 5 + length > len(raw):
            break
        at += 5 + length
        count += 1
    return count, len(raw) - at


@pytest.mark.parametrize(("split", "partial"), [(False, False), (True, True)])
def test_reset_in_the_middle_of_a_record(srv: mp.MockServer, split: bool, partial: bool) -> None:
    srv.expect("GET", "/", times=None).respond(
        mp.respond(200, BODY).cut(300, how="reset", split_record=split)
    )
    got = exchange(srv.port, get("/"), tls=srv.client_ssl_context())
    assert (got.data[HEAD_LEN:], got.end) == (BODY[:300], "reset")
    raw, end = _records(srv.port, srv.client_ssl_context(), get("/"))
    whole, left = _whole_records(raw)
    assert end == "reset" and whole >= 1
    assert (left > 0) is partial


def test_tls_endings_are_checked_where_written() -> None:
    with pytest.raises(
        mp.ScenarioError, match=r"cut\(close_notify=False\) applies to how='close' or 'stall'"
    ):
        mp.respond(200, b"x").cut(0, how="reset", close_notify=False)
    with pytest.raises(mp.ScenarioError, match=r"split_record=True\) only applies to how='reset'"):
        mp.respond(200, b"x").cut(0, split_record=True)


def test_scenario_files_spell_the_tls_endings(tmp_path: Path) -> None:
    scenario = tmp_path / "tls.toml"
    scenario.write_text(
        """
[[expect]]
path = "/truncated"
  [[expect.steps]]
  respond = { body = "0123456789", cut = { at = 4, close_notify = false } }

[[expect]]
path = "/split"
  [[expect.steps]]
  respond = { body = "0123456789", cut = { at = 4, how = "reset", split_record = true } }

[[expect]]
path = "/dropped"
  [[expect.steps]]
  drop = { how = "close", close_notify = false }
"""
    )
    with mp.MockServer(tls=True) as srv:
        srv.load(scenario)
        context = srv.client_ssl_context()
        assert exchange(srv.port, get("/truncated"), tls=context).end == "truncated"
        assert exchange(srv.port, get("/split"), tls=context).end == "reset"
        assert exchange(srv.port, get("/dropped"), tls=context) == Received(b"", "truncated")


def test_a_handshake_that_never_ends_is_bounded_by_head_timeout() -> None:
    """A client that connects and never finishes its ClientHello holds nothing for long."""
    with mp.MockServer(tls=True, head_timeout=0.3) as srv:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
            sock.sendall(b"\x16\x03\x01")  # the start of a record, then silence
            started = time.monotonic()
            assert sock.recv(100) == b""  # closed by the server
            assert time.monotonic() - started < 3
        details = [e.detail for e in _journaled(srv).events]
        assert "TLS handshake failed: not complete after head_timeout=0.3 s" in details
