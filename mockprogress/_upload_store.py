"""Where upload resources keep their uploads: the bytes and the state around them.

Two stores share one interface:

- ``UploadStore`` (the default) keeps each upload's bytes in memory up to a threshold and
  in an unlinked temporary file past it (``BodyBuffer``), so a 1 GiB upload costs disk, not
  memory.
- ``DirectoryUploadStore(directory)`` keeps each upload as two files, ``<id>.bin`` (the bytes)
  and ``<id>.json`` (length, completeness, metadata, the final response), so the standalone
  server finds partial uploads again after a restart. Upload ids are unguessable
  (``secrets.token_urlsafe``) and checked against a strict pattern before any file is touched,
  so no request can name a path outside the directory.

The resources own the stores and touch them only on the server's loop; readers get ``Upload``
snapshots.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any, Protocol

from ._body import BodyBuffer
from ._errors import ScenarioError

#: What an upload id looks like: what ``secrets.token_urlsafe(16)`` returns, and nothing that
#: could climb out of a directory.
UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
DEFAULT_SPOOL_THRESHOLD = 1 << 20
_READ_PIECE = 1 << 20


class ByteStorage(Protocol):
    """Append-only bytes with random reads (``BodyBuffer`` and ``FileBytes``)."""

    def __len__(self) -> int: ...
    def append(self, data: bytes | bytearray | memoryview) -> None: ...
    def read(self, start: int = 0, end: int | None = None) -> bytes: ...
    def truncate(self, size: int) -> None: ...
    def close(self) -> None: ...


class FileBytes:
    """Append-only bytes in a named file (the directory store's ``<id>.bin``).

    Reads use ``os.pread``, so a snapshot can read from the test's thread while the server
    appends."""

    __slots__ = ("_fd", "_size", "path")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._size = os.fstat(self._fd).st_size

    def __len__(self) -> int:
        return self._size

    def append(self, data: bytes | bytearray | memoryview) -> None:
        assert self._fd is not None, "append to a closed upload file"
        view = memoryview(data)
        while view:
            written = os.pwrite(self._fd, view, self._size)
            view = view[written:]
            self._size += written

    def read(self, start: int = 0, end: int | None = None) -> bytes:
        stop = self._size if end is None else min(end, self._size)
        if self._fd is None or start >= stop:
            return b""
        chunks: list[bytes] = []
        while start < stop:
            chunk = os.pread(self._fd, min(stop - start, _READ_PIECE), start)
            if not chunk:
                break
            chunks.append(chunk)
            start += len(chunk)
        return b"".join(chunks)

    def truncate(self, size: int) -> None:
        if self._fd is not None and size < self._size:
            os.ftruncate(self._fd, size)
            self._size = size

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class FinalResponse:
    """The response that completed an upload, kept to replay it on a late append."""

    status: int
    reason: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "headers": [list(pair) for pair in self.headers],
            "body": base64.b64encode(self.body).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FinalResponse:
        return cls(
            int(data["status"]),
            str(data["reason"]),
            tuple((str(n), str(v)) for n, v in data["headers"]),
            base64.b64decode(data["body"]),
        )


@dataclass(eq=False)
class StoredUpload:
    """An upload's live state, owned by the server's loop.

    ``offset`` counts the bytes committed. While a request whose content must be verified
    first (tus ``Upload-Checksum``) is running, ``data`` may hold more bytes than that; they are
    committed or cut off when the request ends."""

    id: str
    data: ByteStorage
    length: int | None = None
    complete: bool = False
    invalid: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
    final: FinalResponse | None = None
    #: Bytes from here on belong to a request still being verified (-1: none).
    verifying_from: int = -1
    offset: int = 0

    def append(self, chunk: bytes, *, commit: bool = True) -> None:
        """Store ``chunk`` after what is there; ``commit=False`` holds it back for checking."""
        self.data.append(chunk)
        if commit:
            self.offset = len(self.data)

    def commit(self) -> None:
        self.offset = len(self.data)

    def discard_uncommitted(self) -> None:
        self.data.truncate(self.offset)

    def snapshot(self) -> Upload:
        return Upload(
            id=self.id,
            offset=self.offset,
            complete=self.complete,
            length=self.length,
            invalid=self.invalid,
            metadata=dict(self.metadata),
            _storage=self.data,
        )


@dataclass(frozen=True, slots=True)
class Upload:
    """One upload as a resource holds it: a snapshot taken on the server's loop.

    ``data`` reads the stored bytes when asked (a 1 GiB upload is not copied into every
    snapshot); ``hexdigest()`` hashes them piece by piece.
    """

    #: The upload's id: the last segment of its URL.
    id: str
    #: Bytes stored (and acknowledged to the client).
    offset: int
    #: True once the client completed the upload.
    complete: bool
    #: The total length, when the client announced it.
    length: int | None
    #: True when the server rejected the upload for good (its offset passed its length).
    invalid: bool
    #: What the client sent along: tus ``Upload-Metadata``; ``Content-Type`` and
    #: ``Content-Disposition`` of an IETF creation request.
    metadata: Mapping[str, str]
    _storage: ByteStorage = field(repr=False, compare=False)

    @property
    def data(self) -> bytes:
        """The bytes stored: exactly ``offset`` of them."""
        return self._storage.read(0, self.offset)

    def hexdigest(self, algorithm: str = "sha256") -> str:
        """A hash of the stored bytes, read 1 MiB at a time."""
        digest = hashlib.new(algorithm)
        for start in range(0, self.offset, _READ_PIECE):
            digest.update(self._storage.read(start, min(start + _READ_PIECE, self.offset)))
        return digest.hexdigest()


class UploadStore:
    """The default store: uploads in memory, each spooled to an unlinked temporary file once it
    grows past ``spool_threshold`` bytes. Nothing survives the process.

    :param spool_threshold: bytes an upload keeps in memory before moving to disk.
    """

    def __init__(self, spool_threshold: int = DEFAULT_SPOOL_THRESHOLD) -> None:
        if isinstance(spool_threshold, bool) or not isinstance(spool_threshold, int):
            raise ScenarioError(f"spool_threshold must be an integer, got {spool_threshold!r}")
        if spool_threshold < 0:
            raise ScenarioError(f"spool_threshold must be >= 0, got {spool_threshold}")
        self.spool_threshold = spool_threshold
        self._uploads: dict[str, StoredUpload] = {}
        #: Ids of uploads deleted by their client (answered 410 Gone afterwards).
        self.gone: set[str] = set()

    def __iter__(self) -> Iterator[StoredUpload]:
        return iter(list(self._uploads.values()))

    def __len__(self) -> int:
        return len(self._uploads)

    def new_id(self) -> str:
        while True:
            upload_id = secrets.token_urlsafe(16)
            if upload_id not in self._uploads and upload_id not in self.gone:
                return upload_id

    def create(self, *, length: int | None, metadata: Mapping[str, str]) -> StoredUpload:
        """A new, empty upload with an unguessable id."""
        upload_id = self.new_id()
        upload = StoredUpload(upload_id, self._storage(upload_id), length, metadata=dict(metadata))
        self._uploads[upload_id] = upload
        self.save(upload)
        return upload

    def get(self, upload_id: str) -> StoredUpload | None:
        if not UPLOAD_ID.fullmatch(upload_id):
            return None
        return self._uploads.get(upload_id)

    def delete(self, upload_id: str) -> None:
        """Forget an upload (its bytes stay readable from snapshots taken before)."""
        upload = self._uploads.pop(upload_id, None)
        if upload is not None:
            self.gone.add(upload_id)
            self._remove(upload)

    def save(self, upload: StoredUpload) -> None:
        """Persist the upload's state (nothing to do in memory)."""

    def free_storage(self) -> None:
        """Close every upload's storage: temporary files go, a directory store's files stay."""
        for upload in self._uploads.values():
            upload.data.close()

    def clear(self) -> None:
        """Forget every upload."""
        for upload in list(self._uploads.values()):
            self._remove(upload)
        self._uploads.clear()
        self.gone.clear()

    def _storage(self, upload_id: str) -> ByteStorage:
        return BodyBuffer(self.spool_threshold)

    def _remove(self, upload: StoredUpload) -> None:
        """Called when an upload is deleted; snapshots may still read its bytes."""


class DirectoryUploadStore(UploadStore):
    """Uploads as files in ``directory``: ``<id>.bin`` holds the bytes, ``<id>.json`` the state.
    Uploads found there when the store is created are served again, so an interrupted upload
    survives a restart of the standalone server. Use one directory per resource.

    :param directory: created if missing.
    :raises ScenarioError: if ``directory`` exists and is not a directory.
    """

    def __init__(self, directory: str | PathLike[str]) -> None:
        super().__init__(0)
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ScenarioError(f"cannot use {self.directory} as an upload store: {exc}") from None
        if not self.directory.is_dir():
            raise ScenarioError(f"{self.directory} is not a directory")
        self._load()

    def _paths(self, upload_id: str) -> tuple[Path, Path]:
        if not UPLOAD_ID.fullmatch(upload_id):  # never build a path from anything else
            raise ValueError(f"not an upload id: {upload_id!r}")
        return self.directory / f"{upload_id}.bin", self.directory / f"{upload_id}.json"

    def _storage(self, upload_id: str) -> ByteStorage:
        data_path, _ = self._paths(upload_id)
        return FileBytes(data_path)

    def new_id(self) -> str:
        while True:
            upload_id = super().new_id()
            data_path, state_path = self._paths(upload_id)
            if not data_path.exists() and not state_path.exists():
                return upload_id

    def save(self, upload: StoredUpload) -> None:
        _, state_path = self._paths(upload.id)
        state: dict[str, Any] = {
            "id": upload.id,
            "offset": upload.offset,
            "length": upload.length,
            "complete": upload.complete,
            "invalid": upload.invalid,
            "metadata": upload.metadata,
            "verifying_from": upload.verifying_from,
            "final": None if upload.final is None else upload.final.to_json(),
        }
        temporary = state_path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(state, indent=1))
        os.replace(temporary, state_path)  # a crash leaves the old state or the new, never half

    def _remove(self, upload: StoredUpload) -> None:
        for path in self._paths(upload.id):
            path.unlink(missing_ok=True)

    def _load(self) -> None:
        for state_path in sorted(self.directory.glob("*.json")):
            upload_id = state_path.stem
            if not UPLOAD_ID.fullmatch(upload_id):
                continue
            try:
                state = json.loads(state_path.read_text())
                data = FileBytes(self._paths(upload_id)[0])
                upload = StoredUpload(
                    upload_id,
                    data,
                    length=state["length"],
                    complete=bool(state["complete"]),
                    invalid=bool(state.get("invalid", False)),
                    metadata={str(k): str(v) for k, v in state["metadata"].items()},
                    final=None
                    if state["final"] is None
                    else FinalResponse.from_json(state["final"]),
                )
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ScenarioError(f"{state_path}: not a readable upload state: {exc}") from None
            verifying_from = int(state.get("verifying_from", -1))
            if verifying_from >= 0:
                # The server stopped while checking a request's content: that part is unverified.
                data.truncate(verifying_from)
            # Every byte in the file was read from a client before the stop: keep them all.
            upload.commit()
            self._uploads[upload_id] = upload
