"""The journal reads an upload's bytes from the upload store instead of writing a copy.

Every body byte the server reads stays in the journal (a rule of the project), and upload
resources keep the same bytes in their store. When a resource stores a piece as it was read,
the journal shares it (``JournalBody.share``): one write per byte instead of two
(benchmarks/bench_uploads.py). The store may later truncate, overwrite or close those bytes;
before it does, the journal copies its pieces out. These tests hold the journal to the bytes
the server read through each of those changes, on a spooled and an in-memory store, and
through a read that runs while the store changes under it.
"""

from __future__ import annotations

import base64
import hashlib

import pytest
from support.recording_client import request

import mockprogress as mp
from mockprogress.engine.body import BodyBuffer, JournalBody

DATA = bytes(range(256)) * 64  # 16 KiB


def _shared(threshold: int) -> tuple[JournalBody, BodyBuffer]:
    """A journal body of three pieces: two an upload store shares, one in between it keeps."""
    store = BodyBuffer(threshold)
    journal = JournalBody(threshold)
    for piece in (DATA[:5000], DATA[5000:6000]):
        journal.append(piece)
        start = len(store)
        store.append(piece)
        journal.share(piece, store, start)
    journal.append(DATA[6000:7000])  # read, but not stored: the journal keeps it itself
    tail = DATA[7000:]
    journal.append(tail)
    start = len(store)
    store.append(tail)
    journal.share(tail, store, start)
    journal.settle()
    return journal, store


@pytest.mark.parametrize("threshold", [1 << 20, 1024], ids=["in-memory", "spooled"])
class TestCopyOnWrite:
    def test_shared_pieces_read_back_whole_and_in_ranges(self, threshold: int) -> None:
        journal, _ = _shared(threshold)
        assert len(journal) == len(DATA)
        assert journal.read() == DATA
        assert journal.read(4990, 7010) == DATA[4990:7010]
        assert journal.read(16000) == DATA[16000:]
        # Only the piece nobody stored was written by the journal.
        assert journal._own is not None and len(journal._own) == 1000

    def test_a_truncated_store_leaves_the_journal_whole(self, threshold: int) -> None:
        journal, store = _shared(threshold)
        store.truncate(3000)
        assert store.read() == DATA[:3000]
        assert journal.read() == DATA

    def test_an_overwritten_store_leaves_the_journal_whole(self, threshold: int) -> None:
        journal, store = _shared(threshold)
        store.write_at(100, b"x" * 8000)
        assert journal.read() == DATA

    def test_a_closed_store_leaves_the_journal_whole(self, threshold: int) -> None:
        journal, store = _shared(threshold)
        store.close()
        assert journal.read() == DATA

    def test_appends_to_the_store_copy_nothing_out(self, threshold: int) -> None:
        journal, store = _shared(threshold)
        store.append(b"more")
        store.write_at(len(store), b"and more")  # an append written at the end
        assert journal._own is not None and len(journal._own) == 1000
        assert journal.read() == DATA


def test_a_piece_the_store_did_not_take_as_read_is_written_by_the_journal() -> None:
    store = BodyBuffer()
    journal = JournalBody()
    piece = DATA[:100]
    journal.append(piece)
    store.append(piece[:40])  # a resource keeping part of it (a length limit)
    journal.share(piece[:40], store, 0)  # not the piece the journal holds: ignored
    journal.settle()
    store.truncate(0)
    assert journal.read() == piece


def test_a_read_from_another_thread_notices_a_store_that_changed_under_it() -> None:
    class ChangingStore(BodyBuffer):
        """Truncates itself in the middle of the journal's first read, as the server's loop
        could while a test's thread reads a snapshot."""

        __slots__ = ("changed",)

        def read(self, start: int = 0, end: int | None = None) -> bytes:
            data = super().read(start, end)
            if not getattr(self, "changed", False):
                self.changed = True
                self.truncate(10)  # the journal copies its pieces out first
                return data[:10]  # what the interrupted read got
            return data

    store = ChangingStore()
    journal = JournalBody()
    journal.append(DATA)
    store.append(DATA)
    journal.share(DATA, store, 0)
    assert journal.read() == DATA


def test_closing_the_journal_releases_its_shares() -> None:
    journal, store = _shared(1024)
    journal.close()
    assert journal.read() == b"" and len(journal) == 0
    store.truncate(0)  # nothing left to copy out


# ---- through the upload resources --------------------------------------------------------


@pytest.mark.mockprogress(max_body_size=3 << 20, spool_threshold=1 << 20)
def test_an_ietf_upload_is_journaled_without_a_second_copy(
    mockprogress_server: mp.MockServer,
) -> None:
    srv = mockprogress_server
    body = bytes(range(256)) * (3 << 12)  # 3 MiB
    draft = ("Upload-Draft-Interop-Version", "8")
    uploads = srv.mount(mp.ResumableUploads("/uploads"))
    reply = request(
        srv.port,
        "POST",
        "/uploads",
        headers=[draft, ("Upload-Complete", "?1"), ("Content-Type", "application/x")],
        body=body,
    )
    assert reply.status == 200, reply
    [upload] = uploads.uploads.values()
    assert upload.data == body
    assert srv.journal.last.body == body
    logs = srv._call(lambda: list(srv._state.logs))
    # The journal wrote at most what came with the request head (h11's first read).
    own = logs[-1].body._own
    assert own is None or len(own) < 65536


def test_a_tus_chunk_discarded_for_its_checksum_stays_in_the_journal(
    mockprogress_server: mp.MockServer,
) -> None:
    srv = mockprogress_server
    files = srv.mount(mp.TusUploads("/files"))
    tus = ("Tus-Resumable", "1.0.0")
    stream = ("Content-Type", "application/offset+octet-stream")
    created = request(srv.port, "POST", "/files", headers=[tus, ("Upload-Length", "8")])
    location = created.header("Location")
    assert location is not None
    wrong = base64.b64encode(hashlib.sha1(b"EFGH").digest()).decode()
    reply = request(
        srv.port,
        "PATCH",
        location,
        headers=[tus, stream, ("Upload-Offset", "0"), ("Upload-Checksum", f"sha1 {wrong}")],
        body=b"efgh",
    )
    assert reply.status == 460
    [upload] = files.uploads.values()
    assert upload.data == b""  # the store truncated the chunk away
    assert srv.journal.last.body == b"efgh"  # the journal keeps what the server read


def test_free_storage_after_a_shared_upload(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    files = srv.mount(mp.TusUploads("/files"))
    tus = ("Tus-Resumable", "1.0.0")
    stream = ("Content-Type", "application/offset+octet-stream")
    location = request(srv.port, "POST", "/files", headers=[tus, ("Upload-Length", "5")]).header(
        "Location"
    )
    assert location is not None
    request(
        srv.port, "PATCH", location, headers=[tus, stream, ("Upload-Offset", "0")], body=b"hello"
    )
    journal = srv.journal
    srv._call(srv._state.free_storage)
    assert journal.last.body == b""  # freed: the bodies read empty, as documented
    assert [u.offset for u in files.uploads.values()] == [5]
