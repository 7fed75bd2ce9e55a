"""What the cyclic garbage collector costs a long keep-alive run on one server.

One keep-alive client thread (``bench_keepalive.keepalive_client``) sends ``--requests`` GETs
to one thread-mode server, whose journal keeps every exchange; alternately with the collector
on and off (``gc.disable()``), ``--rounds`` times each. Prints requests per second per round
and the medians. With tens of thousands of exchanges in the journal, each full collection
walks all of them.

Not part of ``make bench``: a probe behind a remark in benchmarks/README.md ("What is left").
Run: ``.venv/bin/python benchmarks/probe_keepalive_gc.py [--requests 20000] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time

from bench_keepalive import keepalive_client

import mockprogress as mp


def _rate(requests: int, collect: bool) -> float:
    with mp.MockServer() as srv:
        srv.expect("GET", "/hello").respond(mp.respond(200, body=b"hello world\n"))
        gc.collect()
        if not collect:
            gc.disable()
        try:
            start = time.perf_counter()
            keepalive_client(srv.port, requests)
            return requests / (time.perf_counter() - start)
        finally:
            gc.enable()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    rates: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.rounds):
        for collect in (True, False):
            rates[collect].append(_rate(args.requests, collect))
    for collect, values in rates.items():
        label = "gc on " if collect else "gc off"
        rounds = ", ".join(f"{v:.0f}" for v in values)
        print(f"{label} median {statistics.median(values):6.0f} req/s   rounds: {rounds}")
    ratio = statistics.median(rates[True]) / statistics.median(rates[False])
    print(f"gc on / gc off: {ratio:.2f} ({args.requests} requests a run)")


if __name__ == "__main__":
    main()
