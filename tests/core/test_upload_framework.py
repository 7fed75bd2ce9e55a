"""The upload framework's seams, over the sans-IO core: every upload resource reads its bodies
through the one reader (``UploadResource.read_body``) and ends in one ``BodyEnd``; and
``mp.interrupt(request=N)`` counts requests by one rule (resources/uploads.py): a request
counts when its body is read as upload data, and one that declares an empty body does not."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import pytest
from support.sansio import Wire

import mockprogress as mp
from mockprogress.resources.uploads import BodyEnd, UploadResource

Request = Callable[[bytes], bytes]


def _tus(data: bytes) -> bytes:
    return (
        b"POST /files HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 5\r\n"
        b"Content-Type: application/offset+octet-stream\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(data), data)
    )


def _ietf(data: bytes) -> bytes:
    return b"POST /uploads HTTP/1.1\r\nHost: x\r\nUpload-Complete: ?1\r\n" + _framed(data)


def _resume_request(data: bytes) -> bytes:
    return b"POST /upload HTTP/1.1\r\nHost: x\r\n" + _framed(data)


def _byte_range(data: bytes) -> bytes:
    return b"PUT /files/a.txt HTTP/1.1\r\nHost: x\r\n" + _framed(data)


def _framed(data: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(data), data)


#: Each upload resource, built with the given interrupts, and a request that uploads data to it.
RESOURCES: dict[str, tuple[Callable[[list[mp.Interrupt]], UploadResource], Request]] = {
    "tus": (lambda cuts: mp.TusUploads("/files", interrupts=cuts), _tus),
    "ietf": (lambda cuts: mp.ResumableUploads("/uploads", interrupts=cuts), _ietf),
    "resume-request": (
        lambda cuts: mp.ResumableRequests("/upload", interrupts=cuts),
        _resume_request,
    ),
    "byte-range": (lambda cuts: mp.ByteRangeResource("/files", interrupts=cuts), _byte_range),
}


@pytest.mark.parametrize("name", RESOURCES)
def test_every_upload_resource_counts_requests_by_the_one_rule(name: str) -> None:
    build, request = RESOURCES[name]
    resource = build([mp.interrupt(after=2, request=2)])
    wire = Wire()
    wire.state.mount(resource)

    wire.run([request(b"")])  # declares an empty body: not an upload request
    wire.run([request(b"hello")])  # upload request 1: whole
    wire.run([request(b"world")])  # upload request 2: cut after 2 body bytes
    assert resource.plan.count == 2
    empty, whole, cut = wire.state.journal()
    assert (empty.fault, whole.fault) == (None, None)
    assert cut.fault is not None
    assert (cut.fault.kind, cut.fault.body_bytes, bytes(cut.body)) == ("reset", 2, b"wo")
    assert cut.fault.detail == (
        "reset after 2 body bytes read (mp.interrupt(after=2), upload request 2)"
    )


@pytest.mark.parametrize("name", RESOURCES)
def test_every_upload_resource_reads_its_body_through_the_one_reader(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    build, request = RESOURCES[name]
    ends: list[tuple[str, BodyEnd]] = []
    read_body = UploadResource.read_body

    def spy(self: UploadResource, *args: Any, **kwargs: Any) -> Generator[Any, Any, BodyEnd]:
        end = yield from read_body(self, *args, **kwargs)
        ends.append((type(self).__name__, end))
        return end

    monkeypatch.setattr(UploadResource, "read_body", spy)
    resource = build([])
    wire = Wire()
    wire.state.mount(resource)
    wire.run([request(b"hello")])
    assert ends == [(type(resource).__name__, BodyEnd.COMPLETE)]
