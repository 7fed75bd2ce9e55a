"""The I/O side of an HTTP/2 connection: one reader, one task per stream, one writer at a time.

``H2Session`` runs a connection the engine's ``H2ServerConnection`` describes. Its own task
reads the socket and feeds the engine, which says what to write and which streams have news;
each stream's program (``serve_stream``) runs in a task of its own under a ``StreamDriver``,
which carries out the same actions as ``ConnectionDriver`` does for HTTP/1.1, read per stream:

- ``Send``: frames for the connection. They are queued at once, in the order they were
  made (HPACK: see ``engine.h2_exchange``), and the action returns once they are written;
  whoever holds the write lock writes everything queued, so no frame overtakes another.
- ``WaitStream``: wait until the reader wakes this stream (body bytes, a reset, a window).
- ``Sleep``, ``Hold``, ``CallHandler``: as on a connection, per stream (a stream's stall
  holds that stream only: the others and the reader go on).
- ``Close``: the TCP connection's end (a ``close`` fault, or a wire cut): the reader stops,
  everything queued is written, then the FIN (or the RST) goes out and every stream ends.
"""

from __future__ import annotations

import math
import traceback
from typing import Any, Literal, TypeVar

import anyio

from ..engine.actions import (
    CallHandler,
    Close,
    Hold,
    PeerGone,
    Program,
    Send,
    Sleep,
    WaitStream,
)
from ..engine.h2_connection import H2Input, H2ServerConnection, H2Start
from ..engine.h2_exchange import H2Exchange
from .driver import ConnectionDriver, call_handler, drive, sleep_on

T = TypeVar("T")

#: Bytes read from the socket at once.
READ_SIZE = 65536


