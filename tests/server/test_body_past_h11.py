"""The rest of a Content-Length body is read straight from the socket, past h11.

Once h11 has handed out the body bytes it holds, the remaining bytes of a Content-Length body
need no parsing, so the connection reads them itself (h11 would copy each one three times).
The reads ask for no more than what is left of the body, so the next request on the
connection, even one sent in the same write, stays unread until a fresh h11 connection takes
it. Each test below holds a piece of that: exact reads, keep-alive after such a body, the
next request pipelined behind it, every byte counted, and a client that leaves mid-body.
"""

from __future__ import annotations

import socket

from support.sansio import Wire, config, parse_responses

import mockprogress as mp
from mockprogress.engine.actions import Receive
from mockprogress.engine.matching import Expectation


def _wire(*expectations: Expectation) -> Wire:
    state = config()
    for expectation in expectations:
        state.add_expectation(expectation)
    return Wire(state=state)


def _post(body: bytes, path: str = "/up") -> bytes:
    return f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()


BODY = bytes(range(256)) * 40  # 10,240 bytes


def test_the_rest_of_the_body_is_asked_for_exactly() -> None:
    wire = _wire(Expectation("POST", "/up").respond(mp.respond(201, b"ok")))
    head = _post(BODY)
    # The head arrives with the first 100 body bytes; h11 hands those out, the rest is read
    # past it, and the read asks for what is left (10,140 bytes), not a full buffer.
    wire.run([head + BODY[:100], BODY[100:]])

    reads = [a.max_bytes for a in wire.actions if isinstance(a, Receive)]
    assert len(BODY) - 100 in reads
    [response] = parse_responses(bytes(wire.out), "POST", count=1)[:1]
    assert response.status_code == 201
    ex = wire.state.journal().last
    assert ex.body == BODY
    assert ex.body_complete
    assert ex.bytes_received == len(head) + len(BODY)


def test_a_request_sent_in_the_same_write_as_the_end_of_a_body_is_answered() -> None:
    wire = _wire(
        Expectation("POST", "/up").respond(mp.respond(201, b"stored")),
        Expectation("GET", "/next").respond(mp.respond(200, b"next")),
    )
    head = _post(BODY)
    follow = b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"
    wire.run([head + BODY[:10], BODY[10:] + follow])

    journal = wire.state.journal()
    assert [(ex.method, ex.path) for ex in journal] == [("POST", "/up"), ("GET", "/next")]
    assert journal[0].body == BODY
    assert journal[0].connection == journal[1].connection
    # Each exchange counts its own bytes. This used to count the body bytes of the first read
    # after the head once for each exchange, and the pipelined request's for the first one.
    assert journal[0].bytes_received == len(head) + len(BODY)
    assert journal[1].bytes_received == len(follow)
    responses = [e for e in parse_responses(bytes(wire.out), count=2) if hasattr(e, "status_code")]
    assert [r.status_code for r in responses] == [201, 200]
    assert wire.state.all_problems() == []


def test_keep_alive_after_several_bodies_read_past_h11() -> None:
    wire = _wire(Expectation("PUT", "/doc").respond(mp.respond(204)))
    bodies = [BODY[:n] for n in (5000, 1, 10240, 777)]
    chunks = []
    for body in bodies:
        head = f"PUT /doc HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        chunks += [head, body]  # each body after its head, in a write of its own
    wire.run(chunks)

    journal = wire.state.journal()
    assert [ex.body for ex in journal] == bodies
    assert len({ex.connection for ex in journal}) == 1
    assert bytes(wire.out).count(b"HTTP/1.1 204 No Content\r\n") == len(bodies)
    assert wire.closed == "close"  # only after the client's end of stream


def test_read_body_upto_stops_exactly_past_h11() -> None:
    wire = _wire(Expectation("POST", "/up").respond(mp.read_body(upto=3000), mp.drop(how="reset")))
    wire.run([_post(BODY), BODY[:1000], BODY[1000:]])

    ex = wire.state.journal().last
    assert ex.body == BODY[:3000]
    assert ex.fault is not None and ex.fault.body_bytes == 3000
    assert wire.closed == "reset"


def test_a_client_leaving_mid_body_keeps_what_was_read() -> None:
    wire = _wire(Expectation("POST", "/up").respond(mp.respond(201)))
    wire.run([_post(BODY) + BODY[:10], BODY[10:4000]])  # then the client closes

    ex = wire.state.journal().last
    assert ex.body == BODY[:4000]
    assert not ex.body_complete
    assert ex.response is None
    assert ex.events[-1].kind == "closed"
    assert "after 4000 body bytes" in ex.events[-1].detail


def test_on_a_real_socket_bodies_and_the_next_request_share_one_connection(
    mockprogress_server: mp.MockServer,
) -> None:
    srv = mockprogress_server
    srv.expect("POST", "/up").respond(mp.respond(201, b"stored"))
    srv.expect("GET", "/next").respond(mp.respond(200, b"next"))
    big = bytes(range(256)) * 4096  # 1 MiB: most of it read past h11
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(_post(big) + big + b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while received.count(b"HTTP/1.1 ") < 2 or not received.endswith(b"next"):
            chunk = sock.recv(65536)
            assert chunk, f"the server closed after {received!r}"
            received += chunk
    journal = srv.journal
    assert [ex.path for ex in journal] == ["/up", "/next"]
    assert journal[0].body == big
    assert journal[0].connection == journal[1].connection
    assert received.startswith(b"HTTP/1.1 201 Created\r\n")
