"""The pytest plugin, run inside pytester: fixtures, teardown checks, marker, report section."""

from __future__ import annotations

import http.client

import pytest

import mockprogress as mp
from mockprogress.engine.limits import LIMIT_FIELDS

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

HEADER = """
import http.client
import http.client

import pytest
import mockprogress as mp

def get(srv, path, method="GET"):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request(method, path)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body
"""


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makepyfile(HEADER + source)
    return pytester.runpytest(*args)


def test_a_passing_test(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_ok(mockprogress_server):
    mockprogress_server.expect("GET", "/").respond(mp.respond(200, b"hi"))
    assert get(mockprogress_server, "/") == (200, b"hi")
""",
    )
    result.assert_outcomes(passed=1)


def test_an_unmatched_request_fails_at_teardown_with_the_timeline(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
def test_unmatched(mockprogress_server):
    mockprogress_server.expect("POST", "/jobs").respond(mp.respond(201))
    assert get(mockprogress_server, "/nope")[0] == 500
""",
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_unmatched*",
            "mockprogress recorded 1 problem(s):",
            "*[[]unmatched] (exchange #1) GET /nope matched no expectation; closest:",
            "*expect POST /jobs: method: wanted POST, got GET; path: wanted '/jobs', got '/nope'",
            "*timeline:",
            "*#1 GET /nope HTTP/1.1*",
            "*-> 500 Internal Server Error",
        ]
    )


