"""mp.ResumableRequests (draft-wright-http-resume-request with partial uploads).

First the core without sockets (exact bytes on the wire), then a real server driven by our h11
client: uploads cut at many offsets, each resumed until the stored bytes hash like the source;
and every error path of draft-wright-http-patch-byterange §4 and of the reference demo, each followed by proof that the server
still serves.
"""

from __future__ import annotations

import hashlib
import random
import re
import socket
import time
from collections.abc import Iterator

import pytest
from support.recording_client import Reply, request
from support.sansio import Wire
from support.wright_client import (
    FORMATS,
    RESUME,
    data_within,
    head_offset,
    job_of,
    locations,
    message_byterange,
    patch_parts,
    post,
    resume,
    sha256,
)

import mockprogress as mp
from mockprogress.engine.state import ServerState

DATA = random.Random(5).randbytes(300_000)


def mounted(resource: mp.Resource) -> ServerState:
    state = ServerState()
    state.mount(resource)
    return state


def post_head(path: str, length: int, extra: str = "") -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n"
        f"Content-Type: text/plain\r\n{extra}\r\n"
    ).encode()


RESUME_HEADERS = "Expect: 100-continue\r\nPrefer: resume\r\n"


def continue_for(job: str) -> bytes:
    """The 100 Continue that names job ``job``'s two locations under /upload."""
    return (
        f"HTTP/1.1 100 Continue\r\nRequest-Content-Location: /upload/{job}.req\r\n"
        f"Response-Message-Location: /upload/{job}.res\r\n\r\n"
    ).encode()


def last_job(resource: mp.Resource) -> str:
    """The id of the job the resource created last."""
    assert isinstance(resource, mp.ResumableRequests)
    return list(resource.uploads)[-1]


def wire_request(method: str, target: str) -> bytes:
    return f"{method} {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


