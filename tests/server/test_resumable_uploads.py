"""mp.ResumableUploads on the wire (draft-ietf-httpbis-resumable-upload), driven by the h11 recording client: every
header the draft asks for, every error path of §7.2 with its status, the server still serving
afterwards, and cuts that leave exactly the bytes read in the store."""

from __future__ import annotations

import json
import os
import socket
import time

import pytest
from support.recording_client import Client, Reply, request

import mockprogress as mp

V8 = ("Upload-Draft-Interop-Version", "8")
PARTIAL = ("Content-Type", "application/partial-upload")


def create(
    port: int, body: bytes = b"", complete: bool = False, *headers: tuple[str, str]
) -> Reply:
    return request(
        port,
        "POST",
        "/uploads",
        headers=[V8, ("Upload-Complete", "?1" if complete else "?0"), *headers],
        body=body,
    )


def append(
    port: int, location: str, offset: int, body: bytes, complete: bool, *extra: tuple[str, str]
) -> Reply:
    headers = [
        V8,
        PARTIAL,
        ("Upload-Offset", str(offset)),
        ("Upload-Complete", "?1" if complete else "?0"),
        *extra,
    ]
    return request(port, "PATCH", location, headers=headers, body=body)


def still_serving(srv: mp.MockServer) -> None:
    """The server answers a fresh creation after whatever came before."""
    reply = create(srv.port)
    assert reply.status == 201, reply


@pytest.fixture
def uploads(mockprogress_server: mp.MockServer) -> mp.ResumableUploads:
    return mockprogress_server.mount(mp.ResumableUploads("/uploads"))


def test_creation_announces_the_upload_with_104(
    mockprogress_server: mp.MockServer, uploads: mp.ResumableUploads
) -> None:
    reply = create(mockprogress_server.port, b"first part", False, ("Upload-Length", "100"))

    [interim] = reply.interims
    assert (interim.status, interim.reason) == (104, "Upload Resumption Supported")
    location = interim.header("Location")
    assert location is not None and location.startswith("/uploads/")
    assert interim.header("Upload-Limit") == "min-size=0"
    assert interim.header("Upload-Draft-Interop-Version") == "8"
    assert reply.status == 201
    assert reply.header("Location") == location
    assert reply.header("Upload-Complete") == "?0"
    assert reply.header("Upload-Offset") == "10"
    [upload] = uploads.uploads.values()
    assert (upload.data, upload.offset, upload.length, upload.complete) == (
        b"first part",
        10,
        100,
        False,
    )
    assert location == f"/uploads/{upload.id}"


@pytest.mark.parametrize("version", ["5", "6", "8"])
def test_each_spoken_interop_version_gets_its_104_echoed(
    mockprogress_server: mp.MockServer, uploads: mp.ResumableUploads, version: str
) -> None:
    reply = request(
        mockprogress_server.port,
        "POST",
        "/uploads",
        headers=[("Upload-Draft-Interop-Version", version), ("Upload-Complete", "?0")],
    )
    assert [(i.status, i.header("Upload-Draft-Interop-Version")) for i in reply.interims] == [
        (104, version)
    ]


@pytest.mark.parametrize("version", [None, "7", "3", "8.0", "?1"])
def test_no_104_without_a_matching_interop_version(
    mockprogress_server: mp.MockServer, uploads: mp.ResumableUploads, version: str | None
) -> None:
    headers = [("Upload-Complete", "?0")]
    if version is not None:
        headers.append(("Upload-Draft-Interop-Version", version))
    reply = request(mockprogress_server.port, "POST", "/uploads", headers=headers)
    assert reply.interims == []
    assert reply.status == 201  # the upload still exists; only the announcement is withheld
    assert reply.header("Location") is not None


def test_offset_retrieval_reports_the_state(
    mockprogress_server: mp.MockServer, uploads: mp.ResumableUploads
) -> None:
    port = mockprogress_server.port
    location = create(port, b"abc", False, ("Upload-Length", "6")).header("Location")
    assert location is not None
    for method in ("HEAD", "GET"):
        reply = request(port, method, location, headers=[V8])
        assert reply.status == 204
        assert reply.header("Upload-Offset") == "3"
        assert reply.header("Upload-Complete") == "?0"
        assert reply.header("Upload-Length") == "6"
        assert reply.header("Upload-Limit") == "min-size=0"
        assert reply.header("Cache-Control") == "no-store"
        assert reply.header("Content-Length") is None  # RFC 9110 §8.6: never on a 204


