"""The CPU a keep-alive request costs the process, mockprogress against aiohttp's test server.

The servers and the client of ``bench_keepalive.py`` (same process: the client threads and
the server's loop share the GIL), ``--requests`` keep-alive GETs from ``--threads`` client
threads, alternating the two servers ``--rounds`` times. ``os.times()`` around each run
gives user and system CPU per request; with the loop thread the bottleneck (several client
threads), user CPU per request is where the servers differ. ``gc.callbacks`` time the cyclic
garbage collector's rounds during the run (a server that keeps a journal sets them off: each
exchange it keeps adds objects the collector walks). Prints each run and the medians.

Not part of ``make bench``: a probe behind figures in benchmarks/README.md (What is left).
Run: ``.venv/bin/python benchmarks/probe_keepalive_cpu.py [--requests 8000] [--threads 4]
[--rounds 3]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from typing import Any

from bench_keepalive import SERVERS, keepalive_client, run_clients


class _CollectorClock:
    """The time the cyclic garbage collector's rounds take while it is installed."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


def run(server: str, requests: int, threads: int) -> tuple[float, float, float, float]:
    """Requests per second; user CPU, system CPU and the collector's time per request, in
    microseconds."""
    clock = _CollectorClock()
    with SERVERS[server]()() as port:  # type: ignore[attr-defined]
        keepalive_client(port, 100)
        before = os.times()
        gc.callbacks.append(clock)
        try:
            rate = run_clients(port, keepalive_client, threads, requests)
        finally:
            gc.callbacks.remove(clock)
        after = os.times()
    return (
        rate,
        (after.user - before.user) / requests * 1e6,
        (after.system - before.system) / requests * 1e6,
        clock.seconds / requests * 1e6,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=8000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    results: dict[str, list[tuple[float, float, float, float]]] = {
        "mockprogress": [],
        "aiohttp": [],
    }
    for _ in range(args.rounds):
        for server in results:
            figures = run(server, args.requests, args.threads)
            results[server].append(figures)
            print(
                f"{server:12} {figures[0]:8.0f} req/s, user {figures[1]:5.1f} us, "
                f"system {figures[2]:5.1f} us, collector {figures[3]:5.1f} us a request"
            )
    for server, runs in results.items():
        rate, user, system, collector = (statistics.median(f[i] for f in runs) for i in range(4))
        print(
            f"median {server:12} {rate:8.0f} req/s, user {user:5.1f} us, system "
            f"{system:5.1f} us, collector {collector:5.1f} us a request "
            f"({args.threads} client threads)"
        )


if __name__ == "__main__":
    main()
