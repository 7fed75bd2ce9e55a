"""What each piece of a fixture-style test costs, mockprogress against pytest-httpserver.

Outside pytest, the same cycle as a test using each fixture, timed piece by piece and
interleaved (one mockprogress cycle, one pytest-httpserver cycle, and so on):

- mockprogress (what ``mockprogress_server`` does on the session's ``SharedListener``):
  ``MockServer()`` + ``start(listener=...)``, ``expect().respond()``, the GET, ``stop()``,
  ``check()``;
- pytest-httpserver (what ``httpserver`` does on its session server): nothing to start,
  ``expect_request().respond_with_data()``, the GET, ``check_assertions()``, ``clear()``.

The GET is the same ``http.client`` helper as in ``bench_fixture_overhead.py`` (a new
connection, closed afterwards). Prints the median and p90 of each piece in microseconds.
``--no-get`` leaves the GET out (the fixture's own cost).

Not part of ``make bench``: a probe behind the figures in benchmarks/README.md.
Run: ``.venv/bin/python benchmarks/probe_fixture_pieces.py [--cycles 2000] [--no-get]``.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import statistics
import time

import mockprogress as mp
from mockprogress.server.listener import SharedListener

BODY = b"hello world\n"


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=2000)
    parser.add_argument("--no-get", action="store_true", help="leave the GET out")
    args = parser.parse_args(argv)
    from pytest_httpserver import HTTPServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    ours: dict[str, list[float]] = {k: [] for k in ("set-up", "expect", "GET", "stop", "check")}
    theirs: dict[str, list[float]] = {k: [] for k in ("expect", "GET", "check", "clear")}
    hs = HTTPServer("127.0.0.1", 0)
    hs.start()
    try:
        with SharedListener() as listener:
            for cycle in range(args.cycles + 100):  # the first 100 warm up, untimed
                t0 = time.perf_counter()
                srv = mp.MockServer().start(listener=listener)
                t1 = time.perf_counter()
                srv.expect("GET", "/hello").respond(mp.respond(200, body=BODY))
                t2 = time.perf_counter()
                if not args.no_get:
                    assert get(srv.port, "/hello") == (200, BODY)
                t3 = time.perf_counter()
                srv.stop()
                t4 = time.perf_counter()
                srv.check()
                t5 = time.perf_counter()
                hs.expect_request("/hello", method="GET").respond_with_data(BODY)
                t6 = time.perf_counter()
                if not args.no_get:
                    assert get(hs.port, "/hello") == (200, BODY)
                t7 = time.perf_counter()
                if not args.no_get:
                    hs.check_assertions()
                t8 = time.perf_counter()
                hs.clear()
                t9 = time.perf_counter()
                if cycle < 100:
                    continue
                for name, a, b in zip(
                    ours, (t0, t1, t2, t3, t4), (t1, t2, t3, t4, t5), strict=True
                ):
                    ours[name].append(b - a)
                for name, a, b in zip(theirs, (t5, t6, t7, t8), (t6, t7, t8, t9), strict=True):
                    theirs[name].append(b - a)
    finally:
        hs.stop()
    for title, pieces in (("mockprogress", ours), ("pytest-httpserver", theirs)):
        total = [sum(p) for p in zip(*pieces.values(), strict=True)]
        for name, values in (*pieces.items(), ("total", total)):
            values.sort()
            median = statistics.median(values) * 1e6
            p90 = values[int(len(values) * 0.9)] * 1e6
            print(f"{title:18} {name:7} median {median:6.0f} us   p90 {p90:6.0f} us")
    print(f"({args.cycles} cycles each, interleaved)")


if __name__ == "__main__":
    main()
