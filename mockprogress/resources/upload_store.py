"""Where every upload resource keeps its uploads: the bytes and the state around them.

Two stores share one interface, and every upload resource (``ResumableRequests``,
``ByteRangeResource``, ``ResumableUploads``, ``TusUploads``) takes either as ``store=``:

- ``UploadStore`` (the default) keeps each upload's bytes in memory up to a threshold and
  in a temporary file past it (``BodyBuffer``, no descriptor held open), so a 1 GiB upload
  costs disk, not memory.
- ``DirectoryUploadStore(directory)`` keeps each upload as two files, ``<key>.bin`` (the
  bytes) and ``<key>.json`` (its id, length, completeness, metadata, the final response and
  what the resource keeps besides), so the standalone server finds partial uploads again
  after a restart. A file key is an unguessable id (``secrets.token_urlsafe``), checked
  against a strict pattern before any file is touched, so no request can name a path outside
  the directory. The store makes its directory private (``0o700``), opens every file without
  following a symbolic link, and loads only state it wrote: a regular file of its own user,
  marked ``"store": STATE_FORMAT`` and of the exact schema; anything else found there is
  refused with a ``ScenarioError`` naming the file, never trusted.

An upload's id is the store's unguessable one unless the resource names it (a byte-range
document's path, the reference demo's job number); a named upload still gets a random file
key. Bytes are written at any offset at most their length (``write_at``; appends are the
common case), so one storage serves appends and byte-range patches alike. The resources own
the stores and touch them only on the server's loop; readers get ``Upload`` snapshots.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import re
import secrets
import stat
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
#: What every state file a ``DirectoryUploadStore`` writes says under ``"store"``.
STATE_FORMAT = "mockprogress-upload-store/1"
_STATE_KEYS = frozenset(
    {"store", "id", "offset", "length", "complete", "invalid", "metadata", "verifying_from"}
    | {"final", "extra"}
)


class ByteStorage(Protocol):
    """An upload's bytes (``BodyBuffer`` and ``FileBytes``)."""

    def __len__(self) -> int: ...
    def append(self, data: bytes | bytearray | memoryview) -> None: ...
    def write_at(self, offset: int, data: bytes | bytearray | memoryview) -> None: ...
    def read(self, start: int = 0, end: int | None = None) -> bytes: ...
    def truncate(self, size: int) -> None: ...
    def grow(self, size: int) -> None: ...
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
        """Store ``chunk`` after what is there; ``commit=False`` holds it back for checking.
        A write that fails (a full disk) leaves nothing of ``chunk`` behind."""
        start = len(self.data)
        try:
            self.data.append(chunk)
        except OSError:
            self.data.truncate(start)
            raise
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
    """The default store: uploads in memory, each spooled to a temporary file once it
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
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = self.directory.stat()
        except OSError as exc:
            raise ScenarioError(f"cannot use {self.directory} as an upload store: {exc}") from None
        if not stat.S_ISDIR(info.st_mode):
            raise ScenarioError(f"{self.directory} is not a directory")
        if info.st_uid != os.geteuid() or info.st_mode & stat.S_IWOTH:
            raise ScenarioError(
                f"cannot use {self.directory} as an upload store: it belongs to another user "
                "or anyone may write in it, so anyone could plant uploads there"
            )
        self._load()

    def _paths(self, key: str) -> tuple[Path, Path]:
        if not UPLOAD_ID.fullmatch(key):  # never build a path from anything else
            raise ValueError(f"not an upload id: {key!r}")
        return self.directory / f"{key}.bin", self.directory / f"{key}.json"

    def _storage(self, upload_id: str, key: str) -> ByteStorage:
        self._keys[upload_id] = key
        data_path, _ = self._paths(key)
        return _OwnFile(data_path)

    def new_id(self) -> str:
        """An unguessable id whose files do not exist in the directory yet."""
        while True:
            key = super().new_id()
            data_path, state_path = self._paths(key)
            if key not in self._keys and not any(map(os.path.lexists, (data_path, state_path))):
                return key

    def save(self, upload: StoredUpload) -> None:
        _, state_path = self._paths(self._keys[upload.id])
        state: dict[str, Any] = {
            "store": STATE_FORMAT,
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
        temporary.unlink(missing_ok=True)  # whatever is there, a link included, goes
        try:
            fd = _open_own(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            with os.fdopen(fd, "w") as file:
                file.write(json.dumps(state, indent=1))
        except OSError:
            temporary.unlink(missing_ok=True)  # a full disk leaves no half-written file
            raise
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
                with os.fdopen(_open_own(state_path, os.O_RDONLY), "rb") as file:
                    state = _checked_state(json.loads(file.read()))
                upload_id = state["id"]
                if upload_id in self._keys:
                    raise ValueError(f"the id {upload_id!r} is taken")
                data_path = self._paths(key)[0]
                if not os.path.lexists(data_path):
                    raise ValueError(f"its bytes, {data_path.name}, are missing")
                data = _OwnFile(data_path)
                upload = StoredUpload(
                    upload_id,
                    data,
                    length=state["length"],
                    complete=state["complete"],
                    invalid=state["invalid"],
                    metadata=dict(state["metadata"]),
                    final=None
                    if state["final"] is None
                    else StoredResponse.from_json(state["final"]),
                    extra=dict(state["extra"]),
                )
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise ScenarioError(f"{state_path}: not a readable upload state: {exc}") from None
            verifying_from = state["verifying_from"]
            if verifying_from >= 0:
                # The server stopped while checking a request's content: that part is unverified.
                data.truncate(verifying_from)
            # Every byte in the file was read from a client before the stop: keep them all.
            upload.commit()
            self._keys[upload_id] = key
            self._uploads[upload_id] = upload


def _open_own(path: Path, flags: int) -> int:
    """Open ``path`` without following a symbolic link; only a regular file of this process's
    user will do.

    :raises OSError: naming what ``path`` is instead.
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, f"{path.name} is a symbolic link") from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_uid != os.geteuid():
        os.close(fd)
        raise OSError(errno.EPERM, f"{path.name} is not a regular file of this user")
    return fd


