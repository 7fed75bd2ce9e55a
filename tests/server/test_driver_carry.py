"""``ConnectionDriver.serve``: on asyncio, the bytes a waiting Receive gets are fed to the
connection's program in the reader's readiness callback, which carries the program on through
the steps that need no waiting (whole writes, reads the kernel can answer, the next wait) and
hands the rest to the connection's task: a sleep, a write the kernel did not take whole, the
program's end, an error. Each test runs a real socket pair on a plain asyncio loop; the
driver's ``_carry`` is counted to tell a step carried in the callback from one the task did.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from support.recording_client import Client

import mockprogress as mp
from mockprogress.engine.actions import Program, Receive, Send, Sleep
from mockprogress.server.driver import READY_STREAK, ConnectionDriver


class Counting(ConnectionDriver):
    """A driver that counts the callbacks that carried its program on."""

    carried = 0

    def _carry(self, data: bytes) -> Any:
        self.carried += 1
        return super()._carry(data)


def _run(body: Callable[[Counting, socket.socket], Awaitable[None]]) -> None:
    async def main() -> None:
        ours, theirs = socket.socketpair()
        driver = Counting(ours, asyncio.get_running_loop())
        try:
            await body(driver, theirs)
        finally:
            await driver.aclose()
            theirs.close()

    asyncio.run(main())


def _echo(rounds: int) -> Program[list[bytes]]:
    """Reads and echoes ``rounds`` times; the bytes read, in order."""
    seen = []
    for _ in range(rounds):
        data = yield Receive(100)
        assert isinstance(data, bytes)
        seen.append(data)
        yield Send(b"echo:" + data)
    return seen


async def _exchange(theirs: socket.socket, data: bytes, reply: int) -> bytes:
    """The client's side: ``data`` sent, then ``reply`` bytes read back."""
    loop = asyncio.get_running_loop()
    theirs.setblocking(False)
    await loop.sock_sendall(theirs, data)
    got = b""
    while len(got) < reply:
        chunk = await loop.sock_recv(theirs, reply - len(got))
        assert chunk, got
        got += chunk
    return got


def test_requests_on_a_kept_connection_are_carried_on_in_the_callback() -> None:
    async def body(driver: Counting, theirs: socket.socket) -> None:
        task = asyncio.ensure_future(driver.serve(_echo(3)))
        await asyncio.sleep(0.01)  # the program waits for its first read
        for word in (b"one", b"two", b"six"):
            assert await _exchange(theirs, word, 8) == b"echo:" + word
        assert await task == [b"one", b"two", b"six"]
        # Every read waited (the first for the client, the others because the program had
        # just written) and was carried on by the callback, through its echo, to the next
        # wait or the program's end.
        assert driver.carried == 3

    _run(body)


def test_the_program_value_and_what_it_raises_come_out_of_serve() -> None:
    def fails() -> Program[None]:
        yield Receive(10)
        raise ValueError("core bug")

    async def body(driver: Counting, theirs: socket.socket) -> None:
        task = asyncio.ensure_future(driver.serve(fails()))
        await asyncio.sleep(0.01)
        theirs.sendall(b"x")
        with pytest.raises(ValueError, match="core bug"):
            await task
        assert driver.carried == 1

    _run(body)


def test_a_sleep_is_the_tasks_and_the_program_goes_on_after_it() -> None:
    def sleepy() -> Program[float]:
        yield Receive(10)
        started = time.monotonic()
        yield Sleep(0.05)
        yield Send(b"late")
        return time.monotonic() - started

    async def body(driver: Counting, theirs: socket.socket) -> None:
        task = asyncio.ensure_future(driver.serve(sleepy()))
        await asyncio.sleep(0.01)
        assert await _exchange(theirs, b"go", 4) == b"late"
        assert await task >= 0.05
        assert driver.carried == 1

    _run(body)


def test_a_write_the_kernel_does_not_take_whole_is_finished_by_the_task() -> None:
    big = bytes(range(256)) * 32768  # 8 MiB: more than the socket buffers hold

    def download() -> Program[bytes | None]:
        yield Receive(10)
        yield Send(big)
        last: bytes | None = yield Receive(10)
        return last

    async def body(driver: Counting, theirs: socket.socket) -> None:
        task = asyncio.ensure_future(driver.serve(download()))
        await asyncio.sleep(0.01)
        got = await _exchange(theirs, b"get", len(big))
        assert got == big  # every byte, in order, none twice
        theirs.sendall(b"bye")
        assert await task == b"bye"

    _run(body)


