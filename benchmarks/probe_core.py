"""What a GET costs the sans-IO core alone: no sockets, no event loop, no client.

One ``ServerConnection`` (engine/connection.py) is fed the same request head as canned bytes,
``--requests`` times: on one connection (``keep-alive``) or each on a connection of its own
that the client then closes (``new connection``). Every ``Send`` is discarded. The server
has one expectation, ``expect("GET", "/hello").respond(mp.respond(200, body=...))``, and
journals every exchange as it always does.

Three figures:

- objects the cyclic garbage collector tracks that the journal keeps per GET (each is walked
  by the collector's rounds for as long as the journal holds it);
- the collector's rounds in one run of ``--requests`` GETs, per generation (youngest,
  middle, full), per 10,000 GETs: what sets a round off is the count of objects made and
  not yet freed, and a full round walks the whole journal;
- time: microseconds per GET, min and median over ``--rounds`` runs (the journal cleared
  between runs). Noisy on a shared machine;
- ``--instructions``: instructions per GET counted by ``valgrind --tool=callgrind`` (this
  script run under it twice, for 100 GETs and for 100 + ``--requests``; the difference over
  ``--requests``). The same on every run of the same code, whatever else the machine does:
  what benchmarks/README.md's rounds compare.

Not part of ``make bench``: a probe behind figures in benchmarks/README.md.
Run: ``.venv/bin/python benchmarks/probe_core.py [--requests 3000] [--rounds 9]
[--instructions]``.
"""

from __future__ import annotations

import argparse
import gc
import re
import shutil
import statistics
import subprocess
import sys
import time

import mockprogress as mp
from mockprogress.engine.actions import Receive, Send
from mockprogress.engine.connection import ServerConnection
from mockprogress.engine.state import ServerState

HEAD = b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: probe\r\nAccept: */*\r\n\r\n"
MODES = ("keep-alive", "new connection")


def make_state() -> ServerState:
    server = mp.MockServer()
    server.expect("GET", "/hello").respond(mp.respond(200, body=b"hello world\n"))
    state: ServerState = server._state
    state.apply_posted()
    return state


def serve(state: ServerState, requests: int) -> int:
    """Feed one connection ``requests`` heads, then its end; the number of writes."""
    program = ServerConnection(state, time.monotonic, "127.0.0.1").run()
    left, result, writes = requests, None, 0
    while True:
        try:
            action = program.send(result)
        except StopIteration:
            return writes
        result = None
        if isinstance(action, Receive):
            result = HEAD if left else b""
            left = max(0, left - 1)
        elif isinstance(action, Send):
            writes += 1


def run(state: ServerState, mode: str, requests: int) -> None:
    if mode == "keep-alive":
        assert serve(state, requests) == requests
    else:
        for _ in range(requests):
            serve(state, 1)


def timed(mode: str, requests: int, rounds: int) -> list[float]:
    state = make_state()
    run(state, mode, 100)  # warm-up
    per_get = []
    for _ in range(rounds):
        state.clear_journal()
        gc.collect()
        start = time.perf_counter()
        run(state, mode, requests)
        per_get.append((time.perf_counter() - start) / requests * 1e6)
    return per_get


def tracked_objects(mode: str, requests: int) -> float:
    """Objects the cyclic garbage collector tracks, per GET, that the journal keeps."""
    state = make_state()
    run(state, mode, 100)
    state.clear_journal()
    gc.collect()
    before = len(gc.get_objects())
    run(state, mode, requests)
    gc.collect()
    return (len(gc.get_objects()) - before) / requests


def collector_rounds(mode: str, requests: int) -> list[float]:
    """The collector's rounds per generation during one run, per 10,000 GETs."""
    state = make_state()
    run(state, mode, 100)
    state.clear_journal()
    gc.collect()
    rounds = [0, 0, 0]

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            rounds[info["generation"]] += 1

    gc.callbacks.append(count)
    try:
        run(state, mode, requests)
    finally:
        gc.callbacks.remove(count)
    return [n / requests * 10_000 for n in rounds]


def instructions(mode: str, requests: int) -> int:
    """Instructions per GET: this script under callgrind, 100 GETs and 100 + ``requests``."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("--instructions needs valgrind (apt-get install valgrind)")

    def count(n: int) -> int:
        tool = [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null"]
        out = subprocess.run(
            [*tool, sys.executable, __file__, "--only-run", str(n), "--mode", mode],
            capture_output=True,
            text=True,
            check=True,
        )
        found = re.search(r"Collected : (\d+)", out.stderr)
        assert found is not None, out.stderr
        return int(found.group(1))

    return (count(100 + requests) - count(100)) // requests


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--mode", choices=MODES, action="append")
    parser.add_argument("--instructions", action="store_true")
    parser.add_argument("--only-run", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    modes = args.mode or list(MODES)
    if args.only_run is not None:  # one run under callgrind
        run(make_state(), modes[0], args.only_run)
        return
    for mode in modes:
        per_get = timed(mode, args.requests, args.rounds)
        line = (
            f"{mode:15} {min(per_get):6.1f} us/GET min, {statistics.median(per_get):6.1f} "
            f"median ({args.rounds} runs of {args.requests}); "
            f"{tracked_objects(mode, args.requests):.1f} objects tracked by the GC kept a GET; "
            "collector rounds per 10,000 GETs (youngest, middle, full): "
            + ", ".join(f"{n:.1f}" for n in collector_rounds(mode, args.requests))
        )
        if args.instructions:
            line += f"; {instructions(mode, args.requests):,} instructions/GET (callgrind)"
        print(line)


if __name__ == "__main__":
    main()
