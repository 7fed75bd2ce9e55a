"""What the server costs without its core: the floor of the I/O layer, against the real thing.

``bench_keepalive.py``'s keep-alive client (or, with ``--client "new connection"``, its
client that opens a connection per request; ``--threads`` client threads, ``--requests``
GETs) against a thread-mode ``MockServer`` twice per round: as it is, and with
``ServerConnection.run`` (the sans-IO core's program for a connection) replaced by a fixed
program that answers every read with the same canned response. The driver, its reader, the
event loop and the thread-mode server are the same in both; the difference is the core and
what it keeps (the journal, and the garbage collector's rounds that the journal sets off).
Each in a fresh process (the replacement is a monkeypatch), alternating, ``--rounds`` times;
prints requests per second and user CPU a request, and the medians.

Not part of ``make bench``: a probe behind a figure in benchmarks/README.md (What is left).
Run: ``.venv/bin/python benchmarks/probe_driver_floor.py [--requests 40000] [--threads 4]
[--rounds 3] [--client "new connection"]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from typing import Any

MODES = ("floor", "real")


def measure(mode: str, requests: int, threads: int, client: str) -> tuple[float, float]:
    """Requests per second and user CPU a request (us), this process, ``mode``, with
    ``bench_keepalive.py``'s ``client`` (``keep-alive`` or ``new connection``)."""
    import bench_keepalive as bk

    if mode == "floor":
        from mockprogress.engine import connection
        from mockprogress.engine.actions import Close, Receive, Send

        canned = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(bk.BODY), bk.BODY)

        def answer_every_read(self: Any) -> Any:
            while True:
                data = yield Receive(65536)
                if not data:
                    yield Close("close")
                    return None
                yield Send(canned)

        connection.ServerConnection.run = answer_every_read  # type: ignore[method-assign]
    with bk.mockprogress_server() as port:
        bk.keepalive_client(port, 100)
        before = os.times()
        rate = bk.run_clients(port, bk.CLIENTS[client], threads, requests)
        after = os.times()
    return rate, (after.user - before.user) / requests * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--client", choices=("keep-alive", "new connection"), default="keep-alive")
    parser.add_argument("--only", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.only:
        rate, user = measure(args.only, args.requests, args.threads, args.client)
        print(f"{rate} {user}")
        return
    results: dict[str, list[tuple[float, float]]] = {mode: [] for mode in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            command = [sys.executable, __file__, "--only", mode]
            command += ["--requests", str(args.requests), "--threads", str(args.threads)]
            command += ["--client", args.client]
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            rate, user = (float(x) for x in out.split()[-2:])
            results[mode].append((rate, user))
            print(f"{mode:6} {rate:8.0f} req/s, user {user:5.1f} us a request")
    for mode, runs in results.items():
        rate = statistics.median(r for r, _ in runs)
        user = statistics.median(u for _, u in runs)
        print(f"median {mode:6} {rate:8.0f} req/s, user {user:5.1f} us a request")


if __name__ == "__main__":
    main()
