"""Where every upload resource keeps its uploads: the bytes and the state around them.

Two stores share one interface, and every upload resource (``ResumableRequests``,
``ByteRangeResource``, ``ResumableUploads``, ``TusUploads``) takes either as ``store=``:

- ``UploadStore`` (the default) keeps each upload's bytes in memory up to a threshold and
  in an unlinked temporary file past it (``BodyBuffer``), so a 1 GiB upload costs disk, not
  memory.
- ``DirectoryUploadStore(directory)`` keeps each upload as two files, ``<key>.bin`` (the
  bytes) and ``<key>.json`` (its id, length, completeness, metadata, the final response and
  what the resource keeps besides), so the standalone server finds partial uploads again
  after a restart. A file key is an unguessable id (``secrets.token_urlsafe``), checked
  against a strict pattern before any file is touched, so no request can name a path outside
  the directory.

An upload's id is the store's unguessable one unless the resource names it (a byte-range
document's path, the reference demo's job number); a named upload still gets a random file
key. Bytes are written at any offset at most their length (``write_at``; appends are the
common case), so one storage serves appends and byte-range patches alike. The resources own
the stores and touch them only on the server's loop; readers get ``Upload`` snapshots.
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

from ..engine.body import BodyBuffer, FileBytes
from ..errors import ScenarioError
from ..http.headers import HeaderPairs, has_header
from ..script.steps import Respond

#: What an upload id looks like: what ``secrets.token_urlsafe(16)`` returns, and nothing that
#: could climb out of a directory.
UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
DEFAULT_SPOOL_THRESHOLD = 1 << 20
_READ_PIECE = 1 << 20


class ByteStorage(Protocol):
    """An upload's bytes (``BodyBuffer`` and ``FileBytes``)."""

    def __len__(self) -> int: ...
    def append(self, data: bytes | bytearray | memoryview) -> None: ...
    def write_at(self, offset: int, data: bytes | bytearray | memoryview) -> None: ...
    def read(self, start: int = 0, end: int | None = None) -> bytes: ...
    def truncate(self, size: int) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The final response that completed an upload, as the processing scripted it (all of its
    body, even when the wire copy was cut): replayed on a late append, served as
    ``message/http``, kept across a restart."""

    status: int
    reason: str
    headers: HeaderPairs
    body: bytes

    @classmethod
    def of(cls, step: Respond) -> StoredResponse:
        return cls(step.status, step.reason, step.headers, step.content)

    def message(self) -> bytes:
        """The response as ``message/http`` (RFC 9112 syntax)."""
        lines = [f"HTTP/1.1 {self.status} {self.reason}"]
        lines.extend(f"{name}: {value}" for name, value in self.headers)
        if not has_header(self.headers, "content-length"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "headers": [list(pair) for pair in self.headers],
            "body": base64.b64encode(self.body).decode("ascii"),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoredResponse:
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
    final: StoredResponse | None = None
    #: Bytes from here on belong to a request still being verified (-1: none).
    verifying_from: int = -1
    offset: int = 0
    #: What the resource keeps with the upload besides (JSON values): a resumable request's
    #: method and headers, a document's ETag.
    extra: dict[str, Any] = field(default_factory=dict)

    def append(self, chunk: bytes, *, commit: bool = True) -> None:
        """Store ``chunk`` after what is there; ``commit=False`` holds it back for checking."""
        self.data.append(chunk)
        if commit:
            self.offset = len(self.data)

    def write_at(self, offset: int, chunk: bytes) -> None:
        """Store ``chunk`` at ``offset`` (at most the current length), overwriting and/or
        extending, and commit it."""
        self.data.write_at(offset, chunk)
        self.offset = len(self.data)

    def truncate(self, size: int) -> None:
        """Forget everything after ``size`` bytes."""
        self.data.truncate(size)
        self.offset = min(self.offset, len(self.data))

    def commit(self) -> None:
        self.offset = len(self.data)

    def discard_uncommitted(self) -> None:
        self.data.truncate(self.offset)

    def snapshot(self) -> Upload:
        return Upload(**self.snapshot_fields())

    def snapshot_fields(self) -> dict[str, Any]:
        """The fields of ``Upload``, for snapshots of its subclasses."""
        return {
            "id": self.id,
            "offset": self.offset,
            "complete": self.complete,
            "length": self.length,
            "invalid": self.invalid,
            "metadata": dict(self.metadata),
            "_storage": self.data,
        }


@dataclass(frozen=True, slots=True)
class Upload:
    """One upload as a resource holds it: a snapshot taken on the server's loop.

    ``data`` reads the stored bytes when asked (a 1 GiB upload is not copied into every
    snapshot); ``hexdigest()`` hashes them piece by piece. ``StoredRequest`` and
    ``StoredDocument`` add what their protocols keep.
    """

    #: The upload's id: the last segment of its URL (a byte-range document: its path).
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

    @property
    def sha256(self) -> str:
        """The SHA-256 of the stored bytes, in hex."""
        return self.hexdigest("sha256")


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
        """An unguessable id that no upload has, or had."""
        while True:
            upload_id = secrets.token_urlsafe(16)
            if upload_id not in self._uploads and upload_id not in self.gone:
                return upload_id

    def create(
        self,
        *,
        length: int | None,
        metadata: Mapping[str, str],
        id: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> StoredUpload:
        """A new, empty upload: with an unguessable id, or with ``id`` when the resource names
        its uploads (an upload of that id is replaced)."""
        if id is None:
            id = key = self.new_id()
        else:
            self.delete(id, remember=False)
            key = self.new_id()
        upload = StoredUpload(
            id, self._storage(id, key), length, metadata=dict(metadata), extra=dict(extra or {})
        )
        self._uploads[id] = upload
        self.save(upload)
        return upload

    def get(self, upload_id: str) -> StoredUpload | None:
        """The upload of this id, or None (never created, or deleted)."""
        return self._uploads.get(upload_id)

    def delete(self, upload_id: str, *, remember: bool = True) -> None:
        """Forget an upload (its bytes stay readable from snapshots taken before); with
        ``remember``, its id goes to ``gone``."""
        upload = self._uploads.pop(upload_id, None)
        if upload is not None:
            if remember:
                self.gone.add(upload_id)
            self._remove(upload)

    def rename(self, upload_id: str, new_id: str) -> StoredUpload:
        """Give an upload another id, replacing any upload of that id (a byte-range ``PUT``
        becomes the document once it is stored)."""
        upload = self._uploads.pop(upload_id)
        self.delete(new_id, remember=False)
        upload.id = new_id
        self._uploads[new_id] = upload
        self._renamed(upload_id, upload)
        return upload

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

    def _storage(self, upload_id: str, key: str) -> ByteStorage:
        return BodyBuffer(self.spool_threshold)

    def _remove(self, upload: StoredUpload) -> None:
        """Called when an upload is deleted; snapshots may still read its bytes."""

    def _renamed(self, old_id: str, upload: StoredUpload) -> None:
        """Called when an upload changed its id."""


class DirectoryUploadStore(UploadStore):
    """Uploads as files in ``directory``: ``<key>.bin`` holds the bytes, ``<key>.json`` the
    state, the key being the upload's id unless the resource named the upload. Uploads found
    there when the store is created are served again, so an interrupted upload survives a
    restart of the standalone server. Use one directory per resource.

    :param directory: created if missing.
    :raises ScenarioError: if ``directory`` exists and is not a directory.
    """

    def __init__(self, directory: str | PathLike[str]) -> None:
        super().__init__(0)
        self.directory = Path(directory)
        #: The file key of each upload, by id.
        self._keys: dict[str, str] = {}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ScenarioError(f"cannot use {self.directory} as an upload store: {exc}") from None
        if not self.directory.is_dir():
            raise ScenarioError(f"{self.directory} is not a directory")
        self._load()

    def _paths(self, key: str) -> tuple[Path, Path]:
        if not UPLOAD_ID.fullmatch(key):  # never build a path from anything else
            raise ValueError(f"not an upload id: {key!r}")
        return self.directory / f"{key}.bin", self.directory / f"{key}.json"

    def _storage(self, upload_id: str, key: str) -> ByteStorage:
        self._keys[upload_id] = key
        data_path, _ = self._paths(key)
        return FileBytes(data_path)

    def new_id(self) -> str:
        """An unguessable id whose files do not exist in the directory yet."""
        while True:
            key = super().new_id()
            data_path, state_path = self._paths(key)
            if key not in self._keys and not data_path.exists() and not state_path.exists():
                return key

    def save(self, upload: StoredUpload) -> None:
        _, state_path = self._paths(self._keys[upload.id])
        state: dict[str, Any] = {
            "id": upload.id,
            "offset": upload.offset,
            "length": upload.length,
            "complete": upload.complete,
            "invalid": upload.invalid,
            "metadata": upload.metadata,
            "verifying_from": upload.verifying_from,
            "final": None if upload.final is None else upload.final.to_json(),
            "extra": upload.extra,
        }
        temporary = state_path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(state, indent=1))
        os.replace(temporary, state_path)  # a crash leaves the old state or the new, never half

    def _remove(self, upload: StoredUpload) -> None:
        key = self._keys.pop(upload.id, None)
        if key is not None:
            for path in self._paths(key):
                path.unlink(missing_ok=True)

    def _renamed(self, old_id: str, upload: StoredUpload) -> None:
        self._keys[upload.id] = self._keys.pop(old_id)
        self.save(upload)

    def _load(self) -> None:
        for state_path in sorted(self.directory.glob("*.json")):
            key = state_path.stem
            if not UPLOAD_ID.fullmatch(key):
                continue
            try:
                state = json.loads(state_path.read_text())
                upload_id = state.get("id", key)
                if not isinstance(upload_id, str) or upload_id in self._keys:
                    raise ValueError(f"the id {upload_id!r} is not a string or is taken")
                data = FileBytes(self._paths(key)[0])
                upload = StoredUpload(
                    upload_id,
                    data,
                    length=state["length"],
                    complete=bool(state["complete"]),
                    invalid=bool(state.get("invalid", False)),
                    metadata={str(k): str(v) for k, v in state["metadata"].items()},
                    final=None
                    if state["final"] is None
                    else StoredResponse.from_json(state["final"]),
                    extra=dict(state.get("extra", {})),
                )
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ScenarioError(f"{state_path}: not a readable upload state: {exc}") from None
            verifying_from = int(state.get("verifying_from", -1))
            if verifying_from >= 0:
                # The server stopped while checking a request's content: that part is unverified.
                data.truncate(verifying_from)
            # Every byte in the file was read from a client before the stop: keep them all.
            upload.commit()
            self._keys[upload_id] = key
            self._uploads[upload_id] = upload
