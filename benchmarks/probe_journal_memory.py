"""What the journal keeps in memory per exchange: a small GET, answered with a small body.

``--requests`` GETs are fed to the sans-IO core (``probe_core.py``'s connection, answers
discarded) with ``tracemalloc`` tracing; the memory still allocated afterwards, over the
number of exchanges, is what the journal keeps for each (the server's other state does not
grow with requests). Two ways: the same request head every time (a test repeating a request:
the head is read once and its fields shared, ``engine/heads.py``), and a different target
every time (``/hello?n=1``, ``/hello?n=2``...: each exchange keeps its own request line and
fields). The head is a typical client's (Host, User-Agent, Accept). Prints bytes per
exchange for each.

Not part of ``make bench``: a probe behind the figure in docs/limits.md ("What grows without
a limit"). Run: ``.venv/bin/python benchmarks/probe_journal_memory.py [--requests 10000]``.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

from probe_core import make_state

from mockprogress.engine.actions import Receive
from mockprogress.engine.connection import ServerConnection
from mockprogress.engine.state import ServerState

HEAD = b"GET %s HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"
WAYS = ("same head", "a new target each")


def _serve(state: ServerState, heads: list[bytes]) -> None:
    """The heads on one keep-alive connection, then its end."""
    program = ServerConnection(state, time.monotonic, "127.0.0.1").run()
    pending = iter(heads)
    result: bytes | None = None
    while True:
        try:
            action = program.send(result)
        except StopIteration:
            return
        result = next(pending, b"") if isinstance(action, Receive) else None


def kept_per_exchange(way: str, requests: int) -> float:
    state = make_state()
    if way == "same head":
        heads = [HEAD % b"/hello"] * requests
    else:
        heads = [HEAD % b"/hello?n=%d" % n for n in range(requests)]
    _serve(state, heads[:100])  # warm-up: caches and first-time allocations
    state.clear_journal()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        _serve(state, heads)
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(state.logs) == requests
    return (after - before) / requests


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10000)
    args = parser.parse_args(argv)
    for way in WAYS:
        per = kept_per_exchange(way, args.requests)
        print(f"{way:18} {per:7.0f} bytes kept a GET exchange ({args.requests} exchanges)")


if __name__ == "__main__":
    main()
