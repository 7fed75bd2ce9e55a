"""The upload stores: in memory with spooling to disk, and the directory store whose uploads
survive a restart (files + state, ids that cannot climb out of the directory)."""

from __future__ import annotations

import errno
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

import mockprogress as mp
from mockprogress.engine import body as body_module
from mockprogress.engine.body import BodyBuffer, FileBytes
from mockprogress.resources.upload_store import UPLOAD_ID, StoredResponse


def test_memory_store_spools_an_upload_to_disk_past_the_threshold() -> None:
    store = mp.UploadStore(spool_threshold=10)
    upload = store.create(length=None, metadata={})
    assert isinstance(upload.data, BodyBuffer)
    upload.append(b"0123456789")
    assert not upload.data.on_disk
    upload.append(b"abc")
    assert upload.data.on_disk
    snapshot = upload.snapshot()
    assert snapshot.data == b"0123456789abc"
    assert snapshot.offset == 13
    assert snapshot.hexdigest() == hashlib.sha256(b"0123456789abc").hexdigest()


def test_uncommitted_bytes_are_outside_the_snapshot_and_can_be_discarded() -> None:
    upload = mp.UploadStore().create(length=None, metadata={})
    upload.append(b"kept")
    upload.append(b"checking", commit=False)
    assert upload.snapshot().data == b"kept"
    upload.discard_uncommitted()
    assert len(upload.data) == 4
    upload.append(b"more", commit=False)
    upload.commit()
    assert upload.snapshot().data == b"keptmore"


def test_ids_are_unguessable_and_deleted_ones_are_remembered() -> None:
    store = mp.UploadStore()
    ids = {store.create(length=None, metadata={}).id for _ in range(50)}
    assert len(ids) == 50
    assert all(UPLOAD_ID.fullmatch(i) and len(i) >= 22 for i in ids)
    some = next(iter(ids))
    snapshot = store.get(some)
    assert snapshot is not None
    snapshot.append(b"bytes")
    taken = snapshot.snapshot()
    store.delete(some)
    assert store.get(some) is None
    assert some in store.gone
    assert taken.data == b"bytes"  # a snapshot taken before still reads its bytes
    assert store.get("../../etc/passwd") is None


def test_directory_store_survives_a_restart(tmp_path: Path) -> None:
    store = mp.DirectoryUploadStore(tmp_path / "uploads")
    partial = store.create(length=10, metadata={"filename": "a.bin"})
    partial.append(b"01234")
    store.save(partial)
    done = store.create(length=3, metadata={})
    done.append(b"xyz")
    done.complete = True
    done.final = StoredResponse(201, "Created", (("X-Id", "1"),), b"ok\n")
    store.save(done)
    # Bytes appended after the last save (the server stopped mid-request) still count.
    partial.append(b"567")

    again = mp.DirectoryUploadStore(tmp_path / "uploads")
    loaded = again.get(partial.id)
    assert loaded is not None
    assert (loaded.offset, loaded.length, loaded.complete) == (8, 10, False)
    assert loaded.snapshot().data == b"01234567"
    assert loaded.metadata == {"filename": "a.bin"}
    finished = again.get(done.id)
    assert finished is not None and finished.complete
    assert finished.final == StoredResponse(201, "Created", (("X-Id", "1"),), b"ok\n")


def test_directory_store_drops_unverified_bytes_on_restart(tmp_path: Path) -> None:
    store = mp.DirectoryUploadStore(tmp_path)
    upload = store.create(length=None, metadata={})
    upload.append(b"good")
    upload.verifying_from = upload.offset
    store.save(upload)
    upload.append(b"unchecked", commit=False)  # the server stops before the checksum is known

    loaded = mp.DirectoryUploadStore(tmp_path).get(upload.id)
    assert loaded is not None
    assert loaded.snapshot().data == b"good"


def test_directory_store_files_and_deletion(tmp_path: Path) -> None:
    store = mp.DirectoryUploadStore(tmp_path)
    upload = store.create(length=None, metadata={})
    upload.append(b"data")
    store.save(upload)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"{upload.id}.bin", f"{upload.id}.json"]
    )
    assert (tmp_path / f"{upload.id}.bin").read_bytes() == b"data"
    assert json.loads((tmp_path / f"{upload.id}.json").read_text())["id"] == upload.id
    store.delete(upload.id)
    assert list(tmp_path.iterdir()) == []


def test_directory_store_never_builds_a_path_from_a_foreign_id(tmp_path: Path) -> None:
    inside = tmp_path / "store"
    store = mp.DirectoryUploadStore(inside)
    (tmp_path / "secret.json").write_text("{}")
    for name in ("../secret", "..%2Fsecret", "/etc/passwd", "a" * 15, "x/" + "a" * 20):
        assert store.get(name) is None
        with pytest.raises(ValueError):
            store._paths(name)
    # Files in the directory that are not uploads are left alone.
    (inside / "notes.json").write_text("not an upload")
    assert len(mp.DirectoryUploadStore(inside)) == 0