def test_an_unconsumed_expectation_fails_at_teardown(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_unconsumed(mockprogress_server):
    mockprogress_server.expect("GET", "/twice", times=2).respond(mp.respond(200))
    get(mockprogress_server, "/twice")
""",
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*expect GET /twice expected 2 request(s), got 1*"])


def test_a_handler_error_fails_at_teardown(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
def test_handler(mockprogress_server):
    def handler(request):
        raise KeyError("missing thing")
    mockprogress_server.expect("GET", "/h").respond_with(handler)
    assert get(mockprogress_server, "/h")[0] == 500
""",
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*[[]handler-error]*KeyError('missing thing')*"])


def test_a_malformed_request_fails_at_teardown(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import socket
def test_malformed(mockprogress_server):
    s = socket.create_connection(("127.0.0.1", mockprogress_server.port))
    s.sendall(b"GARBAGE\\r\\n\\r\\n")
    assert s.recv(100).startswith(b"HTTP/1.1 400")
    s.close()
""",
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*[[]malformed-request]*"])


def test_the_marker_opts_out_of_the_check(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
@pytest.mark.mockprogress(check_at_teardown=False)
def test_unmatched_on_purpose(mockprogress_server):
    assert get(mockprogress_server, "/nope")[0] == 500
    with pytest.raises(mp.ExpectationError):
        mockprogress_server.check()
""",
    )
    result.assert_outcomes(passed=1)


def test_the_ini_option_opts_out_for_the_whole_suite(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmockprogress_check_at_teardown = false\n")
    result = run(
        pytester,
        """
def test_unmatched(mockprogress_server):
    assert get(mockprogress_server, "/nope")[0] == 500
""",
    )
    result.assert_outcomes(passed=1)


def test_the_marker_passes_server_options(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
@pytest.mark.mockprogress(check_at_teardown=False, unmatched_status=404, max_body_size=5)
def test_options(mockprogress_server):
    assert get(mockprogress_server, "/nope")[0] == 404
""",
    )
    result.assert_outcomes(passed=1)


def test_the_marker_takes_an_upstream(pytester: pytest.Pytester) -> None:
    with mp.MockServer() as upstream:
        upstream.expect("GET", "/real").respond(mp.respond(200, b"from upstream"))
        result = run(
            pytester,
            f"""
@pytest.mark.mockprogress(upstream={upstream.url()!r})
def test_proxy(mockprogress_server):
    assert get(mockprogress_server, "/real") == (200, b"from upstream")
""",
        )
        upstream.check()
    result.assert_outcomes(passed=1)


def test_the_marker_takes_every_limit_by_its_name(pytester: pytest.Pytester) -> None:
    """The marker's options come from ``Limits``: a limit added there is a marker option."""
    values = {limit.name: limit.default + 1 for limit in LIMIT_FIELDS}
    result = run(
        pytester,
        f"""
from mockprogress.engine.limits import Limits

@pytest.mark.mockprogress(**{values!r})
def test_limits(mockprogress_server):
    assert mockprogress_server._state.config.limits == Limits(**{values!r})
""",
    )
    result.assert_outcomes(passed=1)


def test_a_bad_limit_in_the_marker_names_the_limit(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
@pytest.mark.mockprogress(max_body_size=-1)
def test_negative(mockprogress_server):
    pass
""",
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*max_body_size must be an integer >= 0, got -1*"])


def test_an_unknown_marker_option_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
@pytest.mark.mockprogress(chek_at_teardown=False)
def test_typo(mockprogress_server):
    pass
""",
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*unknown option(s) chek_at_teardown*"])


def test_a_failing_test_report_carries_the_journal(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import socket
def test_fails(mockprogress_server):
    mockprogress_server.expect("POST", "/jobs").respond(
        mp.processing('0/1 "Herding cats"'), mp.respond(201))
    s = socket.create_connection(("127.0.0.1", mockprogress_server.port))
    s.sendall(b"POST /jobs HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 0\\r\\nConnection: close\\r\\n\\r\\n")
    while s.recv(65536):  # to the end: the whole exchange is in the journal
        pass
    s.close()
    assert False, "the client did the wrong thing"
""",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*- mockprogress journal -*",
            "#1 POST /jobs HTTP/1.1  [connection 1, expect POST /jobs]",
            '*-> 102 Processing  Progress: 0/1 "Herding cats"',
            "*-> 201 Created",
        ]
    )


def test_fresh_server_per_test_on_the_session_listener(pytester: pytest.Pytester) -> None:
    """A fresh server (state, journal) per test; the listening socket is the session's, so
    the port stays (tests/server/test_plugin_isolation.py proves what does not leak)."""
    result = run(
        pytester,
        """
servers = []
@pytest.mark.parametrize("n", range(3))
def test_fresh(mockprogress_server, n):
    assert len(mockprogress_server.journal) == 0
    servers.append(mockprogress_server)
    mockprogress_server.expect("GET", "/").respond(mp.respond(200))
    get(mockprogress_server, "/")

def test_servers_differ_ports_do_not():
    assert len({id(srv) for srv in servers}) == 3
    assert len({srv.port for srv in servers}) == 1
    assert [len(srv.journal) for srv in servers] == [1, 1, 1]
""",
    )
    result.assert_outcomes(passed=4)


def test_thread_mode_fixture_in_an_async_test(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import anyio
@pytest.mark.anyio
async def test_async(mockprogress_server, anyio_backend):
    mockprogress_server.expect("GET", "/").respond(mp.respond(200, b"async ok"))
    status, body = await anyio.to_thread.run_sync(get, mockprogress_server, "/")
    assert body == b"async ok"
""",
    )
    result.assert_outcomes(passed=2)  # asyncio and trio


def test_the_in_loop_fixture(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
import anyio
@pytest.mark.anyio
async def test_in_loop(mockprogress_async_server):
    srv = mockprogress_async_server
    srv.expect("GET", "/").respond(mp.respond(200, b"in loop"))
    async with await anyio.connect_tcp("127.0.0.1", srv.port) as s:
        await s.send(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
        data = b""
        try:
            while True:
                data += await s.receive()
        except anyio.EndOfStream:
            pass
    assert data.endswith(b"in loop")

@pytest.mark.anyio
async def test_in_loop_checked(mockprogress_async_server):
    async with await anyio.connect_tcp("127.0.0.1", mockprogress_async_server.port) as s:
        await s.send(b"GET /unexpected HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
        assert (await s.receive()).startswith(b"HTTP/1.1 500")
""",
    )
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(["*GET /unexpected matched no expectation*"])


def test_fixture_docs(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest("--fixtures")
    documented = {
        "mockprogress_server -- *": "*A fresh mockprogress server for this test, in a background*",
        "mockprogress_async_server -- *": "*A fresh mockprogress server running in the test's own*",
        "mockprogress_ca [[]session scope[]] -- *": "*The throwaway certificate authority every*",
    }
    for fixture, first_line in documented.items():  # pytest's order of listing is its own
        result.stdout.fnmatch_lines([fixture, first_line])


def test_the_marker_is_registered(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing(): pass")
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.mockprogress(check_at_teardown=True*"])


def test_marker_tls_and_the_session_ca(pytester: pytest.Pytester) -> None:
    """``tls=True`` on the marker serves https; the session fixture ``mockprogress_ca`` is the
    CA every such server chains to, made once for the session."""
    result = run(
        pytester,
        """
import ssl

SEEN = []

@pytest.mark.mockprogress(tls=True)
def test_https(mockprogress_server, mockprogress_ca):
    srv = mockprogress_server
    assert srv.url("/").startswith("https://")
    srv.expect("GET", "/").respond(mp.respond(200, b"secure"))
    context = ssl.create_default_context(cafile=mockprogress_ca.ca_file)
    conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=context, timeout=5)
    conn.request("GET", "/")
    assert conn.getresponse().read() == b"secure"
    conn.close()
    assert srv.journal.last.tls.version.startswith("TLSv1.")
    SEEN.append(mockprogress_ca)

@pytest.mark.mockprogress(tls=mp.TLS(certificate="expired"))
def test_expired(mockprogress_server, mockprogress_ca):
    assert mockprogress_server.ca_file == mockprogress_ca.ca_file
    SEEN.append(mockprogress_ca)

@pytest.mark.anyio
@pytest.mark.mockprogress(tls=True)
async def test_in_loop(mockprogress_async_server, mockprogress_ca):
    assert mockprogress_async_server.url("/").startswith("https://")
    SEEN.append(mockprogress_ca)

def test_one_ca_for_the_session():
    assert len(SEEN) >= 3 and all(ca is SEEN[0] for ca in SEEN)
""",
        "-p",
        "anyio",
    )
    result.assert_outcomes(passed=5)


def test_a_teardown_failure_prints_its_report_once(pytester: pytest.Pytester) -> None:
    # The report, then neither "During handling of the above exception" and the report again,
    # nor a journal section repeating its timeline; an exchange it does not show is listed.
    result = run(
        pytester,
        """
def test_unmatched(mockprogress_server):
    mockprogress_server.expect("GET", "/ok").respond(mp.respond(200))
    assert get(mockprogress_server, "/ok")[0] == 200
    assert get(mockprogress_server, "/nope")[0] == 500
""",
    )
    result.assert_outcomes(passed=1, errors=1)
    # Under CI (the CI variable set) pytest's short summary repeats a failure's whole message,
    # not its first line: that repetition is pytest's, so only the report sections are counted.
    out = result.stdout.str().split("short test summary info")[0]
    assert out.count("1. [unmatched] (exchange #2) GET /nope matched no expectation") == 1
    assert "During handling of the above exception" not in out
    assert out.count("<- GET /nope HTTP/1.1") == 1
    assert out.count("<- GET /ok HTTP/1.1") == 1
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_unmatched*",
            "mockprogress recorded 1 problem(s):",
            "*#2 GET /nope HTTP/1.1*",
            "*- mockprogress journal: the exchanges the report above does not show -*",
            "#1 GET /ok HTTP/1.1*",
        ]
    )


def test_the_in_loop_fixture_in_a_synchronous_test_fails_at_once(
    pytester: pytest.Pytester,
) -> None:
    # Its loop does not run while a synchronous test does: the client would hang until its
    # own timeout. The test errors at set-up instead, naming the fixture to use.
    result = run(
        pytester,
        """
def test_sync(mockprogress_async_server):
    mockprogress_async_server.expect("GET", "/").respond(mp.respond(200))
    conn = http.client.HTTPConnection("127.0.0.1", mockprogress_async_server.port, timeout=3)
    conn.request("GET", "/")
    assert conn.getresponse().status == 200
""",
    )
    result.assert_outcomes(errors=2)  # asyncio and trio
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_sync*",
            "test_sync is a synchronous test: mockprogress_async_server runs in the test's own "
            "event loop, which does not run while a synchronous test does, so its client would "
            "hang. Use mockprogress_server (it runs in a thread) or make the test `async def` "
            "with @pytest.mark.anyio",
        ]
    )
    assert "TimeoutError" not in result.stdout.str()


def test_the_thread_mode_fixture_asks_pytest_for_nothing_per_test(
    pytester: pytest.Pytester,
) -> None:
    """pytest builds a ``FixtureDef`` each time a test's set-up uses ``request``, and looks up
    every argument of each session fixture the test uses again: about 25 us a test each
    (bench_fixture_overhead.py, pytest 9). So ``mockprogress_server`` takes neither: its whole
    closure is its one session fixture, which takes no argument."""
    item = pytester.getitem("def test_func(mockprogress_server): pass")
    assert isinstance(item, pytest.Function)
    assert sorted(item.fixturenames) == ["_mockprogress_loop", "mockprogress_server"]


@pytest.mark.mockprogress(unmatched_status=404)
def test_a_fixture_set_up_after_an_inline_run_is_its_tests_own(
    pytester: pytest.Pytester, request: pytest.FixtureRequest
) -> None:
    """The fixture finds its test without ``request``: an in-process pytester run (a test of
    its own inside this one) leaves this test the fixture's, marker options and all."""
    pytester.makepyfile("def test_inner(mockprogress_server): pass")
    pytester.runpytest().assert_outcomes(passed=1)
    srv: mp.MockServer = request.getfixturevalue("mockprogress_server")
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request("GET", "/nothing")
    assert conn.getresponse().status == 404  # this test's marker, not the inner test's
    conn.close()
    srv.reset()
