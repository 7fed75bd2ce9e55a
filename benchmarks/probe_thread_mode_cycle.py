"""Where a thread-mode server's start-stop cycle spends its time, outside pytest.

Holds a lease on the shared loop (as the pytest plugin does for a session), then times
``MockServer().start()``, ``stop()`` and ``check()`` separately over many cycles and prints
the median and p90 of each. ``start()`` binds and posts the server task without waiting, so
the loop's work for the start shows up in ``stop()``, which waits for the server task's end.

Not part of ``make bench``: a probe behind the figures in benchmarks/README.md ("What is
left"). Run: ``.venv/bin/python benchmarks/probe_thread_mode_cycle.py [--cycles 3000]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import mockprogress as mp
from mockprogress.server.portal import portal_provider


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=3000)
    args = parser.parse_args(argv)
    phases: dict[str, list[float]] = {"new + start": [], "stop": [], "check": []}
    with portal_provider():
        with mp.MockServer():
            pass  # warm-up: imports, the loop thread
        for _ in range(args.cycles):
            t0 = time.perf_counter()
            srv = mp.MockServer()
            srv.start()
            t1 = time.perf_counter()
            srv.stop()
            t2 = time.perf_counter()
            srv.check()
            t3 = time.perf_counter()
            phases["new + start"].append(t1 - t0)
            phases["stop"].append(t2 - t1)
            phases["check"].append(t3 - t2)
    for name, values in phases.items():
        values.sort()
        median = statistics.median(values) * 1e6
        p90 = values[int(len(values) * 0.9)] * 1e6
        print(f"{name:12} median {median:6.0f} us   p90 {p90:6.0f} us   ({args.cycles} cycles)")


if __name__ == "__main__":
    main()