def test_directory_store_rejects_a_file_and_unreadable_state(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(mp.ScenarioError, match="cannot use"):
        mp.DirectoryUploadStore(not_a_dir)
    (tmp_path / ("b" * 22 + ".json")).write_text("{broken")
    with pytest.raises(mp.ScenarioError, match="not a readable upload state"):
        mp.DirectoryUploadStore(tmp_path)


def test_file_bytes_reads_ranges_and_truncates(tmp_path: Path) -> None:
    data = FileBytes(tmp_path / "f.bin")
    data.append(b"hello ")
    data.append(memoryview(b"world"))
    assert (len(data), data.read(), data.read(6), data.read(2, 4)) == (
        11,
        b"hello world",
        b"world",
        b"ll",
    )
    data.truncate(5)
    assert data.read() == b"hello"
    data.close()
    assert data.read() == b""


def test_bad_spool_threshold() -> None:
    with pytest.raises(mp.ScenarioError):
        mp.UploadStore(spool_threshold=-1)


@pytest.mark.parametrize("threshold", [0, 4, 1 << 20])
def test_writes_at_an_offset_overwrite_and_extend_in_memory_and_on_disk(threshold: int) -> None:
    data = BodyBuffer(threshold)
    data.append(b"0123456789")
    data.write_at(2, b"ab")
    data.write_at(8, b"xyzw")
    data.write_at(12, b"!")
    assert (data.read(), len(data)) == (b"01ab4567xyzw!", 13)
    with pytest.raises(ValueError, match="gap"):
        data.write_at(14, b"?")
    assert data.on_disk == (threshold < 13)


def test_file_bytes_write_at_a_file_that_stays(tmp_path: Path) -> None:
    data = FileBytes(tmp_path / "doc.bin")
    data.append(b"hello world")
    data.write_at(6, b"there!")
    data.close()
    assert (tmp_path / "doc.bin").read_bytes() == b"hello there!"
    assert FileBytes(tmp_path / "doc.bin").read(6) == b"there!"


def test_named_uploads_and_renames_in_memory() -> None:
    store = mp.UploadStore()
    doc = store.create(length=None, metadata={}, id="/files/a.txt")
    doc.write_at(0, b"abc")
    assert store.get("/files/a.txt") is doc and doc.snapshot().data == b"abc"
    replacement = store.create(length=3, metadata={}, extra={"put_for": "/files/a.txt"})
    replacement.append(b"xyz")
    store.rename(replacement.id, "/files/a.txt")
    assert store.get("/files/a.txt") is replacement and len(store) == 1
    assert replacement.id == "/files/a.txt"
    assert "/files/a.txt" not in store.gone  # a replaced upload is not "deleted by its client"


def test_named_uploads_are_filed_under_random_keys_and_found_again(tmp_path: Path) -> None:
    store = mp.DirectoryUploadStore(tmp_path)
    doc = store.create(length=None, metadata={}, id="../../etc/passwd", extra={"etag": '"v1"'})
    doc.append(b"not a path")
    store.save(doc)
    job = store.create(length=4, metadata={}, id="1")
    job.append(b"abcd")
    store.save(job)
    pending = store.create(length=None, metadata={})
    pending.append(b"put")
    store.rename(pending.id, "/files/b.txt")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 6
    assert all(UPLOAD_ID.fullmatch(n.split(".")[0]) for n in names)
    assert not (tmp_path.parent.parent / "etc").exists()

    again = mp.DirectoryUploadStore(tmp_path)
    assert sorted(u.id for u in again) == ["../../etc/passwd", "/files/b.txt", "1"]
    loaded = again.get("../../etc/passwd")
    assert loaded is not None
    assert (loaded.snapshot().data, loaded.extra) == (b"not a path", {"etag": '"v1"'})
    renamed = again.get("/files/b.txt")
    assert renamed is not None and renamed.snapshot().data == b"put"
    again.delete("1")
    assert len(list(tmp_path.iterdir())) == 4


def test_every_upload_resource_reads_out_upload_snapshots() -> None:
    resources = [
        mp.ResumableUploads("/u"),
        mp.TusUploads("/t"),
        mp.ResumableRequests("/r"),
        mp.ByteRangeResource("/b", documents={"/b/doc": b"hello"}),
    ]
    for resource in resources:
        assert isinstance(resource.store, mp.UploadStore)
    [doc] = resources[3].uploads.values()
    assert isinstance(doc, mp.Upload) and isinstance(doc, mp.StoredDocument)
    assert (doc.id, doc.data, doc.offset, doc.complete, doc.length) == (
        "/b/doc",
        b"hello",
        5,
        True,
        5,
    )


def test_growing_with_zeros_writes_nothing() -> None:
    """A zero-filled gap (ByteRangeResource sparse="zero-fill") is a hole in the file once past
    the spool threshold: growing to 1 GiB allocates and writes nothing."""
    buffer = BodyBuffer(spool_threshold=16)
    buffer.append(b"abc")
    buffer.grow(10)
    assert not buffer.on_disk and buffer.read() == b"abc" + bytes(7)
    buffer.grow(1 << 30)
    assert buffer.on_disk and len(buffer) == 1 << 30
    assert buffer.read(0, 12) == b"abc" + bytes(9)
    assert buffer.read((1 << 30) - 4) == bytes(4)
    buffer.write_at(1 << 29, b"x")
    assert buffer.read((1 << 29) - 1, (1 << 29) + 2) == b"\0x\0"
    buffer.close()


def _stored_upload(directory: Path) -> tuple[str, Path, Path]:
    store = mp.DirectoryUploadStore(directory)
    upload = store.create(length=4, metadata={"a": "b"})
    upload.append(b"data")
    store.save(upload)
    return upload.id, directory / f"{upload.id}.bin", directory / f"{upload.id}.json"


def test_directory_store_is_private_and_follows_no_link(tmp_path: Path) -> None:
    """A DirectoryUploadStore once followed symbolic links planted in its directory (writing
    an upload's bytes, or its state, wherever they pointed) and was created world-readable."""
    store_dir = tmp_path / "store"
    upload_id, data_path, state_path = _stored_upload(store_dir)
    assert store_dir.stat().st_mode & 0o777 == 0o700
    outside = tmp_path / "outside"
    outside.write_bytes(b"precious")
    # A link planted where the next state is written first: nothing is written through it.
    store = mp.DirectoryUploadStore(store_dir)
    upload = store.get(upload_id)
    assert upload is not None
    state_path.with_suffix(".json.tmp").symlink_to(outside)
    upload.append(b"more")
    store.save(upload)
    assert outside.read_bytes() == b"precious"
    assert json.loads(state_path.read_text())["offset"] == 8
    # A link in place of the bytes, or of the state: refused, naming the file.
    data_path.unlink()
    data_path.symlink_to(outside)
    with pytest.raises(mp.ScenarioError, match=r"\.bin is a symbolic link"):
        mp.DirectoryUploadStore(store_dir)
    assert outside.read_bytes() == b"precious"
    data_path.unlink()
    data_path.write_bytes(b"data")
    state = state_path.read_text()
    state_path.unlink()
    (tmp_path / "planted.json").write_text(state)
    state_path.symlink_to(tmp_path / "planted.json")
    with pytest.raises(mp.ScenarioError, match=r"\.json is a symbolic link"):
        mp.DirectoryUploadStore(store_dir)
    # A directory anyone may write in is refused.
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)
    with pytest.raises(mp.ScenarioError, match="anyone may write in it"):
        mp.DirectoryUploadStore(open_dir)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("store"), "not written by a DirectoryUploadStore"),
        (lambda s: s.update(store="other/1"), "not written by a DirectoryUploadStore"),
        (lambda s: s.update(owner="x"), "its fields are"),
        (lambda s: s.pop("verifying_from"), "its fields are"),
        (lambda s: s.update(id=7), "the id 7 is not a string"),
        (lambda s: s.update(length="9" * 5000), "length is"),
        (lambda s: s.update(length=-1), "length is -1"),
        (lambda s: s.update(complete="yes"), "complete is 'yes'"),
        (lambda s: s.update(metadata={"a": 1}), "metadata is not an object of strings"),
        (lambda s: s.update(extra=[]), "extra is not an object"),
        (lambda s: s.update(final={"status": 200}), "final is not a stored response"),
        (
            lambda s: s.update(final={"status": 101, "reason": "", "headers": [], "body": ""}),
            "final status 101",
        ),
        (
            lambda s: s.update(final={"status": 200, "reason": "", "headers": [["a"]], "body": ""}),
            "final header",
        ),
        (
            lambda s: s.update(final={"status": 200, "reason": "", "headers": [], "body": "!"}),
            "final body is not base64",
        ),
    ],
)
def test_directory_store_refuses_state_it_did_not_write(
    tmp_path: Path, change: Any, message: str
) -> None:
    _, _, state_path = _stored_upload(tmp_path)
    assert len(mp.DirectoryUploadStore(tmp_path)) == 1
    state = json.loads(state_path.read_text())
    change(state)
    state_path.write_text(json.dumps(state))
    with pytest.raises(mp.ScenarioError, match="not a readable upload state: .*" + message):
        mp.DirectoryUploadStore(tmp_path)


def test_a_full_disk_leaves_no_part_of_a_write_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails (ENOSPC) leaves neither a part of the chunk in the file nor a
    temporary state file: offset, stored bytes and state stay as they were."""
    store = mp.DirectoryUploadStore(tmp_path)
    upload = store.create(length=None, metadata={})
    upload.append(b"kept")
    store.save(upload)
    real = body_module._pwrite_all

    def half(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
        real(fd, bytes(data)[: len(data) // 2], offset)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(body_module, "_pwrite_all", half)
    with pytest.raises(OSError, match="No space"):
        upload.append(b"lost bytes")
    assert (upload.offset, len(upload.data)) == (4, 4)
    assert (tmp_path / f"{upload.id}.bin").read_bytes() == b"kept"

    def full(*args: object, **kwargs: object) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(json, "dumps", full)
    with pytest.raises(OSError, match="No space"):
        store.save(upload)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{upload.id}.bin", f"{upload.id}.json"]
