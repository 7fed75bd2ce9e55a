"""Keep-alive: after a complete exchange the connection stays open for the next request.

The client did not ask to close and the response did not say ``Connection: close``, so closing
would break any client that reuses connections (RFC 9112 §9.3). Requests without a body (a GET,
a POST with ``Content-Length: 0``) are the common case.
"""

from __future__ import annotations

import pytest
from support.recording_client import Client

import mockprogress as mp


@pytest.mark.parametrize(
    ("method", "body"),
    [("GET", b""), ("POST", b""), ("POST", b"payload")],
    ids=["get", "post-empty", "post-with-body"],
)
def test_connection_is_reused_after_a_response(
    mockprogress_server: mp.MockServer, method: str, body: bytes
) -> None:
    srv = mockprogress_server
    srv.expect(method, "/one").respond(mp.respond(200, b"one\n"))
    srv.expect("GET", "/two").respond(mp.respond(200, b"two\n"))

    with Client(srv.port) as client:
        first = client.request(method, "/one", body=body)
        second = client.request("GET", "/two")

    assert first.complete
    assert first.header("Connection") is None
    assert (second.status, second.body, second.error) == (200, b"two\n", None)
    journal = srv.journal
    assert [ex.path for ex in journal] == ["/one", "/two"]
    assert journal[0].connection == journal[1].connection
