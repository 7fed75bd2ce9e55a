"""The I/O side of a connection: carries out the core's actions on a non-blocking socket.

This is where bytes meet the kernel. The driver owns the client's socket and talks to it
directly: ``recv``/``send`` first, and only when the kernel has nothing to give (or no room)
does it wait for readiness (through anyio's ``wait_readable``/``wait_writable``; on asyncio,
reads wait through ``_AsyncioReader``, which keeps the socket registered between requests).
So a read takes at most what the script asked for and nothing is read ahead: the kernel's
buffers push back on a client that sends faster than the script consumes. And a request
that arrives while the server is ready costs one wake-up of the loop, not a transport, a
queue and a checkpoint per read and write (benchmarks/bench_keepalive.py). On asyncio the
readiness callback itself feeds those bytes to the connection's program and goes on with its
steps that need no waiting (``ConnectionDriver.serve``): a keep-alive request is answered in
that one callback, and the connection's task only resumes for what needs it (a sleep, a
handler, a write the kernel did not take whole, the end). A plain connection on asyncio
starts with no task at all (``ConnectionDriver.begin``): callbacks carry its program for as
long as it only reads and writes, and a task is made only when it needs one.

Two details make byte offsets exact on the client's side:

- A FIN (``Close("close")``) is ``shutdown(SHUT_WR)`` followed by draining the client's input
  before closing: closing a socket with unread input makes Linux send an RST instead, and the
  client would then see ECONNRESET where a clean end of stream was scripted.
- An RST (``Close("reset")``) first waits until the send queue is empty (``SIOCOUTQ``): an
  RST discards whatever has not left yet, so without the wait the client could get fewer
  bytes than scripted. On Linux the client then reads every byte queued before the RST and
  only afterwards sees ECONNRESET.

Two details make timing exact (benchmarks/bench_timing.py measures them):

- Timer lateness does not add up. A ``Sleep`` is measured from the deadline of the previous
  one when nothing in between waited on the client (a read, a hold, a handler). Otherwise
  each wake-up delay, and each hiccup of the process, would shift every later event: 1,000
  pauses of 5 ms drifted by 150 ms. When the server has fallen more than
  ``RESYNC_SECONDS`` behind the schedule (a write that waited for a slow reader), it starts
  afresh from now instead of bursting to catch up.
- Timers are coarse. Event loops wait in epoll, whose timeout has millisecond granularity, so
  a plain sleep wakes up to a millisecond late. The driver sleeps until shortly before the
  deadline and then yields to the loop until the deadline has passed.

A connection whose socket is always ready (a fast upload) would never wait, so it yields to
the loop every ``READY_STREAK`` reads and writes: other connections, the thread-mode calls
and the server's stop get their turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import math
import select
import socket
import struct
import termios
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar, overload

import anyio
import anyio.lowlevel

try:
    import sniffio
except ImportError:  # anyio does without it, finding the running loop instead
    sniffio = None  # type: ignore[assignment]

from ..engine.actions import (
    CallHandler,
    Close,
    Hold,
    PeerGone,
    PendingInput,
    Program,
    Receive,
    Send,
    Sleep,
    UpstreamClose,
    UpstreamOpen,
    UpstreamReceive,
    UpstreamSend,
)
from ..engine.handler_control import HandlerControl
from ..script.tls import HandshakeFault
from .tls import HandshakeFailed, TLSChannel
from .upstream import UpstreamLink

T = TypeVar("T")

#: How long a FIN close waits for the client to finish sending before closing anyway.
DRAIN_SECONDS = 2.0
#: How long a reset waits for written bytes to leave the send queue.
FLUSH_SECONDS = 5.0
#: The last part of a sleep spent yielding to the loop instead of in the loop's timer.
SPIN_SECONDS = 0.0015
#: Behind the schedule by more than this, a sleep starts from now instead.
RESYNC_SECONDS = 0.05
#: How often a stall looks whether the client has closed.
HOLD_POLL_SECONDS = 0.01
#: Reads and writes in a row that found the socket ready before the driver yields anyway.
READY_STREAK = 16
#: Ciphertext read at once over TLS (a record is at most 16 KiB plus its overhead).
TLS_READ_SIZE = 17 * 1024


class Carried(NamedTuple):
    """Where a readiness callback left the program it carried on (``ConnectionDriver.serve``):
    at an action for the task to do, or at the program's end (its value, or what it raised)."""

    action: object = None
    ended: bool = False
    value: Any = None
    error: BaseException | None = None