class H2Session:
    """Serves one HTTP/2 connection on ``driver``'s socket."""

    def __init__(self, driver: ConnectionDriver, conn: H2ServerConnection) -> None:
        self.driver = driver
        self.conn = conn
        self._queue = bytearray()
        self._queued = 0
        self._written = 0
        self._lock = anyio.Lock()
        self._wakers: dict[int, anyio.Event] = {}
        self._gone = False
        self._closing: Literal["close", "reset"] | None = None
        self._reader: anyio.CancelScope | None = None
        self._idle = anyio.Event()
        self._tasks: anyio.abc.TaskGroup | None = None
        #: A task is writing what the reader queued (one at a time).
        self._flushing = False
        #: Where in the queue the reader's last frames end, and how many bytes of the
        #: reader's frames were queued since the writer last caught up with them: what the
        #: client has not read of the answers it asked for (``control_backlog``).
        self._reader_end = 0
        self._owed = 0

    async def run(self, start: H2Start) -> None:
        """Serve the connection until it ends."""
        async with anyio.create_task_group() as tg:
            self._tasks = tg
            try:
                self._take(self.conn.start(start.initial, start.upgrade))
                with anyio.CancelScope() as self._reader:
                    await self._read()
                await self._end()
            finally:
                tg.cancel_scope.cancel()

    # ---- the reader ------------------------------------------------------------------------

    async def _read(self) -> None:
        limit = self.conn.state.config.limits.keep_alive_timeout
        while not self._gone and self._closing is None:
            if self.conn.over:
                return
            idle = limit is not None and not self.conn.active
            deadline = anyio.current_time() + limit if idle and limit is not None else None
            try:
                data = await self.driver.receive(READ_SIZE, deadline)
            except PeerGone:
                data = b""
            if data is None:
                await self._write(self.conn.idle_goaway())
                self._closing = "close"
                return
            self._take(self.conn.receive(data))
            if self._owed > self.conn.state.config.limits.control_backlog:
                # A client that sends PINGs (or SETTINGS) faster than it reads the answers:
                # read no more from it until it took them, so the answers queued stay bounded
                # (its own sends wait in TCP meanwhile).
                try:
                    await self._write(b"")
                except PeerGone:
                    return

    def _take(self, news: H2Input) -> None:
        """Carry out what the engine made of the client's bytes."""
        if news.output:
            if self._written >= self._reader_end:
                self._owed = 0
            self._owed += len(news.output)
            self._reader_end = self._queue_frames(news.output)
            if not self._flushing:
                self._flushing = True
                assert self._tasks is not None
                self._tasks.start_soon(self._flush)
        for stream in news.started:
            assert self._tasks is not None
            self._tasks.start_soon(self._serve, stream)
        woken = list(self._wakers) if news.wake_all else news.woken
        for stream_id in woken:
            event = self._wakers.pop(stream_id, None)
            if event is not None:
                event.set()
        if news.closing:
            self._closing = self._closing or "close"
            self._gone = self._gone or not news.output

    async def _end(self) -> None:
        """Write what is queued, then end the TCP connection."""
        self._wake_all()
        if not self._gone:
            try:
                await self._write(b"")
            except PeerGone:
                pass
        await self.driver.close(self._closing or "close")

    def _wake_all(self) -> None:
        for event in self._wakers.values():
            event.set()
        self._wakers.clear()

    # ---- writing ---------------------------------------------------------------------------

    def _queue_frames(self, data: bytes) -> int:
        """Queue ``data`` behind everything made before it; the offset it ends at."""
        self._queue += data
        self._queued += len(data)
        return self._queued

    async def _flush(self) -> None:
        try:
            while self._written < self._queued and not self._gone:
                await self._write(b"")
        except PeerGone:
            pass
        finally:
            self._flushing = False

    async def _write(self, data: bytes) -> None:
        """Queue ``data`` and return once it (and everything before it) is written."""
        if self._gone:
            raise PeerGone("the connection is closed")
        target = self._queue_frames(data)
        async with self._lock:
            if self._written >= target:
                return
            if self._gone:
                raise PeerGone("the connection is closed")
            chunk = bytes(self._queue)
            self._queue.clear()
            try:
                await self.driver.send(chunk)
            except PeerGone:
                self._gone = True
                self._closing = self._closing or "close"
                self._stop_reading()
                raise
            self._written += len(chunk)

    def _stop_reading(self) -> None:
        self._wake_all()
        if self._reader is not None:
            self._reader.cancel()

    # ---- streams ---------------------------------------------------------------------------

    async def _serve(self, stream: H2Exchange) -> None:
        try:
            await StreamDriver(self, stream).run(self.conn.serve_stream(stream))
        except Exception as exc:
            text = "".join(traceback.format_exception(exc)).rstrip()
            self.conn.state.record("internal-error", f"HTTP/2 stream failed: {exc!r}\n{text}")
        if self.conn.over and self._closing is None:
            self._closing = "close"
            self._stop_reading()

    async def wait(self, stream_id: int) -> None:
        """Wait until the reader has news for this stream."""
        if self._gone or self._closing is not None:
            return
        event = self._wakers.get(stream_id)
        if event is None:
            event = self._wakers[stream_id] = anyio.Event()
        await event.wait()

    async def send(self, data: bytes) -> None:
        await self._write(data)

    def close(self, how: Literal["close", "reset"]) -> None:
        """End the connection: the reader stops, and ``run`` writes what is queued and closes."""
        self._closing = self._closing or how
        self._stop_reading()

    @property
    def ending(self) -> bool:
        return self._gone or self._closing is not None


class StreamDriver:
    """Carries out one stream's program (see the module docstring)."""

    def __init__(self, session: H2Session, stream: H2Exchange) -> None:
        self.session = session
        self.stream = stream
        self._timeline: float | None = None

    async def run(self, program: Program[T]) -> T:
        return await drive(program, self._perform)

    async def _perform(self, action: object) -> Any:
        session = self.session
        if isinstance(action, Send):
            await session.send(action.data)
            return None
        if isinstance(action, Sleep):
            self._timeline = await sleep_on(self._timeline, action.seconds)
            return None
        self._timeline = None
        if isinstance(action, WaitStream):
            if session.ending:
                self.stream.gone("the connection ended")
            await session.wait(self.stream.stream_id)
            if session.ending:
                self.stream.gone("the connection ended")
            return None
        if isinstance(action, Hold):
            with anyio.move_on_after(math.inf if action.seconds is None else action.seconds):
                while not session.ending and not self.stream_gone:
                    await session.wait(self.stream.stream_id)
            return None
        if isinstance(action, Close):
            session.close(action.how)
            return None
        if isinstance(action, CallHandler):
            return await call_handler(action, self.run)
        raise TypeError(f"an HTTP/2 stream cannot carry out {action!r}")

    @property
    def stream_gone(self) -> bool:
        return self.stream.gone_reason is not None
