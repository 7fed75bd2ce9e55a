"""The pytest plugin: a fresh mockprogress server per test, checked at teardown.

Registered through the ``pytest11`` entry point ``mockprogress``; disable it with
``-p no:mockprogress``. It imports the server only inside the fixtures, so pytest runs of
projects that merely have mockprogress installed pay nothing for it.

Options (``pytest.ini`` / ``pyproject.toml``):

- ``mockprogress_check_at_teardown`` (bool, default true): call ``check()`` after each test.
- ``mockprogress_backend`` (``asyncio`` or ``trio``): the event loop of thread-mode servers.
- ``mockprogress_host`` (default ``127.0.0.1``): the address servers listen on.

Per test: ``@pytest.mark.mockprogress(check_at_teardown=False, max_body_size=..., ...)`` takes
those options, the server limits, ``tls`` (``True`` or ``mp.TLS(...)``), ``http2`` (``True``
or ``mp.HTTP2(...)``), ``host``, ``unmatched_status`` and ``upstream`` (proxy mode,
docs/proxy.md). The session fixture
``mockprogress_ca`` is the CA that ``tls`` servers' certificates chain to.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .server.listener import SharedListener
    from .server.server import MockServer
    from .server.tls import CertificateAuthority

_SERVERS = pytest.StashKey[list["MockServer"]]()
#: The teardown checks' reports of a test: its journal section does not repeat their timelines.
_REPORTED = pytest.StashKey[list[str]]()
#: The keywords of ``MockServer`` a marker may set besides the limits (``Limits``'s fields).
_SERVER_OPTIONS = {"host", "unmatched_status", "tls", "http2", "upstream"}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "mockprogress_check_at_teardown",
        type="bool",
        default=True,
        help="mockprogress: fail a test whose server recorded problems (default: true)",
    )
    parser.addini(
        "mockprogress_backend",
        default="asyncio",
        help="mockprogress: event loop of thread-mode servers, asyncio or trio",
    )
    parser.addini(
        "mockprogress_host",
        default="127.0.0.1",
        help="mockprogress: address the fixtures' servers listen on",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mockprogress(check_at_teardown=True, backend=None, host=None, **server_options): "
        "options for the mockprogress fixtures of this test",
    )


#: The ini options as ``_options`` reads them, once per run.
_INI = pytest.StashKey[tuple[bool, str, str]]()
#: The tests being run, innermost last (``pytest_runtest_protocol``; an in-process pytester
#: run nests its own). The thread-mode fixture reads its test here rather than taking
#: ``request``: pytest builds a ``FixtureDef`` for each use of ``request`` (about 25 us a
#: test), and a session fixture with an argument costs each test that uses it as much again.
_RUNNING: list[pytest.Item] = []


def _running_item() -> pytest.Item:
    if not _RUNNING:
        raise pytest.UsageError("mockprogress_server is a fixture of a test being run")
    return _RUNNING[-1]


def _ini(config: pytest.Config) -> tuple[bool, str, str]:
    """check_at_teardown, backend and host as the ini file sets them (read once per run)."""
    ini = config.stash.get(_INI, None)
    if ini is None:
        ini = config.stash[_INI] = (
            bool(config.getini("mockprogress_check_at_teardown")),
            str(config.getini("mockprogress_backend")),
            str(config.getini("mockprogress_host")),
        )
    return ini


def _options(item: pytest.Item) -> tuple[bool, str, dict[str, Any]]:
    check, backend, host = _ini(item.config)
    marker = item.get_closest_marker("mockprogress")
    if marker is None:
        return check, backend, {"host": host}
    if marker.args:
        raise pytest.UsageError("@pytest.mark.mockprogress takes keyword arguments only")
    options: dict[str, Any] = dict(marker.kwargs)
    check = bool(options.pop("check_at_teardown", check))
    backend = str(options.pop("backend", backend))
    options.setdefault("host", host)
    from .engine.limits import LIMIT_NAMES

    unknown = set(options) - _SERVER_OPTIONS - set(LIMIT_NAMES)
    if unknown:
        raise pytest.UsageError(
            f"@pytest.mark.mockprogress: unknown option(s) {', '.join(sorted(unknown))}"
        )
    return check, backend, options


@pytest.fixture(scope="session")
def _mockprogress_loop() -> Iterator[dict[Any, SharedListener]]:
    """Keeps the thread-mode event loop alive for the session, and the shared listeners
    (one per host and backend, opened on first use): each test's fresh server attaches to
    one, so a test costs neither a thread nor a listening socket. No argument: see
    ``_RUNNING``."""
    from .server.portal import portal_provider

    listeners: dict[Any, SharedListener] = {}
    # The ini's backend, not the first test's marker: the loop kept for the whole session.
    with portal_provider(_ini(_running_item().config)[1]):
        try:
            yield listeners
        finally:
            for listener in listeners.values():
                listener.close()


def _listener(
    listeners: dict[Any, SharedListener], host: str, backend: str
) -> SharedListener | None:
    """The session's listener for ``host`` and ``backend``; None for a host name (such a
    test's server binds its own)."""
    from .server.listener import SharedListener, shareable

    key = (host, backend)
    listener = listeners.get(key)
    if listener is None and shareable(host):
        listener = listeners[key] = SharedListener(host, backend=backend).open()
    return listener


