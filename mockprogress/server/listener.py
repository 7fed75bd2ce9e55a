"""``SharedListener``: one listening socket that thread-mode servers serve on in turn.

The pytest plugin keeps one per session (per host and backend) on the shared loop, and each
test's fresh ``MockServer`` attaches to it (``srv.start(listener=...)``) and detaches at
``stop()``. A test then costs no bind, no accept task, no task group and no close; what is
per test stays per test: the server object and its state (expectations, journal, problems,
resources, connection ids), its limits, TLS and unmatched status, and its connections.

Isolation on the wire, kept by one lock around each accept, ``attach`` and ``release``:

- each accepted connection goes to the server attached when it was accepted, which keeps
  it to its end: a connection never moves to the next server;
- ``stop()`` releases the server and closes every connection still in the listen queue (it
  was opened during the test that is ending), then, if any connection of the server is
  still open, has the loop close them (a connection whose task had not run yet is closed
  unread) and waits; if none is, nothing of the server runs on the loop any more and stop()
  finishes in the caller's thread, without a round trip;
- a connection accepted while no server is attached is closed unread.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Self

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from ..errors import ServerStateError
from .driver import loop_clock
from .portal import LoopPost, SharedLoop, portal_provider
from .server import (
    _ACCEPT_RETRY,
    _bind,
    _ip_family,
    _Listening,
    _running_asyncio_loop,
    accept_connections,
    descriptor_limit,
)

if TYPE_CHECKING:
    import asyncio

    from anyio.lowlevel import EventLoopToken

    from .server import MockServer


def shareable(host: str) -> bool:
    """Whether a ``SharedListener`` can listen on ``host``: an IP address, not a name."""
    return _ip_family(host) is not None


class SharedListener:
    """A listening socket on ``host`` (an IP address) and an accept loop on the shared
    thread-mode loop of ``backend``, which successive ``MockServer`` s serve on, one at a time.

    .. code-block:: python

        with SharedListener() as listener:
            for _ in range(3):
                with mp.MockServer().start(listener=listener) as srv:   # same port each time
                    ...

    :raises ServerStateError: for a host name (bind one ``MockServer`` per use instead).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        backend: str = "asyncio",
        backend_options: dict[str, Any] | None = None,
    ) -> None:
        self.host = host
        self.backend = backend
        self.backend_options = backend_options
        self._provider: SharedLoop | None = None
        self._listening: _Listening | None = None
        self._ended: Future[None] | None = None
        self._scope: anyio.CancelScope | None = None
        #: The server attached now. The lock is held by whoever reads or writes it, and
        #: around each accept: attach/release in the test's thread, the accept loop on the
        #: event loop; so a connection goes to exactly one server, and none to a server that
        #: was released. Reentrant: a connection can end in its own accept's callback (a
        #: server's ``_begin``), and its end takes the lock again.
        self._lock = threading.RLock()
        self._server: MockServer | None = None
        self._queue: select.poll | None = None
        #: The connections' task group (the accept task's).
        self._group: TaskGroup | None = None
        # What the accept task learns about its loop, for the servers that attach.
        self.token: EventLoopToken | None = None
        self.loop_thread: int | None = None
        self.asyncio_loop: asyncio.AbstractEventLoop | None = None
        self.clock: Callable[[], float] = anyio.current_time
        self.descriptor_limit = 0

    @property
    def port(self) -> int:
        """The port it listens on."""
        if self._listening is None:
            raise ServerStateError("the listener is not open")
        return self._listening.port

    @property
    def post(self) -> LoopPost:
        """The loop's ``LoopPost``."""
        assert self._provider is not None
        return self._provider.post

    def call_soon(self, fn: Callable[..., object], *args: object) -> None:
        """Run ``fn(*args)`` on the loop soon, from any thread; return at once. On asyncio
        this is the loop's own ``call_soon_threadsafe`` (a callback, no task step); on trio,
        the loop post."""
        if self.asyncio_loop is not None:
            self.asyncio_loop.call_soon_threadsafe(fn, *args)
        else:
            self.post.post(fn, *args)

    def open(self) -> Self:
        """Bind, and start the accept loop on the shared loop (waits for it, once)."""
        if self._provider is not None:
            raise ServerStateError("the listener is already open")
        listening = _bind(self.host, 0)
        if listening is None:
            raise ServerStateError(
                f"a shared listener binds an IP address, not a host name ({self.host!r})"
            )
        provider = portal_provider(self.backend, self.backend_options)
        provider.__enter__()
        try:
            ready: Future[None] = Future()
            self._ended = Future()
            post = provider.post
            post.post(post.group.start_soon, self._run, listening, ready)
            ready.result()
        except BaseException:
            listening.close()
            provider.__exit__(None, None, None)
            raise
        self._provider, self._listening = provider, listening
        # Asks whether the listen queue holds a connection, without an accept() that fails
        # (its exception costs more than the poll): release() empties the queue at every stop.
        self._queue = select.poll()
        self._queue.register(listening.sockets[0], select.POLLIN)
        return self

    def close(self) -> None:
        """Stop accepting and close the socket (no server may be attached)."""
        if self._provider is None:
            return
        provider, ended = self._provider, self._ended
        assert ended is not None
        try:
            provider.post.post(self._cancel)
            ended.result()
        finally:
            self._provider = self._listening = self._ended = self._queue = None
            provider.__exit__(None, None, None)

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- on the loop -----------------------------------------------------------------------

    def _cancel(self) -> None:
        if self._scope is not None:
            self._scope.cancel()

    async def _run(self, listening: _Listening, ready: Future[None]) -> None:
        # Runs in the loop post's task group, shared by every thread-mode server: what it
        # raises goes to ``ready`` or ``_ended``, never into that group.
        assert self._ended is not None
        ended = self._ended
        try:
            self.loop_thread = threading.get_ident()
            self.token = anyio.lowlevel.current_token()
            self.asyncio_loop = _running_asyncio_loop()
            self.clock = loop_clock(self.asyncio_loop)
            self.descriptor_limit = descriptor_limit()
            async with anyio.create_task_group() as group:
                self._group, self._scope = group, group.cancel_scope
                ready.set_result(None)
                await accept_connections(
                    listening.sockets[0], self._admit, self._failed, self._lock
                )
        except Exception as exc:
            (ended if ready.done() else ready).set_exception(exc)
        finally:
            self._group = self._scope = None
            await listening.aclose()
            if not ready.done():
                ready.set_exception(RuntimeError("the event loop stopped under the listener"))
            if not ended.done():
                ended.set_result(None)

    def attach(self, server: MockServer) -> None:
        """Serve the connections accepted from now on with ``server`` (its start, in any
        thread)."""
        with self._lock:
            self._server = server

    def release(self, server: MockServer) -> Future[None] | None:
        """Stop serving with ``server`` (its stop, in any thread), and close every connection
        waiting in the listen queue: each was opened while it was attached. When a connection
        of ``server`` is still open (the loop must close it), returns the future the last to
        end resolves; else None (made only then: most stops have none to wait for)."""
        assert self._listening is not None
        assert self._queue is not None
        sock = self._listening.sockets[0]
        with self._lock:
            if self._server is server:
                self._server = None
            while self._queue.poll(0):
                try:
                    client, _ = sock.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as exc:
                    if exc.errno in _ACCEPT_RETRY:
                        continue
                    break
                _close_unread(client)
            if not server._connections:
                return None
            done: Future[None] = Future()
            server._detached = done
            return done

    def _admit(self, sock: socket.socket, address: Any) -> None:
        # Under the lock, as the accept before it: a connection goes to the server attached
        # when the kernel handed it over.
        server = self._server
        if server is None or self._group is None:
            _close_unread(sock)
            return
        server._admit(sock, address, self._group, self._lock)

    def _failed(self, exc: OSError) -> None:
        if self._server is not None:
            self._server._accept_error(exc)


def _close_unread(sock: socket.socket) -> None:
    """Close a connection no server will serve (a reset if the client sent something)."""
    with contextlib.suppress(OSError):
        sock.close()
