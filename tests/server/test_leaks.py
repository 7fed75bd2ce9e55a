"""No leaks across tests: after 1,000 uses of each fixture, no thread, socket or temporary file
remains (issue 7). The inner runs use pytester in this process, so the counts are this
process's own."""

from __future__ import annotations

import gc
import os
import tempfile
import threading
from pathlib import Path

import pytest

N = 1000


def open_sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("socket:"):
                count += 1
        except OSError:
            pass
    return count


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def temp_files() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("mockprogress-*")}


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's temporary files in a folder of their own: other processes on the machine
    (another test run) make and remove mockprogress-* files in the shared one meanwhile."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


SOURCE = """
import http.client
import pytest
import mockprogress as mp

@pytest.mark.mockprogress(spool_threshold=1024)  # every body spills to a temporary file
@pytest.mark.parametrize("n", range({n}))
def test_use(mockprogress_server, n):
    mockprogress_server.expect("POST", "/up").respond(mp.respond(200, b"ok"))
    conn = http.client.HTTPConnection("127.0.0.1", mockprogress_server.port, timeout=5)
    conn.request("POST", "/up", body=b"x" * 2048)
    assert conn.getresponse().read() == b"ok"
    conn.close()
"""

ASYNC_SOURCE = """
import anyio
import pytest
import mockprogress as mp

@pytest.fixture(params=["asyncio"])
def anyio_backend(request):
    return request.param

@pytest.mark.anyio
@pytest.mark.parametrize("n", range({n}))
async def test_use(mockprogress_async_server, n):
    srv = mockprogress_async_server
    srv.expect("POST", "/up").respond(mp.respond(200, b"ok"))
    async with await anyio.connect_tcp("127.0.0.1", srv.port) as s:
        await s.send(b"POST /up HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 3\\r\\n\\r\\nabc")
        data = b""
        while not data.endswith(b"ok"):
            data += await s.receive()
"""


@pytest.mark.parametrize("source", [SOURCE, ASYNC_SOURCE], ids=["thread", "in-loop"])
@pytest.mark.usefixtures("private_tmp")
def test_a_thousand_fixture_uses_leave_nothing_behind(
    pytester: pytest.Pytester, source: str
) -> None:
    pytester.makepyfile(source.format(n=N))
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    # Earlier tests' garbage goes first: a spooled body is a named file until its journal is
    # freed or collected, and one collected during the inner run would look like a change.
    gc.collect()
    threads, sockets, fds, temps = (
        threading.active_count(),
        open_sockets(),
        open_fds(),
        temp_files(),
    )
    result = pytester.runpytest("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=N)
    assert threading.active_count() == threads
    assert open_sockets() == sockets
    assert open_fds() == fds
    assert temp_files() == temps
