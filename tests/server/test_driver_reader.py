"""The asyncio reader of ``_driver``: the socket stays registered between waits, the readiness
callback reads for the waiting receive only, and nothing read is lost or read ahead.

Each test runs a real socket pair on a plain asyncio loop. ``loop.remove_reader(fd)`` (public
asyncio API) returns whether the socket was still registered, which is how the tests see the
registration.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from mockprogress.server.driver import ConnectionDriver, _AsyncioReader


@dataclass
class Pair:
    """Our non-blocking end of a connection, the client's end, and the running loop."""

    loop: asyncio.AbstractEventLoop
    ours: socket.socket
    theirs: socket.socket

    def registered(self) -> bool:
        """Whether our socket was still in the loop's selector (it no longer is after)."""
        return self.loop.remove_reader(self.ours.fileno())


def _run(body: Callable[[Pair], Awaitable[None]]) -> None:
    async def main() -> None:
        ours, theirs = socket.socketpair()
        ours.setblocking(False)
        try:
            await body(Pair(asyncio.get_running_loop(), ours, theirs))
        finally:
            ours.close()
            theirs.close()

    asyncio.run(main())


async def _waiting(reader: _AsyncioReader, max_bytes: int) -> asyncio.Future[bytes]:
    """A receive started and left waiting on the loop (nothing has been sent yet)."""
    task = asyncio.ensure_future(reader.receive(max_bytes))
    await _turns(2)
    assert not task.done()
    return task


