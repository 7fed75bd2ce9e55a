"""Where an upload's bytes are kept: the small interface the wright resources write through.

``ByteStore`` is all a resource needs: length, positional reads and writes, truncation. The
default, ``SpooledByteStore``, keeps bytes in memory up to a threshold and in an unlinked
temporary file past it (it is the journal's ``BodyBuffer`` plus writes at an offset). A
resource takes a ``store`` factory, so another store (a directory that survives a restart,
say) plugs in without touching the protocol code.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Protocol

from ._body import BodyBuffer


class ByteStore(Protocol):
    """The bytes of one upload."""

    def __len__(self) -> int: ...

    def read(self, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``start`` to ``end`` (default: the current end)."""
        ...

    def write_at(self, offset: int, data: bytes) -> None:
        """Overwrite and/or extend from ``offset``, which is at most the current length."""
        ...

    def truncate(self, size: int) -> None:
        """Forget everything after ``size`` bytes."""
        ...

    def close(self) -> None:
        """Release the storage; the store is empty afterwards."""
        ...


StoreFactory = Callable[[], ByteStore]


class SpooledByteStore(BodyBuffer):
    """A ``ByteStore`` in memory up to ``spool_threshold`` bytes, then in a temporary file."""

    __slots__ = ()

    def write_at(self, offset: int, data: bytes) -> None:
        size = len(self)
        if offset > size:
            raise ValueError(f"write at {offset} past the end ({size}) would leave a gap")
        overlap = min(len(data), size - offset)
        if overlap > 0:
            if self._fd is None:
                self._memory[offset : offset + overlap] = data[:overlap]
            else:
                view = memoryview(data)[:overlap]
                at = offset
                while view:
                    written = os.pwrite(self._fd, view, at)
                    view = view[written:]
                    at += written
        self.append(data[overlap:])


def spooled(spool_threshold: int) -> StoreFactory:
    """A factory of ``SpooledByteStore`` with this threshold."""
    return lambda: SpooledByteStore(spool_threshold)


def fill_zeros(store: ByteStore, size: int, *, step: int = 1 << 20) -> None:
    """Grow ``store`` to ``size`` bytes with zeros (draft-wright-http-patch-byterange §6.1:
    sparse regions must never show old storage)."""
    while len(store) < size:
        store.write_at(len(store), bytes(min(step, size - len(store))))
