"""Reading a journal with large bodies through the control API: the answer is written as it is
made, a slice of a body at a time, and ``?bodies=none|N`` leaves the bodies out or caps them.

Three 50 MiB bodies took the server from 134 to 1,084 MiB and blocked its loop for 4.5 s: every
body was built in memory twice (base64 and text), then the whole document once more.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import tracemalloc
from typing import Any

import h11
import httpx
import pytest
from support.sansio import Wire

import mockprogress as mp
from mockprogress.engine.actions import Send
from mockprogress.engine.journal_json import BODY_SLICE, exchange_to_json
from mockprogress.resources.control_api import ControlAPI
from mockprogress.scenario.document import parse_document

P = "/__mockprogress/"
MIB = 1024 * 1024


def body_of(i: int, size: int) -> bytes:
    """Text with a multi-byte character now and then (so ``body`` is there too)."""
    unit = f"exchange {i}: é✓ ".encode()
    return (unit * (size // len(unit) + 1))[:size].decode("utf-8", "ignore").encode()


def read_response(data: bytes) -> tuple[h11.Response, bytes]:
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(data)
    client.receive_data(b"")
    head, body = None, bytearray()
    while True:
        event = client.next_event()
        assert event is not h11.NEED_DATA
        if isinstance(event, h11.Response):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            return head, bytes(body)


def test_a_large_journal_is_written_in_pieces_and_reads_back_whole() -> None:
    """Sans-IO: every write is at most a slice of a body (plus JSON around it), and the
    answer, chunked, is the same document the journal's JSON form gives."""
    wire = Wire()
    wire.state.mount(ControlAPI(parse=parse_document))
    bodies = [body_of(i, 3 * MIB + i) for i in range(3)]
    for body in bodies:  # unmatched (a 500), but the body is read and journaled all the same
        head = f"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        Wire(state=wire.state).run([head, body])
    assert [ex.body_size for ex in wire.state.journal()] == [len(b) for b in bodies]

    reader = Wire(state=wire.state)
    out = reader.run([f"GET {P}journal HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()])
    largest = max(len(a.data) for a in reader.actions if isinstance(a, Send))
    assert largest < 2 * BODY_SLICE, largest  # never the whole document, nor a whole body
    head, data = read_response(out)
    assert head.status_code == 200
    assert dict(head.headers)[b"transfer-encoding"] == b"chunked"
    document = json.loads(data)
    journal = wire.state.journal()
    assert document == {
        "exchanges": [exchange_to_json(ex) for ex in journal],
        "total": len(journal),
    }
    assert [base64.b64decode(ex["body_base64"]) for ex in document["exchanges"]] == bodies
    assert [ex["body"].encode() for ex in document["exchanges"]] == bodies


@pytest.fixture
def srv() -> Any:
    with mp.MockServer() as server:
        server.enable_control_api()
        server.expect("POST", "/up").respond(mp.respond(204))
        yield server


def test_bodies_none_or_capped(srv: mp.MockServer) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{srv.port}") as client:
        client.post("/up", content=b"0123456789")
        client.post("/up", content=b"\xff\xfe\xfd")
        none = client.get(P + "journal", params={"bodies": "none"}).json()["exchanges"]
        four = client.get(P + "journal", params={"bodies": "4"}).json()["exchanges"]
        whole = client.get(P + "journal").json()["exchanges"]
        one = client.get(P + "journal/1", params={"bodies": "none"}).json()
        wrong = client.get(P + "journal", params={"bodies": "some"})
    assert [(e["body_size"], e["body_base64"], e["body"]) for e in none] == [
        (10, "", ""),
        (3, "", ""),
    ]
    assert all(e["body_truncated"] for e in none)
    assert [(e["body_base64"], e.get("body")) for e in four] == [
        (base64.b64encode(b"0123").decode(), "0123"),
        (base64.b64encode(b"\xff\xfe\xfd").decode(), None),
    ]
    assert [e.get("body_truncated") for e in four] == [True, None]
    assert [(e["body"], e.get("body_truncated")) for e in whole[:1]] == [("0123456789", None)]
    assert (one["index"], one["body_size"], one["body_base64"]) == (1, 10, "")
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "bodies must be all, none or a number of bytes, got 'some'"


def test_reading_a_large_journal_takes_little_memory(srv: mp.MockServer) -> None:
    """Three 10 MiB bodies (on disk past spool_threshold): the peak of the whole process while
    the journal is read is a few slices, not the bodies several times over."""
    size = 10 * MIB
    with httpx.Client(base_url=f"http://127.0.0.1:{srv.port}", timeout=30) as client:
        for i in range(3):
            assert client.post("/up", content=body_of(i, size)).status_code == 204
    tracemalloc.start()
    try:
        received = 0
        with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as sock:
            sock.sendall(
                f"GET {P}journal HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
            )
            while chunk := sock.recv(1 << 16):
                received += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # base64 and text of 30 MiB: more than 70 MiB on the wire.
    assert received > 3 * size * 2
    assert peak < 12 * MIB, f"peak {peak / MIB:.1f} MiB"


def test_a_streamed_journal_over_https_and_to_an_http10_client() -> None:
    body = body_of(0, 2 * MIB)  # past spool_threshold: streamed
    with mp.MockServer(tls=True) as srv:
        srv.enable_control_api()
        srv.expect("POST", "/up").respond(mp.respond(204))
        context = srv.client_ssl_context()
        with httpx.Client(base_url=f"https://127.0.0.1:{srv.port}", verify=context) as client:
            assert client.post("/up", content=body).status_code == 204
            reply = client.get(P + "journal")
        assert reply.headers["transfer-encoding"] == "chunked"
        (exchange,) = reply.json()["exchanges"]
        assert base64.b64decode(exchange["body_base64"]) == body
    wire = Wire()
    wire.state.mount(ControlAPI(parse=parse_document))
    head = f"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    Wire(state=wire.state).run([head, body])
    reader = Wire(state=wire.state)
    out = reader.run([f"GET {P}journal HTTP/1.0\r\nHost: localhost\r\n\r\n".encode()])
    head_bytes, _, data = out.partition(b"\r\n\r\n")
    assert b"transfer-encoding" not in head_bytes.lower()  # HTTP/1.0: the end is the close
    assert reader.closed == "close"
    (exchange,) = json.loads(data)["exchanges"]
    assert base64.b64decode(exchange["body_base64"]) == body


def test_a_capped_journal_still_draws(srv: mp.MockServer) -> None:
    """mockprogress diagram reads what ?bodies=N gives: each exchange with the bytes shown."""
    from mockprogress.engine.journal_json import exchange_from_json

    with httpx.Client(base_url=f"http://127.0.0.1:{srv.port}") as client:
        client.post("/up", content=b"hello")
        capped = client.get(P + "journal", params={"bodies": "2"}).json()["exchanges"]
    rebuilt = exchange_from_json(capped[0])
    assert (rebuilt.body, rebuilt.method) == (b"he", "POST")


def test_a_streamed_journal_over_http2_and_the_connection_goes_on() -> None:
    # It was written as HTTP/1.1 bytes past the protocol: an HTTP/2 client saw a broken frame.
    body = body_of(0, 2 * MIB)  # past spool_threshold: streamed
    with mp.MockServer(http2=True) as srv:
        srv.enable_control_api()
        srv.expect("POST", "/up").respond(mp.respond(204))
        with httpx.Client(base_url=srv.url(), http1=False, http2=True, timeout=30) as client:
            assert client.post("/up", content=body).status_code == 204
            reply = client.get(P + "journal")
            assert (reply.status_code, reply.http_version) == (200, "HTTP/2")
            assert "content-length" not in reply.headers
            (exchange,) = reply.json()["exchanges"]
            assert base64.b64decode(exchange["body_base64"]) == body
            # The same connection serves the next request.
            assert client.post("/up", content=b"x").status_code == 204
        assert len(srv.journal) == 2


def test_the_loop_answers_others_while_a_large_journal_is_read(srv: mp.MockServer) -> None:
    """While a client reads a journal of three 5 MiB bodies, requests on other connections
    are answered without waiting for it: the document is made a slice at a time between
    writes, never whole on the loop (which blocked it for seconds)."""
    srv.expect("GET", "/ping", times=None).respond(mp.respond(200, b"pong"))
    size = 5 * MIB
    with httpx.Client(base_url=f"http://127.0.0.1:{srv.port}", timeout=30) as client:
        for i in range(3):
            assert client.post("/up", content=body_of(i, size)).status_code == 204
    received = 0

    def read_journal() -> None:
        nonlocal received
        with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as sock:
            sock.sendall(
                f"GET {P}journal HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
            )
            while chunk := sock.recv(1 << 14):
                received += len(chunk)
                time.sleep(0.001)  # a slow reader: the journal takes a while to go out

    reader = threading.Thread(target=read_journal)
    latencies = []
    with httpx.Client(base_url=f"http://127.0.0.1:{srv.port}", timeout=30) as client:
        reader.start()
        while reader.is_alive():
            started = time.perf_counter()
            assert client.get("/ping").content == b"pong"
            latencies.append(time.perf_counter() - started)
    reader.join()
    assert received > 3 * size * 2
    assert len(latencies) >= 10, latencies
    assert max(latencies) < 0.5, f"a request waited {max(latencies):.2f} s behind the journal"
