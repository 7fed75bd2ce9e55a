"""mp.ByteRangeResource (draft-wright-http-patch-byterange §2-§4): exact bytes without
sockets, then segmented uploads cut at many offsets through a real server, and every error of
draft-wright-http-patch-byterange §4 with the server serving on."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.recording_client import Reply, request
from support.sansio import Wire
from support.wright_client import (
    FORMATS,
    application_byteranges,
    data_within,
    message_byterange,
    multipart_byteranges,
    patch_parts,
    sha256,
    varint,
)

import mockprogress as mp
from mockprogress.engine.state import ServerState

DATA = random.Random(7).randbytes(200_000)
ACCEPT_PATCH = b"Accept-Patch: message/byterange, multipart/byteranges, application/byteranges\r\n"


def mounted(resource: mp.ByteRangeResource) -> ServerState:
    state = ServerState()
    state.mount(resource)
    return state


def patch_bytes(
    path: str, body: bytes, content_type: str = "message/byterange", extra: str = ""
) -> bytes:
    return (
        f"PATCH {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


class TestOnTheWire:
    def test_the_drafts_example_overwrites_four_bytes(self) -> None:
        resource = mp.ByteRangeResource("/f", documents={"/f/doc": b"0123456789\r\n"})
        state = mounted(resource)
        out = Wire(state=state).run(
            [patch_bytes("/f/doc", b"Content-Range: bytes 2-5/12\r\n\r\nwxyz")]
        )
        assert out == (
            b'HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nETag: "v2"\r\n'
            b"Content-Length: 22\r\n\r\n12 of 12 bytes stored\n"
        )
        assert resource.uploads["/f/doc"].data == b"01wxyz6789\r\n"

    def test_get_head_and_ranges(self) -> None:
        state = mounted(mp.ByteRangeResource("/f", documents={"/f/d": b"0123456789"}))
        tail = b'ETag: "v1"\r\nAccept-Ranges: bytes\r\n' + ACCEPT_PATCH
        out = Wire(state=state).run([b"GET /f/d HTTP/1.1\r\nHost: x\r\n\r\n"])
        assert out == (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            + tail
            + b"Content-Length: 10\r\n\r\n0123456789"
        )
        out = Wire(state=state).run([b"HEAD /f/d HTTP/1.1\r\nHost: x\r\nRange: bytes=1-2\r\n\r\n"])
        assert out == (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
            + tail
            + b"Content-Length: 10\r\n\r\n"
        )
        out = Wire(state=state).run([b"GET /f/d HTTP/1.1\r\nHost: x\r\nRange: bytes=-3\r\n\r\n"])
        assert out == (
            b"HTTP/1.1 206 Partial Content\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Range: bytes 7-9/10\r\n" + tail + b"Content-Length: 3\r\n\r\n789"
        )
        out = Wire(state=state).run(
            [b"GET /f/d HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1,8-\r\n\r\n"]
        )
        boundary = b"mockprogress-byteranges"
        multipart = (
            b"--%s\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-1/10\r\n"
            b"\r\n01\r\n--%s\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Range: bytes 8-9/10\r\n\r\n89\r\n--%s--\r\n"
        ) % (boundary, boundary, boundary)
        assert out.startswith(
            b"HTTP/1.1 206 Partial Content\r\nContent-Type: multipart/byteranges; boundary=%s\r\n"
            % boundary
        )
        assert out.endswith(b"\r\n\r\n" + multipart)
        out = Wire(state=state).run([b"GET /f/d HTTP/1.1\r\nHost: x\r\nRange: bytes=10-\r\n\r\n"])
        assert out.startswith(
            b"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Range: bytes */10\r\n"
        )
        out = Wire(state=state).run([b"GET /f/d HTTP/1.1\r\nHost: x\r\nRange: lines=1-2\r\n\r\n"])
        assert out.startswith(b"HTTP/1.1 200 OK\r\n")  # an invalid Range is ignored
        out = Wire(state=state).run([b"OPTIONS /f/d HTTP/1.1\r\nHost: x\r\n\r\n"])
        assert out == (
            b"HTTP/1.1 204 No Content\r\nAllow: GET, HEAD, PUT, PATCH, DELETE, OPTIONS\r\n"
            + ACCEPT_PATCH
            + b"\r\n"
        )


@pytest.fixture
def server() -> Iterator[mp.MockServer]:
    with mp.MockServer(spool_threshold=32 * 1024) as srv:
        yield srv


def patch(
    port: int,
    path: str,
    body: bytes,
    content_type: str = "message/byterange",
    headers: list[tuple[str, str]] | None = None,
) -> Reply:
    return request(
        port, "PATCH", path, headers=[("Content-Type", content_type), *(headers or [])], body=body
    )


def size_of(port: int, path: str) -> int:
    reply = request(port, "HEAD", path)
    assert reply.status == 200, reply
    return int(reply.header("content-length") or "-1")


CUTS = [0, 10, 40, 64, 100, 1000, 32767, 32768, 65536, 100_000, 150_001]


def test_segmented_uploads_cut_at_many_offsets_resume_to_identical_bytes(
    server: mp.MockServer,
) -> None:
    """§3: a PATCH creating the document is cut after K body bytes; HEAD shows exactly the data
    bytes among them; PATCHes from there finish it, in each of the three formats."""
    for i, cut in enumerate(CUTS):
        fmt = FORMATS[i % 3]
        resource = server.mount(
            mp.ByteRangeResource(f"/f{i}", interrupts=[mp.interrupt(after=cut, how="close")])
        )
        path = f"/f{i}/upload.bin"
        content_type, body, spans = patch_parts(fmt, 0, DATA, len(DATA))
        first = patch(server.port, path, body, content_type)
        assert first.status is None, first
        stored = data_within(spans, cut)
        # The document exists once the first part's fields were read (in the binary format,
        # they are followed by the part's content length, a varint).
        begun = spans[0][0]
        if fmt == "application/byteranges":
            begun -= len(varint(spans[0][1]))
        if cut >= begun:
            assert size_of(server.port, path) == stored
        else:
            assert stored == 0 and request(server.port, "HEAD", path).status == 404
        offset = stored
        content_type, body, _ = patch_parts(fmt, offset, DATA[offset:], len(DATA))
        done = patch(server.port, path, body, content_type)
        assert done.status == 200, done
        assert done.body == f"{len(DATA)} of {len(DATA)} bytes stored\n".encode()
        upload = resource.uploads[path]
        assert upload.complete and upload.sha256 == sha256(DATA)
        assert request(server.port, "GET", path).body == DATA


def test_random_access_overwrites_and_reads_back(server: mp.MockServer) -> None:
    resource = server.mount(mp.ByteRangeResource("/f"))
    doc = bytearray(DATA[:5000])
    assert patch(server.port, "/f/r", message_byterange(0, bytes(doc), "*")).status == 200
    rng = random.Random(3)
    for n in range(30):
        first = rng.randrange(0, len(doc))
        data = rng.randbytes(rng.randrange(1, 300))
        doc[first : first + len(data)] = data
        fmt = FORMATS[n % 3]
        content_type, body, _ = patch_parts(fmt, first, data, 999_999)
        assert patch(server.port, "/f/r", body, content_type).status == 200
    assert resource.uploads["/f/r"].data == bytes(doc)
    for first, last in [(0, 0), (17, 4000), (4990, 6000)]:
        part = request(server.port, "GET", "/f/r", headers=[("Range", f"bytes={first}-{last}")])
        assert part.status == 206
        assert part.body == bytes(doc[first : last + 1])
        end = min(last, len(doc) - 1)
        assert part.header("content-range") == f"bytes {first}-{end}/{len(doc)}"


ERRORS = [
    # (what, content type, body, status, text) against a 100-byte document
    (
        "no Content-Range",
        "message/byterange",
        b"Content-Length: 1\r\n\r\nx",
        422,
        "no Content-Range",
    ),
    (
        "an unknown unit",
        "message/byterange",
        b"Content-Range: lines 0-1/2\r\n\r\nxy",
        422,
        "only bytes",
    ),
    (
        "a malformed Content-Range",
        "message/byterange",
        b"Content-Range: bytes 5-/x\r\n\r\n",
        400,
        "complete length",
    ),
    (
        "a Content-Length that disagrees",
        "message/byterange",
        b"Content-Range: bytes 0-1/*\r\nContent-Length: 3\r\n\r\nxy",
        400,
        "does not match",
    ),
    ("a sparse write", "message/byterange", message_byterange(101, b"x", "*"), 416, "sparse write"),
    (
        "growing with */N",
        "message/byterange",
        b"Content-Range: bytes */200\r\n\r\n",
        400,
        "undefined bytes",
    ),
    (
        "a complete length over max_size",
        "message/byterange",
        message_byterange(0, b"x", 10**9),
        400,
        "exceeds max_size",
    ),
    (
        "a range past max_size",
        "message/byterange",
        message_byterange(999_999, b"xy", "*"),
        400,
        "past max_size",
    ),
    ("another media type", "text/plain", b"x", 415, "a patch must be one of"),
    ("multipart without a boundary", "multipart/byteranges", b"x", 400, "needs a boundary"),
    (
        "a multipart part without a range",
        "multipart/byteranges; boundary=B",
        b"--B\r\nX: y\r\n\r\nab\r\n--B--",
        422,
        "no Content-Range",
    ),
    (
        "a multipart patch with no close delimiter",
        "multipart/byteranges; boundary=B",
        b"--B\r\nContent-Range: bytes 0-/*\r\n\r\n" + DATA[:2],
        400,
        "close delimiter",
    ),
    (
        "a binary patch with a wrong framing indicator",
        "application/byteranges",
        b"\x09",
        400,
        "framing indicator 9",
    ),
    (
        "a binary patch cut inside a message",
        "application/byteranges",
        application_byteranges([(0, b"abc")], "*")[:5],
        400,
        "ended inside a message",
    ),
    ("an empty patch", "message/byterange", b"", 422, "names no range"),
]


def test_every_byterange_error_gets_its_status_and_the_server_keeps_serving(
    server: mp.MockServer,
) -> None:
    resource = server.mount(mp.ByteRangeResource("/f", max_size=1_000_000))
    original = DATA[:100]
    assert patch(server.port, "/f/d", message_byterange(0, original, 100)).status == 200
    for what, content_type, body, status, text in ERRORS:
        reply = patch(server.port, "/f/d", body, content_type)
        assert reply.status == status, (what, reply)
        assert text in reply.body.decode(), (what, reply.body)
        assert resource.uploads["/f/d"].data == original, what
        assert request(server.port, "GET", "/f/d").body == original  # still serving
    sparse = patch(server.port, "/f/d", message_byterange(150, b"x", "*"))
    assert sparse.header("content-range") == "bytes */100"
    assert patch(server.port, "/f/d", b"x", "text/plain").header("accept-patch") == (
        "message/byterange, multipart/byteranges, application/byteranges"
    )
    # Longer than declared: the declared bytes are written. Shorter: what came is kept (§2.5).
    long = patch(server.port, "/f/d", message_byterange(100, b"ab", "*") + b"cd")
    assert long.status == 400 and b"more than the 2 bytes" in long.body
    short = patch(server.port, "/f/d", message_byterange(102, b"efgh", "*")[:-2])
    assert short.status == 400 and b"ended after 2 of its 4 bytes" in short.body
    binary_short = patch(
        server.port,
        "/f/d",
        application_byteranges([(104, b"ijkl")], "*")[:-1],
        "application/byteranges",
    )
    assert binary_short.status == 400 and b"ended after 3 of its 4 bytes" in binary_short.body
    assert resource.uploads["/f/d"].data == original + b"abefijk"
    # Truncation is allowed.
    assert patch(server.port, "/f/d", b"Content-Range: bytes */10\r\n\r\n").status == 200
    assert resource.uploads["/f/d"].data == original[:10]


def test_zero_fill_grows_and_fills_gaps_with_zeros(server: mp.MockServer) -> None:
    resource = server.mount(mp.ByteRangeResource("/z", sparse="zero-fill", max_size=10_000))
    assert patch(server.port, "/z/d", message_byterange(5, b"abc", "*")).status == 200
    assert resource.uploads["/z/d"].data == b"\0\0\0\0\0abc"
    assert patch(server.port, "/z/d", b"Content-Range: bytes */12\r\n\r\n").status == 200
    assert resource.uploads["/z/d"].data == b"\0\0\0\0\0abc\0\0\0\0"
    assert resource.uploads["/z/d"].complete  # */12 declared the length
    huge = patch(server.port, "/z/d", message_byterange(20_000, b"x", "*"))
    assert huge.status == 400 and b"max_size" in huge.body  # §6.1: no writes at huge offsets


def test_conditional_requests(server: mp.MockServer) -> None:
    server.mount(mp.ByteRangeResource("/c"))
    create = [("If-None-Match", "*")]
    first = patch(server.port, "/c/d", message_byterange(0, b"abc", 6), headers=create)
    assert first.status == 200
    etag = first.header("etag") or ""
    again = patch(server.port, "/c/d", message_byterange(3, b"def", 6), headers=create)
    assert again.status == 412
    stale = patch(
        server.port, "/c/d", message_byterange(3, b"def", 6), headers=[("If-Match", '"v0"')]
    )
    assert stale.status == 412
    fresh = patch(
        server.port, "/c/d", message_byterange(3, b"def", 6), headers=[("If-Match", etag)]
    )
    assert fresh.status == 200 and fresh.header("etag") != etag
    assert request(server.port, "GET", "/c/d").body == b"abcdef"
    assert (
        patch(
            server.port, "/c/new", message_byterange(0, b"x", 1), headers=[("If-Match", "*")]
        ).status
        == 412
    )


def test_an_interrupted_put_is_kept_only_with_transaction_persist(server: mp.MockServer) -> None:
    """Appendix A.4: a PUT that asked for transaction=persist can be finished with PATCH."""
    resource = server.mount(
        mp.ByteRangeResource("/p", interrupts=[mp.interrupt(after=5000, request=None)])
    )
    lost = request(server.port, "PUT", "/p/atomic", body=DATA[:20_000])
    assert lost.status is None
    assert request(server.port, "HEAD", "/p/atomic").status == 404
    kept = request(
        server.port,
        "PUT",
        "/p/kept",
        headers=[("Prefer", "transaction=persist")],
        body=DATA[:20_000],
    )
    assert kept.status is None
    assert size_of(server.port, "/p/kept") == 5000
    assert not resource.uploads["/p/kept"].complete and resource.uploads["/p/kept"].length == 20_000
    rest = message_byterange(5000, DATA[5000:8000], 20_000)  # under 5000 body bytes: not cut
    reply = patch(server.port, "/p/kept", rest, headers=[("Prefer", "transaction=persist")])
    assert reply.status == 200 and reply.header("preference-applied") == "transaction=persist"
    assert size_of(server.port, "/p/kept") == 8000


def test_completion_runs_the_processing_once(server: mp.MockServer) -> None:
    resource = server.mount(
        mp.ByteRangeResource("/done", process=[mp.processing((1, 1)), mp.respond(201, b"whole\n")])
    )
    first = patch(server.port, "/done/d", message_byterange(0, b"abc", 6))
    assert first.status == 200 and first.interims == []
    last = patch(server.port, "/done/d", message_byterange(3, b"def", 6))
    assert (last.status, last.body, [i.status for i in last.interims]) == (201, b"whole\n", [102])
    again = patch(server.port, "/done/d", message_byterange(0, b"A", 6))
    assert again.status == 200
    assert resource.uploads["/done/d"].data == b"Abcdef"
    assert request(server.port, "DELETE", "/done/d").status == 204
    assert request(server.port, "GET", "/done/d").status == 404
    assert request(server.port, "DELETE", "/done/d").status == 404
    assert request(server.port, "POST", "/done/d", body=b"x").status == 405


def test_multipart_ranges_in_one_patch(server: mp.MockServer) -> None:
    resource = server.mount(mp.ByteRangeResource("/m", documents={"/m/d": b"." * 25}))
    typed = b"Content-Range: bytes 0-0/25\r\nContent-Type: text/plain\r\n\r\n."
    assert patch(server.port, "/m/d", typed).status == 200
    assert request(server.port, "GET", "/m/d").header("content-type") == "text/plain"
    body = multipart_byteranges(
        [(2, b"23456"), (17, b"78901")], 25, boundary="THIS_STRING_SEPARATES"
    )
    reply = patch(server.port, "/m/d", body, "multipart/byteranges; boundary=THIS_STRING_SEPARATES")
    assert reply.status == 200
    assert resource.uploads["/m/d"].data == b".." + b"23456" + b"." * 10 + b"78901" + b"..."


def test_range_amplification_is_refused_to_a_real_client(server: mp.MockServer) -> None:
    """RFC 9110 §14.2: 3,000 overlapping ranges of a 90 KB document get the document once (200),
    not a 270 MB multipart body; overlapping ranges are coalesced."""
    server.mount(mp.ByteRangeResource("/f", documents={"/f/d": DATA[:90_000]}))
    with httpx.Client(base_url=server.url()) as client:
        reply = client.get("/f/d", headers={"Range": "bytes=" + ",".join(["0-"] * 3000)})
        assert reply.status_code == 200
        assert reply.content == DATA[:90_000]
        reply = client.get("/f/d", headers={"Range": "bytes=10-19,0-14,100-109"})
        assert reply.status_code == 206
        parts = reply.content.split(b"--mockprogress-byteranges")
        assert [p for p in parts if b"Content-Range" in p] == [
            b"\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-19/90000"
            b"\r\n\r\n" + DATA[:20] + b"\r\n",
            b"\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 100-109/90000"
            b"\r\n\r\n" + DATA[100:110] + b"\r\n",
        ]


def test_a_zero_fill_costs_no_disk_and_counts_as_unfinished(
    server: mp.MockServer, tmp_path: Path
) -> None:
    """A 145-byte PATCH once made a 1 GiB document of written zeros, blocking the loop for
    seconds, and it did not count against max_pending. Now the gap is a hole in the file
    (nothing written), and a document with gaps no client wrote is unfinished."""
    store = mp.DirectoryUploadStore(tmp_path / "docs")
    resource = server.mount(
        mp.ByteRangeResource("/z", sparse="zero-fill", store=store, max_pending=2)
    )
    size = 256 << 20
    grow = f"Content-Range: bytes */{size}\r\n\r\n".encode()
    assert patch(server.port, "/z/a", grow).status == 200
    (data_file,) = (tmp_path / "docs").glob("*.bin")
    stat = data_file.stat()
    assert stat.st_size == size
    assert stat.st_blocks * 512 < 1 << 20  # a hole, not 256 MiB of zeros
    assert resource.uploads["/z/a"].complete  # its length is declared and reached...
    assert patch(server.port, "/z/b", message_byterange(1000, b"x", "1001")).status == 200
    # ... but both have gaps no client wrote: a third document is one too many.
    assert patch(server.port, "/z/c", grow).status == 507
    with pytest.raises(mp.ExpectationError, match="max_pending=2"):
        server.check()
    # Writing a gap makes room.
    assert patch(server.port, "/z/b", message_byterange(0, b"y" * 1000, "1001")).status == 200
    assert resource.uploads["/z/b"].data == b"y" * 1000 + b"x"
    assert resource.uploads["/z/b"].complete
    assert patch(server.port, "/z/c", message_byterange(0, b"c", "1")).status == 200
    # So does cutting it off.
    assert patch(server.port, "/z/a", b"Content-Range: bytes */0\r\n\r\n").status == 200
    assert patch(server.port, "/z/d", message_byterange(0, b"d", "1")).status == 200
