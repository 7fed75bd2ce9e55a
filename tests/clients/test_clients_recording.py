"""Interim responses on the wire, seen by the h11 recording client (tests/support/recording_client.py).

h11 parses every 1xx as an ``InformationalResponse``, so this client sees exactly what went
out: status, reason phrase and header lines in wire order, then the final response. The
HTTP/1.0 case reads the raw bytes off a plain socket, since no client library would show the
absence of a 1xx any better.
"""

from __future__ import annotations

import socket

from support.jobs_scenario import (
    CREATED_BODY,
    ITEM_LOCATION,
    PROGRESS,
    STATUS_LOCATION,
    expect_jobs,
)
from support.recording_client import Client, request

import mockprogress as mp


def test_three_102_processing_then_201_created(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    expect_jobs(srv)

    reply = request(srv.port, "POST", "/jobs")

    assert reply.error is None
    assert reply.complete
    assert [(i.status, i.reason) for i in reply.interims] == [(102, "Processing")] * 3
    # Each 102 carries exactly its own header lines: Progress, and Location on the first only.
    assert [i.headers for i in reply.interims] == [
        [("progress", PROGRESS[0]), ("location", STATUS_LOCATION)],
        [("progress", PROGRESS[1])],
        [("progress", PROGRESS[2])],
    ]
    assert (reply.status, reply.reason) == (201, "Created")
    assert reply.header("Location") == ITEM_LOCATION
    assert reply.body == CREATED_BODY
    # They arrived in that order, every interim before the final head.
    arrivals = [i.at for i in reply.interims]
    assert reply.head_at is not None
    assert arrivals == sorted(arrivals)
    assert arrivals[-1] <= reply.head_at

    ex = srv.journal.last
    assert ex.http_version == "1.1"
    assert [(i.status, i.skipped) for i in ex.interims] == [(102, False)] * 3
    assert [i.headers["Progress"] for i in ex.interims] == PROGRESS
    assert ex.response is not None
    assert ex.response.status == 201
    assert ex.response.complete


def test_interims_leave_a_keep_alive_connection_in_sync(mockprogress_server: mp.MockServer) -> None:
    """A client that reads 1xx correctly can reuse the connection: the next request gets its
    own answer, not a leftover of the interim stream."""
    srv = mockprogress_server
    expect_jobs(srv)
    srv.expect("GET", "/after").respond(mp.respond(200, b"after\n"))

    with Client(srv.port) as client:
        first = client.request("POST", "/jobs")
        second = client.request("GET", "/after")

    assert (first.status, len(first.interims), first.body) == (201, 3, CREATED_BODY)
    assert (second.status, second.interims, second.body) == (200, [], b"after\n")
    assert second.complete
    journal = srv.journal
    assert [(ex.method, ex.path) for ex in journal] == [("POST", "/jobs"), ("GET", "/after")]
    assert journal[0].connection == journal[1].connection


def test_103_early_hints_keeps_both_link_lines(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    style = "</style.css>; rel=preload; as=style"
    script = "</app.js>; rel=preload; as=script"
    srv.expect("GET", "/page").respond(
        mp.early_hints(style, script),
        mp.respond(200, b"<html></html>\n", headers={"Content-Type": "text/html"}),
    )

    reply = request(srv.port, "GET", "/page")

    assert reply.complete
    assert [(i.status, i.reason) for i in reply.interims] == [(103, "Early Hints")]
    # Two separate Link lines, in the order given, not one folded line.
    assert reply.interims[0].headers == [("link", style), ("link", script)]
    assert (reply.status, reply.body) == (200, b"<html></html>\n")
    assert srv.journal.last.interims[0].headers.getall("Link") == [style, script]


def test_generic_interim_104_with_its_headers(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    srv.expect("POST", "/uploads").respond(
        mp.interim(104, {"Location": "/uploads/7", "Upload-Draft-Interop-Version": "6"}),
        mp.respond(201, b"stored\n"),
    )

    reply = request(srv.port, "POST", "/uploads", body=b"hello")

    assert reply.complete
    assert [(i.status, i.reason) for i in reply.interims] == [(104, "Upload Resumption Supported")]
    assert reply.interims[0].headers == [
        ("location", "/uploads/7"),
        ("upload-draft-interop-version", "6"),
    ]
    assert (reply.status, reply.body) == (201, b"stored\n")
    assert srv.journal.last.body == b"hello"


def test_http10_client_gets_no_interim(mockprogress_server: mp.MockServer) -> None:
    """RFC 9110 §15.2: a server must not send a 1xx to an HTTP/1.0 client. The script's
    interims are skipped on the wire and journaled as skipped."""
    srv = mockprogress_server
    expect_jobs(srv)

    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as sock:
        sock.sendall(b"POST /jobs HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk

    assert b"102" not in data
    assert b"Processing" not in data
    assert b"Progress" not in data
    # The first bytes on the wire are the final response's status line.
    assert data.startswith(b"HTTP/1.1 201 Created\r\n")
    head, _, body = data.partition(b"\r\n\r\n")
    assert f"Location: {ITEM_LOCATION}".encode() in head.split(b"\r\n")
    assert body == CREATED_BODY

    ex = srv.journal.last
    assert ex.http_version == "1.0"
    assert [(i.status, i.skipped) for i in ex.interims] == [(102, True)] * 3
    assert [i.headers["Progress"] for i in ex.interims] == PROGRESS
    assert [e.kind for e in ex.events].count("interim-skipped") == 3
    assert "interim" not in [e.kind for e in ex.events]
    assert ex.response is not None
    assert ex.response.status == 201