class TestOnTheWire:
    def test_the_100_names_both_locations_then_the_processing_answers(self) -> None:
        state = mounted(mp.ResumableRequests("/upload"))
        out = Wire(state=state).run([post_head("/upload", 5, RESUME_HEADERS), b"hello"])
        text = f"received 5 bytes, sha256 {hashlib.sha256(b'hello').hexdigest()}\n".encode()
        assert (
            out
            == continue_for(last_job(state.resources[0]))
            + (
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: %d\r\n\r\n" % len(text)
            )
            + text
        )
        (upload,) = state.resources[0].uploads.values()
        assert isinstance(upload, mp.Upload) and isinstance(upload, mp.StoredRequest)
        assert (upload.data, upload.complete, upload.offset) == (b"hello", True, 5)
        assert (upload.method, upload.headers["content-type"]) == ("POST", "text/plain")

    def test_an_interrupted_upload_keeps_its_bytes_and_head_says_299(self) -> None:
        resource = mp.ResumableRequests("/upload")
        state = mounted(resource)
        Wire(state=state).run([post_head("/upload", 10, RESUME_HEADERS), b"abc"])  # then EOF
        job = last_job(resource)
        out = Wire(state=state).run([wire_request("HEAD", f"/upload/{job}.req")])
        assert out == (
            b"HTTP/1.1 299 Incomplete Resource\r\nContent-Type: text/plain\r\n"
            b"Allow: GET, HEAD, PATCH, DELETE\r\n"
            b"Accept-Patch: message/byterange, multipart/byteranges, application/byteranges\r\n"
            b"Content-Length: 3\r\n\r\n"
        )
        out = Wire(state=state).run([wire_request("GET", f"/upload/{job}.req")])
        assert out.startswith(b"HTTP/1.1 299 Incomplete Resource\r\n") and out.endswith(b"\r\nabc")
        assert resource.uploads[job].data == b"abc" and not resource.uploads[job].complete
        out = Wire(state=state).run([wire_request("GET", f"/upload/{job}.res")])
        assert out.startswith(b"HTTP/1.1 404 Not Found\r\n")
        assert out.endswith(b"its content is incomplete (3 of 10 bytes)\n")

    def test_a_patch_completes_the_content_and_message_http_keeps_the_response(self) -> None:
        resource = mp.ResumableRequests(
            "/upload", process=[mp.respond(201, b"made\n", {"Location": "/items/1"})]
        )
        state = mounted(resource)
        Wire(state=state).run([post_head("/upload", 10, RESUME_HEADERS), b"abc"])
        job = last_job(resource)
        body = message_byterange(3, b"defghij", 10)
        out = Wire(state=state).run(
            [
                f"PATCH /upload/{job}.req HTTP/1.1\r\nHost: x\r\n".encode()
                + b"Content-Type: message/byterange\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body) + body
            ]
        )
        assert out == (
            b"HTTP/1.1 201 Created\r\nLocation: /items/1\r\nContent-Length: 5\r\n\r\nmade\n"
        )
        assert resource.uploads[job].data == b"abcdefghij"
        out = Wire(state=state).run([wire_request("GET", f"/upload/{job}.res")])
        message = b"HTTP/1.1 201 Created\r\nLocation: /items/1\r\nContent-Length: 5\r\n\r\nmade\n"
        assert (
            out
            == (
                b"HTTP/1.1 200 OK\r\nContent-Type: message/http\r\nContent-Length: %d\r\n\r\n"
                % len(message)
            )
            + message
        )
        out = Wire(state=state).run([wire_request("HEAD", f"/upload/{job}.req")])
        assert out.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 10\r\n" in out

    def test_draft_acknowledgements_are_100s_with_acknowledge_when_asked(self) -> None:
        state = mounted(mp.ResumableRequests("/upload", acknowledge_every=4))
        head = post_head("/upload", 10, "Expect: 100-continue\r\nPrefer: resume, acknowledge\r\n")
        out = Wire(state=state).run([head, b"abcd", b"ef", b"gh", b"ij"])
        assert out.startswith(
            continue_for(last_job(state.resources[0]))
            + b"HTTP/1.1 100 Continue\r\nAcknowledge: 4\r\n\r\n"
            + b"HTTP/1.1 100 Continue\r\nAcknowledge: 8\r\n\r\n"
            + b"HTTP/1.1 200 OK\r\n"
        )
        out = Wire(state=state).run([post_head("/upload", 10, RESUME_HEADERS), b"abcdefghij"])
        assert out.count(b"Acknowledge") == 0  # not asked for

    def test_the_demo_dialect_acknowledges_with_raw_199_lines(self) -> None:
        state = mounted(mp.ResumableRequests("/upload", dialect="demo", acknowledge_every=4))
        out = Wire(state=state).run(
            [post_head("/upload", 10, "Expect: 100-continue\r\nPrefer: x\r\n"), b"abcd", b"efghij"]
        )
        assert out.startswith(
            continue_for("1") + b"HTTP/1.1 199 Acknowledge 4B\r\n\r\nHTTP/1.1 200 OK\r\n"
        )

    def test_the_wire_copy_may_be_lost_while_the_stored_copy_is_whole(self) -> None:
        resource = mp.ResumableRequests(
            "/upload", process=[mp.respond(200, b"the result\n").cut(at=0, unit="wire")]
        )
        state = mounted(resource)
        out = Wire(state=state).run([post_head("/upload", 3, RESUME_HEADERS), b"abc"])
        job = last_job(resource)
        assert out == continue_for(job)
        out = Wire(state=state).run([wire_request("GET", f"/upload/{job}.res")])
        assert out.endswith(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nthe result\n")

    def test_an_object_with_a_process_program_answers_and_its_response_is_kept(self) -> None:
        class Job:
            def process(self, ctx):  # type: ignore[no-untyped-def]
                yield from ctx.run(mp.processing('0/1 "Checking"'))
                yield from ctx.run(mp.pause(0.5))
                yield from ctx.run(mp.respond(201, b"checked\n"))

        resource = mp.ResumableRequests("/upload", process=Job())
        state = mounted(resource)
        wire = Wire(state=state)
        out = wire.run([post_head("/upload", 3, RESUME_HEADERS), b"abc"])
        job = last_job(resource)
        assert out == continue_for(job) + (
            b'HTTP/1.1 102 Processing\r\nProgress: 0/1 "Checking"\r\n\r\n'
            b"HTTP/1.1 201 Created\r\nContent-Length: 8\r\n\r\nchecked\n"
        )
        assert wire.sleeps == [0.5]
        assert (
            resource.uploads[job].response
            == b"HTTP/1.1 201 Created\r\nContent-Length: 8\r\n\r\nchecked\n"
        )

    def test_a_function_of_the_upload_chooses_the_answer(self) -> None:
        def answer(upload: mp.StoredRequest) -> list[mp.Step]:
            return [mp.respond(200, upload.data[::-1])]

        state = mounted(mp.ResumableRequests("/upload", process=answer))
        out = Wire(state=state).run([post_head("/upload", 3, RESUME_HEADERS), b"abc"])
        assert out.endswith(b"\r\n\r\ncba")

    def test_ignore_incomplete_and_requests_without_resume_discard_a_cut_upload(self) -> None:
        resource = mp.ResumableRequests("/upload")
        state = mounted(resource)
        Wire(state=state).run(
            [
                post_head(
                    "/upload", 10, "Expect: 100-continue\r\nPrefer: resume=ignore-incomplete\r\n"
                ),
                b"abc",
            ]
        )
        out = Wire(state=state).run([post_head("/upload", 10, "Expect: 100-continue\r\n"), b"xyz"])
        assert out == b"HTTP/1.1 100 Continue\r\n\r\n"  # no locations without Prefer: resume
        for job in resource.uploads:
            out = Wire(state=state).run([wire_request("HEAD", f"/upload/{job}.req")])
            assert out.startswith(b"HTTP/1.1 410 Gone\r\n")
        assert [u.discarded for u in resource.uploads.values()] == [True, True]
        assert [u.data for u in resource.uploads.values()] == [b"", b""]

    def test_delete_forgets_the_job(self) -> None:
        resource = mp.ResumableRequests("/upload")
        state = mounted(resource)
        Wire(state=state).run([post_head("/upload", 3, RESUME_HEADERS), b"abc"])
        job = last_job(resource)
        out = Wire(state=state).run([wire_request("DELETE", f"/upload/{job}.res")])
        assert out == b"HTTP/1.1 204 No Content\r\n\r\n"
        out = Wire(state=state).run([wire_request("HEAD", f"/upload/{job}.req")])
        assert out.startswith(b"HTTP/1.1 404 Not Found\r\n")
        assert resource.uploads == {}

    def test_draft_job_uris_are_unguessable_and_the_demo_dialect_counts(self) -> None:
        draft = mp.ResumableRequests("/upload")
        demo = mp.ResumableRequests("/demo", dialect="demo")
        state = ServerState()
        state.mount(draft)
        state.mount(demo)
        for _ in range(3):
            Wire(state=state).run([post_head("/upload", 1, RESUME_HEADERS), b"a"])
            Wire(state=state).run([post_head("/demo", 1, RESUME_HEADERS), b"a"])
        ids = list(draft.uploads)
        assert len(set(ids)) == 3
        assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", i) for i in ids), ids  # token_urlsafe(16)
        assert list(demo.uploads) == ["1", "2", "3"]
        # The next job number is never one given before, even after a delete.
        Wire(state=state).run([wire_request("DELETE", "/demo/3.req")])
        Wire(state=state).run([post_head("/demo", 1, RESUME_HEADERS), b"a"])
        assert list(demo.uploads) == ["1", "2", "4"]
        out = Wire(state=state).run([wire_request("HEAD", "/upload/1.req")])
        assert out.startswith(b"HTTP/1.1 404 Not Found\r\n")


# ---- a real server and our h11 client -------------------------------------------------------


@pytest.fixture
def server() -> Iterator[mp.MockServer]:
    with mp.MockServer(spool_threshold=64 * 1024) as srv:
        yield srv


CUTS = [0, 1, 63, 64, 65, 1000, 65535, 65536, 65537, 131072, 150_000, 299_999]


def test_uploads_cut_at_many_offsets_resume_to_identical_bytes(server: mp.MockServer) -> None:
    """The POST is cut after K bytes and the first PATCH after K2 more body bytes; each HEAD
    shows exactly what was read, and the resumed content hashes like the source."""
    for i, cut in enumerate(CUTS):
        fmt = FORMATS[i % 3]
        patch_cut = 70_000 + i * 997
        resource = server.mount(
            mp.ResumableRequests(
                f"/u{i}",
                interrupts=[mp.interrupt(after=cut), mp.interrupt(after=patch_cut, request=2)],
            )
        )
        first = post(server.port, f"/u{i}", DATA)
        assert first.status is None and first.error, (cut, first)
        rcl, rml = locations(first)
        job = job_of(rcl)
        assert (rcl, rml) == (f"/u{i}/{job}.req", f"/u{i}/{job}.res")
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", job)
        assert head_offset(server.port, rcl) == (299, cut)
        done = resume(server.port, rcl, DATA, fmt)
        assert done.offsets[0] == cut
        patch_exchange = server.journal.find("PATCH", rcl)[0]
        _, body, spans = patch_parts(fmt, cut, DATA[cut:], len(DATA))
        if len(body) > patch_cut:
            # The cut PATCH stored exactly the data bytes among its first patch_cut body bytes.
            assert patch_exchange.body_size == patch_cut and patch_exchange.fault is not None
            assert patch_exchange.body == body[:patch_cut]
            assert done.offsets[1] == cut + data_within(spans, patch_cut)
        else:
            assert patch_exchange.fault is None and len(done.patches) == 1
        assert done.final.status == 200, done.final
        assert done.final.body == f"received {len(DATA)} bytes, sha256 {sha256(DATA)}\n".encode()
        upload = resource.uploads[job]
        assert upload.complete and upload.sha256 == sha256(DATA)
        message = request(server.port, "GET", rml)
        assert message.header("content-type") == "message/http"
        assert message.body.endswith(done.final.body)


def test_every_upload_request_cut_still_completes(server: mp.MockServer) -> None:
    resource = server.mount(
        mp.ResumableRequests("/every", interrupts=[mp.interrupt(after=40_000, request=None)])
    )
    first = post(server.port, "/every", DATA)
    rcl, _ = locations(first)
    done = resume(server.port, rcl, DATA)

    def fields(offset: int) -> int:
        return len(message_byterange(offset, DATA[offset:], len(DATA))) - (len(DATA) - offset)

    # Each cut PATCH stores its body's first 40,000 bytes less its fields, exactly.
    assert done.offsets[0] == 40_000
    for a, b in zip(done.offsets, done.offsets[1:], strict=False):
        assert b == a + 40_000 - fields(a)
    assert len(DATA) - done.offsets[-1] + fields(done.offsets[-1]) <= 40_000
    assert resource.uploads[job_of(rcl)].sha256 == sha256(DATA)
    cut_patches = [ex for ex in server.journal.find("PATCH") if ex.fault is not None]
    assert len(cut_patches) == len(done.patches) - 1
    assert {ex.body_size for ex in cut_patches} == {40_000}


def still_serves(server: mp.MockServer, path: str = "/fine") -> None:
    """A whole new upload works after whatever came before."""
    reply = post(server.port, path, b"fine")
    assert reply.status == 200 and reply.body.startswith(b"received 4 bytes"), reply


def patch(port: int, rcl: str, body: bytes, content_type: str = "message/byterange") -> Reply:
    return request(port, "PATCH", rcl, headers=[("Content-Type", content_type)], body=body)


DRAFT_ERRORS = [
    # (what, content type, patch body for a 1000-byte job holding 100 bytes, status, text)
    (
        "a gap after the stored bytes",
        "message/byterange",
        message_byterange(200, b"x" * 10, 1000),
        416,
        "only 100 bytes are stored: resume at 100",
    ),
    (
        "a malformed Content-Range",
        "message/byterange",
        b"Content-Range: bytes 100-90/1000\r\n\r\nx",
        400,
        "last position is before the first",
    ),
    (
        "no Content-Range",
        "message/byterange",
        b"Content-Length: 1\r\n\r\nx",
        422,
        "no Content-Range",
    ),
    (
        "an unknown range unit",
        "message/byterange",
        b"Content-Range: lines 1-2/3\r\n\r\nxy",
        422,
        "not supported",
    ),
    (
        "a unitless range outside the demo",
        "message/byterange",
        b"Content-Range: 100-109/1000\r\n\r\n" + b"x" * 10,
        400,
        "no range unit",
    ),
    (
        "a wrong complete length",
        "message/byterange",
        message_byterange(100, b"x" * 10, 999),
        400,
        "is not the request's Content-Length 1000",
    ),
    (
        "a range past the end",
        "message/byterange",
        message_byterange(995, b"x" * 10, "*"),
        400,
        "ends past the request's 1000 bytes",
    ),
    (
        "the unsatisfied-range form",
        "message/byterange",
        b"Content-Range: bytes */1000\r\n\r\n",
        400,
        "sets a length",
    ),
    (
        "a Content-Length that disagrees",
        "message/byterange",
        b"Content-Range: bytes 100-109/1000\r\nContent-Length: 9\r\n\r\n" + b"x" * 10,
        400,
        "does not match its Content-Range",
    ),
    ("another media type", "application/json", b"{}", 415, "a patch must be one of"),
    ("multipart without a boundary", "multipart/byteranges", b"--x--", 400, "needs a boundary"),
]


def test_every_draft_error_gets_its_status_and_the_server_keeps_serving(
    server: mp.MockServer,
) -> None:
    resource = server.mount(mp.ResumableRequests("/up", interrupts=[mp.interrupt(after=100)]))
    server.mount(mp.ResumableRequests("/fine"))
    source = bytes(range(256)) * 4
    source = source[:1000]
    rcl, rml = locations(post(server.port, "/up", source))
    for what, content_type, body, status, text in DRAFT_ERRORS:
        reply = patch(server.port, rcl, body, content_type)
        assert reply.status == status, (what, reply)
        assert text in reply.body.decode(), (what, reply.body)
        assert head_offset(server.port, rcl) == (299, 100), what  # nothing lost, nothing added
        still_serves(server)
    gap = patch(server.port, rcl, message_byterange(200, b"x", 1000))
    assert gap.header("content-range") == "bytes */100"
    assert patch(server.port, rcl, b"{}", "text/plain").header("accept-patch") == (
        "message/byterange, multipart/byteranges, application/byteranges"
    )
    # A longer body keeps the declared bytes; a shorter one is an interruption: what came is
    # kept (§2.5). Both are answered 400.
    long = message_byterange(100, source[100:105], 1000) + b"more!"
    reply = patch(server.port, rcl, long)
    assert reply.status == 400 and b"more than the 5 bytes" in reply.body
    assert head_offset(server.port, rcl) == (299, 105)
    short = message_byterange(105, source[105:205], 1000)[:-50]
    reply = patch(server.port, rcl, short)
    assert reply.status == 400 and b"ended after 50 of its 100 bytes" in reply.body
    assert head_offset(server.port, rcl) == (299, 155)
    # Overwriting stored bytes is fine in the draft dialect; then finish.
    done = resume(server.port, rcl, source)
    assert done.final.status == 200
    assert resource.uploads[job_of(rcl)].data == source
    late = patch(server.port, rcl, message_byterange(0, source[:10], 1000))
    assert late.status == 409 and rml.encode() in late.body


def test_request_level_errors(server: mp.MockServer) -> None:
    server.mount(mp.ResumableRequests("/up"))
    server.mount(mp.ResumableRequests("/fine"))
    chunked = request(
        server.port, "POST", "/up", headers=RESUME, body=b"abc", chunked=True, wait_for_continue=1.0
    )
    assert chunked.status == 411 and b"Content-Length" in chunked.body
    odd = post(server.port, "/up", b"abc", [("Expect", "200-ok"), ("Prefer", "resume")])
    assert odd.status == 417
    bogus = post(
        server.port, "/up", b"abc", [("Expect", "100-continue"), ("Prefer", "resume=maybe")]
    )
    assert bogus.status == 400 and b"resume=maybe" in bogus.body
    # RFC 7240 §2: a malformed Prefer element is ignored alone, never answered with an error.
    broken = post(server.port, "/up", b"abc", [("Expect", "100-continue"), ("Prefer", 'x="open')])
    assert broken.status == 200 and broken.interims[0].header("request-content-location") is None
    kept = post(server.port, "/up", b"abc", [("Expect", "100-continue"), ("Prefer", 'resume, x="')])
    assert kept.status == 200 and kept.interims[0].header("request-content-location")
    assert request(server.port, "GET", "/up").status == 405
    assert request(server.port, "GET", "/up/7.req").status == 404
    assert request(server.port, "GET", "/up/nope").status == 404
    rcl, rml = locations(post(server.port, "/up", b"abc"))
    assert request(server.port, "PUT", rcl, body=b"x").status == 405
    assert request(server.port, "POST", rml, body=b"x").status == 405
    still_serves(server)


@pytest.mark.parametrize(
    ("dialect", "answer"),
    [
        ("draft", b"HTTP/1.1 409 Conflict\r\n"),
        ("demo", b"HTTP/1.1 400 Bad Request\r\n"),
    ],
)
def test_another_request_taking_over_stops_the_first(
    server: mp.MockServer, dialect: str, answer: bytes
) -> None:
    resource = server.mount(
        mp.ResumableRequests("/up", dialect=dialect, interrupts=[mp.interrupt(after=10)])  # type: ignore[arg-type]
    )
    source = bytes(range(200))
    rcl, _ = locations(post(server.port, "/up", source))
    slow_body = message_byterange(10, source[10:], 200)
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    try:
        slow.sendall(
            f"PATCH {rcl} HTTP/1.1\r\nHost: x\r\nContent-Type: message/byterange\r\n"
            f"Content-Length: {len(slow_body)}\r\n\r\n".encode()
            + slow_body[:100]
        )
        deadline = time.monotonic() + 5
        while head_offset(server.port, rcl)[1] < 10 + 100 - slow_body.find(source[10:20]):
            assert time.monotonic() < deadline, "the slow PATCH's bytes never arrived"
            time.sleep(0.01)
        stored = head_offset(server.port, rcl)[1]
        fast = patch(server.port, rcl, message_byterange(stored, source[stored:], 200))
        assert fast.status == 200
        slow.sendall(slow_body[100:])
        reply = slow.recv(65536)
        assert reply.startswith(answer), reply
        if dialect == "draft":
            assert b"another request took over" in reply
        else:
            assert reply.endswith(b"\r\n\r\nUpload interrupted by another session.\r\n")
    finally:
        slow.close()
    assert resource.uploads[job_of(rcl)].data == source
