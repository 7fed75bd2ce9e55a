"""Byte storage: in memory up to a threshold, then in a temporary file; or in a named file.

``BodyBuffer`` holds the uploads of the in-memory store; ``FileBytes`` (the same buffer, on
a file that stays) holds a directory store's uploads. ``JournalBody`` holds what the journal
keeps of a request body: in a ``BodyBuffer`` of its own, except for pieces an upload store
took as they were (``share``), which it reads from the store's buffer instead of writing a
second copy. Before a buffer changes bytes it has lent (a truncation, an overwrite, closing
it), each borrower copies its pieces out, so the journal keeps every byte the server read,
whatever the store does later.

A spooled buffer holds no descriptor between two operations: each read or write opens its file
by path and closes it again, so a journal of thousands of spooled bodies costs disk, not file
descriptors (a process has a few hundred or thousand; the server's connections need them).
The file is removed when the buffer is closed or collected. Reads use ``os.pread`` and writes
``os.pwrite`` on a descriptor of their own, so a snapshot can be read from the test's thread
while the server writes from its own. A
``JournalBody`` replaces its list of pieces as a whole and a buffer counts its changes
(``revision``), so such a read notices when a piece moved under it and reads again.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import weakref
from pathlib import Path
from typing import Protocol, TypeAlias

_PIECE = 1 << 20


class ReadableBytes(Protocol):
    """What a journal snapshot reads a body from."""

    def __len__(self) -> int: ...
    def read(self, start: int = 0, end: int | None = None) -> bytes: ...


def _pwrite_all(fd: int, data: bytes | bytearray | memoryview, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


#: Every open of a body's file by path: a link planted at that path is never followed.
_NO_LINKS = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def _write_file(path: str, data: bytes | bytearray | memoryview, offset: int) -> None:
    fd = os.open(path, os.O_WRONLY | _NO_LINKS)
    try:
        _pwrite_all(fd, data, offset)
    finally:
        os.close(fd)


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


class BodyBuffer:
    """Bytes in memory up to ``spool_threshold`` bytes, then in a temporary file of their own
    (opened for each read or write, removed at ``close``): appends, writes at an offset (an
    upload's ranges), reads of any range, truncation."""

    __slots__ = (
        "__weakref__",
        "_finalizer",
        "_loans",
        "_memory",
        "_path",
        "_size",
        "revision",
        "spool_threshold",
    )

    def __init__(self, spool_threshold: int = 1 << 20) -> None:
        self.spool_threshold = spool_threshold
        self._memory = bytearray()
        self._path: str | None = None
        self._size = 0
        self._finalizer: weakref.finalize[..., BodyBuffer] | None = None
        #: The journal bodies that read some of these bytes in place.
        self._loans: weakref.WeakSet[JournalBody] | None = None
        #: Counts the changes to bytes already written (appends do not count).
        self.revision = 0

    def __len__(self) -> int:
        return self._size

    @property
    def on_disk(self) -> bool:
        return self._path is not None

    def append(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if self._path is None and self._size + len(data) > self.spool_threshold:
            self._spill()
        if self._path is None:
            self._memory += data
        else:
            try:
                _write_file(self._path, data, self._size)
            except OSError:
                os.truncate(self._path, self._size)  # a failed write (a full disk) leaves no part
                raise
        self._size += len(data)

    def write_at(self, offset: int, data: bytes | bytearray | memoryview) -> None:
        """Overwrite and/or extend from ``offset``, which is at most the current length."""
        if offset > self._size:
            raise ValueError(f"write at {offset} past the end ({self._size}) would leave a gap")
        overlap = min(len(data), self._size - offset)
        if overlap > 0:
            self._before_change()
            head = memoryview(data)[:overlap]
            if self._path is None:
                self._memory[offset : offset + overlap] = head
            else:
                _write_file(self._path, head, offset)
        self.append(memoryview(data)[overlap:])

    def read(self, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``start`` to ``end`` (default: the current end)."""
        stop = self._size if end is None else min(end, self._size)
        if start >= stop:
            return b""
        # The memory first: a spill (in the server's thread) names the file before it lets
        # go of the memory, so a read from another thread sees one or the other whole.
        memory, path = self._memory, self._path
        if path is None:
            return bytes(memory[start:stop])
        try:
            fd = os.open(path, os.O_RDONLY | _NO_LINKS)
        except FileNotFoundError:
            return b""  # closed meanwhile (from another thread): the revision tells readers
        chunks: list[bytes] = []
        try:
            offset = start
            while offset < stop:
                chunk = os.pread(fd, min(stop - offset, _PIECE), offset)
                if not chunk:
                    break
                chunks.append(chunk)
                offset += len(chunk)
        finally:
            os.close(fd)
        return b"".join(chunks)

    def truncate(self, size: int) -> None:
        """Forget everything after ``size`` bytes."""
        if size >= self._size:
            return
        self._before_change()
        if self._path is None:
            del self._memory[size:]
        else:
            os.truncate(self._path, size)
        self._size = size

    def grow(self, size: int) -> None:
        """Extend to ``size`` bytes of zeros: past the spool threshold a hole in the file, so
        that nothing is written or allocated however large the gap."""
        if size <= self._size:
            return
        if self._path is None and size > self.spool_threshold:
            self._spill()
        if self._path is None:
            self._memory += bytes(size - self._size)
        else:
            os.truncate(self._path, size)
        self._size = size

    def close(self) -> None:
        """Remove the temporary file, if any; the buffer is empty afterwards."""
        self._before_change()
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        self._path = None
        self._memory = bytearray()
        self._size = 0

    def lend(self, borrower: JournalBody) -> None:
        """Note that ``borrower`` reads some of these bytes in place."""
        if self._loans is None:
            self._loans = weakref.WeakSet()
        self._loans.add(borrower)

    def _before_change(self) -> None:
        # Bytes already written are about to change: borrowers copy theirs out first, then
        # the revision tells a read in progress elsewhere that it may have read stale bytes.
        if self._loans:
            loans, self._loans = list(self._loans), None
            for borrower in loans:
                borrower.copy_out(self)
        self.revision += 1

    def _spill(self) -> None:
        fd, path = tempfile.mkstemp(prefix="mockprogress-body-")
        try:
            _pwrite_all(fd, self._memory, 0)
        except BaseException:
            _remove(path)
            raise
        finally:
            os.close(fd)
        self._path = path
        # Removed at close(), when the buffer is collected, or at the latest when Python exits.
        self._finalizer = weakref.finalize(self, _remove, path)
        self._memory = bytearray()


class FileBytes(BodyBuffer):
    """A ``BodyBuffer`` kept in the named file ``path`` (created if missing, its bytes kept),
    so that what it holds outlives the process. ``close()`` forgets the file, which stays."""

    __slots__ = ("path",)

    def __init__(self, path: Path) -> None:
        super().__init__(0)
        self.path = path
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        self._path = os.fspath(path)
        self._size = os.stat(path).st_size


#: A piece of a journal body: (where it is, its first byte there, its length).
Piece: TypeAlias = tuple[BodyBuffer, int, int]


class JournalBody:
    """A request body as the journal keeps it: appended piece by piece, read as one.

    Each piece goes to a ``BodyBuffer`` of the journal's own, spooled to disk past
    ``spool_threshold`` like any body, unless the exchange's resource stored that very piece
    as it was (an upload's append) and says so with ``share``: then the journal reads it
    from the store's buffer and writes no copy. The store's buffer calls ``copy_out`` before
    it changes bytes it has lent, so the journal always reads what the server read.
    """

    __slots__ = ("__weakref__", "_own", "_size", "_state", "spool_threshold")

    def __init__(self, spool_threshold: int = 1 << 20) -> None:
        self.spool_threshold = spool_threshold
        self._own: BodyBuffer | None = None
        self._size = 0
        # (pieces, the last piece appended while it may still be shared): replaced whole,
        # so a read from another thread sees one consistent state.
        self._state: tuple[tuple[Piece, ...], bytes | None] = ((), None)

    def __len__(self) -> int:
        return self._size

    @property
    def on_disk(self) -> bool:
        return self._own is not None and self._own.on_disk

    def append(self, data: bytes) -> None:
        """Add ``data`` after what is there. It is written on the next append (or ``settle``)
        unless a store shares it first."""
        self.settle()
        if data:
            pieces, _ = self._state
            self._state = (pieces, data)
            self._size += len(data)

    def share(self, data: bytes, store: object, start: int) -> None:
        """``data``, the piece just appended, is also what ``store`` now holds from ``start``
        on: read it there instead of keeping a copy. Anything else is ignored."""
        pieces, pending = self._state
        if data is not pending or not isinstance(store, BodyBuffer):
            return
        store.lend(self)
        self._state = (_joined(pieces, (store, start, len(data))), None)

    def settle(self) -> None:
        """Write the last piece appended, if no store shared it."""
        pieces, pending = self._state
        if pending is None:
            return
        own = self._own_buffer()
        start = len(own)
        own.append(pending)
        self._state = (_joined(pieces, (own, start, len(pending))), None)

    def copy_out(self, store: BodyBuffer) -> None:
        """``store`` is about to change bytes it lent: copy every piece read from it into the
        journal's own buffer."""
        pieces, pending = self._state
        if not any(where is store for where, _, _ in pieces):
            return
        own = self._own_buffer()
        moved: tuple[Piece, ...] = ()
        for where, start, length in pieces:
            if where is store:
                at = len(own)
                for offset in range(start, start + length, _PIECE):
                    own.append(store.read(offset, min(offset + _PIECE, start + length)))
                where, start = own, at
            moved = _joined(moved, (where, start, length))
        self._state = (moved, pending)

    def read(self, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``start`` to ``end`` (default: the current end)."""
        while True:
            state = self._state
            pieces, pending = state
            revisions = [where.revision for where, _, _ in pieces]
            size = sum(length for _, _, length in pieces) + (len(pending or b""))
            stop = size if end is None else min(end, size)
            if start >= stop:
                return b""
            parts: list[bytes] = []
            offset = 0
            for where, first, length in pieces:
                if offset + length > start and offset < stop:
                    lo = max(start - offset, 0)
                    hi = min(stop - offset, length)
                    parts.append(where.read(first + lo, first + hi))
                offset += length
            if pending is not None and offset < stop:
                parts.append(pending[max(start - offset, 0) : stop - offset])
            # A store that copied its pieces out and changed them while this read ran (in
            # another thread) changed the state or its revision: read again from the new one.
            if self._state is state and revisions == [where.revision for where, _, _ in pieces]:
                return b"".join(parts)

    def close(self) -> None:
        """Release the journal's own storage and every share; the body reads empty."""
        self._state = ((), None)
        self._size = 0
        if self._own is not None:
            self._own.close()
            self._own = None

    def _own_buffer(self) -> BodyBuffer:
        if self._own is None:
            self._own = BodyBuffer(self.spool_threshold)
        return self._own


class _NoBody(JournalBody):
    """The body of every exchange that has read none yet (``NO_BODY``): shared, so it must
    never grow; the first bytes make the exchange a body of its own
    (``ExchangeLog.append_body``)."""

    __slots__ = ()

    def append(self, data: bytes) -> None:
        raise TypeError("NO_BODY is shared: append through ExchangeLog.append_body")


#: The empty body shared by the exchanges that read none (most do not: one object less for
#: the garbage collector to walk per exchange the journal keeps).
NO_BODY: JournalBody = _NoBody()


def _joined(pieces: tuple[Piece, ...], piece: Piece) -> tuple[Piece, ...]:
    """``pieces`` and then ``piece``, merged into the last one when they are adjacent."""
    if pieces:
        where, start, length = pieces[-1]
        if where is piece[0] and start + length == piece[1]:
            return (*pieces[:-1], (where, start, length + piece[2]))
    return (*pieces, piece)
