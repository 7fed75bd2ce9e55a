"""mp.TusUploads on the wire (tus 1.0: core, creation, creation-with-upload, defer-length,
termination, checksum): the headers the protocol asks for, every error status it names, the
server still serving afterwards, and cuts that store exactly the bytes read."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest
from support.recording_client import Reply, request

import mockprogress as mp

TUS = ("Tus-Resumable", "1.0.0")
STREAM = ("Content-Type", "application/offset+octet-stream")


def create(
    port: int, length: int | None = None, *headers: tuple[str, str], body: bytes = b""
) -> Reply:
    extra = [TUS, *headers]
    if length is not None:
        extra.append(("Upload-Length", str(length)))
    return request(port, "POST", "/files", headers=extra, body=body)


def patch(port: int, location: str, offset: int, body: bytes, *extra: tuple[str, str]) -> Reply:
    headers = [TUS, STREAM, ("Upload-Offset", str(offset)), *extra]
    return request(port, "PATCH", location, headers=headers, body=body)


@pytest.fixture
def files(mockprogress_server: mp.MockServer) -> mp.TusUploads:
    return mockprogress_server.mount(mp.TusUploads("/files", max_size=1000))


def test_options_lists_version_extensions_and_limits(
    mockprogress_server: mp.MockServer, files: mp.TusUploads
) -> None:
    reply = request(mockprogress_server.port, "OPTIONS", "/files")
    assert reply.status == 204
    assert reply.header("Tus-Version") == "1.0.0"
    assert reply.header("Tus-Extension") == (
        "creation,creation-with-upload,creation-defer-length,termination,checksum"
    )
    assert reply.header("Tus-Max-Size") == "1000"
    assert reply.header("Tus-Checksum-Algorithm") == "sha1,md5,sha256,sha512"
    assert reply.header("Tus-Resumable") is None  # OPTIONS needs no version


def test_create_head_patch_delete(mockprogress_server: mp.MockServer, files: mp.TusUploads) -> None:
    port = mockprogress_server.port
    meta = f"filename {base64.b64encode(b'a.txt').decode()},flag"
    created = create(port, 11, ("Upload-Metadata", meta))
    assert created.status == 201
    assert created.header("Tus-Resumable") == "1.0.0"
    location = created.header("Location")
    assert location is not None and location.startswith("/files/")
    head = request(port, "HEAD", location, headers=[TUS])
    assert head.status == 200
    assert (head.header("Upload-Offset"), head.header("Upload-Length")) == ("0", "11")
    assert head.header("Cache-Control") == "no-store"
    assert head.header("Upload-Metadata") == meta
    first = patch(port, location, 0, b"hello ")
    assert (first.status, first.header("Upload-Offset")) == (204, "6")
    assert patch(port, location, 6, b"world").header("Upload-Offset") == "11"
    [upload] = files.uploads.values()
    assert (upload.data, upload.complete, upload.metadata) == (
        b"hello world",
        True,
        {"filename": "a.txt", "flag": ""},
    )
    assert request(port, "DELETE", location, headers=[TUS]).status == 204
    assert files.uploads == {}
    assert request(port, "HEAD", location, headers=[TUS]).status == 410
    gone = patch(port, location, 11, b"x")
    assert gone.status == 410 and gone.header("Upload-Offset") is None


def test_creation_with_upload_and_deferred_length(
    mockprogress_server: mp.MockServer, files: mp.TusUploads
) -> None:
    port = mockprogress_server.port
    with_data = create(port, 8, STREAM, body=b"1234")
    assert (with_data.status, with_data.header("Upload-Offset")) == (201, "4")
    deferred = create(port, None, ("Upload-Defer-Length", "1"))
    location = deferred.header("Location")
    assert location is not None
    head = request(port, "HEAD", location, headers=[TUS])
    assert (head.header("Upload-Defer-Length"), head.header("Upload-Length")) == ("1", None)
    assert patch(port, location, 0, b"abc").status == 204
    assert patch(port, location, 3, b"de", ("Upload-Length", "5")).status == 204
    uploads = sorted(files.uploads.values(), key=lambda u: u.offset)
    assert [(u.data, u.complete, u.length) for u in uploads] == [
        (b"1234", False, 8),
        (b"abcde", True, 5),
    ]


@pytest.mark.parametrize(
    ("method", "headers", "body", "status"),
    [
        ("POST", [], b"", 412),  # no Tus-Resumable
        ("POST", [("Tus-Resumable", "0.2.2"), ("Upload-Length", "1")], b"", 412),
        ("POST", [TUS], b"", 400),  # no Upload-Length
        ("POST", [TUS, ("Upload-Length", "-1")], b"", 400),
        ("POST", [TUS, ("Upload-Length", "1"), ("Upload-Defer-Length", "1")], b"", 400),
        ("POST", [TUS, ("Upload-Defer-Length", "2")], b"", 400),
        ("POST", [TUS, ("Upload-Length", "1001")], b"", 413),
        ("POST", [TUS, ("Upload-Length", "2"), STREAM], b"abc", 413),
        ("POST", [TUS, ("Upload-Length", "1"), ("Upload-Metadata", "a b c")], b"", 400),
        ("POST", [TUS, ("Upload-Length", "1"), ("Upload-Metadata", "k !!!")], b"", 400),
        ("POST", [TUS, ("Upload-Length", "1"), ("Upload-Metadata", "k,k")], b"", 400),
        ("GET", [TUS], b"", 405),
    ],
)
def test_creation_errors(
    mockprogress_server: mp.MockServer,
    files: mp.TusUploads,
    method: str,
    headers: list[tuple[str, str]],
    body: bytes,
    status: int,
) -> None:
    port = mockprogress_server.port
    reply = request(port, method, "/files", headers=headers, body=body)
    assert reply.status == status
    if status == 412:
        assert reply.header("Tus-Version") == "1.0.0"
    assert reply.body  # a plain explanation
    assert files.uploads == {}
    assert create(port, 1).status == 201


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ([TUS, ("Upload-Offset", "0")], b"ab", 415),  # no media type
        ([TUS, ("Content-Type", "application/octet-stream"), ("Upload-Offset", "0")], b"ab", 415),
        ([TUS, STREAM], b"ab", 400),  # no Upload-Offset
        ([TUS, STREAM, ("Upload-Offset", "x")], b"ab", 400),
        ([TUS, STREAM, ("Upload-Offset", "-2")], b"ab", 400),
        ([TUS, STREAM, ("Upload-Offset", "3")], b"ab", 409),
        ([TUS, STREAM, ("Upload-Offset", "0")], b"abcdefghijk", 413),  # past Upload-Length 10
        ([TUS, STREAM, ("Upload-Offset", "0"), ("Upload-Length", "12")], b"ab", 400),
        ([TUS, STREAM, ("Upload-Offset", "0"), ("Upload-Checksum", "crc32 AAAA")], b"ab", 400),
        ([TUS, STREAM, ("Upload-Offset", "0"), ("Upload-Checksum", "sha1 !!")], b"ab", 400),
        ([STREAM, ("Upload-Offset", "0")], b"ab", 412),
    ],
)
def test_patch_errors(
    mockprogress_server: mp.MockServer,
    files: mp.TusUploads,
    headers: list[tuple[str, str]],
    body: bytes,
    status: int,
) -> None:
    port = mockprogress_server.port
    location = create(port, 10).header("Location")
    assert location is not None
    reply = request(port, "PATCH", location, headers=headers, body=body)
    assert reply.status == status, reply.body
    assert reply.header("Tus-Resumable") == "1.0.0"
    [upload] = files.uploads.values()
    assert upload.offset == 0
    assert patch(port, location, 0, b"ok").status == 204
    assert request(port, "HEAD", "/files/" + "Z" * 22, headers=[TUS]).status == 404


@pytest.mark.parametrize("algorithm", ["sha1", "md5", "sha256", "sha512"])
def test_checksum_match_and_mismatch(
    mockprogress_server: mp.MockServer, files: mp.TusUploads, algorithm: str
) -> None:
    port = mockprogress_server.port
    location = create(port, 10).header("Location")
    assert location is not None

    def checksum(data: bytes) -> tuple[str, str]:
        digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
        return ("Upload-Checksum", f"{algorithm} {digest}")

    assert patch(port, location, 0, b"abcd", checksum(b"abcd")).status == 204
    wrong = patch(port, location, 4, b"efgh", checksum(b"EFGH"))
    assert (wrong.status, wrong.reason) == (460, "Checksum Mismatch")
    [upload] = files.uploads.values()
    assert upload.data == b"abcd"  # the chunk was discarded
    assert patch(port, location, 4, b"efgh", checksum(b"efgh")).header("Upload-Offset") == "8"


def test_an_interrupted_checksummed_chunk_is_discarded(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    files = srv.mount(mp.TusUploads("/files", interrupts=[mp.interrupt(after=3)]))
    location = create(srv.port, 6).header("Location")
    assert location is not None
    digest = base64.b64encode(hashlib.sha1(b"abcdef").digest()).decode()
    cut = patch(srv.port, location, 0, b"abcdef", ("Upload-Checksum", f"sha1 {digest}"))
    assert cut.status is None
    [upload] = files.uploads.values()
    assert upload.offset == 0 and upload.data == b""
    assert srv.journal.find("PATCH")[0].body == b"abc"  # the journal still has what was read


def test_x_http_method_override(mockprogress_server: mp.MockServer, files: mp.TusUploads) -> None:
    port = mockprogress_server.port
    location = create(port, 3).header("Location")
    assert location is not None
    reply = request(
        port,
        "POST",
        location,
        headers=[TUS, STREAM, ("X-HTTP-Method-Override", "PATCH"), ("Upload-Offset", "0")],
        body=b"xyz",
    )
    assert (reply.status, reply.header("Upload-Offset")) == (204, "3")


@pytest.mark.parametrize("how", ["reset", "close"])
def test_cuts_store_exactly_the_bytes_read(mockprogress_server: mp.MockServer, how: str) -> None:
    srv = mockprogress_server
    offsets = [0, 1, 4096, 65535, 65536, 65537, 99_999]
    files = srv.mount(
        mp.TusUploads(
            "/files",
            interrupts=[
                mp.interrupt(after=k, request=2 * i + 1, how=how) for i, k in enumerate(offsets)
            ],
        )
    )
    source = os.urandom(100_000)
    for k in offsets:
        location = create(srv.port, len(source)).header("Location")
        assert location is not None
        assert patch(srv.port, location, 0, source).status is None
        head = request(srv.port, "HEAD", location, headers=[TUS])
        assert head.header("Upload-Offset") == str(k)
        assert patch(srv.port, location, k, source[k:]).status == 204
        assert files.uploads[location.rsplit("/", 1)[1]].data == source


def test_checksum_algorithms_are_checked() -> None:
    with pytest.raises(mp.ScenarioError, match="not available"):
        mp.TusUploads("/f", checksum_algorithms=["nope"])
    with pytest.raises(mp.ScenarioError, match="list of names"):
        mp.TusUploads("/f", checksum_algorithms="sha1")
    assert "checksum" not in mp.TusUploads("/f", checksum_algorithms=[]).extensions