def test_append_then_complete_with_the_scripted_result(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    uploads = srv.mount(
        mp.ResumableUploads(
            "/uploads",
            result=[
                mp.processing('0/1 "checking"'),
                mp.respond(201, b"stored\n", {"X-Stored": "yes"}),
            ],
        )
    )
    location = create(srv.port).header("Location")
    assert location is not None
    middle = append(srv.port, location, 0, b"hello ", False)
    assert (middle.status, middle.header("Upload-Complete"), middle.header("Upload-Offset")) == (
        204,
        "?0",
        "6",
    )
    [upload] = uploads.uploads.values()
    assert (upload.data, upload.complete) == (b"hello ", False)

    last = append(srv.port, location, 6, b"world", True)
    assert [i.status for i in last.interims] == [102]
    assert (last.status, last.body, last.header("X-Stored")) == (201, b"stored\n", "yes")
    assert last.header("Upload-Complete") == "?1"
    assert last.header("Upload-Offset") == "11"
    [upload] = uploads.uploads.values()
    assert (upload.data, upload.complete, upload.length) == (b"hello world", True, 11)
    head = request(srv.port, "HEAD", location)
    assert (head.header("Upload-Complete"), head.header("Upload-Length")) == ("?1", "11")


def test_the_default_result_names_the_upload(
    mockprogress_server: mp.MockServer, uploads: mp.ResumableUploads
) -> None:
    reply = create(mockprogress_server.port, b"all of it", True)
    [upload] = uploads.uploads.values()
    assert reply.status == 200
    assert json.loads(reply.body) == {"upload": upload.id, "length": 9}
    assert reply.header("Location") == f"/uploads/{upload.id}"
    assert reply.header("Upload-Complete") == "?1"
    assert upload.complete


def test_a_late_append_gets_the_final_response_replayed(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    uploads = srv.mount(mp.ResumableUploads("/uploads", result=mp.respond(201, b"done\n")))
    location = create(srv.port).header("Location")
    assert location is not None
    first = append(srv.port, location, 0, b"payload", True)
    # The client lost that response and repeats the completing request, or sends an empty one.
    again = append(srv.port, location, 0, b"payload", True)
    empty = append(srv.port, location, 7, b"", True)
    for reply in (first, again, empty):
        assert (reply.status, reply.body, reply.header("Upload-Complete")) == (201, b"done\n", "?1")
    [upload] = uploads.uploads.values()
    assert upload.data == b"payload"  # the replays changed nothing
    # Anything else appended to a completed upload is an inconsistent length.
    more = append(srv.port, location, 7, b"extra", False)
    assert more.status == 400
    assert json.loads(more.body)["type"].endswith("#inconsistent-upload-length")


def test_offset_mismatch_is_409_with_the_right_offset(
    mockprogress_server: mp.MockServer, uploads: mp.ResumableUploads
) -> None:
    port = mockprogress_server.port
    location = create(port, b"12345").header("Location")
    assert location is not None
    reply = append(port, location, 3, b"xx", False)
    assert reply.status == 409
    assert reply.header("Upload-Offset") == "5"
    assert reply.header("Upload-Complete") == "?0"
    assert reply.header("Content-Type") == "application/problem+json"
    problem = json.loads(reply.body)
    assert problem["type"] == (
        "https://iana.org/assignments/http-problem-types#mismatching-upload-offset"
    )
    assert (problem["expected-offset"], problem["provided-offset"]) == (5, 3)
    [upload] = uploads.uploads.values()
    assert upload.data == b"12345"
    assert append(port, location, 5, b"67", False).status == 204


@pytest.mark.parametrize(
    ("headers", "status", "says"),
    [
        ([V8, ("Upload-Offset", "0"), ("Upload-Complete", "?0")], 415, "partial-upload"),
        ([V8, PARTIAL, ("Upload-Complete", "?0")], 400, "Upload-Offset"),
        (
            [V8, PARTIAL, ("Upload-Offset", "0"), ("Upload-Complete", "true")],
            400,
            "Upload-Complete",
        ),
        ([V8, PARTIAL, ("Upload-Offset", "0.0"), ("Upload-Complete", "?0")], 400, "Upload-Offset"),
        ([V8, PARTIAL, ("Upload-Offset", "-1"), ("Upload-Complete", "?0")], 400, "Upload-Offset"),
        (
            [V8, PARTIAL, ("Upload-Offset", "0"), ("Upload-Complete", "?0, ?1")],
            400,
            "Upload-Complete",
        ),
        (
            [
                ("Upload-Draft-Interop-Version", "6"),
                ("Upload-Offset", "0"),
                ("Upload-Complete", "?0"),
            ],
            415,
            "partial-upload",
        ),
    ],
)
def test_malformed_appends_are_refused_with_a_reason(
    mockprogress_server: mp.MockServer,
    uploads: mp.ResumableUploads,
    headers: list[tuple[str, str]],
    status: int,
    says: str,
) -> None:
    srv = mockprogress_server
    location = create(srv.port).header("Location")
    assert location is not None
    reply = request(srv.port, "PATCH", location, headers=headers, body=b"data")
    assert reply.status == status
    assert says in reply.body.decode()
    [upload] = uploads.uploads.values()
    assert upload.offset == 0
    assert append(srv.port, location, 0, b"data", False).status == 204
    still_serving(srv)


def test_interop_version_5_appends_without_a_media_type(
    mockprogress_server: mp.MockServer, uploads: mp.ResumableUploads
) -> None:
    port = mockprogress_server.port
    v5 = ("Upload-Draft-Interop-Version", "5")
    created = request(port, "POST", "/uploads", headers=[v5, ("Upload-Complete", "?0")])
    location = created.header("Location")
    assert location is not None
    reply = request(
        port,
        "PATCH",
        location,
        headers=[v5, ("Upload-Offset", "0"), ("Upload-Complete", "?1")],
        body=b"v5 data",
    )
    assert reply.status == 200
    [upload] = uploads.uploads.values()
    assert (upload.data, upload.complete) == (b"v5 data", True)


def test_inconsistent_lengths_are_400(
    mockprogress_server: mp.MockServer, uploads: mp.ResumableUploads
) -> None:
    port = mockprogress_server.port
    # Creation: Upload-Length disagrees with Content-Length + Upload-Complete: ?1.
    reply = create(port, b"abcd", True, ("Upload-Length", "5"))
    assert reply.status == 400
    assert json.loads(reply.body)["type"].endswith("#inconsistent-upload-length")
    assert uploads.uploads == {}
    location = create(port, b"ab", False, ("Upload-Length", "4")).header("Location")
    assert location is not None
    # A later request announcing another length, and content past the length.
    assert append(port, location, 2, b"cd", False, ("Upload-Length", "9")).status == 400
    assert append(port, location, 2, b"cde", False).status == 400
    assert append(port, location, 2, b"cde", True).status == 400
    [upload] = uploads.uploads.values()
    assert (upload.data, upload.length) == (b"ab", 4)
    assert append(port, location, 2, b"cd", True).status == 200
    still_serving(mockprogress_server)


def test_content_past_the_length_in_a_chunked_body_invalidates_the_upload(
    mockprogress_server: mp.MockServer, uploads: mp.ResumableUploads
) -> None:
    port = mockprogress_server.port
    location = create(port, b"", False, ("Upload-Length", "4")).header("Location")
    assert location is not None
    with Client(port) as client:
        reply = client.request(
            "PATCH",
            location,
            headers=[V8, PARTIAL, ("Upload-Offset", "0"), ("Upload-Complete", "?0")],
            body=b"abcdef",
            chunked=True,
        )
    assert reply.status == 400
    [upload] = uploads.uploads.values()
    assert (upload.data, upload.invalid) == (b"abcd", True)  # what fits is kept
    assert request(port, "HEAD", location).status == 410
    still_serving(mockprogress_server)


def test_limits_413_with_upload_limit(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    uploads = srv.mount(
        mp.ResumableUploads("/uploads", max_size=10, max_append_size=4, min_append_size=2)
    )
    limit = "max-size=10, min-size=0, max-append-size=4, min-append-size=2"
    too_long = create(srv.port, b"", False, ("Upload-Length", "11"))
    assert (too_long.status, too_long.header("Upload-Limit")) == (413, limit)
    big_append = create(srv.port, b"12345")
    assert (big_append.status, big_append.header("Upload-Limit")) == (413, limit)
    location = create(srv.port, b"1234").header("Location")
    assert location is not None
    assert append(srv.port, location, 4, b"5678", False).status == 204
    over_size = append(srv.port, location, 8, b"9ab", False)
    assert (over_size.status, over_size.header("Upload-Limit")) == (413, limit)
    options = request(srv.port, "OPTIONS", "/uploads")
    assert options.status == 204
    assert options.header("Upload-Limit") == limit
    assert options.header("Accept-Patch") == "application/partial-upload"
    [upload] = uploads.uploads.values()
    assert upload.data == b"12345678"


def test_min_size_refuses_small_or_unknown_lengths(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    srv.mount(mp.ResumableUploads("/uploads", min_size=5))
    assert create(srv.port, b"", False).status == 400
    assert create(srv.port, b"", False, ("Upload-Length", "4")).status == 400
    assert create(srv.port, b"", False, ("Upload-Length", "5")).status == 201


def test_cancellation_then_410_and_unknown_404(
    mockprogress_server: mp.MockServer, uploads: mp.ResumableUploads
) -> None:
    port = mockprogress_server.port
    location = create(port, b"abc").header("Location")
    assert location is not None
    assert request(port, "DELETE", location).status == 204
    assert uploads.uploads == {}
    assert request(port, "HEAD", location).status == 410
    assert append(port, location, 3, b"d", False).status == 410
    assert request(port, "HEAD", "/uploads/" + "A" * 22).status == 404
    assert request(port, "HEAD", "/uploads/../etc").status == 404
    assert request(port, "GET", "/uploads").status == 405
    live = create(port).header("Location")
    assert live is not None
    assert request(port, "PUT", live, body=b"x").status == 405
    still_serving(mockprogress_server)


def test_a_request_without_upload_complete_is_a_conventional_upload(
    mockprogress_server: mp.MockServer, uploads: mp.ResumableUploads
) -> None:
    port = mockprogress_server.port
    for headers in ([V8], [V8, ("Upload-Complete", "yes")]):
        reply = request(port, "PUT", "/uploads", headers=headers, body=b"whole thing")
        assert reply.interims == []
        assert reply.status == 200
    assert [u.data for u in uploads.uploads.values()] == [b"whole thing"] * 2
    assert all(u.complete for u in uploads.uploads.values())
    ignored = [e.detail for e in mockprogress_server.journal.last.events if e.kind == "error"]
    assert ignored == ["Upload-Complete: 'yes' is not a Boolean (RFC 9651): field ignored"]


def test_progress_104s_carry_the_offset(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    srv.mount(mp.ResumableUploads("/uploads", progress_every=1000))
    location = create(srv.port).header("Location")
    assert location is not None
    with Client(srv.port) as client:
        reply = client.request(
            "PATCH",
            location,
            headers=[V8, PARTIAL, ("Upload-Offset", "0"), ("Upload-Complete", "?0")],
            body=os.urandom(3500),
            chunked=True,
        )
    offsets = [int(i.header("Upload-Offset") or -1) for i in reply.interims]
    assert all(i.status == 104 and i.header("Location") is None for i in reply.interims)
    assert offsets and offsets == sorted(offsets) and all(o >= 1000 for o in offsets)
    assert reply.status == 204


@pytest.mark.parametrize("how", ["reset", "close"])
def test_cuts_store_exactly_the_bytes_read(mockprogress_server: mp.MockServer, how: str) -> None:
    """One resource, a sweep of offsets: each upload's first append is cut (upload requests
    1, 3, 5, ...; the resuming append is the even one), then resumed from the offset HEAD
    reports."""
    srv = mockprogress_server
    offsets = [0, 1, 2, 100, 4095, 4096, 4097, 65535, 65536, 65537, 131071, 199_999]
    uploads = srv.mount(
        mp.ResumableUploads(
            "/uploads",
            interrupts=[
                mp.interrupt(after=k, request=2 * i + 1, how=how) for i, k in enumerate(offsets)
            ],
        )
    )
    source = os.urandom(200_000)
    for k in offsets:
        location = create(srv.port).header("Location")
        assert location is not None
        cut = append(srv.port, location, 0, source, True)
        assert cut.status is None, cut  # no response: the connection was cut
        head = request(srv.port, "HEAD", location)
        assert head.header("Upload-Offset") == str(k)
        done = append(srv.port, location, k, source[k:], True)
        assert done.status == 200
        upload = uploads.uploads[location.rsplit("/", 1)[1]]
        assert upload.data == source
    faults = [ex.fault for ex in srv.journal if ex.fault is not None]
    assert [(f.kind, f.body_bytes) for f in faults] == [(how, k) for k in offsets]


def test_a_cut_creation_can_be_resumed_from_the_104_location(
    mockprogress_server: mp.MockServer,
) -> None:
    srv = mockprogress_server
    uploads = srv.mount(mp.ResumableUploads("/uploads", interrupts=[mp.interrupt(after=777)]))
    source = os.urandom(5000)
    reply = create(srv.port, source, True, ("Upload-Length", "5000"))
    assert reply.status is None
    location = reply.interims[0].header("Location")
    assert location is not None
    assert request(srv.port, "HEAD", location).header("Upload-Offset") == "777"
    assert append(srv.port, location, 777, source[777:], True).status == 200
    assert uploads.uploads[location.rsplit("/", 1)[1]].data == source


def test_a_new_request_supersedes_an_append_in_flight(
    mockprogress_server: mp.MockServer, uploads: mp.ResumableUploads
) -> None:
    """§4.6: the server terminates the older request, so the offset it reports holds."""
    port = mockprogress_server.port
    location = create(port).header("Location")
    assert location is not None
    slow = socket.create_connection(("127.0.0.1", port))
    try:
        slow.sendall(
            (
                f"PATCH {location} HTTP/1.1\r\nHost: x\r\nUpload-Draft-Interop-Version: 8\r\n"
                "Content-Type: application/partial-upload\r\nUpload-Offset: 0\r\n"
                "Upload-Complete: ?0\r\nContent-Length: 1000\r\n\r\n"
            ).encode()
            + b"a" * 300
        )
        deadline = time.monotonic() + 5
        while uploads.uploads[location.rsplit("/", 1)[1]].offset < 300:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        head = request(port, "HEAD", location)
        assert head.header("Upload-Offset") == "300"
        try:
            slow.sendall(b"b" * 700)
            slow.settimeout(5)
            leftover = slow.recv(1000)
        except ConnectionResetError:
            leftover = b""
        assert leftover == b""  # reset, no response
    finally:
        slow.close()
    [upload] = uploads.uploads.values()
    assert upload.data == b"a" * 300
    assert append(port, location, 300, b"c", False).status == 204
    superseded = mockprogress_server.journal.find("PATCH")[0]
    assert superseded.fault is not None and "superseded" in superseded.fault.detail


def test_result_validation() -> None:
    with pytest.raises(mp.ScenarioError, match=r"ends with mp\.respond"):
        mp.ResumableUploads("/u", result=[mp.pause(1)])
    with pytest.raises(mp.ScenarioError, match="interims and pauses"):
        mp.ResumableUploads("/u", result=[mp.drop(), mp.respond(200)])
    with pytest.raises(mp.ScenarioError, match="interop version"):
        mp.ResumableUploads("/u", interop_versions=[4])
    with pytest.raises(mp.ScenarioError, match="max_size"):
        mp.ResumableUploads("/u", max_size=-1)
    with pytest.raises(mp.ScenarioError, match="progress_every"):
        mp.ResumableUploads("/u", progress_every=0)


def test_a_failing_result_function_is_a_500_and_a_problem(
    mockprogress_server: mp.MockServer,
) -> None:
    srv = mockprogress_server

    def broken(upload: mp.Upload) -> mp.Step:
        return mp.pause(1)

    srv.mount(mp.ResumableUploads("/uploads", result=broken))
    assert create(srv.port, b"x", True).status == 500
    with pytest.raises(mp.ExpectationError, match="result function failed"):
        srv.check()
    srv.reset()