class _OwnFile(FileBytes):
    """``FileBytes`` opened with ``_open_own``: never through a link, never another's file."""

    __slots__ = ()

    def __init__(self, path: Path) -> None:
        BodyBuffer.__init__(self, 0)
        self.path = path
        fd = _open_own(path, os.O_RDWR | os.O_CREAT)
        try:
            self._size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        # Opened by path from now on, never following a link (engine.body).
        self._path = os.fspath(path)


def _checked_state(state: object) -> dict[str, Any]:
    """``state`` if it is exactly what ``DirectoryUploadStore.save`` writes.

    :raises ValueError: naming the first thing that is not.
    """
    if not isinstance(state, dict):
        raise ValueError("not a JSON object")
    if state.get("store") != STATE_FORMAT:
        raise ValueError(f'not written by a DirectoryUploadStore (no "store": "{STATE_FORMAT}")')
    if set(state) != _STATE_KEYS:
        raise ValueError(f"its fields are {sorted(state)}, not {sorted(_STATE_KEYS)}")

    def count(name: str, low: int = 0, *, optional: bool = False) -> None:
        value = state[name]
        if optional and value is None:
            return
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} is {value!r}, not an integer >= {low}")

    def strings(value: object, name: str) -> None:
        if not isinstance(value, dict) or not all(map(_is_str, (*value, *value.values()))):
            raise ValueError(f"{name} is not an object of strings")

    if not isinstance(state["id"], str) or not state["id"] or len(state["id"]) > 4096:
        raise ValueError(f"the id {state['id']!r} is not a string")
    count("offset")
    count("length", optional=True)
    count("verifying_from", -1)
    for name in ("complete", "invalid"):
        if not isinstance(state[name], bool):
            raise ValueError(f"{name} is {state[name]!r}, not true or false")
    strings(state["metadata"], "metadata")
    if not isinstance(state["extra"], dict):
        raise ValueError("extra is not an object")
    final = state["final"]
    if final is not None:
        if not isinstance(final, dict) or set(final) != {"status", "reason", "headers", "body"}:
            raise ValueError("final is not a stored response")
        status = final["status"]
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 999:
            raise ValueError(f"final status {status!r} is not a final status")
        headers = final["headers"]
        if not isinstance(final["reason"], str) or not isinstance(headers, list):
            raise ValueError("final is not a stored response")
        for pair in headers:
            if not (isinstance(pair, list) and len(pair) == 2 and all(map(_is_str, pair))):
                raise ValueError(f"final header {pair!r} is not a [name, value] pair")
        try:
            base64.b64decode(final["body"], validate=True)
        except (TypeError, ValueError):
            raise ValueError("final body is not base64") from None
    return state


def _is_str(value: object) -> bool:
    return isinstance(value, str)
