"""Byte storage that keeps small bodies in memory and spills large ones to a temporary file.

Reads use ``os.pread``, which does not move a file position, so a snapshot can be read from
the test's thread while the server appends from its own.
"""

from __future__ import annotations

import os
import tempfile
import weakref


class BodyBuffer:
    """An append-only byte store, in memory up to ``spool_threshold`` bytes, then on disk."""

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
            view = memoryview(data)
            offset = self._size
            while view:
                written = os.pwrite(self._fd, view, offset)
                view = view[written:]
                offset += written
        self._size += len(data)

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
            chunk = os.pread(self._fd, min(stop - offset, 1 << 20), offset)
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
        os.pwrite(fd, self._memory, 0)
        self._fd = fd
        self._memory = bytearray()
        self._finalizer = weakref.finalize(self, os.close, fd)
