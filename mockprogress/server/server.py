"""``MockServer``: the listening socket, a task per connection that needs one, in two modes.

- Thread mode, ``with MockServer() as srv:``: the server runs on a background event loop
  reached through an anyio ``BlockingPortal``. Every call that touches server state is carried
  to that loop (``anyio.from_thread.run_sync`` with the loop's token: a callback on the loop,
  lighter than ``portal.call``, which spawns a task per call), so the state has one owner.
- In-loop mode, ``async with MockServer() as srv:``: the server runs in the caller's event
  loop (asyncio or trio), and calls touch the state directly.

Readiness comes from ``task_status.started(port)``; nothing sleeps or polls. The server
accepts on its non-blocking listening socket itself (waiting through anyio's
``wait_readable``) and hands each client socket to a ``ConnectionDriver``: no anyio stream or
asyncio transport per connection. On asyncio a plain (not TLS) connection starts with no task:
callbacks carry it for as long as it only reads and writes (``ConnectionDriver.begin``), and
it gets a task when it needs one. Every connection handler catches what it raises and records
it, and the accept loop records a failed accept and keeps listening, so one broken connection
never stops the listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import functools
import ipaddress
import math
import re
import resource
import socket
import ssl
import sys
import threading
import traceback
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from concurrent.futures import CancelledError, Future
from contextlib import AbstractContextManager, asynccontextmanager
from os import PathLike
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar

import anyio
from anyio import AsyncContextManagerMixin
from anyio.abc import Listener, SocketAttribute, TaskGroup, TaskStatus
from anyio.from_thread import BlockingPortal
from anyio.lowlevel import EventLoopToken

from ..engine.actions import Program
from ..engine.connection import ServerConnection
from ..engine.h2_connection import H2ServerConnection, H2Start
from ..engine.journal import Event, ExchangeLog, Journal
from ..engine.limits import LIMIT_NAMES, Limits
from ..engine.matching import Expectation
from ..engine.proxy import UpstreamURL
from ..engine.resource import Resource
from ..engine.state import ScenarioItem, ServerConfig, ServerState
from ..errors import IdleTimeoutError, ServerStateError
from ..http.origin import allowed_names
from ..resources.control_api import DEFAULT_CONTROL_PREFIX, ControlAPI
from ..scenario.document import load_scenario, parse_document
from ..script.continue_policy import ContinueInput
from ..script.faults import CutHow, HeadCut
from ..script.http2 import HTTP2, http2_spec
from ..script.tls import TLS, tls_spec
from .driver import Carried, ConnectionDriver, Handshake, loop_clock, stop_task
from .h2 import H2Session
from .portal import LoopPost, SharedLoop, portal_provider
from .tls import TLSChannel, authority

if TYPE_CHECKING:
    from .listener import SharedListener

T = TypeVar("T")
R = TypeVar("R", bound=Resource)

#: What the server holds of an open connection, to stop it (``_stop``).
Connection = asyncio.Task[None] | anyio.CancelScope | ConnectionDriver

#: The guard of an accept loop nobody else needs to agree with (a server's own listener).
_UNGUARDED: AbstractContextManager[object] = contextlib.nullcontext()
#: Connections accepted in a row before the accept loop lets the others run.
ACCEPT_BATCH = 64
#: How long the accept loop pauses after running out of descriptors or memory.
ACCEPT_BACKOFF_SECONDS = 0.05
#: Descriptors kept free under RLIMIT_NOFILE: a connection whose socket is among the last
#: ones gets a 503 instead of a place (answering it, spooling, TLS need some room).
DESCRIPTOR_HEADROOM = 32
# accept() errors that concern only the client that gave up (Linux passes some network
# errors of the new connection on to accept, see accept(2)).
_ACCEPT_RETRY = {
    getattr(errno, name)
    for name in (
        "ECONNABORTED",
        "EPROTO",
        "ENETDOWN",
        "ENOPROTOOPT",
        "EHOSTDOWN",
        "ENONET",
        "EHOSTUNREACH",
        "EOPNOTSUPP",
        "ENETUNREACH",
        "EPERM",
    )
    if hasattr(errno, name)
}


class MockServer(AsyncContextManagerMixin):
    """A programmable HTTP/1.1 server for testing HTTP clients.

    .. code-block:: python

        with mp.MockServer() as srv:                      # thread mode: any client
            srv.expect("POST", "/jobs").respond(
                mp.processing('0/2 "Herding cats"'),
                mp.pause(0.05),
                mp.respond(201, b"created\\n"),
            )
            ...  # drive the client under test at srv.url("/jobs")
            assert [i.status for i in srv.journal.last.interims] == [102]

        async with mp.MockServer() as srv: ...            # in the caller's event loop

    :param host: the address to listen on; loopback unless you say otherwise.
    :param port: the port, 0 for an ephemeral one.
    :param backend: thread mode's event loop, ``"asyncio"`` or ``"trio"``.
    :param backend_options: passed to ``anyio.run`` for that loop.
    :param unmatched_status: the status of the answer to an unexpected request.
    :param upstream: proxy mode: the URL (``http://host:port`` or ``https://...``) of a real
        server that requests matching no expectation are forwarded to, and that
        ``mp.forward()`` forwards to (docs/proxy.md).
    :param allowed_hosts: proxy mode: names a forwarded request's ``Host`` may carry besides
        this server's address, IP addresses and ``localhost`` (others get a 403: DNS
        rebinding); ``.example.test`` allows that name and every name under it.
    :param limits: the server's limits by name, each field of ``Limits`` (``max_header_size``,
        ``max_body_size``, ``max_connections``, ``keep_alive_timeout`` (seconds an idle
        keep-alive connection is kept, 5.0; None: forever), ``head_timeout`` (seconds a request
        head may take, 60.0, then a 408), ...; docs/limits.md lists them).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        backend: str = "asyncio",
        backend_options: Mapping[str, Any] | None = None,
        unmatched_status: int = 500,
        tls: bool | TLS | None = None,
        http2: bool | HTTP2 | None = None,
        upstream: str | None = None,
        allowed_hosts: Sequence[str] = (),
        **limits: float | None,
    ) -> None:
        unknown = sorted(set(limits) - set(LIMIT_NAMES))
        if unknown:
            raise TypeError(
                f"MockServer() got an unexpected keyword argument {unknown[0]!r} "
                f"(its limits are {', '.join(LIMIT_NAMES)})"
            )
        self.host = host
        #: HTTP/2 beside HTTP/1.1, with its SETTINGS (None: HTTP/1.1 only).
        self.http2 = http2_spec(http2)
        #: The server's TLS (None: plain TCP).
        self.tls = tls_spec(tls)
        if self.http2 is not None and self.tls is not None and self.tls.alpn == TLS().alpn:
            self.tls = dataclasses.replace(self.tls, alpn=("h2", "http/1.1"))
        self._tls_context = None if self.tls is None else authority().server_context(self.tls)
        self._requested_port = port
        self._backend = backend
        self._backend_options = backend_options
        config = ServerConfig(
            Limits.pick(limits)[0],
            unmatched_status,
            upstream=None if upstream is None else UpstreamURL.parse(upstream),
            allowed_hosts=allowed_names(allowed_hosts),
            http2=self.http2,
        )
        self._state = ServerState(config, scheme="http" if self.tls is None else "https")
        self._active_connections = 0
        #: RLIMIT_NOFILE's soft limit (raised to the hard one where allowed) when serving began.
        self._descriptor_limit = 0
        # accept() errors recorded already (by errno): each is recorded once, not per retry.
        self._accept_errors: set[int | None] = set()
        self._port: int | None = None
        self._mode: str | None = None  # "thread" or "loop" while running
        self._loop_thread: int | None = None
        self._stop_scope: anyio.CancelScope | None = None
        self._stop_requested = False
        self._loop_post: LoopPost | None = None
        #: The running asyncio loop (None on trio), set when the server task runs: the
        #: drivers read through it, and its ``time`` is the journal's clock.
        self._asyncio_loop: asyncio.AbstractEventLoop | None = None
        #: The journal's clock: what ``anyio.current_time`` reads, without finding the backend
        #: again on every call (a request reads it five times or so).
        self._clock: Callable[[], float] = anyio.current_time
        self._portal: BlockingPortal | None = None
        self._token: EventLoopToken | None = None
        self._provider: SharedLoop | None = None
        self._future: Future[None] | None = None
        #: The shared listener it serves on (``start(listener=...)``), while it does.
        self._listener: SharedListener | None = None
        #: Each open connection's task (asyncio) or cancel scope (trio), or its driver while
        #: it has no task (``_begin``): what stopping cancels or abandons. On a shared
        #: listener it changes under the listener's lock (its accept adds, the connection's
        #: end removes), which stop() takes to know whether any is left.
        self._connections: dict[socket.socket, Connection] = {}
        #: Set when the last of them ends, while the server task waits for that.
        self._all_closed: anyio.Event | None = None
        #: The stop waiting for them to end.
        self._detached: Future[None] | None = None

    # ---- addresses -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._port is None:
            raise ServerStateError("the server is not running: use `with MockServer() as srv`")
        return self._port

    @property
    def ca_file(self) -> str:
        """The PEM file of the throwaway CA a client is meant to trust (the same file for every
        server of the process, whatever its certificate variant)."""
        return authority().ca_file

    def client_ssl_context(self, *, certificate: str | None = None) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` that trusts ``ca_file``; with ``certificate=NAME`` it also
        presents a client certificate for NAME issued by the same CA (mutual TLS)."""
        return authority().client_context(certificate=certificate)

    def client_certificate_files(self, name: str = "client") -> tuple[str, str]:
        """PEM files (certificate, key) of a client certificate for ``name`` issued by the
        CA, for clients outside Python (``curl --cert C --key K``)."""
        return authority().client_certificate_files(name)

    @property
    def running(self) -> bool:
        """Whether the server is serving (inside ``with`` or ``async with``, or started)."""
        return self._mode is not None

    def url(self, path: str = "/") -> str:
        """The URL of ``path`` on this server, e.g. ``http://127.0.0.1:40123/jobs``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if not path.startswith("/"):
            path = "/" + path
        scheme = "http" if self.tls is None else "https"
        return f"{scheme}://{host}:{self.port}{path}"

    def __repr__(self) -> str:
        where = f"{self.host}:{self._port}" if self._port is not None else "not running"
        return f"<MockServer {where}>"

    # ---- scripting -------------------------------------------------------------------------

    def expect(
        self,
        method: str | None,
        path: str | re.Pattern[str] | Callable[[str], bool],
        *,
        query: Any = None,
        headers: Any = None,
        body: bytes | str | re.Pattern[bytes] | Callable[[bytes], bool] | None = None,
        json: object = None,
        times: int | None = None,
        ordered: bool | str = False,
        name: str | None = None,
        expect_continue: ContinueInput = "auto",
    ) -> Expectation:
        """Expect requests like this one; answer them with ``.respond(*steps)``.

        :param method: the method, or None (or ``"*"``) for any.
        :param path: the exact path, a compiled regex (full match) or a predicate.
        :param query: a mapping of parameters that must be present with these values (values
            may be regexes or predicates), the exact raw query string, or a predicate.
        :param headers: a mapping of header name to value (or regex or predicate).
        :param body: the exact body (bytes or str), a bytes regex (full match) or a
            predicate on the bytes.
        :param json: a value the body must parse to.
        :param times: answer this many requests, and fail ``check()`` if fewer came;
            None (the default) answers any number.
        :param ordered: True, or a group name: such expectations must be met in the order they
            were added (each once unless ``times`` says otherwise).
        :param name: a label for reports.
        :param expect_continue: what a request carrying ``Expect: 100-continue`` gets before
            the script runs: ``"auto"`` (a ``100 Continue`` when the script first reads the
            body), ``"immediate"``, ``"never"``, or a policy from ``mp.continue_delay()``,
            ``mp.continue_reject()``, ``mp.continue_immediate(headers=...)``, ...
        """
        expectation = Expectation(
            method,
            path,
            query=query,
            headers=headers,
            body=body,
            json=json,
            times=times,
            ordered=ordered,
            name=name,
            expect_continue=expect_continue,
        )
        expectation._apply = self._post
        self._post(self._state.add_expectation, expectation)
        return expectation

    def cut_request_head(
        self,
        at: int,
        how: CutHow = "close",
        *,
        seconds: float | None = None,
        times: int | None = 1,
    ) -> None:
        """Cut the next ``times`` request heads (None: every one) after exactly ``at`` bytes,
        while the client is still sending its request line and header fields.

        The server reads no byte past the cut, then closes (FIN), resets (RST) or stalls the
        connection (for ``seconds``, or until the client closes or the server stops). Each cut
        head is journaled as an exchange whose ``fault`` has ``side="request"`` and
        ``bytes_received == at``; its method and target are filled in when the request line
        arrived whole. A cut at byte 0 ends a new connection before anything is read. The cut
        applies to whichever request head arrives next, on any connection; a head shorter
        than ``at`` is served as usual and recorded as a problem. ``check()`` fails while a
        cut with ``times=N`` has fired fewer than N times.

        .. code-block:: python

            srv.cut_request_head(at=20, how="reset")   # "GET /file HTTP/1.1\r\nH", then RST

        :raises ScenarioError: for a negative offset, an unknown ``how`` or ``times < 1``.
        """
        cut = HeadCut(at, how, seconds, times)
        self._call(self._state.head_cuts.add, cut)

    def mount(self, resource: R) -> R:
        """Serve every request under ``resource.path`` with this stateful resource."""
        resource._attach(self._call)
        self._call(self._state.mount, resource)
        return resource

    def load(self, path: str | PathLike[str]) -> list[ScenarioItem]:
        """Add the expectations, resources and head cuts of a scenario file (TOML, or JSON
        for a ``.json`` file).

        :raises ScenarioError: naming the file and the key when the file is invalid.
        """
        items = load_scenario(path)
        for item in items:
            if isinstance(item, Resource):
                item._attach(self._call)
                self._call(self._state.add_item, item)
            elif isinstance(item, Expectation):
                item._apply = self._post
                self._post(self._state.add_item, item)
            else:
                self._call(self._state.add_item, item)
        return items

    def enable_control_api(
        self,
        prefix: str = DEFAULT_CONTROL_PREFIX,
        *,
        token: str | None = None,
        allow_remote: bool = False,
        allowed_hosts: Sequence[str] = (),
        reset_files: Sequence[str | PathLike[str]] = (),
    ) -> None:
        """Serve the control API under ``prefix``: add, replace and delete expectations and
        resources (scenario documents in JSON or TOML), read the journal, reset. Its requests
        never reach expectations and are kept out of the journal (docs/standalone.md): the API
        is a reserved resource mounted at ``prefix``, and ``reset()`` keeps it.

        :param prefix: the reserved path prefix.
        :param token: when set, every control request must carry ``Authorization: Bearer
            TOKEN``.
        :param allow_remote: answer clients that are not on a loopback address (by default
            they get a 403).
        :param allowed_hosts: names a request's ``Host`` may carry besides this server's
            address, IP addresses and ``localhost`` (others get a 403: DNS rebinding);
            ``.example.test`` allows that name and every name under it.
        :param reset_files: the scenario files a control-API reset loads again.
        """
        files = list(reset_files)

        def baseline() -> list[ScenarioItem]:
            return [item for path in files for item in load_scenario(path)]

        control = ControlAPI(
            prefix,
            token=token,
            allow_remote=allow_remote,
            allowed_hosts=allowed_hosts,
            parse=parse_document,
            baseline=baseline,
        )
        self.mount(control)

    def on_event(self, listener: Callable[[ExchangeLog, Event], None]) -> None:
        """Call ``listener(exchange_log, event)`` on the server's loop for every journal event
        as it happens (the standalone CLI prints them)."""
        self._call(self._state.listeners.append, listener)

    @property
    def journal(self) -> Journal:
        """A snapshot of every exchange so far (see ``Journal``)."""
        return self._call(self._state.journal)

    def check(self) -> None:
        """Raise ``ExpectationError`` naming every problem recorded so far: requests that
        matched nothing, expectations with ``times=N`` not fully used, handler and scenario
        errors, malformed requests. The message shows the timelines involved."""
        error = self._call(self._state.check_error)
        if error is not None:
            raise error

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Return once no exchange is in progress: every request that came has been answered
        (or cut, or abandoned by its client) and its script has run to its end.

        A client that takes a 1xx as its final response (``http.client``, ``requests``,
        ``urllib3``) returns while the server still runs the script; call this before reading
        the journal after such a client. In the in-loop mode, from the server's own loop,
        ``await srv.wait_idle_async()``.

        .. code-block:: python

            response = requests.post(srv.url("/jobs"))   # returns on the first 102
            srv.wait_idle()
            assert srv.journal.last.response.status == 201

        :raises IdleTimeoutError: naming the exchanges still in progress after ``timeout``
            seconds.
        :raises ServerStateError: when the server is not running, or when called from the
            loop an in-loop server runs on (it would block the server it waits for).
        """
        if self._mode is None:
            raise ServerStateError("the server is not running: use `with MockServer() as srv`")
        if threading.get_ident() == self._loop_thread:
            raise ServerStateError(
                "wait_idle() would block the event loop this server runs on: "
                "`await srv.wait_idle_async()` there"
            )
        if self._mode == "thread":
            anyio.from_thread.run(self._wait_idle, timeout, token=self._token)
        else:
            self._call(lambda: None)  # the same error as any call from an unreachable thread
            anyio.from_thread.run(self._wait_idle, timeout)

    async def wait_idle_async(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """``wait_idle()`` for async code: awaited on the server's loop (the in-loop mode),
        or from any other event loop (a worker thread waits there).

        It takes ``timeout`` as ``wait_idle()`` does (rather than leaving it to the caller's
        ``anyio.fail_after``) because it raises ``IdleTimeoutError`` naming what still runs."""
        if self._mode is None:
            raise ServerStateError("the server is not running: use `with MockServer() as srv`")
        if threading.get_ident() == self._loop_thread:
            await self._wait_idle(timeout)
        else:
            await anyio.to_thread.run_sync(self.wait_idle, timeout)

    async def _wait_idle(self, seconds: float) -> None:
        self._state.apply_posted()
        idle = anyio.Event()
        self._state.when_idle(idle.set)
        with anyio.move_on_after(seconds):
            await idle.wait()
            return
        self._state.forget_idle_waiter(idle.set)
        running = [log.snapshot() for log in self._state.in_progress()]
        lines = [
            f"wait_idle: {len(running)} exchange(s) still in progress after {seconds:g} s:",
            *(ex.timeline() for ex in running),
        ]
        raise IdleTimeoutError("\n".join(lines))

    def reset(self) -> None:
        """Forget expectations, resources, the journal and recorded problems (a reserved
        resource such as the control API stays mounted)."""
        self._call(self._state.reset)

    # ---- reaching the state ----------------------------------------------------------------

    def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` where the server state lives, after what was posted before."""
        on_loop = threading.get_ident() == self._loop_thread
        if self._mode == "thread" and not on_loop:
            assert self._token is not None
            return anyio.from_thread.run_sync(self._after_posted, fn, *args, token=self._token)
        if self._mode == "loop" and not on_loop:
            try:
                return anyio.from_thread.run_sync(self._after_posted, fn, *args)
            except RuntimeError:
                raise ServerStateError(
                    "this server runs in another thread's event loop; call it from that loop, "
                    "from a worker thread of anyio.to_thread.run_sync, or use thread mode "
                    "(`with MockServer()`)"
                ) from None
        return self._after_posted(fn, *args)

    def _after_posted(self, fn: Callable[..., T], *args: Any) -> T:
        self._state.apply_posted()
        return fn(*args)

    def _post(self, fn: Callable[..., object], *args: Any) -> None:
        """Change the state with ``fn(*args)`` without waiting for it. In thread mode, from
        another thread, the loop applies it before it next reads the state (the next request,
        any ``_call``), in the order posted: the caller sees the same order as with
        ``_call`` and spends no thread round trip (expect() and respond() are in every test).
        Elsewhere it is a ``_call``."""
        if self._mode == "thread" and threading.get_ident() != self._loop_thread:
            self._state.post(fn, *args)
        else:
            self._call(fn, *args)

    # ---- thread mode -----------------------------------------------------------------------

    def start(self, *, listener: SharedListener | None = None) -> Self:
        """Start in a background event-loop thread (what ``with MockServer()`` does).

        An IP address is bound here, in the caller's thread, and the server task is posted to
        the loop without waiting for it to run: the socket already listens, so a client may
        connect at once (the task accepts it when it runs). A host name is resolved and bound
        on the loop, and start() waits for that.

        :param listener: serve on this ``SharedListener`` (server/listener.py) instead of a
            socket of its own, until ``stop()``: what the pytest plugin does, so that a test
            costs no bind and no accept task. The server's state, limits and connections stay
            its own; its port is the listener's.
        """
        if self._mode is not None:
            raise ServerStateError("the server is already running")
        self._stop_requested = False
        if listener is not None:
            return self._start_on(listener)
        provider = portal_provider(self._backend, self._backend_options)
        portal = provider.__enter__()
        try:
            listening = _bind(self.host, self._requested_port)
            if listening is None:
                self._future, self._port = portal.start_task(self._serve, name="mockprogress")
                self._loop_post = None
            else:
                try:
                    post = provider.post
                    self._token, self._loop_thread = post.token, post.thread
                    self._port = listening.port
                    self._state.address = (self.host, listening.port)
                    done: Future[None] = Future()
                    post.post(self._launch, post.group, listening, done)
                    self._future, self._loop_post = done, post
                except BaseException:
                    listening.close()
                    raise
        except BaseException:
            self._token = self._loop_thread = None
            provider.__exit__(None, None, None)
            raise
        self._portal, self._provider, self._mode = portal, provider, "thread"
        return self

    def stop(self) -> None:
        """Stop a thread-mode server: close the listener and every connection."""
        if self._mode != "thread":
            if self._mode == "loop":
                raise ServerStateError("an in-loop server stops when its `async with` ends")
            return
        if self._listener is not None:
            self._stop_on_listener(self._listener)
            return
        assert self._portal is not None
        assert self._provider is not None
        assert self._future is not None
        try:
            if self._loop_post is not None:
                self._loop_post.post(self._request_stop)  # no wait for the loop to take it
            else:
                assert self._token is not None
                anyio.from_thread.run_sync(self._request_stop, token=self._token)
            self._future.result()  # the one wait: the server task's end (or what it raised)
        finally:
            provider = self._provider
            self._mode = self._portal = self._provider = self._future = None
            self._loop_thread = self._token = self._loop_post = None
            provider.__exit__(None, None, None)

    def _start_on(self, listener: SharedListener) -> Self:
        if listener.host != self.host or listener.backend != self._backend:
            raise ServerStateError(
                f"this server is for {self.host} on {self._backend}; the listener is for "
                f"{listener.host} on {listener.backend}"
            )
        self._port = listener.port
        self._state.address = (self.host, listener.port)
        self._token, self._loop_thread = listener.token, listener.loop_thread
        self._asyncio_loop, self._clock = listener.asyncio_loop, listener.clock
        self._descriptor_limit = listener.descriptor_limit
        self._connections = {}
        listener.attach(self)
        self._listener, self._mode = listener, "thread"
        return self

    def _stop_on_listener(self, listener: SharedListener) -> None:
        """Detach; when a connection of this server is still open, have the loop close it and
        wait (one wait), else finish here: nothing of this server runs on the loop any more,
        and no connection can reach it, so its state is the caller's to finish.

        The wait is over as soon as the last connection ends, whichever comes first: its own
        end (the client closed it, as a test's client usually has just done) or the posted
        ``_detach`` closing it."""
        try:
            done = listener.release(self)
            if done is not None:
                listener.call_soon(self._detach, done)
                done.result()  # the one wait
            else:
                self._stopped()
        finally:
            self._mode = self._listener = None
            self._loop_thread = self._token = None

    def _detach(self, done: Future[None]) -> None:
        """On the loop: close this server's connections. The last one to end finishes the
        stop (``_admitted``); if they have all ended already, it has."""
        if done.done():
            return
        try:
            for connection in list(self._connections.values()):  # some end at once
                _stop(connection)
        except BaseException as exc:
            done.set_exception(exc)  # stop() raises it

    def _stopped(self) -> None:
        # Every connection has closed: resources may now flush their stores.
        self._state.close_resources()
        self._state.apply_posted()  # expect() after the last request: check() sees it

    def _admit(
        self,
        sock: socket.socket,
        address: Any,
        group: TaskGroup,
        guard: AbstractContextManager[object] = _UNGUARDED,
    ) -> None:
        """On the loop (under ``guard``, the shared listener's lock, if any): a connection for
        this server, served in a task of its own that stopping cancels. On asyncio the task
        is the loop's own (``create_task``), and stopping cancels the task itself: anyio's
        ``start_soon`` makes a task handle, a cancel scope and an event per task (about 30 us
        a connection), and a cancel scope alone costs about 4 us a connection and 14 more
        when it is cancelled; the server tracks and waits for these tasks itself
        (``_connections``, ``_task_ended``). On trio, ``group.start_soon`` in a cancel scope
        (``_admitted``). On asyncio over plain TCP, no task until one is needed (``_begin``)."""
        loop = self._asyncio_loop
        if loop is not None:
            if self._tls_context is None:
                self._begin(sock, address, loop, guard)
                return
            task = loop.create_task(self._handle(sock, address))
            self._connections[sock] = task
            task.add_done_callback(functools.partial(self._task_ended, sock, guard))
        else:
            scope = anyio.CancelScope()
            self._connections[sock] = scope
            group.start_soon(self._admitted, sock, address, scope, guard)

    def _begin(
        self,
        sock: socket.socket,
        address: Any,
        loop: asyncio.AbstractEventLoop,
        guard: AbstractContextManager[object],
    ) -> None:
        """On asyncio, a plain connection, in the accept's callback: its program starts here
        with no task (``ConnectionDriver.begin``) and the reader's callbacks carry it while it
        only reads and writes: a GET and the client's close then cost no task, no future and
        no extra turn of the loop (benchmarks/README.md, ninth round). ``_handed_over`` makes
        the task when the program needs one, or ends the connection."""
        driver = ConnectionDriver(sock, loop)
        self._connections[sock] = driver
        self._active_connections += 1
        try:
            connection = self._new_connection(address)
            program = self._refusal(connection, sock) or connection.run()
            handoff = functools.partial(self._handed_over, sock, guard, driver, connection)
            driver.begin(program, handoff)
        except Exception as exc:  # the core's or ours: the connection ends, the server goes on
            self._connection_failed(exc)
            if self._connections.get(sock) is driver:
                self._end_untasked(sock, guard, driver)

    def _handed_over(
        self,
        sock: socket.socket,
        guard: AbstractContextManager[object],
        driver: ConnectionDriver,
        connection: ServerConnection,
        carried: Carried,
    ) -> None:
        """Where the program ``_begin`` started was left when it needed more than callbacks
        (a task goes on with it) or ended (a turn to HTTP/2 also needs the task)."""
        if not carried.ended or (carried.value is not None and self.http2 is not None):
            assert self._asyncio_loop is not None
            task = self._asyncio_loop.create_task(self._carried_on(driver, connection, carried))
            self._connections[sock] = task
            task.add_done_callback(functools.partial(self._task_ended, sock, guard))
            return
        if carried.error is not None:
            self._connection_failed(carried.error)
        self._end_untasked(sock, guard, driver)

    def _end_untasked(
        self, sock: socket.socket, guard: AbstractContextManager[object], driver: ConnectionDriver
    ) -> None:
        self._active_connections -= 1
        driver.release()
        self._connection_ended(sock, guard)

    async def _carried_on(
        self, driver: ConnectionDriver, connection: ServerConnection, carried: Carried
    ) -> None:
        """The task of a connection ``_begin`` started, from where its callbacks left it: what
        ``_handle`` does from ``driver.serve`` on."""
        async with self._connection_task(driver):
            await self._on_to_http2(driver, connection, await driver.carry_on(carried))

    def _task_ended(
        self, sock: socket.socket, guard: AbstractContextManager[object], _task: object
    ) -> None:
        """On asyncio, once a connection's task is done, however it ended (the server's
        cancel, the client, a cancel before the task ran: then nothing opened the socket's
        driver, and this closes it unread). A callback of the task's, not a ``finally`` in
        it: it runs after the task's last step, so the stop it finishes finds the loop about
        to wait, not still busy with the task (a stop took about 6 us less)."""
        sock.close()
        self._connection_ended(sock, guard)

    async def _admitted(
        self,
        sock: socket.socket,
        address: Any,
        scope: anyio.CancelScope,
        guard: AbstractContextManager[object],
    ) -> None:
        """On trio: the connection's task, in the cancel scope that stopping cancels."""
        try:
            if scope.cancel_called:
                sock.close()  # stopped before this task ran: closed unread
                return
            with scope:
                await self._handle(sock, address)
        finally:
            self._connection_ended(sock, guard)

    def _connection_ended(self, sock: socket.socket, guard: AbstractContextManager[object]) -> None:
        with guard:
            del self._connections[sock]
            last = not self._connections
            # A stop set it under the same lock, while this connection was open.
            detached = self._detached if last else None
            if last:
                self._detached = None
        if last:
            self._last_connection_ended(detached)

    def _last_connection_ended(self, detached: Future[None] | None) -> None:
        """The last open connection ended: finish what waits for that (a stop)."""
        if self._all_closed is not None:
            self._all_closed.set()
        if detached is not None:
            try:
                self._stopped()
            except BaseException as exc:
                detached.set_exception(exc)  # stop() raises it
            else:
                detached.set_result(None)

    async def _close_connections(self) -> None:
        """Cancel every open connection and wait for them all to end (the server stops)."""
        if not self._connections:
            return
        self._all_closed = anyio.Event()
        for connection in list(self._connections.values()):  # some end at once
            _stop(connection)
        with anyio.CancelScope(shield=True):
            await self._all_closed.wait()
        self._all_closed = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- in-loop mode ----------------------------------------------------------------------

    @asynccontextmanager
    async def __asynccontextmanager__(self) -> AsyncGenerator[Self]:
        if self._mode is not None:
            raise ServerStateError("the server is already running")
        self._stop_requested = False
        async with anyio.create_task_group() as tg:
            self._port = await tg.start(self._serve)
            self._mode = "loop"
            try:
                yield self
            finally:
                self._mode = None
                self._request_stop()
                self._loop_thread = self._token = None

    # ---- serving ---------------------------------------------------------------------------

    def _request_stop(self) -> None:
        self._stop_requested = True
        if self._stop_scope is not None:
            self._stop_scope.cancel()

    def _launch(self, group: TaskGroup, listening: _Listening, done: Future[None]) -> None:
        """Start the server task in ``group`` (the loop post's): posted by start()."""
        try:
            group.start_soon(self._serve_into, listening, done, name="mockprogress")
        except BaseException as exc:
            listening.close()
            done.set_exception(exc)

    async def _serve_into(self, listening: _Listening, done: Future[None]) -> None:
        # Reports to ``done`` instead of raising: the task group is shared with every other
        # thread-mode server on this loop.
        try:
            await self._serve(listening)
        except anyio.get_cancelled_exc_class():
            done.set_exception(CancelledError("the event loop stopped under the server"))
            raise
        except BaseException as exc:
            done.set_exception(exc)
        else:
            done.set_result(None)

    async def _serve(
        self,
        listening: _Listening | None = None,
        *,
        task_status: TaskStatus[int] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        if listening is None:
            listening = await _listen(self.host, self._requested_port)
        self._loop_thread = threading.get_ident()
        self._token = anyio.lowlevel.current_token()
        self._asyncio_loop = _running_asyncio_loop()
        self._clock = loop_clock(self._asyncio_loop)
        self._descriptor_limit = descriptor_limit()
        port = listening.port
        self._state.address = (self.host, port)
        try:
            async with anyio.create_task_group() as tg:
                # This task runs the accept loop itself; stopping cancels the task group, which
                # ends the loop and every connection task.
                self._stop_scope = tg.cancel_scope
                if self._stop_requested:
                    tg.cancel_scope.cancel()  # stop() came before this task ran
                task_status.started(port)
                for sock in listening.sockets[1:]:
                    tg.start_soon(self._accept, sock, tg)
                await self._accept(listening.sockets[0], tg)
        finally:
            self._stop_scope = None
            await self._close_connections()
            await listening.aclose()
            self._stopped()

    async def _accept(self, listener: socket.socket, tg: TaskGroup) -> None:
        """Accept connections for as long as the server runs: a task for each."""

        def admit(sock: socket.socket, address: Any) -> None:
            self._admit(sock, address, tg)

        await accept_connections(listener, admit, self._accept_error)

    def _accept_error(self, exc: OSError) -> None:
        """Out of descriptors or memory: record it (once per errno)."""
        if exc.errno not in self._accept_errors:
            self._accept_errors.add(exc.errno)
            self._state.record("internal-error", self._accept_failed(exc))

    def _accept_failed(self, exc: OSError) -> str:
        text = f"accepting a connection failed: {exc!r}"
        if exc.errno in (errno.EMFILE, errno.ENFILE):
            text += (
                f": out of file descriptors (RLIMIT_NOFILE {self._descriptor_limit}); clients "
                "wait until some close"
            )
        return text + " (recorded once; the server keeps trying)"

    def _out_of_descriptors(self, sock: socket.socket) -> str | None:
        """Why this new connection gets a 503 though ``max_connections`` has room, if it does:
        its socket is among the process's last ``DESCRIPTOR_HEADROOM`` descriptors (the
        kernel gives the lowest free number, so every one below it is in use)."""
        room = self._descriptor_limit - DESCRIPTOR_HEADROOM
        if self._descriptor_limit and sock.fileno() >= room:
            return (
                f"connection {self._active_connections} refused: descriptor {sock.fileno()} "
                f"is within {DESCRIPTOR_HEADROOM} of RLIMIT_NOFILE={self._descriptor_limit}"
            )
        return None

    async def _handle(self, sock: socket.socket, address: Any) -> None:
        channel = None if self._tls_context is None else TLSChannel(self._tls_context)
        driver = ConnectionDriver(sock, self._asyncio_loop, channel)
        self._active_connections += 1
        async with self._connection_task(driver):
            connection = self._new_connection(address)
            if channel is not None and self.tls is not None:
                started = self._clock()
                # A handshake is part of the head: head_timeout bounds it as it bounds a head.
                limit = self._state.config.limits.head_timeout
                with anyio.move_on_after(math.inf if limit is None else limit) as waited:
                    handshake = await driver.handshake(self.tls.fault)
                if waited.cancelled_caught:
                    handshake = Handshake(reason=f"not complete after head_timeout={limit:g} s")
                if not handshake.ok:
                    ended = connection.handshake_failed(
                        started,
                        handshake.read,
                        handshake.written,
                        handshake.fired,
                        handshake.reason,
                    )
                    await driver.run(ended)
                    return
                connection.tls = channel.record()
            if (refusal := self._refusal(connection, sock)) is not None:
                await driver.run(refusal)
            elif connection.tls is not None and connection.tls.alpn == "h2" and self.http2:
                await self._serve_h2(driver, connection, H2Start())
            else:
                await self._on_to_http2(driver, connection, await driver.serve(connection.run()))

    @asynccontextmanager
    async def _connection_task(self, driver: ConnectionDriver) -> AsyncGenerator[None]:
        """Around a connection's task (``_handle``, ``_carried_on``): what it raises is
        recorded, and at its end the connection leaves the count and its driver closes."""
        try:
            yield
        except Exception as exc:
            self._connection_failed(exc)
        finally:
            self._active_connections -= 1
            await driver.aclose()

    async def _on_to_http2(
        self, driver: ConnectionDriver, connection: ServerConnection, turn: H2Start | None
    ) -> None:
        """Where an HTTP/1.1 program ended with a turn to HTTP/2: the rest of the connection."""
        if turn is not None and self.http2 is not None:
            await self._serve_h2(driver, connection, turn)

    def _new_connection(self, address: Any) -> ServerConnection:
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        return ServerConnection(self._state, self._clock, host)

    def _refusal(self, connection: ServerConnection, sock: socket.socket) -> Program[None] | None:
        """The 503 a new connection gets instead of being served, if it gets one: past
        ``max_connections``, or out of descriptors."""
        if self._active_connections > self._state.config.limits.max_connections:
            return connection.refuse(self._active_connections)
        if (crowded := self._out_of_descriptors(sock)) is not None:
            return connection.refuse(self._active_connections, crowded)
        return None

    def _connection_failed(self, exc: BaseException) -> None:
        """What a connection's handling raised (a bug of ours or the core's): recorded."""
        text = "".join(traceback.format_exception(exc)).rstrip()
        self._state.record("internal-error", f"connection handler failed: {exc!r}\n{text}")

    async def _serve_h2(
        self, driver: ConnectionDriver, connection: ServerConnection, start: H2Start
    ) -> None:
        """Serve the rest of ``connection`` as HTTP/2 (``server.h2``)."""
        assert self.http2 is not None
        conn = H2ServerConnection(
            self._state,
            self._clock,
            self.http2,
            peer=connection.peer,
            connection_id=connection.id,
            tls=connection.tls,
        )
        await H2Session(driver, conn).run(start)


def _stop(connection: Connection) -> None:
    """Cancel a connection: its task (asyncio) or its cancel scope (trio); one with no task
    is abandoned and ends at once."""
    if isinstance(connection, asyncio.Task):
        stop_task(connection)
    elif isinstance(connection, ConnectionDriver):
        connection.abandon()
    else:
        connection.cancel()


async def accept_connections(
    listener: socket.socket,
    admit: Callable[[socket.socket, Any], None],
    failed: Callable[[OSError], None],
    guard: AbstractContextManager[object] = _UNGUARDED,
) -> None:
    """Accept on ``listener`` until cancelled, handing each client socket to ``admit``; a
    failed accept that is not the client's doing goes to ``failed``, then a short pause.
    Each accept and its ``admit`` run inside ``guard`` (a lock other threads take to know
    where a connection goes: ``SharedListener``)."""
    loop = _running_asyncio_loop()
    if loop is not None:
        await _accept_on_asyncio(loop, listener, admit, failed, guard)
        return
    while True:
        await anyio.wait_readable(listener)
        error = _accept_batch(listener, admit, guard)
        if error is not None:
            failed(error)
            await anyio.sleep(ACCEPT_BACKOFF_SECONDS)


def _accept_batch(
    listener: socket.socket,
    admit: Callable[[socket.socket, Any], None],
    guard: AbstractContextManager[object],
) -> OSError | None:
    """Accept what is waiting, ``ACCEPT_BATCH`` at most (then the others get a turn); an
    accept that failed for want of descriptors or memory is returned."""
    for _ in range(ACCEPT_BATCH):
        with guard:
            try:
                sock, address = listener.accept()
            except (BlockingIOError, InterruptedError):
                return None
            except OSError as exc:
                if exc.errno in _ACCEPT_RETRY:
                    continue  # that client gave up before we got to it
                return exc  # out of descriptors or memory
            admit(sock, address)
    return None


async def _accept_on_asyncio(
    loop: asyncio.AbstractEventLoop,
    listener: socket.socket,
    admit: Callable[[socket.socket, Any], None],
    failed: Callable[[OSError], None],
    guard: AbstractContextManager[object],
) -> None:
    """``accept_connections`` on asyncio: the listening socket stays registered in the
    loop's selector, and its readiness callback accepts. ``anyio.wait_readable`` would
    register and unregister it for every wake-up (two ``epoll_ctl`` calls, a future and a
    checkpoint per new connection)."""
    fd = listener.fileno()
    while True:
        stopped: asyncio.Future[OSError] = loop.create_future()

        def on_readable(stopped: asyncio.Future[OSError] = stopped) -> None:
            if stopped.done():
                return
            try:
                error = _accept_batch(listener, admit, guard)
            except BaseException as exc:
                stopped.set_exception(exc)
            else:
                if error is not None:
                    stopped.set_result(error)

        loop.add_reader(fd, on_readable)
        try:
            error = await stopped
        finally:
            loop.remove_reader(fd)
        # Out of descriptors or memory: report it, keep listening, breathe.
        failed(error)
        await anyio.sleep(ACCEPT_BACKOFF_SECONDS)


class _Listening:
    """The listening sockets of one server, and how to close them."""

    def __init__(self, sockets: list[socket.socket], listener: Listener[Any] | None = None):
        self.sockets = sockets
        self.port: int = sockets[0].getsockname()[1]
        self._listener = listener

    async def aclose(self) -> None:
        if self._listener is not None:
            with anyio.CancelScope(shield=True):
                await self._listener.aclose()
            return
        for sock in self.sockets:
            with contextlib.suppress(OSError, RuntimeError):
                anyio.notify_closing(sock)
        self.close()

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


async def _listen(host: str, port: int) -> _Listening:
    """The listening sockets for ``host:port``, non-blocking; the server accepts on them
    itself (``MockServer._accept``). Host names go through anyio, which resolves them (in a
    worker thread) and binds every address they resolve to; an IP address is bound by
    ``_bind``."""
    listening = _bind(host, port)
    if listening is not None:
        return listening
    listener = await anyio.create_tcp_listener(local_host=host, local_port=port)
    parts = getattr(listener, "listeners", [listener])
    sockets = [part.extra(SocketAttribute.raw_socket) for part in parts]
    return _Listening(sockets, listener)


@functools.cache
def _raise_descriptor_limit() -> None:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit, once (where allowed)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft == resource.RLIM_INFINITY or soft >= hard:
        return
    with contextlib.suppress(OSError, ValueError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def descriptor_limit() -> int:
    """The soft RLIMIT_NOFILE after raising it to the hard limit where allowed (0: none)."""
    _raise_descriptor_limit()
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return 0 if soft == resource.RLIM_INFINITY else soft


def _running_asyncio_loop() -> asyncio.AbstractEventLoop | None:
    """The running asyncio loop, or None on trio."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


@functools.lru_cache(maxsize=64)
def _ip_family(host: str) -> socket.AddressFamily | None:
    """The address family of an IP address (without a scope), or None for a host name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if "%" in host:
        return None
    return socket.AF_INET6 if address.version == 6 else socket.AF_INET


def _bind(host: str, port: int) -> _Listening | None:
    """A non-blocking socket listening on ``host:port`` when ``host`` is an IP address (the
    usual ``127.0.0.1``), set up as ``anyio.create_tcp_listener`` sets it up; None for a host
    name. Plain system calls: any thread may bind, and thread mode binds in the caller's."""
    family = _ip_family(host)
    if family is None:
        return None
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if sys.platform == "win32":
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(65536)
    except BaseException:
        sock.close()
        raise
    return _Listening([sock])
