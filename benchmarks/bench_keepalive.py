"""Requests per second against one server: mockprogress against pytest-httpserver and
aiohttp's test server.

Servers (each started before timing, one per measurement, in this process):

- ``mockprogress``: ``with mp.MockServer()`` (thread mode), one expectation
  ``expect("GET", "/hello").respond(mp.respond(200, body=b"hello world\\n"))``;
- ``pytest-httpserver``: ``HTTPServer("127.0.0.1", 0)``, the default (what the ``httpserver``
  fixture gives): one thread, ``HTTP/1.0`` responses with ``Connection: close``, so no
  keep-alive; ``expect_request("/hello").respond_with_data("hello world\\n")``;
- ``pytest-httpserver threaded``: the same with ``threaded=True``: a thread per connection and
  HTTP/1.1 responses, but still ``Connection: close`` (Werkzeug 3.1 ``serving.py``: "Always
  close the connection. This disables HTTP/1.1 keep-alive connections."), so no keep-alive
  either.
- ``aiohttp``: ``aiohttp.test_utils.TestServer`` around a plain ``aiohttp.web`` app with one
  route, ``GET /hello`` answering ``web.Response(body=b"hello world\n")``, its loop in a
  background thread (as mockprogress's thread mode): HTTP/1.1 with keep-alive. Its access log
  is off (``access_log=None``), as Werkzeug's is turned down below.

The client is the same for all: a raw-socket HTTP/1.1 client that sends one request, reads the
whole response by its Content-Length and repeats, pipelining nothing. ``keep-alive`` uses one
connection per client thread for all its requests (and fails if the server closes it);
``new connection`` opens a connection per request and closes it after the response, which is
what any client gets from the default pytest-httpserver. 1 and 4 client threads share the
requests. Client and server run in one process, as they do in a test, so they share the GIL.

Werkzeug logs every request at INFO level; its logger is set to WARNING here, which makes
pytest-httpserver faster than it is out of the box.

Run: ``.venv/bin/python benchmarks/bench_keepalive.py [--requests 2000] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from _common import Summary, machine_lines, table

BODY = b"hello world\n"
PATH = "/hello"


class ProtocolFailure(Exception):
    pass


def read_response(sock: socket.socket, buf: bytes) -> tuple[int, bytes, bool, bytes]:
    """Read one response: (status, body, server keeps the connection, bytes left over)."""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(65536)
        if not data:
            raise ProtocolFailure(f"connection closed before a response head: {buf!r}")
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    version, status, *_ = lines[0].split(b" ", 2)
    length: int | None = None
    connection = b""
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            connection = value.strip().lower()
    if length is None:
        raise ProtocolFailure(f"no Content-Length in {head!r}")
    while len(rest) < length:
        data = sock.recv(65536)
        if not data:
            raise ProtocolFailure("connection closed mid-body")
        rest += data
    keeps = connection != b"close" and (version == b"HTTP/1.1" or connection == b"keep-alive")
    return int(status), rest[:length], keeps, rest[length:]


def keepalive_client(port: int, count: int) -> None:
    request = f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        for _ in range(count):
            sock.sendall(request)
            status, body, keeps, buf = read_response(sock, buf)
            if status != 200 or body != BODY:
                raise ProtocolFailure(f"unexpected answer {status} {body!r}")
            if not keeps:
                raise ProtocolFailure("the server does not keep the connection alive")


def new_connection_client(port: int, count: int) -> None:
    request = f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.sendall(request)
            status, body, _keeps, _ = read_response(sock, b"")
            if status != 200 or body != BODY:
                raise ProtocolFailure(f"unexpected answer {status} {body!r}")


CLIENTS: dict[str, Callable[[int, int], None]] = {
    "keep-alive": keepalive_client,
    "new connection": new_connection_client,
}


@contextmanager
def mockprogress_server() -> Iterator[int]:
    import mockprogress as mp

    with mp.MockServer() as srv:
        srv.expect("GET", PATH).respond(mp.respond(200, body=BODY))
        yield srv.port
        srv.check()


@contextmanager
def aiohttp_server() -> Iterator[int]:
    import asyncio

    from aiohttp import web
    from aiohttp.test_utils import TestServer

    async def hello(request: web.Request) -> web.Response:
        return web.Response(body=BODY)

    app = web.Application()
    app.router.add_get(PATH, hello)
    loop = asyncio.new_event_loop()
    server = TestServer(app, host="127.0.0.1", port=0)
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(server.start_server(access_log=None), loop).result(10)
        assert server.port is not None
        yield server.port
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@contextmanager
def httpserver(threaded: bool) -> Iterator[int]:
    from pytest_httpserver import HTTPServer

    server = HTTPServer("127.0.0.1", 0, threaded=threaded)
    server.expect_request(PATH, method="GET").respond_with_data(BODY)
    server.start()
    try:
        yield server.port
        server.check_assertions()
    finally:
        server.clear()
        server.stop()


SERVERS: dict[str, Callable[[], Callable[[], object]]] = {
    "mockprogress": lambda: mockprogress_server,
    "pytest-httpserver": lambda: lambda: httpserver(False),
    "pytest-httpserver threaded": lambda: lambda: httpserver(True),
    "aiohttp": lambda: aiohttp_server,
}

# (server, client, threads); pytest-httpserver has no keep-alive to measure, threaded or not.
CONFIGS = [
    (server, client, threads)
    for threads in (1, 4)
    for server, client in [
        ("mockprogress", "keep-alive"),
        ("mockprogress", "new connection"),
        ("pytest-httpserver", "new connection"),
        ("pytest-httpserver threaded", "new connection"),
        ("aiohttp", "keep-alive"),
        ("aiohttp", "new connection"),
    ]
]


def run_clients(port: int, client: Callable[[int, int], None], threads: int, total: int) -> float:
    """Run ``total`` requests from ``threads`` client threads; return requests per second."""
    per_thread = total // threads
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        barrier.wait()
        try:
            client(port, per_thread)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    barrier.wait()
    start = time.perf_counter()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return per_thread * threads / elapsed


def measure_one(server: str, client: str, threads: int, total: int, warmup: int) -> float:
    make = SERVERS[server]()
    with make() as port:  # type: ignore[attr-defined]
        CLIENTS[client](port, warmup)
        return run_clients(port, CLIENTS[client], threads, total)


Key = tuple[str, str, int]


def measure(total: int, rounds: int, warmup: int = 100) -> dict[Key, list[float]]:
    results: dict[Key, list[float]] = {c: [] for c in CONFIGS}
    for r in range(rounds):
        for config in CONFIGS:
            rate = measure_one(*config, total=total, warmup=warmup)
            results[config].append(rate)
            print(
                f"round {r + 1}: {config[0]:<27} {config[1]:<15} {config[2]} thread(s) "
                f"{rate:8.0f} req/s",
                file=sys.stderr,
            )
    return results


def ratio(a: list[float], b: list[float]) -> Summary:
    return Summary.of([x / y for x, y in zip(a, b, strict=True)])


def markdown(results: dict[Key, list[float]], total: int, rounds: int, command: str) -> str:
    rows = [
        [server, client, str(threads), Summary.of(rates).fmt(1, 0)]
        for (server, client, threads), rates in results.items()
    ]
    ratio_rows = []
    target_met = True
    for threads in (1, 4):
        mp_ka = results[("mockprogress", "keep-alive", threads)]
        mp_new = results[("mockprogress", "new connection", threads)]
        hs_new = results[("pytest-httpserver", "new connection", threads)]
        hs_t_new = results[("pytest-httpserver threaded", "new connection", threads)]
        aio_ka = results[("aiohttp", "keep-alive", threads)]
        aio_new = results[("aiohttp", "new connection", threads)]
        headline = ratio(mp_ka, hs_new)
        target_met = target_met and headline.median >= 2.0
        ratio_rows += [
            [
                str(threads),
                "mockprogress keep-alive / pytest-httpserver (default, new "
                "connection per request: all it offers)",
                headline.fmt(1, 2, "x"),
            ],
            [
                str(threads),
                "mockprogress keep-alive / pytest-httpserver threaded (new "
                "connection per request: all it offers)",
                ratio(mp_ka, hs_t_new).fmt(1, 2, "x"),
            ],
            [
                str(threads),
                "mockprogress / pytest-httpserver (default), both a new connection per request",
                ratio(mp_new, hs_new).fmt(1, 2, "x"),
            ],
            [
                str(threads),
                "mockprogress / pytest-httpserver threaded, both a new connection per request",
                ratio(mp_new, hs_t_new).fmt(1, 2, "x"),
            ],
            [
                str(threads),
                "mockprogress keep-alive / aiohttp keep-alive",
                ratio(mp_ka, aio_ka).fmt(1, 2, "x"),
            ],
            [
                str(threads),
                "mockprogress / aiohttp, both a new connection per request",
                ratio(mp_new, aio_new).fmt(1, 2, "x"),
            ],
        ]
    return "\n".join(
        [
            "## Keep-alive throughput (`bench_keepalive.py`)",
            "",
            f"Command: `{command}`",
            "",
            f"{total} timed requests per measurement (split between the client threads), after "
            f"100 untimed ones; {rounds} rounds, every configuration once per round; median "
            "(min-max) requests per second over the rounds. Client and server share one "
            "process (and the GIL), as in a test. pytest-httpserver has no keep-alive rows: "
            "by default it answers HTTP/1.0 with `Connection: close`, and with `threaded=True` "
            "HTTP/1.1, still with `Connection: close` (Werkzeug closes every connection), so a "
            "client gets a new connection per request from it. Werkzeug's request log is turned "
            "down to WARNING (it writes a line per request to stderr otherwise). aiohttp is "
            "`aiohttp.test_utils.TestServer` around a one-route `aiohttp.web` app, its loop in "
            "a thread of the same process, access log off; it keeps connections alive.",
            "",
            table(["server", "client", "client threads", "requests/s"], rows),
            "",
            "Ratios (per round, median (min-max)):",
            "",
            table(["client threads", "ratio", "value"], ratio_rows),
            "",
            "Target (throughput at least twice pytest-httpserver's, read as mockprogress "
            "keep-alive against the default pytest-httpserver): "
            f"{'met' if target_met else 'NOT met'} (see the first ratio row per thread count).",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--markdown", type=Path, help="write the results section here")
    parser.add_argument("--json", type=Path, help="write the raw measurements here")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    results = measure(args.requests, args.rounds)
    command = (
        f"python benchmarks/bench_keepalive.py --requests {args.requests} --rounds {args.rounds}"
    )
    text = markdown(results, args.requests, args.rounds, command)
    if args.json:
        args.json.write_text(
            json.dumps([{"config": list(k), "rates": v} for k, v in results.items()], indent=1)
        )
    if args.markdown:
        args.markdown.write_text(text)
    print("\n".join(machine_lines()))
    print()
    print(text)


if __name__ == "__main__":
    main()
