"""Byte storage: in memory up to a threshold, then in a temporary file; or in a named file.

``BodyBuffer`` holds the journal's bodies and the uploads of the in-memory store;
``FileBytes`` (the same buffer, on a file that stays) holds a directory store's uploads.
Reads use ``os.pread`` and writes ``os.pwrite``, which do not move a file position, so a
snapshot can be read from the test's thread while the server writes from its own.
"""

from __future__ import annotations

import os
import tempfile
import weakref
from pathlib import Path

_PIECE = 1 << 20


def _pwrite_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


class BodyBuffer:
    """Bytes in memory up to ``spool_threshold`` bytes, then in an unlinked temporary file:
    appends, writes at an offset (an upload's ranges), reads of any range, truncation."""

    __slots__ = ("__weakref__", "_fd", "_finalizer", "_memory", "_size", "spool_threshold")

    def __init__(self, spool_threshold: int = 1 << 20) -> None:
        self.spool_threshold = spool_threshold
        self._memory = bytearray()
        self._fd: int | None = None
        self._size = 0
        self._finalizer: weakref.finalize[..., BodyBuffer] | None = None

    def __len__(self) -> int:
        return self._size

    @property
    def on_disk(self) -> bool:
        return self._fd is not None

    def append(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if self._fd is None and self._size + len(data) > self.spool_threshold:
            self._spill()
        if self._fd is None:
            self._memory += data
        else:
            _pwrite_all(self._fd, data, self._size)
        self._size += len(data)

    def write_at(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        """Overwrite and/or extend from ``offset``, which is at most the current length."""
        if offset > self._size:
            raise ValueError(f"write at {offset} past the end ({self._size}) would leave a gap")
        overlap = min(len(data), self._size - offset)
        if overlap > 0:
            head = memoryview(data)[:overlap]
            if self._fd is None:
                self._memory[offset : offset + overlap] = head
            else:
                _pwrite_all(self._fd, head, offset)
        self.append(memoryview(data)[overlap:])

    def read(self, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``start`` to ``end`` (default: the current end)."""
        stop = self._size if end is None else min(end, self._size)
        if start >= stop:
            return b""
        if self._fd is None:
            return bytes(self._memory[start:stop])
        chunks: list[bytes] = []
        offset = start
        while offset < stop:
            chunk = os.pread(self._fd, min(stop - offset, _PIECE), offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks)

    def truncate(self, size: int) -> None:
        """Forget everything after ``size`` bytes."""
        if size >= self._size:
            return
        if self._fd is None:
            del self._memory[size:]
        else:
            os.ftruncate(self._fd, size)
        self._size = size

    def close(self) -> None:
        """Release the temporary file, if any; the buffer is empty afterwards."""
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        self._fd = None
        self._memory = bytearray()
        self._size = 0

    def _spill(self) -> None:
        fd, path = tempfile.mkstemp(prefix="mockprogress-body-")
        os.unlink(path)  # the file lives as long as the descriptor
        _pwrite_all(fd, self._memory, 0)
        self._own(fd)
        self._memory = bytearray()

    def _own(self, fd: int) -> None:
        self._fd = fd
        self._finalizer = weakref.finalize(self, os.close, fd)


class FileBytes(BodyBuffer):
    """A ``BodyBuffer`` kept in the named file ``path`` (created if missing, its bytes kept),
    so that what it holds outlives the process. ``close()`` closes the file, which stays."""

    __slots__ = ("path",)

    def __init__(self, path: Path) -> None:
        super().__init__(0)
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._own(fd)
        self._size = os.fstat(fd).st_size