@pytest.fixture(scope="session")
def mockprogress_ca() -> CertificateAuthority:
    """The throwaway certificate authority every ``tls=True`` server of the session uses: its
    ``ca_file`` (a PEM path for ``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE``,
    ``NODE_EXTRA_CA_CERTS``, ``curl --cacert``), ``client_context()`` (an ``ssl.SSLContext``
    that trusts it) and ``client_certificate_files(name)`` (for mutual TLS). Made once per
    session, on first use."""
    from .server.tls import authority

    return authority()


@pytest.fixture
def mockprogress_server(_mockprogress_loop: dict[Any, SharedListener]) -> Iterator[MockServer]:
    """A fresh mockprogress server for this test, in a background thread.

    Works with any client, sync or async, from sync and async tests alike. Script it with
    ``expect(method, path).respond(*steps)``, point the client at ``url(path)``, then assert
    on ``journal``. At teardown the server stops and ``check()`` runs: a request that matched
    nothing, an unused ``times=N`` expectation, a handler error or a malformed request fails
    the test, and failure reports carry the exchange timeline.

    Opt out of the check with ``@pytest.mark.mockprogress(check_at_teardown=False)``.

    The server is fresh (its state, limits, TLS and connections are this test's); its
    listening socket is the session's, so ``port`` is the same in every test. At teardown
    every connection it was given is closed, and none reaches the next test's server.
    """
    from .server.server import MockServer

    item = _running_item()
    check, backend, options = _options(item)
    server = MockServer(backend=backend, **options)
    item.stash.setdefault(_SERVERS, []).append(server)
    server.start(listener=_listener(_mockprogress_loop, server.host, backend))
    try:
        yield server
    finally:
        server.stop()
    if check:
        _check(item, server)


@pytest.fixture
async def mockprogress_async_server(
    request: pytest.FixtureRequest, anyio_backend: Any
) -> AsyncIterator[MockServer]:
    """A fresh mockprogress server running in the test's own event loop (asyncio or trio).

    For ``@pytest.mark.anyio`` tests whose client is async. A blocking client called directly
    from the test would starve the server: run it with ``anyio.to_thread.run_sync`` or use
    ``mockprogress_server``. Checked at teardown like ``mockprogress_server``.
    """
    from .server.server import MockServer

    if not inspect.iscoroutinefunction(request.function):
        pytest.fail(
            f"{request.function.__name__} is a synchronous test: mockprogress_async_server "
            "runs in the test's own event loop, which does not run while a synchronous test "
            "does, so its client would hang. Use mockprogress_server (it runs in a thread) or "
            "make the test `async def` with @pytest.mark.anyio",
            pytrace=False,
        )
    check, _backend, options = _options(request.node)
    server = MockServer(**options)
    request.node.stash.setdefault(_SERVERS, []).append(server)
    async with server:
        yield server
    if check:
        _check(request.node, server)


def _check(item: pytest.Item, server: MockServer) -> None:
    """Fail with the problems and timelines, without the plugin's own traceback.

    ``pytest.fail`` is called outside the ``except``: inside, pytest would print the report
    twice (the ``ExpectationError``, "During handling of the above exception...", then the
    failure). The report is kept in the stash, so the journal section leaves out the
    timelines it already shows."""
    from .errors import ExpectationError

    try:
        server.check()
    except ExpectationError as exc:
        report = str(exc)
    else:
        return
    item.stash.setdefault(_REPORTED, []).append(report)
    pytest.fail(report, pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Once a test is reported, its servers' temporary files go: a suite of thousands of tests
    must not hold thousands of spooled bodies until the garbage collector gets to them.
    While it runs, the test is the fixtures' (``_RUNNING``)."""
    _RUNNING.append(item)
    try:
        return (yield)
    finally:
        _RUNNING.pop()
        for server in item.stash.get(_SERVERS, []):
            server._state.free_storage()
        item.stash[_SERVERS] = []
        item.stash[_REPORTED] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report: pytest.TestReport = yield  # type: ignore[assignment]
    if report.failed:
        servers: list[MockServer] = item.stash.get(_SERVERS, [])
        reports: list[str] = item.stash.get(_REPORTED, [])
        reported = "\n".join(reports)
        for i, server in enumerate(servers):
            title = "mockprogress journal" + (f" (server {i + 1})" if i else "")
            journal = server.journal
            unseen = [ex.timeline() for ex in journal if ex.timeline() not in reported]
            if len(unseen) < len(journal):
                title += ": the exchanges the report above does not show"
                if unseen:
                    report.sections.append((title, "\n".join(unseen)))
            else:
                report.sections.append((title, journal.to_text()))
    return report  # type: ignore[return-value]
