"""Two revisions of mockprogress side by side, and pytest-httpserver in the same rounds.

``bench_keepalive.py``'s client (``--client``: ``new connection`` or ``keep-alive``;
``--threads`` client threads, ``--requests`` requests) against a thread-mode ``MockServer``
imported from each ``--tree`` (a checkout of the repository, e.g. a ``git worktree`` of the
revision before a change), and against pytest-httpserver: each measurement in a fresh
process, the three alternating, ``--rounds`` times. Prints each round's requests per second
and the median (min-max) of the per-round ratios: the second tree against the first, each
against pytest-httpserver. What an A/B of one change in ``benchmarks/README.md`` quotes.

Not part of ``make bench``. Run from the repository root:
``.venv/bin/python benchmarks/probe_ab.py --tree /tmp/before --tree . [--rounds 10]
[--threads 4] [--requests 8000] [--client "new connection"]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measure(server: str, client: str, threads: int, requests: int) -> float:
    """Requests per second of one measurement, in this process."""
    import bench_keepalive as bk

    return bk.measure_one(server, client, threads, total=requests, warmup=100)


def run(tree: Path | None, args: argparse.Namespace) -> float:
    """One measurement in a fresh process: mockprogress from ``tree``, or (None)
    pytest-httpserver."""
    env = dict(os.environ)
    server = "pytest-httpserver"
    if tree is not None:
        env["PYTHONPATH"] = str(tree.resolve())
        server = "mockprogress"
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--only",
        server,
        "--client",
        args.client,
        "--threads",
        str(args.threads),
        "--requests",
        str(args.requests),
    ]
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.split()[-1])


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.2f}-{max(values):.2f})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, action="append", default=[])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--requests", type=int, default=8000)
    parser.add_argument(
        "--client", choices=("keep-alive", "new connection"), default="new connection"
    )
    parser.add_argument("--only", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.only is not None:
        sys.path.insert(0, str(HERE))
        print(measure(args.only, args.client, args.threads, args.requests))
        return
    if len(args.tree) != 2:
        parser.error("give two --tree: the first is the one compared against")
    first, second = args.tree
    rows: list[tuple[float, float, float]] = []
    for r in range(args.rounds):
        a, b, hs = run(first, args), run(second, args), run(None, args)
        rows.append((a, b, hs))
        print(
            f"round {r + 1}: {first} {a:7.0f}  {second} {b:7.0f}  pytest-httpserver {hs:7.0f} req/s"
        )
    print(f"{second} / {first}: {summary([b / a for a, b, _ in rows])}")
    print(f"{first} / pytest-httpserver: {summary([a / hs for a, _, hs in rows])}")
    print(f"{second} / pytest-httpserver: {summary([b / hs for _, b, hs in rows])}")


if __name__ == "__main__":
    main()