async def _turns(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def test_a_receive_takes_at_most_what_it_asks_for_and_stays_registered() -> None:
    async def body(pair: Pair) -> None:
        reader = _AsyncioReader(pair.loop, pair.ours)
        task = await _waiting(reader, 4)
        pair.theirs.sendall(b"0123456789")
        assert await task == b"0123"
        # The rest waits in the kernel, and the next wait needs no new registration.
        assert await reader.receive(100) == b"456789"
        assert pair.registered()

    _run(body)


def test_readiness_while_nobody_waits_unregisters_the_socket() -> None:
    calls = 0

    class Counting(_AsyncioReader):
        __slots__ = ()

        def _on_readable(self) -> None:
            nonlocal calls
            calls += 1
            super()._on_readable()

    async def body(pair: Pair) -> None:
        nonlocal calls
        reader = Counting(pair.loop, pair.ours)
        task = await _waiting(reader, 1)
        pair.theirs.sendall(b"ab")
        assert await task == b"a"
        calls = 0
        # b"b" sits unread while the script does something else: epoll is level-triggered,
        # so a registered socket would call back on every turn of the loop.
        await _turns(50)
        assert calls <= 1
        assert not pair.registered()
        assert await reader.receive(10) == b"b"

    _run(body)


def test_bytes_read_for_a_receive_cancelled_before_it_resumed_go_to_the_next() -> None:
    async def body(pair: Pair) -> None:
        reader = _AsyncioReader(pair.loop, pair.ours)
        task = await _waiting(reader, 100)
        pair.theirs.sendall(b"kept")
        reader._on_readable()  # the loop's callback: it reads, and the task is woken next turn
        task.cancel()  # before that turn comes
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await reader.receive(2) == b"ke"
        assert await reader.receive(100) == b"pt"

    _run(body)


def test_the_end_of_stream_reaches_the_receive() -> None:
    async def body(pair: Pair) -> None:
        reader = _AsyncioReader(pair.loop, pair.ours)
        task = await _waiting(reader, 100)
        pair.theirs.sendall(b"x")
        pair.theirs.shutdown(socket.SHUT_WR)
        assert await task == b"x"
        assert await reader.receive(100) == b""

    _run(body)


def test_a_reset_is_the_error_the_receive_raises() -> None:
    async def body() -> None:
        # TCP: a socket pair cannot send a reset.
        with socket.create_server(("127.0.0.1", 0)) as listener:
            client = socket.create_connection(listener.getsockname())
            server, _ = listener.accept()
            server.setblocking(False)
            with server:
                reader = _AsyncioReader(asyncio.get_running_loop(), server)
                task = await _waiting(reader, 100)
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
                with pytest.raises(ConnectionResetError):
                    await task
                reader.unwatch()

    asyncio.run(body())


def test_the_driver_unregisters_its_socket_before_closing_it() -> None:
    async def body(pair: Pair) -> None:
        driver = ConnectionDriver(pair.ours, pair.loop)
        fd = pair.ours.fileno()
        task = asyncio.ensure_future(driver.receive(10))
        await _turns(2)
        pair.theirs.sendall(b"hi")
        assert await task == b"hi"
        await driver.aclose()
        assert pair.ours.fileno() == -1
        assert pair.loop.remove_reader(fd) is False

    _run(body)


def test_a_receive_past_its_deadline_is_none_and_reads_nothing() -> None:
    async def body(pair: Pair) -> None:
        reader = _AsyncioReader(pair.loop, pair.ours)
        assert await reader.receive(100, pair.loop.time() + 0.01) is None
        # What the client sends after the deadline is still in the kernel for the next read,
        # and the timer of the receive that timed out does not end the next one.
        pair.theirs.sendall(b"late")
        assert await reader.receive(100, pair.loop.time() + 5.0) == b"late"
        assert pair.registered()

    _run(body)


def test_bytes_that_came_before_the_deadline_are_the_result() -> None:
    async def body(pair: Pair) -> None:
        reader = _AsyncioReader(pair.loop, pair.ours)
        task = asyncio.ensure_future(reader.receive(100, pair.loop.time() + 0.05))
        await _turns(2)
        pair.theirs.sendall(b"early")
        assert await task == b"early"
        await asyncio.sleep(0.1)  # past the deadline of the finished receive: it ends nothing
        pair.theirs.sendall(b"next")
        assert await reader.receive(100) == b"next"

    _run(body)


def test_the_driver_receive_ends_with_none_at_its_deadline() -> None:
    async def body(pair: Pair) -> None:
        driver = ConnectionDriver(pair.ours, pair.loop)
        assert await driver.receive(10, pair.loop.time() + 0.01) is None
        pair.theirs.sendall(b"hi")
        assert await driver.receive(10, pair.loop.time() + 5.0) == b"hi"
        await driver.aclose()

    _run(body)


def test_one_timer_serves_a_connections_successive_waits() -> None:
    """A keep-alive connection waits for request after request, each deadline later than the
    one before: the timer set for the first serves them all, none is made per wait."""

    async def body(pair: Pair) -> None:
        reader = _AsyncioReader(pair.loop, pair.ours)
        timers = 0
        call_at = pair.loop.call_at

        def counting_call_at(when: float, callback: Callable[..., object]) -> asyncio.TimerHandle:
            nonlocal timers
            timers += 1
            return call_at(when, callback)

        pair.loop.call_at = counting_call_at  # type: ignore[method-assign,assignment]
        for i in range(5):
            task = asyncio.ensure_future(reader.receive(100, pair.loop.time() + 5.0))
            await _turns(2)
            pair.theirs.sendall(b"request %d" % i)
            assert await task == b"request %d" % i
        assert timers == 1
        # A deadline earlier than the timer's gets a timer of its own, and ends there.
        started = pair.loop.time()
        assert await reader.receive(100, started + 0.05) is None
        assert timers == 2
        assert pair.loop.time() - started < 1.0
        reader.close()

    _run(body)


def test_a_deadline_later_than_the_timer_ends_its_receive_at_its_own_time() -> None:
    async def body(pair: Pair) -> None:
        reader = _AsyncioReader(pair.loop, pair.ours)
        task = asyncio.ensure_future(reader.receive(100, pair.loop.time() + 0.03))
        await _turns(2)
        pair.theirs.sendall(b"early")
        assert await task == b"early"
        # The timer set for 0.03 s fires inside this wait, and is set again for its deadline.
        started = pair.loop.time()
        assert await reader.receive(100, started + 0.15) is None
        assert pair.loop.time() - started >= 0.149  # not at the first timer, 0.03 s
        reader.close()

    _run(body)


def test_closing_the_reader_cancels_its_timer() -> None:
    async def body(pair: Pair) -> None:
        reader = _AsyncioReader(pair.loop, pair.ours)
        task = asyncio.ensure_future(reader.receive(100, pair.loop.time() + 5.0))
        await _turns(2)
        pair.theirs.sendall(b"x")
        assert await task == b"x"
        timer = reader._timer
        assert timer is not None and not timer.cancelled()
        reader.close()
        assert timer.cancelled()
        assert not pair.registered()

    _run(body)
