"""A full disk under an upload: 507, and the upload's offset, its stored bytes and its state file
agree, with no temporary file left; the client resumes from the offset once there is room.

Disk full during a tus PATCH once reset the connection (an OSError out of the store) and left
``HEAD``'s offset, the file's size and the state out of step (a part of the failing write in the
file, not in the offset). The disk is simulated: every write to a file of the store's directory
fails with ENOSPC once ``room`` bytes have been written there, after writing what fits (a
partial write, as a real full disk does).
"""

from __future__ import annotations

import errno
import json
import os
import random
from pathlib import Path
from typing import Any

import pytest
from support.recording_client import request

import mockprogress as mp
from mockprogress.engine import body as _body

PAYLOAD = random.Random(11).randbytes(300_000)
TUS = ("Tus-Resumable", "1.0.0")
V8 = ("Upload-Draft-Interop-Version", "8")


class Disk:
    """``room`` bytes left for files under ``directory`` (None: plenty)."""

    def __init__(self, directory: Path) -> None:
        self.directory = str(directory.resolve())
        self.room: int | None = None
        self.real = _body._pwrite_all

    def pwrite_all(self, fd: int, data: Any, offset: int) -> None:
        target = os.readlink(f"/proc/self/fd/{fd}")
        if self.room is None or not target.startswith(self.directory + "/"):
            self.real(fd, data, offset)
            return
        fits = bytes(data)[: self.room]
        self.real(fd, fits, offset)
        self.room -= len(fits)
        if len(fits) < len(data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Disk:
    disk = Disk(tmp_path / "store")
    monkeypatch.setattr(_body, "_pwrite_all", disk.pwrite_all)
    return disk


#: Per protocol: the resource, the creation request's fields, and an append's fields.
PROTOCOLS: dict[str, tuple[Any, list[tuple[str, str]], list[tuple[str, str]]]] = {
    "tus": (
        lambda store: mp.TusUploads("/files", store=store),
        [TUS, ("Upload-Length", str(len(PAYLOAD)))],
        [TUS, ("Content-Type", "application/offset+octet-stream")],
    ),
    "ietf": (
        lambda store: mp.ResumableUploads("/uploads", store=store),
        [V8, ("Upload-Complete", "?0"), ("Upload-Length", str(len(PAYLOAD)))],
        [V8, ("Content-Type", "application/partial-upload"), ("Upload-Complete", "?1")],
    ),
}


def _upload(
    srv: mp.MockServer, kind: str, store: mp.UploadStore, location: str | None = None
) -> tuple[Any, str, Any]:
    """Mount the resource; create an upload unless ``location`` names one; and a function that
    sends the payload from an offset."""
    resource, creation, append = PROTOCOLS[kind]
    mounted = srv.mount(resource(store))
    if location is None:
        created = request(srv.port, "POST", mounted.path, headers=creation)
        assert created.status == 201, created
        location = created.header("Location")
    assert location is not None

    def send(offset: int) -> Any:
        headers = [*append, ("Upload-Offset", str(offset))]
        return request(srv.port, "PATCH", location, headers=headers, body=PAYLOAD[offset:])

    return mounted, location, send


@pytest.mark.parametrize("room", [0, 1, 100_000, 262_144, 299_999])
@pytest.mark.parametrize("kind", ["tus", "ietf"])
def test_a_full_disk_is_507_and_offset_file_and_state_agree(
    disk: Disk, tmp_path: Path, kind: str, room: int
) -> None:
    directory = tmp_path / "store"
    with mp.MockServer() as srv:
        store = mp.DirectoryUploadStore(directory)
        resource, location, send = _upload(srv, kind, store)
        disk.room = room
        reply = send(0)
        assert reply.status == 507, reply
        assert b"No space left on device" in reply.body
        if kind == "tus":
            assert reply.header("Tus-Resumable") == "1.0.0"
        with pytest.raises(mp.ExpectationError, match=r"\[limit\].*No space left on device"):
            srv.check()
        head = request(srv.port, "HEAD", location, headers=[TUS if kind == "tus" else V8])
        offset = int(head.header("Upload-Offset") or "-1")
        # Read on the server's loop, so after the HEAD's exchange has saved the state.
        (snapshot,) = resource.uploads.values()
        assert snapshot.offset == offset
        assert 0 <= offset <= room
        (data_file,) = directory.glob("*.bin")
        (state_file,) = directory.glob("*.json")
        assert data_file.stat().st_size == offset
        assert json.loads(state_file.read_text())["offset"] == offset
        assert sorted(p.suffix for p in directory.iterdir()) == [".bin", ".json"]
        assert data_file.read_bytes() == PAYLOAD[:offset]
        exchange = srv.journal[-2]
        assert exchange.response is not None and exchange.response.status == 507
    # Room again, after a restart: the store finds the same offset, and the client resumes
    # from it to a whole upload.
    disk.room = None
    with mp.MockServer() as srv:
        store = mp.DirectoryUploadStore(directory)
        (upload,) = store
        assert upload.offset == offset
        _, _, send = _upload(srv, kind, store, location)
        reply = send(offset)
        assert reply.status in (200, 201, 204), reply
        (upload,) = store
        assert upload.snapshot().data == PAYLOAD
