"""Background event-loop threads for thread mode, shared between servers.

Each (backend, options) pair gets one ``BlockingPortalProvider``: the thread starts with the
first server that needs it and stops when the last one leaves. The pytest plugin holds a lease
for the whole session, so a fresh server per test costs a listener, not a thread.

Each loop also gets a ``LoopPost``: a task on its loop that runs functions other threads
post, in order, without the poster waiting for them. Thread mode starts and stops its server
tasks through it, so a server costs the caller no thread round trip to start and one wait to
stop (``portal.call`` and ``anyio.from_thread.run_sync`` each block until the loop has run the
call: two thread hand-offs, and under load each can take longer than the work).
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import CancelledError
from contextlib import AbstractContextManager
from typing import Any

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup
from anyio.from_thread import BlockingPortal, start_blocking_portal
from anyio.lowlevel import EventLoopToken

_loops: dict[tuple[str, str], SharedLoop] = {}
_lock = threading.Lock()


def portal_provider(
    backend: str = "asyncio", options: Mapping[str, Any] | None = None
) -> SharedLoop:
    """The shared loop for this backend and options."""
    key = (backend, repr(sorted((options or {}).items())))
    with _lock:
        loop = _loops.get(key)
        if loop is None:
            loop = _loops[key] = SharedLoop(backend, dict(options) if options else None)
        return loop


class SharedLoop:
    """An event loop in a thread of its own, kept while anyone holds a lease (``with``): the
    first lease starts it (``anyio.from_thread.start_blocking_portal``) with its ``LoopPost``,
    the last one stops both. As ``anyio.from_thread.BlockingPortalProvider``, plus the post,
    which must be stopped before the portal: a portal waits for its tasks when it stops."""

    def __init__(self, backend: str, options: dict[str, Any] | None) -> None:
        self._backend = backend
        self._options = options
        self._lock = threading.Lock()
        self._leases = 0
        self._portal_cm: AbstractContextManager[BlockingPortal] | None = None
        self._portal: BlockingPortal | None = None
        self._post: LoopPost | None = None

    @property
    def post(self) -> LoopPost:
        """The loop's ``LoopPost`` (hold a lease while using it)."""
        assert self._post is not None
        return self._post

    def __enter__(self) -> BlockingPortal:
        with self._lock:
            if self._portal_cm is None:
                portal_cm = start_blocking_portal(self._backend, self._options)
                portal = portal_cm.__enter__()
                try:
                    self._post = LoopPost(portal)
                except BaseException:
                    portal_cm.__exit__(None, None, None)
                    raise
                self._portal_cm, self._portal = portal_cm, portal
            self._leases += 1
            assert self._portal is not None
            return self._portal

    def __exit__(self, *exc_info: object) -> None:
        with self._lock:
            assert self._portal_cm is not None and self._leases > 0
            self._leases -= 1
            if self._leases:
                return
            portal_cm, post = self._portal_cm, self._post
            self._portal_cm = self._portal = self._post = None
            # Still under the lock: a new lease waits until this loop is gone.
            if post is not None:
                post.close()
            portal_cm.__exit__(None, None, None)


class LoopPost:
    """Runs functions posted from other threads on one portal's event loop, in order.

    ``post(fn, *args)`` queues the call and writes a byte to a socket pair; a task on the
    loop waits for that socket to be readable (anyio's ``wait_readable``, on asyncio and trio
    alike), then runs what was queued. The poster does not wait. ``group`` is that task's
    task group: posted functions start tasks in it.
    """

    def __init__(self, portal: BlockingPortal) -> None:
        self._calls: deque[tuple[Callable[..., object], tuple[object, ...]]] = deque()
        self._receiver, self._sender = socket.socketpair()
        self._receiver.setblocking(False)
        self._sender.setblocking(False)
        self._group: TaskGroup | None = None
        started = threading.Event()
        #: The loop's token and thread, known to every server started on it.
        self.token: EventLoopToken
        self.thread: int
        self._done = portal.start_task_soon(self._run, started)
        started.wait()
        if self._group is None:
            self._done.result()  # it failed to start: raise why

    @property
    def group(self) -> TaskGroup:
        assert self._group is not None
        return self._group

    def close(self) -> None:
        """End the task (it runs what was posted before) and wait for it."""
        self.post(self.group.cancel_scope.cancel)
        with contextlib.suppress(CancelledError):
            self._done.result()

    def post(self, fn: Callable[..., object], *args: object) -> None:
        """Run ``fn(*args)`` on the loop soon; return at once."""
        self._calls.append((fn, args))
        with contextlib.suppress(BlockingIOError, InterruptedError):
            self._sender.send(b"\0")  # a full buffer means a wake-up is pending anyway

    async def _run(self, started: threading.Event) -> None:
        try:
            async with anyio.create_task_group() as group:
                self._group = group
                self.token = anyio.lowlevel.current_token()
                self.thread = threading.get_ident()
                started.set()
                while True:
                    await anyio.wait_readable(self._receiver)
                    with contextlib.suppress(BlockingIOError, InterruptedError):
                        while self._receiver.recv(4096):
                            pass
                    calls = self._calls
                    while calls:
                        fn, args = calls.popleft()
                        try:
                            fn(*args)
                        except Exception:
                            # This loop serves every thread-mode server of the process: one
                            # failed call must not end it. Callers report their own errors
                            # (a server's start sets its future); this is the last resort.
                            sys.stderr.write(
                                f"mockprogress: a call posted to the event loop failed: "
                                f"{fn!r}\n{traceback.format_exc()}"
                            )
        finally:
            started.set()
            with contextlib.suppress(OSError, RuntimeError):
                anyio.notify_closing(self._receiver)
            self._receiver.close()
            self._sender.close()