#: ``ConnectionDriver._carry``: given a Receive's bytes, the next wait (size, deadline) or
#: where the program was left.
Carry = Callable[[bytes], "Carried | tuple[int, float | None]"]
#: What a program that waits with no task is told by the reader (``ConnectionDriver.begin``):
#: the bytes it read (``b""``: the client's end), or None at the wait's deadline, or the error.
Follow = Callable[[bytes | None, OSError | None], None]


def loop_clock(loop: asyncio.AbstractEventLoop | None) -> Callable[[], float]:
    """The clock of the running loop (``loop``: asyncio's, or None on trio), which the
    server's timings and the core's read. asyncio's own loop reads ``time.monotonic()``
    (``BaseEventLoop.time``): it is read without that method's call, a few times a request."""
    if loop is None:
        return anyio.current_time  # it finds the backend on every call: trio's clock
    if type(loop).time is asyncio.BaseEventLoop.time:
        return time.monotonic
    return loop.time


class ConnectionDriver:
    """Runs programs against one client socket, which it owns and closes."""

    def __init__(
        self,
        sock: socket.socket,
        loop: asyncio.AbstractEventLoop | None = None,
        tls: TLSChannel | None = None,
    ) -> None:
        """``loop``: the running asyncio loop, when the server runs on asyncio. ``tls``: the
        connection's TLS; ``Send`` and ``Receive`` then carry plaintext, counted exactly."""
        self.socket = sock
        sock.setblocking(False)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # TLS reads whole records through its BIO: the asyncio reader's one-recv-per-wait
        # shortcut does not apply there.
        self._reader = _AsyncioReader(loop, sock) if loop is not None and tls is None else None
        self._now = loop_clock(loop)
        self.tls = tls
        self.closed = False
        #: The client ended its side (we read its FIN): there is nothing left to drain.
        self.client_done = False
        # The deadline of the last sleep, while the steps since then kept to the timeline.
        self._timeline: float | None = None
        # Reads and writes since the driver last gave the loop a turn.
        self._streak = 0
        #: The connection to the upstream in proxy mode (made on the first ``UpstreamOpen``).
        self._upstream: UpstreamLink | None = None
        #: Whether anyio ever waited on the socket (``_wait``): only then may a wait need
        #: ``notify_closing`` at the close (the asyncio reader is unregistered by itself).
        self._anyio_waited = False
        #: A recv now would most likely find nothing: the last thing done on the socket was
        #: a write, or nothing was, the connection just accepted (``_receive_raw``'s shortcut).
        self._wait_first = False
        #: The program ``serve`` drives, which the reader's callback may carry on.
        self._program: Program[Any] | None = None
        #: Who takes over a program ``begin`` started, when it needs more than callbacks.
        self._handoff: Callable[[Carried], None] | None = None

    async def run(self, program: Program[T]) -> T:
        """Drive ``program`` to its end and return its value."""
        return await drive(program, self._perform)

    async def serve(self, program: Program[T]) -> T:
        """Drive the connection's own program (not a handler's) to its end: as ``run``, but on
        asyncio a Receive that waits lets the reader's readiness callback carry the program
        on (``_carry``). A keep-alive request then costs the loop one turn, not two (the
        second to resume the task), and one syscall fewer that lets go of the GIL."""
        if self._reader is None:
            return await self.run(program)
        self._program = program
        if sniffio is not None:
            # The callback runs the core, and with it a user's responder: one that asks anyio
            # for the time finds asyncio there as it does in this task (sniffio looks for a
            # task; the callback's context is a copy of this one).
            sniffio.current_async_library_cvar.set("asyncio")
        return await drive(program, self._perform_own)

    def begin(self, program: Program[Any], handoff: Callable[[Carried], None]) -> None:
        """On asyncio, in a callback of the loop (the accept's), on a socket just accepted:
        start ``program`` with no task. Its steps that need no waiting run here, as ``_carry``
        runs them; while it waits for the client, the reader's callback carries it on
        (``_follow``), still with no task. Once it needs more (a sleep, a handler, a write the
        kernel did not take whole, a close that drains) or has ended, ``handoff`` gets where
        it was left, once: a task goes on from there (``carry_on``), or the connection ends.
        A connection that only reads and writes (a GET, then the client's close) costs no
        task, no future and no turn of the loop beyond its reads."""
        assert self._reader is not None
        self._program = program
        self._handoff = handoff
        if sniffio is not None:
            sniffio.current_async_library_cvar.set("asyncio")  # see serve(); the same here
        self._wait_first = True  # the client's request has most likely not arrived yet
        self._follow(self._go_on(None, None))

    async def carry_on(self, carried: Carried) -> Any:
        """In a task: drive the program ``begin`` started on from where it was handed over,
        to its end, as ``serve`` does."""
        program = self._program
        assert program is not None
        if sniffio is not None:
            sniffio.current_async_library_cvar.set("asyncio")
        return await drive(program, self._perform_own, carried)

    def abandon(self) -> None:
        """End a program ``begin`` started while it waits with no task (the server stopping):
        closed where it waits, as a cancelled task's program is; its ``handoff`` gets the end
        (with what the close raised, if anything)."""
        program, handoff = self._program, self._handoff
        if program is None or handoff is None:
            return
        assert self._reader is not None
        self._reader.unfollow()
        ended = Carried(ended=True)
        try:
            program.close()
        except Exception as exc:
            ended = Carried(ended=True, error=exc)
        self._hand_off(ended)

    def _follow(self, step: Carried | tuple[int, float | None]) -> None:
        """Where a program ``begin`` started goes next: at a wait, the reader's callback
        carries it on (``_resume``); anywhere else, it is handed off."""
        if isinstance(step, Carried):
            assert self._reader is not None
            self._reader.unfollow()
            self._hand_off(step)
            return
        max_bytes, deadline = step
        assert self._reader is not None
        self._reader.follow(max_bytes, deadline, self._resume)

    def _resume(self, data: bytes | None, error: OSError | None) -> None:
        """The reader's callback for a program waiting with no task: its bytes, its
        deadline (None) or the client's error, fed to the program."""
        if error is not None:
            step = self._go_on(None, PeerGone(f"client went away: {error!r}"))
        elif data is None:
            step = self._go_on(None, None)  # the wait's deadline passed
        else:
            step = self._carry(data)
        self._follow(step)

    def _hand_off(self, step: Carried) -> None:
        handoff, self._handoff = self._handoff, None  # once; and no cycle left through it
        assert handoff is not None
        handoff(step)

    async def _perform_own(self, action: object) -> Any:
        """``_perform`` for ``serve``'s program: a Receive that must wait, waits carried."""
        if type(action) is Receive and not self.closed:
            self._timeline = None
            return await self._receive_raw(action.max_bytes, self._deadline(action), self._carry)
        return await self._perform(action)

    def _deadline(self, action: Receive) -> float | None:
        """When ``action``'s wait ends, on the loop's clock (None: it waits for as long as
        it takes)."""
        return None if action.timeout is None else self._now() + action.timeout

    def _recv_now(self, max_bytes: int) -> bytes | None:
        """What the kernel holds now, at most ``max_bytes`` (``b""``: the client's end);
        None when it holds nothing yet."""
        try:
            data = self.socket.recv(max_bytes)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            raise PeerGone(f"client went away: {exc!r}") from None
        if not data:
            self.client_done = True
        return data

    def _carry(self, data: bytes) -> Carried | tuple[int, float | None]:
        """In the reader's readiness callback, with the bytes ``serve``'s program waited for:
        go on with the program's steps that need no waiting (writes the kernel takes whole,
        reads it can answer at once, up to ``READY_STREAK`` of them). At a Receive that must
        wait, its size and deadline: the reader waits again. At anything else (a sleep, a
        handler, a write that did not go out whole, the program's end), what the task is to
        do next (``Carried``)."""
        if not data:
            self.client_done = True
        return self._go_on(data, None)

    def _go_on(
        self, result: Any, error: BaseException | None
    ) -> Carried | tuple[int, float | None]:
        """``_carry``'s steps, from the program's Receive getting ``result`` (or ``error``
        thrown in)."""
        program = self._program
        assert program is not None
        steps = 0
        while True:
            try:
                action = program.throw(error) if error is not None else program.send(result)
            except StopIteration as stop:
                return Carried(ended=True, value=stop.value)
            except Exception as exc:  # the task raises it, as if from its own send()
                return Carried(ended=True, error=exc)
            result, error = None, None
            steps += 1
            if self.closed or steps > READY_STREAK:
                return Carried(action)
            try:
                if type(action) is Send:
                    sent = _send_now(self.socket, action.data)
                    if sent < len(action.data):
                        return Carried(Send(action.data[sent:]))
                    self._wait_first = True
                    continue
                if type(action) is Close and self._closes_at_once(action):
                    self.release()
                    continue
                if type(action) is not Receive:
                    return Carried(action)
                self._timeline = None
                deadline = self._deadline(action)
                if self._wait_first:
                    self._wait_first = False  # see _receive_raw
                    return action.max_bytes, deadline
                result = self._recv_now(action.max_bytes)
                if result is None:
                    return action.max_bytes, deadline
            except PeerGone as exc:
                error = exc

    async def _perform(self, action: object) -> Any:
        if isinstance(action, Send):
            if self.closed:
                raise PeerGone("connection already closed")
            await self.send(action.data)
            return None
        if isinstance(action, Sleep):
            self._timeline = await sleep_on(self._timeline, action.seconds)
            return None
        self._timeline = None
        if isinstance(action, Receive):
            if self.closed:
                return b""
            return await self.receive(action.max_bytes, self._deadline(action))
        if isinstance(action, Close):
            await self.close(action.how, close_notify=action.close_notify, split=action.split)
            return None
        if isinstance(action, Hold):
            await self.hold(action.seconds)
            return None
        if isinstance(action, PendingInput):
            if self.closed:
                return 0
            buffered = self.tls.buffered() if self.tls is not None else 0
            return buffered + _unread_bytes(self.socket)
        if isinstance(action, CallHandler):
            return await call_handler(action, self.run)
        if isinstance(action, UpstreamOpen | UpstreamSend | UpstreamReceive | UpstreamClose):
            if self._upstream is None:
                self._upstream = UpstreamLink()
            return await self._upstream.perform(action)
        raise TypeError(f"unknown action {action!r}")

    async def receive(self, max_bytes: int, deadline: float | None = None) -> bytes | None:
        """At most ``max_bytes`` from the client, waiting for some; ``b""`` at its end (over
        TLS: of plaintext, ``b""`` at a close_notify or at a FIN without one); None when
        ``deadline`` (the loop's clock) passed first. Only the waits are bounded: no byte
        read from the kernel is lost to the deadline."""
        tls = self.tls
        if tls is None:
            return await self._receive_raw(max_bytes, deadline)
        while True:
            data = tls.read(max_bytes)
            if data is not None:
                return data
            raw = await self._receive_raw(TLS_READ_SIZE, deadline)
            if raw is None:
                return None
            tls.feed(raw)
            if not raw:
                data = tls.read(max_bytes)
                return data or b""

    @overload
    async def _receive_raw(self, max_bytes: int) -> bytes: ...
    @overload
    async def _receive_raw(self, max_bytes: int, deadline: float | None) -> bytes | None: ...
    @overload
    async def _receive_raw(
        self, max_bytes: int, deadline: float | None, carry: Carry
    ) -> bytes | Carried | None: ...
    async def _receive_raw(
        self, max_bytes: int, deadline: float | None = None, carry: Carry | None = None
    ) -> bytes | Carried | None:
        """At most ``max_bytes``, waiting for some; None when ``deadline`` passed first. With
        ``carry`` (``serve``), a wait on asyncio may end with the program carried on instead."""
        while True:
            if self._reader is not None and self._wait_first:
                # We have just written (the client is most likely still reading it) or just
                # accepted the connection: a recv now would find nothing. Waiting at once saves
                # a request a syscall (and, with client threads in the process, a turn of the
                # GIL); bytes already there end the wait at once.
                self._wait_first = False
                data = None
            else:
                data = self._recv_now(max_bytes)
            if data is None:
                self._streak = 0
                if self._reader is not None:
                    try:
                        # Bounded by a timer of the loop's own, not a cancel scope (which
                        # costs a keep-alive request several microseconds); cancelled after
                        # its recv, the reader keeps the bytes for the next receive.
                        waited = await self._reader.receive(max_bytes, deadline, carry)
                    except OSError as exc:
                        raise PeerGone(f"client went away: {exc!r}") from None
                    if waited is None or isinstance(waited, Carried):
                        return waited
                    data = waited
                    if not data:
                        self.client_done = True
                else:
                    bound = math.inf if deadline is None else deadline
                    self._anyio_waited = True
                    with anyio.CancelScope(deadline=bound) as scope:
                        await _wait(anyio.wait_readable, self.socket)
                    if scope.cancelled_caught:
                        return None
                    continue
            await self._take_turns()
            return data

    async def send(self, data: bytes) -> None:
        """Hand every byte of ``data`` to the kernel, waiting for room as needed (over TLS:
        ``data`` is plaintext, written as records at once)."""
        if self.tls is not None and self.tls.handshake_done:
            self.tls.write(data)
            data = self.tls.output()
        # Before the handshake is done there is no session: what the core sends (an alert
        # that refuses the handshake) goes out as it is.
        await self._send_raw(data)

    async def _send_raw(self, data: bytes) -> None:
        sock = self.socket
        view: memoryview | None = None
        while True:
            sent = _send_now(sock, data if view is None else view)
            if view is None:
                if sent == len(data):
                    break
                view = memoryview(data)
            view = view[sent:]
            if not view:
                break
            self._streak = 0
            self._anyio_waited = True
            await _wait(anyio.wait_writable, sock)
        self._wait_first = True
        await self._take_turns()

    async def handshake(self, fault: HandshakeFault | None) -> Handshake:
        """Run the TLS handshake up to ``fault``'s exact byte (if any). A handshake that did not
        complete is journaled and ended by the core (``ServerConnection.handshake_failed``)."""
        tls = self.tls
        assert tls is not None
        result = Handshake()
        if fault is not None and fault.kind in ("stall", "alert"):
            # The ClientHello, whole or not: the client's first flight.
            hello = await self._receive_raw(TLS_READ_SIZE)
            result.read += len(hello)
            result.fired = fault
            return result
        cut = fault if fault is not None and fault.kind == "cut" else None
        try:
            while True:
                done = tls.handshake()
                out = tls.output()
                server_cut = cut if cut is not None and cut.side == "server" else None
                if server_cut is not None and out and result.written + len(out) >= server_cut.at:
                    out = out[: server_cut.at - result.written]
                    await self._send_raw(out)
                    result.written += len(out)
                    result.fired = cut
                    return result
                if out:
                    await self._send_raw(out)
                    result.written += len(out)
                if done:
                    result.ok = True
                    return result
                room = TLS_READ_SIZE
                if cut is not None and cut.side == "client":
                    if result.read >= cut.at:
                        result.fired = cut
                        return result
                    room = min(room, cut.at - result.read)
                data = await self._receive_raw(room)
                result.read += len(data)
                if not data:
                    result.reason = "the client closed the connection during the handshake"
                    return result
                tls.feed(data)
        except HandshakeFailed as exc:
            # What the client said (an alert) or broke; our own alert, if any, goes out.
            result.reason = exc.reason
            with contextlib.suppress(PeerGone):
                out = tls.output()
                await self._send_raw(out)
                result.written += len(out)
            return result
        except PeerGone as exc:
            result.reason = f"the client went away during the handshake ({exc})"
            return result

    async def _take_turns(self) -> None:
        self._streak += 1
        if self._streak >= READY_STREAK:
            self._streak = 0
            await anyio.lowlevel.checkpoint()

    async def close(self, how: str, *, close_notify: bool = True, split: bytes = b"") -> None:
        """End the connection with a FIN (after draining the client's input) or an RST.

        Over TLS, a FIN follows a close_notify unless ``close_notify`` is False, and an RST
        with ``split`` follows the first half of a record holding those bytes."""
        if self.closed:
            return
        self.closed = True
        session = self.tls is not None and self.tls.handshake_done
        try:
            if how == "reset":
                if session and split and self.tls is not None:
                    self.tls.write(split)
                    record = self.tls.output()
                    with contextlib.suppress(PeerGone):
                        await self._send_raw(record[: len(record) // 2])
                await self._flush()
                with contextlib.suppress(OSError):
                    linger = struct.pack("ii", 1, 0)
                    self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            else:
                if session and close_notify and self.tls is not None:
                    # A clean end of a TLS stream: close_notify before the FIN.
                    self.tls.close_notify()
                    with contextlib.suppress(PeerGone):
                        await self._send_raw(self.tls.output())
                if not self.client_done:
                    # When the client has already ended its side, closing sends the FIN by
                    # itself and there is no input left that could turn it into an RST.
                    with contextlib.suppress(PeerGone, OSError):
                        self.socket.shutdown(socket.SHUT_WR)
                        with anyio.move_on_after(DRAIN_SECONDS):
                            while await self._receive_raw(65536):
                                pass
        finally:
            self._release()

    def _closes_at_once(self, action: Close) -> bool:
        """Whether ``close`` would only close the socket: a FIN after the client's own end,
        over plain TCP (nothing to drain, no close_notify). The callbacks then close it
        themselves, and the program goes on to its end without the task."""
        return action.how == "close" and self.client_done and self.tls is None

    async def aclose(self) -> None:
        """Close without ceremony (the server is stopping or the program ended)."""
        self.release()
        if self._upstream is not None:
            await self._upstream.aclose()

    def release(self) -> None:
        """``aclose`` where there is no upstream connection to close: at once."""
        self.closed = True
        self._release()

    def _release(self) -> None:
        if self.socket.fileno() < 0:
            return
        if self._reader is not None:
            self._reader.close()
        if self._anyio_waited:
            with contextlib.suppress(OSError, RuntimeError):
                anyio.notify_closing(self.socket)
        self.socket.close()

    async def _flush(self) -> None:
        # The kernel offers no event for "send queue empty": poll it, briefly.
        with anyio.move_on_after(FLUSH_SECONDS):
            while _unsent_bytes(self.socket) > 0:  # noqa: ASYNC110
                await anyio.sleep(0.001)

    async def hold(self, seconds: float | None) -> None:
        """Stay silent until the client closes, ``seconds`` pass, or the server stops."""
        with anyio.move_on_after(seconds if seconds is not None else float("inf")):
            await _wait_for_client_close(self.socket)


@dataclass(slots=True)
class Handshake:
    """How a TLS handshake went: counted bytes both ways, and why it ended if not done."""

    ok: bool = False
    read: int = 0
    written: int = 0
    #: The scripted fault that ended it, if one did.
    fired: HandshakeFault | None = None
    #: Why it failed otherwise (the client's alert, a protocol error, the client leaving).
    reason: str | None = None


class _AsyncioReader:
    """Waits for a client's bytes on asyncio, with the socket left registered in the loop's
    selector from one wait to the next.

    ``anyio.wait_readable`` registers the socket for each wait and unregisters it after (two
    ``epoll_ctl`` calls and a selector key per wait), which is a good part of what a keep-alive
    request costs. Here the registration stays while the connection goes on waiting for request
    after request, and the readiness callback does the ``recv`` itself for the waiting
    receive, so no byte is read that the script did not ask for, and the socket is not
    reported ready again for bytes already taken. Readiness while no receive waits (the script
    is busy or sleeping) unregisters the socket until the next wait: epoll is level-triggered
    and would report it on every turn of the loop.

    A wait is either a task's (``receive``: a future the callback resolves) or, for a program
    that has no task (``ConnectionDriver.begin``), a callback's (``follow``: the callback
    hands what it read, or the deadline, to the driver).
    """

    __slots__ = (
        "_carry",
        "_deadline",
        "_fd",
        "_follower",
        "_kept",
        "_loop",
        "_max_bytes",
        "_sock",
        "_timer",
        "_waiter",
        "_watching",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        self._waiter: asyncio.Future[bytes | Carried | None] | None = None
        self._max_bytes = 0
        self._watching = False
        # Bytes the callback read for a receive that was cancelled before it resumed.
        self._kept: bytes | None = None
        #: The waiting receive's deadline, and the timer that ends it (``_on_timer``).
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        #: The waiting receive's ``carry`` (``ConnectionDriver.serve``).
        self._carry: Carry | None = None
        #: Who gets the read or the deadline of a wait with no task (``follow``).
        self._follower: Follow | None = None

    @overload
    async def receive(self, max_bytes: int) -> bytes: ...
    @overload
    async def receive(self, max_bytes: int, deadline: float | None) -> bytes | None: ...
    @overload
    async def receive(
        self, max_bytes: int, deadline: float | None, carry: Carry | None
    ) -> bytes | Carried | None: ...
    async def receive(
        self, max_bytes: int, deadline: float | None = None, carry: Carry | None = None
    ) -> bytes | Carried | None:
        """At most ``max_bytes``, once the client sends some (``b""`` at its end); None when
        ``deadline`` (the loop's clock) passes first, with nothing read. With ``carry``, the
        readiness callback hands the bytes to it, and waits again for as long as it asks
        (its size and deadline); the receive ends with where ``carry`` left off."""
        if self._kept is not None:
            kept, self._kept = self._kept[:max_bytes], self._kept[max_bytes:] or None
            return kept
        if not self._watching:
            self._loop.add_reader(self._fd, self._on_readable)
            self._watching = True
        self._max_bytes = max_bytes
        waiter: asyncio.Future[bytes | Carried | None] = self._loop.create_future()
        self._waiter = waiter
        self._carry = carry
        self._wait_until(deadline)
        try:
            data = await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                read = waiter.result()
                if isinstance(read, bytes):
                    self._kept = read or None  # read already: the next receive gets it
            raise
        finally:
            self._waiter = None
            self._carry = None
        return data

    def follow(self, max_bytes: int, deadline: float | None, follower: Follow) -> None:
        """Wait for at most ``max_bytes`` with no task: ``follower`` gets them from the
        readiness callback (``b""`` at the client's end), or None once ``deadline`` passes
        with nothing read, or the error of the read."""
        if not self._watching:
            self._loop.add_reader(self._fd, self._on_readable)
            self._watching = True
        self._max_bytes = max_bytes
        self._follower = follower
        self._wait_until(deadline)

    def unfollow(self) -> None:
        """No wait with no task any more (the program went to a task, or ended)."""
        self._follower = None

    def _wait_until(self, deadline: float | None) -> None:
        self._deadline = deadline
        if deadline is not None and (self._timer is None or self._timer.when() > deadline):
            self._arm(deadline)

    def _arm(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._loop.call_at(at, self._on_timer)

    def _on_timer(self) -> None:
        """The timer is set for the earliest deadline a wait had and outlives the wait: a
        keep-alive connection waits for request after request, each deadline later than the
        one before, and one timer serves them all (a timer made and cancelled for each wait
        cost every request a few microseconds). When it fires, the waiting receive's deadline
        decides: reached, the receive ends with None (unless bytes came first: the readiness
        callback then finds the waiter done); later, the timer is set again, for it."""
        assert self._timer is not None
        when = self._timer.when()
        self._timer = None
        follower = self._follower
        if follower is not None:
            if self._deadline is not None:
                if self._deadline > when:
                    self._arm(self._deadline)
                else:
                    follower(None, None)
            return
        waiter, deadline = self._waiter, self._deadline
        if waiter is None or waiter.done() or deadline is None:
            return
        if deadline > when:
            self._arm(deadline)
        else:
            waiter.set_result(None)

    def close(self) -> None:
        """Before the socket closes: out of the loop's selector, and no timer left."""
        self._follower = None
        self.unwatch()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_readable(self) -> None:
        follower = self._follower
        if follower is not None:
            try:
                data = self._sock.recv(self._max_bytes)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                follower(None, exc)
                return
            follower(data, None)
            return
        waiter = self._waiter
        if waiter is None or waiter.done():
            self.unwatch()
            return
        try:
            data = self._sock.recv(self._max_bytes)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            waiter.set_exception(exc)
            self._waiter = None
            return
        if self._carry is None:
            waiter.set_result(data)
            self._waiter = None
            return
        step = self._carry(data)
        if isinstance(step, Carried):
            waiter.set_result(step)
            self._waiter = None
        else:
            self._max_bytes, deadline = step  # the program waits again, here
            self._wait_until(deadline)

    def unwatch(self) -> None:
        """Take the socket out of the loop's selector (before it closes, or while idle)."""
        if self._watching:
            self._watching = False
            with contextlib.suppress(OSError, RuntimeError, ValueError):
                self._loop.remove_reader(self._fd)


async def drive(
    program: Program[T],
    perform: Callable[[Any], Awaitable[Any]],
    carried: Carried | None = None,
) -> T:
    """Drive ``program`` to its end, each action carried out by ``perform``, and return its
    value; ``PeerGone`` from ``perform`` is thrown into the program. ``carried``: where a
    callback left the program (``ConnectionDriver.begin``), to go on from."""
    result: Any = None
    error: BaseException | None = None
    action: Any
    try:
        while True:
            if carried is None:
                try:
                    action = program.throw(error) if error is not None else program.send(result)
                except StopIteration as stop:
                    value: T = stop.value
                    return value
            elif carried.ended:
                if carried.error is not None:
                    raise carried.error
                done: T = carried.value
                return done
            else:
                action = carried.action
            result, error, carried = None, None, None
            try:
                result = await perform(action)
            except PeerGone as exc:
                error = exc
            if type(result) is Carried:  # the program went on in a callback (serve)
                carried, result = result, None
    finally:
        # Cancelled (the server stopping mid-stall): end the program here, on the loop,
        # so its clean-up runs now and not later in the garbage collector.
        program.close()


async def sleep_on(timeline: float | None, seconds: float) -> float:
    """Sleep ``seconds`` measured from ``timeline`` (the deadline of the previous sleep, when
    nothing waited on the client since; None: from now); the new deadline."""
    now = anyio.current_time()
    base = timeline
    if base is None or now - base > RESYNC_SECONDS:
        base = now
    deadline = base + seconds
    await sleep_until(deadline)
    return deadline


async def call_handler(
    action: CallHandler, run: Callable[[Program[Any]], Awaitable[Any]]
) -> BaseException | None:
    """Run a user's async handler (its control runs programs through ``run``); what it
    raises, BaseException included, is returned for its exchange to report. Only the
    server's own cancellation goes on up."""
    control = HandlerControl(action.control, run)
    try:
        await action.handler(control)
    except PeerGone:
        raise
    except anyio.get_cancelled_exc_class() as exc:
        if _server_cancelled():
            raise  # the server stopping
        # The handler's own (it awaited a task someone cancelled): its exchange's error.
        _uncancel_current_task()
        return exc
    except BaseException as exc:  # SystemExit and all: see the docstring
        return exc
    return None


#: The connection tasks the server is stopping, on asyncio (``stop_task``).
_STOPPING: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()


def stop_task(task: asyncio.Task[Any]) -> None:
    """Cancel a connection's task, the server stopping (on asyncio the server cancels the
    task itself, not a cancel scope): ``call_handler`` knows this cancellation from one a
    handler made."""
    _STOPPING.add(task)
    task.cancel()


def _server_cancelled() -> bool:
    """Whether the server is stopping the connection: a cancel scope around it was
    cancelled (trio), or its task was (``stop_task``, asyncio)."""
    if anyio.current_effective_deadline() == -math.inf:
        return True
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return False  # not on asyncio
    return task is not None and task in _STOPPING


def _uncancel_current_task() -> None:
    """Undo a cancel() a handler made of the server's own task, on asyncio: anyio would
    otherwise see the task as being cancelled from then on."""
    try:
        task = asyncio.current_task()
    except RuntimeError:
        return  # not on asyncio
    if task is not None:
        while task.cancelling():
            task.uncancel()


async def _wait(wait: Any, sock: socket.socket) -> None:
    try:
        await wait(sock)
    except anyio.ClosedResourceError:
        raise PeerGone("connection closed") from None


async def sleep_until(deadline: float) -> None:
    """Sleep until ``deadline`` on the loop's clock, waking within a few hundred microseconds
    of it rather than up to a millisecond late."""
    coarse = deadline - SPIN_SECONDS
    if coarse > anyio.current_time():
        await anyio.sleep_until(coarse)
    while anyio.current_time() < deadline:
        await anyio.lowlevel.checkpoint()


def _send_now(sock: socket.socket, data: bytes | memoryview) -> int:
    """How many bytes of ``data`` the kernel took now (0: no room)."""
    try:
        return sock.send(data)
    except (BlockingIOError, InterruptedError):
        return 0
    except OSError as exc:
        raise PeerGone(f"client went away: {exc!r}") from None


def _unsent_bytes(sock: socket.socket) -> int:
    try:
        buf = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return 0
    value: int = struct.unpack("i", buf)[0]
    return value


def _unread_bytes(sock: socket.socket) -> int:
    try:
        buf = fcntl.ioctl(sock.fileno(), termios.FIONREAD, b"\0\0\0\0")
    except OSError:
        return 0
    value: int = struct.unpack("i", buf)[0]
    return value


async def _wait_for_client_close(sock: socket.socket) -> None:
    # Never read: bytes the client sends during a stall stay unread (they are past the scripted
    # cut), so its sending stops once the buffers are full. An end of stream (POLLRDHUP) or a
    # reset (POLLERR, POLLHUP) ends the stall; poll sees them even behind unread bytes, where a
    # peek would only ever see the first byte. Polled, because readiness would wake the loop
    # for every unread byte the client sends, not only for its end.
    rdhup = getattr(select, "POLLRDHUP", 0)  # Linux; elsewhere a peek finds the end of stream
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN | rdhup)
    while True:
        for _, events in poller.poll(0):
            if events & (rdhup | select.POLLERR | select.POLLHUP):
                return
            if not rdhup and events & select.POLLIN and _peek(sock) == b"":
                return
        await anyio.sleep(HOLD_POLL_SECONDS)


def _peek(sock: socket.socket) -> bytes | None:
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return None
    except OSError as exc:
        return None if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK) else b""
