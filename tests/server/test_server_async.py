"""The server in the test's own event loop, on asyncio and on trio."""

from __future__ import annotations

import asyncio
import threading

import anyio
import pytest
from support.recording_client import arequest

import mockprogress as mp

pytestmark = pytest.mark.anyio


async def test_interims_and_final_response(mockprogress_async_server: mp.MockServer) -> None:
    srv = mockprogress_async_server
    srv.expect("POST", "/jobs").respond(
        mp.processing('0/2 "Herding cats"', location="/jobs/1/status"),
        mp.pause(0.02),
        mp.processing((1, 2, "Knitting sweaters")),
        mp.respond(201, b"created\n"),
    )
    reply = await arequest(srv.port, "POST", "/jobs", body=b"x")
    assert [(i.status, i.reason, i.header("Progress")) for i in reply.interims] == [
        (102, "Processing", '0/2 "Herding cats"'),
        (102, "Processing", '1/2 "Knitting sweaters"'),
    ]
    assert reply.interims[0].header("Location") == "/jobs/1/status"
    assert (reply.status, reply.reason, reply.body) == (201, "Created", b"created\n")
    assert srv.journal.last.body == b"x"


async def test_async_with_outside_the_fixture(anyio_backend_name: str) -> None:
    async with mp.MockServer() as srv:
        srv.expect("GET", "/").respond(mp.respond(200, b"hi"))
        reply = await arequest(srv.port, "GET", "/")
        assert reply.body == b"hi"
        assert srv.running
    assert not srv.running
    assert len(srv.journal) == 1  # the journal outlives the server
    srv.check()


async def test_concurrent_connections_are_independent(
    mockprogress_async_server: mp.MockServer,
) -> None:
    srv = mockprogress_async_server
    srv.expect("GET", "/slow").respond(mp.pause(0.2), mp.respond(200, b"slow"))
    srv.expect("GET", "/fast").respond(mp.respond(200, b"fast"))
    order: list[bytes] = []

    async def fetch(path: str) -> None:
        reply = await arequest(srv.port, "GET", path)
        order.append(reply.body)

    async with anyio.create_task_group() as tg:
        tg.start_soon(fetch, "/slow")
        await anyio.sleep(0.02)
        tg.start_soon(fetch, "/fast")
    assert order == [b"fast", b"slow"]


async def test_async_handler_drives_the_exchange(mockprogress_async_server: mp.MockServer) -> None:
    srv = mockprogress_async_server

    async def reverse(ctl: mp.HandlerControl) -> None:
        body = await ctl.read_body()
        await ctl.send(mp.processing((0, 1, "reversing")), mp.pause(0.01))
        await ctl.send(mp.respond(200, body[::-1], {"X-Method": ctl.request.method}))

    srv.expect("POST", "/reverse").respond_with(reverse)
    reply = await arequest(srv.port, "POST", "/reverse", body=b"abc")
    assert [i.status for i in reply.interims] == [102]
    assert reply.body == b"cba" and reply.header("X-Method") == "POST"


@pytest.mark.mockprogress(check_at_teardown=False)
async def test_a_failing_handler_is_answered_recorded_and_the_server_keeps_serving(
    mockprogress_async_server: mp.MockServer,
) -> None:
    srv = mockprogress_async_server

    async def broken(ctl: mp.HandlerControl) -> None:
        raise RuntimeError("handler bug")

    srv.expect("GET", "/broken").respond_with(broken)
    srv.expect("GET", "/ok").respond(mp.respond(200, b"ok"))
    reply = await arequest(srv.port, "GET", "/broken")
    assert reply.status == 500 and b"handler bug" in reply.body
    assert (await arequest(srv.port, "GET", "/ok")).body == b"ok"
    with pytest.raises(mp.ExpectationError, match="handler-error") as info:
        srv.check()
    assert "RuntimeError: handler bug" in str(info.value)


async def test_from_a_worker_thread(mockprogress_async_server: mp.MockServer) -> None:
    srv = mockprogress_async_server
    await anyio.to_thread.run_sync(lambda: srv.expect("GET", "/t").respond(mp.respond(204)))
    assert (await arequest(srv.port, "GET", "/t")).status == 204


async def test_stopping_cancels_a_stalled_connection() -> None:
    async with mp.MockServer() as srv:
        srv.expect("GET", "/stall").respond(mp.stall())
        async with await anyio.connect_tcp("127.0.0.1", srv.port) as stream:
            await stream.send(b"GET /stall HTTP/1.1\r\nHost: x\r\n\r\n")
            await anyio.sleep(0.05)
    # leaving `async with` returned: the stall ended with the server
    assert srv.journal.last.fault is not None


def test_async_with_under_a_plain_asyncio_run() -> None:
    # No anyio.run and no pytest plugin: the server's accept callback runs outside any task,
    # where anyio cannot tell the library by itself (it crashed on the first connection).
    async def main() -> bytes:
        async with mp.MockServer() as srv:
            srv.expect("GET", "/").respond(mp.respond(200, b"ok"))
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = await asyncio.wait_for(reader.read(), 5)
            writer.close()
        srv.check()
        return data

    got: list[bytes] = []
    # A thread of its own: a fresh context, as in a script that never ran anyio.
    thread = threading.Thread(target=lambda: got.append(asyncio.run(main())))
    thread.start()
    thread.join(10)
    assert got and got[0].startswith(b"HTTP/1.1 200 OK\r\n") and got[0].endswith(b"\r\n\r\nok")
