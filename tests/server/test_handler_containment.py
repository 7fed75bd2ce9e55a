"""Every exception a handler or a resource raises, BaseException included, stays in its
exchange: a 500 while a response can still be sent, a problem for check() with its
traceback, and the listener and the shared loop of thread mode go on."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
from support.recording_client import arequest, request

import mockprogress as mp
from mockprogress.engine.actions import Program
from mockprogress.engine.resource import Resource
from mockprogress.engine.surface import ExchangeSurface


class Boom(BaseException):
    """A BaseException no one expects."""


async def _cancelled_task() -> None:
    # What a handler gets when it awaits a task that was cancelled: a CancelledError that no
    # cancel scope of the server's caused.
    task = asyncio.ensure_future(asyncio.sleep(10))
    await asyncio.sleep(0)
    task.cancel()
    await task


def _raiser(kind: str) -> Callable[[], BaseException]:
    return {
        "SystemExit": lambda: SystemExit(3),
        "KeyboardInterrupt": KeyboardInterrupt,
        "BaseException": lambda: Boom("boom in the handler"),
        "GeneratorExit": GeneratorExit,
    }[kind]


KINDS = ["SystemExit", "KeyboardInterrupt", "BaseException", "GeneratorExit"]


def _async_handler(kind: str) -> Any:
    async def handler(ctl: mp.HandlerControl) -> None:
        await ctl.read_body()
        if kind == "cancelled-task":
            await _cancelled_task()
        raise _raiser(kind)()

    return handler


@pytest.fixture(params=["asyncio", "trio"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def bystander(backend: str) -> Iterator[mp.MockServer]:
    """An unrelated thread-mode server on the same shared loop."""
    with mp.MockServer(backend=backend) as other:
        other.expect("GET", "/other", times=None).respond(mp.respond(200, b"still here"))
        yield other


def _assert_contained(srv: mp.MockServer, bystander: mp.MockServer, name: str) -> None:
    reply = request(srv.port, "POST", "/h", body=b"x")
    assert reply.status == 500
    assert name in reply.body.decode()
    # The listener goes on, the bystander too.
    assert request(srv.port, "GET", "/ok").body == b"fine"
    assert request(bystander.port, "GET", "/other").body == b"still here"
    with pytest.raises(mp.ExpectationError) as failed:
        srv.check()
    text = str(failed.value)
    assert "handler-error" in text
    assert name in text
    assert "Traceback" in text


@pytest.mark.parametrize("kind", KINDS)
def test_async_handler_base_exceptions_are_contained_in_thread_mode(
    backend: str, bystander: mp.MockServer, kind: str
) -> None:
    with mp.MockServer(backend=backend) as srv:
        srv.expect("POST", "/h").respond_with(_async_handler(kind))
        srv.expect("GET", "/ok").respond(mp.respond(200, b"fine"))
        _assert_contained(srv, bystander, kind if kind != "BaseException" else "Boom")
    # The shared loop is alive: a new server starts and serves.
    with mp.MockServer(backend=backend) as fresh:
        fresh.expect("GET", "/").respond(mp.respond(200, b"new"))
        assert request(fresh.port, "GET", "/").body == b"new"


def test_a_handler_awaiting_a_cancelled_task_is_a_handler_error() -> None:
    with mp.MockServer() as other, mp.MockServer() as srv:
        other.expect("GET", "/other").respond(mp.respond(200, b"still here"))
        srv.expect("POST", "/h").respond_with(_async_handler("cancelled-task"))
        srv.expect("GET", "/ok").respond(mp.respond(200, b"fine"))
        _assert_contained(srv, other, "CancelledError")


def test_a_handler_cancelling_its_own_task_is_a_handler_error() -> None:
    """On asyncio the server stops a connection by cancelling its task; a handler that cancels
    that task itself is told apart (its exchange's error, the connection served on)."""

    async def handler(ctl: mp.HandlerControl) -> None:
        await ctl.read_body()
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(1)

    with mp.MockServer() as other, mp.MockServer() as srv:
        other.expect("GET", "/other").respond(mp.respond(200, b"still here"))
        srv.expect("POST", "/h").respond_with(handler)
        srv.expect("GET", "/ok").respond(mp.respond(200, b"fine"))
        _assert_contained(srv, other, "CancelledError")


@pytest.mark.parametrize("kind", KINDS)
def test_sync_handler_base_exceptions_are_contained(
    backend: str, bystander: mp.MockServer, kind: str
) -> None:
    def handler(exchange: mp.Exchange) -> mp.Step:
        raise _raiser(kind)()

    with mp.MockServer(backend=backend) as srv:
        srv.expect("POST", "/h").respond_with(handler)
        srv.expect("GET", "/ok").respond(mp.respond(200, b"fine"))
        _assert_contained(srv, bystander, kind if kind != "BaseException" else "Boom")


class _Broken(Resource):
    def __init__(self, path: str, kind: str) -> None:
        super().__init__(path)
        self.kind = kind

    def serve(self, ctx: ExchangeSurface) -> Program[None]:
        yield from ctx.read_body()
        if self.kind == "ValueError":
            raise ValueError("the resource broke")
        raise _raiser(self.kind)()


@pytest.mark.parametrize("kind", ["ValueError", *KINDS])
def test_a_resource_raising_is_contained_to_its_exchange(
    backend: str, bystander: mp.MockServer, kind: str
) -> None:
    with mp.MockServer(backend=backend) as srv:
        srv.mount(_Broken("/h", kind))
        srv.expect("GET", "/ok").respond(mp.respond(200, b"fine"))
        _assert_contained(srv, bystander, kind if kind != "BaseException" else "Boom")


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.mark.anyio
@pytest.mark.parametrize("kind", KINDS)
async def test_in_loop_mode_contains_them_too(kind: str) -> None:
    async with mp.MockServer() as srv:
        srv.expect("POST", "/h").respond_with(_async_handler(kind))
        srv.expect("GET", "/ok").respond(mp.respond(200, b"fine"))
        reply = await arequest(srv.port, "POST", "/h", body=b"x")
        assert reply.status == 500
        assert (await arequest(srv.port, "GET", "/ok")).body == b"fine"
    with pytest.raises(mp.ExpectationError, match="handler-error"):
        srv.check()


@pytest.mark.anyio
async def test_the_servers_own_cancellation_still_stops_a_handler() -> None:
    started = anyio.Event()
    finished = anyio.Event()

    async def handler(ctl: mp.HandlerControl) -> None:
        started.set()
        await anyio.sleep(30)

    async def client(port: int) -> None:
        with contextlib.suppress(Exception):
            await arequest(port, "GET", "/slow")
        finished.set()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            async with mp.MockServer() as srv:
                srv.expect("GET", "/slow").respond_with(handler)
                tg.start_soon(client, srv.port)
                await started.wait()
            # The server stopped under the handler: that ends it, and is no handler error.
            await finished.wait()
    srv.check()


def test_pytest_fail_in_a_handler_fails_the_test_once_with_its_message(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
import http.client
import pytest
import mockprogress as mp

def test_it(mockprogress_server):
    async def handler(ctl):
        pytest.fail("the client sent the wrong thing")

    mockprogress_server.expect("GET", "/").respond_with(handler)
    conn = http.client.HTTPConnection("127.0.0.1", mockprogress_server.port, timeout=5)
    conn.request("GET", "/")
    assert conn.getresponse().status == 500
    conn.close()
"""
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*handler-error*the client sent the wrong thing*"])
    assert "BaseExceptionGroup" not in result.stdout.str()


@pytest.mark.parametrize("kind", ["ValueError", *KINDS])
def test_a_matcher_predicate_raising_is_contained_to_its_exchange(
    backend: str, bystander: mp.MockServer, kind: str
) -> None:
    def predicate(value: object) -> bool:
        if kind == "ValueError":
            raise ValueError("the predicate broke")
        raise _raiser(kind)()

    with mp.MockServer(backend=backend) as srv:
        srv.expect("POST", "/h", body=predicate).respond(mp.respond(200))
        srv.expect("GET", "/ok").respond(mp.respond(200, b"fine"))
        _assert_contained(srv, bystander, kind if kind != "BaseException" else "Boom")
