"""How precisely the server keeps a script's timing: scheduled pauses and drips.

Each run serves one long script to a raw-socket client on loopback and timestamps every event
as it arrives (``time.monotonic()``, the clock the server's loop uses too):

- pauses: ``processing()``, then ``events`` times ``pause(interval), processing()``. The i-th
  102 is scheduled ``i * interval`` after the first one arrived.
- drip: a body of ``events`` bytes with ``drip(chunk=1, interval=interval)``. Byte i (from 1)
  is scheduled ``i * interval`` after the response head arrived.

The server runs in its own process, so the client's Python code never holds the server's GIL
(a thread would: the interpreter hands the GIL over every 5 ms, which shifted whole runs by
up to 5 ms). The error of an event is its arrival minus its scheduled time. The script
reports p50, p99 and max of the errors (and of the gaps between consecutive events minus the
interval) per backend and run, and the figures over all runs.

    .venv/bin/python benchmarks/bench_timing.py [--events 1000] [--interval 0.005] [--runs 3]
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import platform
import socket
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import mockprogress as mp


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def fetch(port: int, path: str) -> list[tuple[float, bytes]]:
    """Every piece of the response as it arrived, with its arrival time."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        pieces = []
        while data := sock.recv(65536):
            pieces.append((time.monotonic(), data))
    return pieces


def pause_errors(pieces: list[tuple[float, bytes]], interval: float) -> list[float]:
    arrivals: list[float] = []
    for at, data in pieces:
        arrivals += [at] * data.count(b"HTTP/1.1 102 ")
    first = arrivals[0]
    return [at - first - i * interval for i, at in enumerate(arrivals)][1:]


def drip_errors(pieces: list[tuple[float, bytes]], interval: float) -> list[float]:
    head_at, head = pieces[0]
    arrivals: list[float] = []
    body_start = len(head.partition(b"\r\n\r\n")[2])
    arrivals += [head_at] * body_start
    for at, data in pieces[1:]:
        arrivals += [at] * len(data)
    return [at - head_at - (i + 1) * interval for i, at in enumerate(arrivals)]


def gaps(errors: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(errors)]


def summary(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return (
        f"p50 {percentile(ms, 50):7.3f}  p99 {percentile(ms, 99):7.3f}  "
        f"max {max(ms):7.3f} ms  (n={len(ms)})"
    )


def serve(backend: str, events: int, interval: float, conn: Any) -> None:
    """The server process: serve the two scripts until the parent says stop."""
    with mp.MockServer(backend=backend) as srv:
        steps: list[mp.Step] = [mp.processing()]
        for _ in range(events):
            steps += [mp.pause(interval), mp.processing()]
        steps.append(mp.respond(200, b"done", {"Connection": "close"}))
        srv.expect("GET", "/pauses").respond(*steps)
        body = b"x" * events
        drip = mp.respond(200, body, {"Connection": "close"}).drip(chunk=1, interval=interval)
        srv.expect("GET", "/drip").respond(drip)
        conn.send(srv.port)
        conn.recv()


def run(backend: str, events: int, interval: float) -> dict[str, list[float]]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=serve, args=(backend, events, interval, child))
    process.start()
    try:
        port = parent.recv()
        pauses = pause_errors(fetch(port, "/pauses"), interval)
        drips = drip_errors(fetch(port, "/drip"), interval)
    finally:
        parent.send("stop")
        process.join()
    return {
        "pause": pauses,
        "pause gap": gaps(pauses),
        "drip": drips,
        "drip gap": gaps(drips),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=0.005)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backends", default="asyncio,trio")
    args = parser.parse_args(argv)
    print(
        f"# {args.events} events, interval {args.interval * 1000:g} ms, {args.runs} run(s); "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )
    worst = 0.0
    for backend in args.backends.split(","):
        total: dict[str, list[float]] = {}
        p99s: dict[str, list[float]] = {}
        for i in range(args.runs):
            result = run(backend, args.events, args.interval)
            for name, values in result.items():
                print(f"{backend:7} run {i + 1}  {name:9}  {summary(values)}")
                total.setdefault(name, []).extend(values)
                p99s.setdefault(name, []).append(percentile(values, 99) * 1000)
        for name, values in total.items():
            spread = p99s[name]
            print(
                f"{backend:7} all    {name:9}  {summary(values)}  "
                f"run p99 median {statistics.median(spread):.3f} "
                f"(min {min(spread):.3f}, max {max(spread):.3f})"
            )
            if name in ("pause", "drip"):
                worst = max(worst, abs(percentile(values, 99)) * 1000)
    goal = 2.0
    print(
        f"# worst p99 schedule error {worst:.3f} ms; goal {goal} ms: "
        + ("met" if worst <= goal else "NOT met")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
