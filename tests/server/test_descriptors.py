"""File descriptors: a server under a low RLIMIT_NOFILE answers 503 before it runs out, records
running out once, and keeps spooled bodies without an open descriptor each.

Each test runs the server in a subprocess whose limit it lowers, so the suite's own limit is
untouched.
"""

from __future__ import annotations

import json
import os
import resource
import selectors
import socket
import subprocess
import sys
import textwrap
import time

import pytest
from support.paths import ROOT

CLIENTS = 300


def _python(source: str, *, stdin: bool = False) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(source)],
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _result(proc: subprocess.Popen[str], timeout: float = 120) -> dict[str, object]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return result


def test_spooled_bodies_hold_no_descriptor_each() -> None:
    # 300 spooled bodies under a limit of 256: each read back exact, and the descriptors the
    # process holds do not grow with them.
    proc = _python(
        f"""
        import http.client, json, os, resource
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        import mockprogress as mp

        def body(i):
            return bytes([i % 256]) * 4096 + str(i).encode()

        with mp.MockServer(spool_threshold=1024) as srv:
            srv.expect("POST", "/up", times=None).respond(mp.respond(200, b"ok"))
            before = len(os.listdir("/proc/self/fd"))
            conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
            statuses = set()
            for i in range({CLIENTS}):
                conn.request("POST", "/up", body=body(i))
                response = conn.getresponse()
                response.read()
                statuses.add(response.status)
            conn.close()
            after = len(os.listdir("/proc/self/fd"))
            exact = [ex.body == body(i) for i, ex in enumerate(srv.journal)]
            problems = [p.kind + ": " + p.message for p in srv._state.problems]
        print(json.dumps({{
            "before": before, "after": after, "statuses": sorted(statuses),
            "exact": sum(exact), "n": len(exact), "problems": problems,
        }}))
        """
    )
    result = _result(proc)
    assert result["statuses"] == [200], result["problems"]
    assert (result["n"], result["exact"]) == (CLIENTS, CLIENTS)
    assert int(str(result["after"])) - int(str(result["before"])) < 16, result


def test_spooled_bodies_read_exactly_by_range_and_after_the_store_changes() -> None:
    from mockprogress.engine.body import BodyBuffer, JournalBody

    data = bytes(range(256)) * 40
    buffer = BodyBuffer(100)
    for i in range(0, len(data), 1000):
        buffer.append(data[i : i + 1000])
    assert buffer.on_disk
    assert buffer.read() == data
    assert buffer.read(99, 5001) == data[99:5001]
    buffer.write_at(10, b"x" * 20)
    assert buffer.read(0, 40) == data[:10] + b"x" * 20 + data[30:40]
    buffer.truncate(500)
    assert buffer.read() == (data[:10] + b"x" * 20 + data[30:])[:500]
    journal = JournalBody(100)
    journal.append(data)
    journal.settle()
    assert journal.read(3, 9000) == data[3:9000]
    buffer.close()
    assert buffer.read() == b""
    journal.close()


def _server_under_low_limit(**options: int) -> subprocess.Popen[str]:
    return _python(
        f"""
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
        import mockprogress as mp

        with mp.MockServer(**{options!r}) as srv:
            srv.expect("GET", "/", times=None).respond(mp.respond(200, b"ok"))
            print(json.dumps({{"port": srv.port}}), flush=True)
            sys.stdin.readline()
            problems = [p.kind + ": " + p.message for p in srv._state.problems]
        print(json.dumps({{"problems": problems}}), flush=True)
        """,
        stdin=True,
    )


def test_connections_past_the_descriptors_get_503_and_running_out_is_recorded_once() -> None:
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < 2 * CLIENTS + 200:
        pytest.skip("this process may not open the clients' sockets")
    proc = _server_under_low_limit()
    try:
        assert proc.stdout is not None and proc.stdin is not None
        port = json.loads(proc.stdout.readline())["port"]
        clients = [
            socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(CLIENTS)
        ]
        # Those past what the descriptors allow get a 503 (and close); the others stay idle.
        refused = 0
        selector = selectors.DefaultSelector()
        for sock in clients:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + 30
        while selector.get_map() and time.monotonic() < deadline:
            events = selector.select(timeout=2)
            if not events and refused >= CLIENTS - 256:
                break
            for key, _ in events:
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                data = sock.recv(65536)
                assert data.startswith(b"HTTP/1.1 503 ") or data == b"", data
                if data:
                    refused += 1
                selector.unregister(sock)
                sock.close()
        selector.close()
        assert refused >= CLIENTS - 256
        # A new client gets an answer at once, not silence.
        with socket.create_connection(("127.0.0.1", port), timeout=5) as late:
            late.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert late.recv(65536).startswith(b"HTTP/1.1 503 ")
        time.sleep(0.5)  # long enough for ten accept retries, were any failing
        for sock in clients:
            sock.close()
        proc.stdin.write("\n")
        proc.stdin.flush()
        result = _result(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
    problems = [str(p) for p in result["problems"]]  # type: ignore[attr-defined]
    descriptors = [p for p in problems if "descriptor" in p]
    assert descriptors, problems
    accept_errors = [p for p in problems if "accepting" in p]
    assert len(accept_errors) <= 1, accept_errors


def test_the_soft_limit_is_raised_to_the_hard_one() -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY or hard <= 256:
        pytest.skip("no finite hard limit above 256 to raise to")
    proc = _python(
        """
        import json, resource
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
        import mockprogress as mp

        with mp.MockServer() as srv:
            pass
        print(json.dumps({"soft": resource.getrlimit(resource.RLIMIT_NOFILE)[0], "hard": hard}))
        """
    )
    result = _result(proc)
    assert result["soft"] == result["hard"]
