"""Isolation between tests when the fixture's servers share one listener (issue 16).

``mockprogress_server`` gives each test a fresh server (empty expectations, journal, problems
and resources, connection ids from 1, its own limits and TLS) that attaches to the session's
listening socket. These inner runs prove on the wire what must not leak from one test to the
next: state, connections (kept alive, idle, in the middle of a head, in the middle of a
script), and the teardown check. Tests of a file run in file order.
"""

from __future__ import annotations

import pytest

HEADER = """
import http.client
import socket
import ssl
import pytest
import mockprogress as mp

def get(srv, path, method="GET", body=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    conn.request(method, path, body=body)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data

def answer(sock):
    '''What the server sends on ``sock`` until it closes it: b"" when it sent nothing.'''
    sock.settimeout(5)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data

def ask(sock, path):
    '''Send a request on an old connection, tolerating one the server has reset.'''
    try:
        sock.sendall(b"GET " + path + b" HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    return answer(sock)

seen = {}
"""


@pytest.fixture(params=["asyncio", "trio"])
def backend(request: pytest.FixtureRequest) -> str:
    """The loop the inner run's thread-mode servers and shared listener run on."""
    return str(request.param)


def run(pytester: pytest.Pytester, source: str, backend: str) -> pytest.RunResult:
    pytester.makepyfile(HEADER + source)
    return pytester.runpytest(
        "-p", "no:randomly", "-p", "no:cacheprovider", "-o", f"mockprogress_backend={backend}"
    )


def test_each_test_sees_empty_state_on_the_same_listener(
    pytester: pytest.Pytester, backend: str
) -> None:
    result = run(
        pytester,
        """
@pytest.mark.mockprogress(check_at_teardown=False)
def test_a(mockprogress_server):
    srv = mockprogress_server
    seen["server"], seen["port"] = srv, srv.port
    srv.expect("GET", "/a").respond(mp.respond(200, b"a"))
    srv.mount(mp.TusUploads("/files"))
    assert get(srv, "/a") == (200, b"a")
    assert get(srv, "/nothing")[0] == 500  # a problem for check()
    srv.cut_request_head(at=5, times=None)  # every later head is cut after 5 bytes
    with pytest.raises(http.client.RemoteDisconnected):
        get(srv, "/a")
    assert len(srv.journal) == 3
    with pytest.raises(mp.ExpectationError):
        srv.check()

def test_b(mockprogress_server):
    srv = mockprogress_server
    assert srv is not seen["server"]
    assert srv.port == seen["port"]  # the listener outlives the test; the state does not
    assert len(srv.journal) == 0
    srv.check()  # no problem of test_a's
    assert get(srv, "/a")[0] == 500  # test_a's expectation is gone, and its head cut
    assert get(srv, "/files")[0] == 500  # and its resource
    assert [ex.connection for ex in srv.journal] == [1, 2]  # connection ids from 1
    with pytest.raises(mp.ExpectationError, match="GET /a matched no expectation"):
        srv.check()
    srv.reset()
""",
        backend,
    )
    result.assert_outcomes(passed=2)


def test_connections_of_a_test_are_closed_at_its_teardown(
    pytester: pytest.Pytester, backend: str
) -> None:
    """A connection kept alive, one idle since its accept, one in the middle of a head, one
    in the middle of a script: at the next test each is closed, and a request sent on it is
    never answered by the next test's server, whose journal stays empty."""
    result = run(
        pytester,
        """
def test_a(mockprogress_server):
    srv = mockprogress_server
    srv.expect("GET", "/a", name="a").respond(mp.respond(200, b"a"))
    srv.expect("GET", "/slow").respond(
        mp.processing(), mp.pause(60), mp.respond(200, b"late")
    )
    kept = socket.create_connection(("127.0.0.1", srv.port))
    kept.sendall(b"GET /a HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    kept.settimeout(5)
    assert kept.recv(65536).endswith(b"\\r\\n\\r\\na")  # answered, kept alive
    slow = socket.create_connection(("127.0.0.1", srv.port))
    slow.sendall(b"GET /slow HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
    slow.settimeout(5)
    interim = b""
    while not interim.endswith(b"\\r\\n\\r\\n"):
        interim += slow.recv(1)  # the 102: the script is under way, pausing
    assert interim.startswith(b"HTTP/1.1 102 Processing")
    half = socket.create_connection(("127.0.0.1", srv.port))
    half.sendall(b"GET /a HTTP/1.1\\r\\nHo")
    idle = socket.create_connection(("127.0.0.1", srv.port))  # maybe not accepted yet
    seen.update(kept=kept, slow=slow, half=half, idle=idle)

def test_b(mockprogress_server):
    srv = mockprogress_server
    srv.expect("GET", "/a").respond(mp.respond(200, b"b"))
    srv.expect("GET", "/slow").respond(mp.respond(200, b"b"))
    assert answer(seen["slow"]) == b""  # test_a's script was cut short, nothing more sent
    for name in ("kept", "half", "idle"):
        assert ask(seen[name], b"/a") == b"", name
    for sock in seen.values():
        sock.close()
    assert len(srv.journal) == 0
    assert get(srv, "/a") == (200, b"b")
    assert get(srv, "/slow") == (200, b"b")
""",
        backend,
    )
    result.assert_outcomes(passed=2)


