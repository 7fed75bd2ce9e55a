"""The http.client family against the job scenario: they take the first 1xx as final, on the wire.

These tests pin down a documented client bug, not a loosened server. ``HTTPResponse.begin()``
only loops past ``100 Continue``; any other 1xx (102, 103, 104) is taken as the final
response, with an empty body, and the rest of the exchange stays unread on the connection. A
later request on that connection then reads answers meant for earlier ones. Catching clients
built on http.client, urllib3 or requests doing this is what mockprogress exists for. If a
future Python fixes it these tests fail, and the finding should be revisited.

The server side is held to the same standard as elsewhere: the journal shows it sent the whole
exchange correctly.
"""

from __future__ import annotations

import http.client
import socket

import requests
from support.jobs_scenario import CREATED_BODY, PROGRESS, STATUS_LOCATION, expect_jobs

import mockprogress as mp


def test_http_client_takes_the_first_102_for_the_final_response(
    mockprogress_server: mp.MockServer,
) -> None:
    """getresponse() returns the first 102 as if it were final: status 102, empty body. The two
    later 102s and the 201 are left on the connection, unread."""
    srv = mockprogress_server
    expect_jobs(srv)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        conn.request("POST", "/jobs")
        response = conn.getresponse()

        assert (response.status, response.reason) == (102, "Processing")
        assert response.getheader("Progress") == PROGRESS[0]
        assert response.getheader("Location") == STATUS_LOCATION
        # Everything after the first 102 is still waiting in the response's socket file: read
        # it to the end of the 201's body.
        lines = []
        while not lines or lines[-1] != CREATED_BODY:
            line = response.fp.readline()
            assert line, f"connection ended after {lines!r}"
            lines.append(line)
        # The client itself decided the 102 had an empty body, and is done with it.
        assert response.read() == b""
        assert response.isclosed()
    finally:
        conn.close()

    text = [line.decode("latin-1").rstrip("\r\n") for line in lines]
    assert [t for t in text if t.startswith("HTTP/")] == [
        "HTTP/1.1 102 Processing",
        "HTTP/1.1 102 Processing",
        "HTTP/1.1 201 Created",
    ]
    assert [t for t in text if t.startswith("Progress:")] == [
        f"Progress: {PROGRESS[1]}",
        f"Progress: {PROGRESS[2]}",
    ]
    ex = srv.journal.last
    assert [i.status for i in ex.interims] == [102, 102, 102]
    assert ex.response is not None
    assert (ex.response.status, ex.response.complete) == (201, True)


def test_http_client_hands_the_answer_to_the_next_request(
    mockprogress_server: mp.MockServer,
) -> None:
    """On a keep-alive connection the desync moves answers between requests: a GET issued
    after the mistaken 102 receives the POST's 201."""
    srv = mockprogress_server
    srv.expect("POST", "/jobs").respond(
        mp.processing(PROGRESS[0]),
        # Long enough that the client has read the 102 alone before the 201 is written.
        mp.pause(0.2),
        mp.respond(201, CREATED_BODY),
    )
    srv.expect("GET", "/plain").respond(mp.respond(200, b"plain\n"))
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        conn.request("POST", "/jobs")
        first = conn.getresponse()
        assert (first.status, first.read()) == (102, b"")
        conn.request("GET", "/plain")
        second = conn.getresponse()
        assert (second.status, second.read()) == (201, CREATED_BODY)
        # Say we are done and wait for the server to close: by then it has answered, and
        # journaled, the GET too (its 200 is never read by this client).
        conn.sock.shutdown(socket.SHUT_WR)
        while conn.sock.recv(65536):
            pass
    finally:
        conn.close()

    post, get = srv.journal
    assert (post.method, post.path, post.connection) == ("POST", "/jobs", 1)
    assert (get.method, get.path, get.connection) == ("GET", "/plain", 1)
    # The server answered each request correctly; the client read them out of turn.
    assert post.response is not None
    assert post.response.status == 201
    assert get.response is not None
    assert get.response.status == 200


def test_requests_returns_102_as_the_response(mockprogress_server: mp.MockServer) -> None:
    """requests (through urllib3 and http.client) has the same bug: ``status_code == 102``."""
    srv = mockprogress_server
    expect_jobs(srv)

    response = requests.post(srv.url("/jobs"), timeout=10)

    assert response.status_code == 102
    assert response.reason == "Processing"
    assert response.headers["Progress"] == PROGRESS[0]
    assert response.headers["Location"] == STATUS_LOCATION
    assert response.content == b""
    assert srv.journal.last.interims[0].status == 102