def test_writes_in_a_row_give_the_loop_a_turn() -> None:
    """A program that writes and writes without waiting is carried on for ``READY_STREAK``
    steps at most, then handed to its task (which takes turns with the loop)."""
    pieces = 5 * READY_STREAK

    def chatty() -> Program[None]:
        yield Receive(10)
        for i in range(pieces):
            yield Send(b"%04d" % i)

    async def body(driver: Counting, theirs: socket.socket) -> None:
        ticks = 0

        async def ticking() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        ticker = asyncio.ensure_future(ticking())
        task = asyncio.ensure_future(driver.serve(chatty()))
        await asyncio.sleep(0.01)
        before = ticks
        got = await _exchange(theirs, b"go", 4 * pieces)
        await task
        ticker.cancel()
        assert got == b"".join(b"%04d" % i for i in range(pieces))
        assert ticks - before >= 4  # the loop ran other tasks while the writes went on

    _run(body)


def test_a_carried_wait_keeps_its_timeout() -> None:
    def patient() -> Program[bytes | None]:
        yield Receive(10)
        yield Send(b"ok")
        last: bytes | None = yield Receive(10, timeout=0.05)
        return last

    async def body(driver: Counting, theirs: socket.socket) -> None:
        task = asyncio.ensure_future(driver.serve(patient()))
        await asyncio.sleep(0.01)
        assert await _exchange(theirs, b"go", 2) == b"ok"
        started = time.monotonic()
        assert await task is None  # timed out: nothing more came
        assert 0.04 <= time.monotonic() - started < 1.0

    _run(body)


def test_a_stop_while_carried_closes_the_program() -> None:
    closed = []

    def waits() -> Program[None]:
        try:
            yield Receive(10)
            yield Send(b"ok")
            yield Receive(10)
        finally:
            closed.append(True)

    async def body(driver: Counting, theirs: socket.socket) -> None:
        task = asyncio.ensure_future(driver.serve(waits()))
        await asyncio.sleep(0.01)
        assert await _exchange(theirs, b"go", 2) == b"ok"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert closed == [True]
        theirs.sendall(b"late")  # readiness now finds no waiter: nothing is carried
        await asyncio.sleep(0.01)
        assert driver.carried == 1

    _run(body)


def test_a_handler_asking_anyio_the_time_works_in_a_carried_request() -> None:
    """The second request on a kept connection is served in the reader's callback, where
    there is no current task: a function handler that asks anyio for the time still finds
    asyncio there, in a loop that ``asyncio.run`` started (anyio's own runner would have
    told sniffio already)."""

    def timed(request: mp.Exchange) -> mp.Step:
        return mp.respond(200, b"%.0f" % anyio.current_time())

    async def main() -> None:
        async with mp.MockServer() as srv:
            srv.expect("GET", "/now", times=2).respond_with(timed)
            loop = asyncio.get_running_loop()
            with Client(srv.port) as client:
                answers = [
                    await loop.run_in_executor(None, client.request, "GET", "/now")
                    for _ in range(2)
                ]
            assert [(a.status, a.error) for a in answers] == [(200, None), (200, None)]
            assert srv.journal[0].connection == srv.journal[1].connection
            srv.check()  # no problem: no handler error

    asyncio.run(main())


def test_a_kept_connection_goes_from_carried_requests_to_handlers_and_back(
    mockprogress_server: mp.MockServer,
) -> None:
    """Requests on one connection, each after the client has waited for the answer before
    (so each is read by a carried wait): a scripted answer, an async handler reading the
    body and pausing (the task's work), a 102 with a pause, and a script again. Every answer
    is whole, in order, on the one connection."""
    srv = mockprogress_server

    async def reverse(ctl: mp.HandlerControl) -> None:
        body = await ctl.read_body()
        await ctl.send(mp.processing("0/1"), mp.pause(0.05))
        await ctl.send(mp.respond(200, body[::-1]))

    srv.expect("GET", "/plain", times=2).respond(mp.respond(200, b"plain"))
    srv.expect("POST", "/reverse").respond_with(reverse)
    srv.expect("GET", "/slow").respond(mp.processing("1/2"), mp.pause(0.05), mp.respond(200, b"ok"))
    with Client(srv.port) as client:
        replies = [
            client.request("GET", "/plain"),
            client.request("POST", "/reverse", body=b"stressed"),
            client.request("GET", "/slow"),
            client.request("GET", "/plain"),
        ]
    assert [(r.status, r.body, r.complete) for r in replies] == [
        (200, b"plain", True),
        (200, b"desserts", True),
        (200, b"ok", True),
        (200, b"plain", True),
    ]
    assert [[i.status for i in r.interims] for r in replies] == [[], [102], [102], []]
    assert len({ex.connection for ex in srv.journal}) == 1