def test_the_teardown_check_stays_with_its_test(pytester: pytest.Pytester, backend: str) -> None:
    """A test whose server saw an unmatched request or kept an unused ``times=1`` fails at
    its teardown; the tests after it, on the same listener, pass."""
    result = run(
        pytester,
        """
def test_unmatched(mockprogress_server):
    assert get(mockprogress_server, "/nobody")[0] == 500

def test_unused(mockprogress_server):
    mockprogress_server.expect("GET", "/never", times=1).respond(mp.respond(200))

def test_clean(mockprogress_server):
    mockprogress_server.expect("GET", "/ok").respond(mp.respond(200))
    assert get(mockprogress_server, "/ok")[0] == 200
""",
        backend,
    )
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_unmatched*",
            "*GET /nobody*",
            "*ERROR at teardown of test_unused*",
            "*/never*",
        ]
    )
    assert "ERROR at teardown of test_clean" not in result.stdout.str()


def test_marker_options_are_per_test_on_the_shared_listener(
    pytester: pytest.Pytester, backend: str
) -> None:
    """Limits, TLS and the unmatched status are the server's, so a marked test and the tests
    around it share the listening port but not the options; a host name gets its own."""
    result = run(
        pytester,
        """
def test_plain_before(mockprogress_server):
    seen["port"] = mockprogress_server.port
    mockprogress_server.expect("POST", "/up").respond(mp.respond(200))
    assert get(mockprogress_server, "/up", "POST", b"x" * 20)[0] == 200

@pytest.mark.mockprogress(max_body_size=10, unmatched_status=404, check_at_teardown=False)
def test_limited(mockprogress_server):
    assert mockprogress_server.port == seen["port"]
    mockprogress_server.expect("POST", "/up").respond(mp.respond(200))
    assert get(mockprogress_server, "/up", "POST", b"x" * 20)[0] == 413
    assert get(mockprogress_server, "/nobody")[0] == 404

@pytest.mark.mockprogress(tls=True)
def test_tls(mockprogress_server, mockprogress_ca):
    srv = mockprogress_server
    assert srv.port == seen["port"]
    srv.expect("GET", "/s").respond(mp.respond(200, b"secure"))
    conn = http.client.HTTPSConnection(
        "127.0.0.1", srv.port, context=mockprogress_ca.client_context(), timeout=5
    )
    conn.request("GET", "/s")
    assert conn.getresponse().read() == b"secure"
    conn.close()

def test_plain_after(mockprogress_server):
    assert mockprogress_server.port == seen["port"]
    mockprogress_server.expect("POST", "/up").respond(mp.respond(200))
    assert get(mockprogress_server, "/up", "POST", b"x" * 20)[0] == 200
    with pytest.raises(mp.ExpectationError, match="matched no expectation"):
        assert get(mockprogress_server, "/nobody")[0] == 500
        mockprogress_server.check()
    mockprogress_server.reset()

@pytest.mark.mockprogress(host="localhost")
def test_host_name(mockprogress_server):
    assert mockprogress_server.port != seen["port"]  # a listener of its own
    mockprogress_server.expect("GET", "/").respond(mp.respond(200))
    conn = http.client.HTTPConnection("localhost", mockprogress_server.port, timeout=5)
    conn.request("GET", "/")
    assert conn.getresponse().status == 200
    conn.close()
""",
        backend,
    )
    result.assert_outcomes(passed=5)
