"""Keep-alive: a connection serves request after request until the client closes it."""

from __future__ import annotations

import http.client
import socket

import mockprogress as mp


def test_bodiless_requests_share_one_connection(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    srv.expect("GET", "/a").respond(mp.respond(200, body=b"a"))
    srv.expect("POST", "/b").respond(mp.respond(201, body=b"b"))
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        answers = []
        for method, path, body in [("GET", "/a", None), ("POST", "/b", b""), ("GET", "/a", None)]:
            conn.request(method, path, body=body)
            response = conn.getresponse()
            answers.append((response.status, response.read(), response.getheader("Connection")))
    finally:
        conn.close()
    assert answers == [(200, b"a", None), (201, b"b", None), (200, b"a", None)]
    assert [ex.connection for ex in srv.journal] == [1, 1, 1]


def test_pipelined_requests_are_answered_in_order(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    srv.expect("GET", "/a").respond(mp.respond(200, body=b"a"))
    srv.expect("POST", "/b").respond(mp.respond(200, body=b"bb"))
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        sock.sendall(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\n\r\n"
            b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nbb"
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\na"
    )
    assert [ex.body for ex in srv.journal] == [b"", b"abc", b""]
