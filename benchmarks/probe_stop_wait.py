"""How long a test's ``stop()`` waits for the loop, and for what.

The suite of ``bench_fixture_overhead.py``'s ``mp_request`` variant (one expectation, one
GET with a fresh connection that the client closes) is run ``--rounds`` times under pytest,
with a plugin that wraps three methods of ``MockServer`` and records when each ran:
``_stop_on_listener`` (the test's thread: the stop begins and ends), ``_detach`` (the loop
takes the stop) and ``_last_connection_ended`` (the loop has ended the test's connection).
Printed: how many stops had a connection to wait for, and the medians of the three
stretches: stop to the loop taking it, the loop taking it to the connection's end, and that
end to the test's thread running again.

Not part of ``make bench``: a probe behind figures in benchmarks/README.md (sixth round).
Run: ``.venv/bin/python benchmarks/probe_stop_wait.py [--tests 1000] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import WORK
from bench_fixture_overhead import write_suite

PLUGIN = """
import json
import os
import time

from mockprogress.server.server import MockServer

_stop, _detach, _last = (
    MockServer._stop_on_listener,
    MockServer._detach,
    MockServer._last_connection_ended,
)
_records = []
_current = {}


def stop(self, listener):
    _current.clear()
    _current["stop"] = time.perf_counter()
    _stop(self, listener)
    _current["awake"] = time.perf_counter()
    _records.append(dict(_current))


def detach(self, done):
    _current["detach"] = time.perf_counter()
    _detach(self, done)


def last(self, detached):
    _current.setdefault("ended", time.perf_counter())
    _last(self, detached)


MockServer._stop_on_listener = stop
MockServer._detach = detach
MockServer._last_connection_ended = last


def pytest_unconfigure(config):
    with open(os.environ["PROBE_STOPS"], "w") as f:
        json.dump(_records, f)
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    WORK.mkdir(exist_ok=True)
    records: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        root = Path(tmp)
        write_suite(root, args.tests)
        (root / "probe_stops.py").write_text(PLUGIN)
        path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
        env = dict(os.environ, PROBE_STOPS=str(root / "stops.json"), PYTHONPATH=path)
        env.pop("PYTEST_ADDOPTS", None)
        for _ in range(args.rounds):
            cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
            cmd += ["-p", "probe_stops", "test_mp_request.py"]
            proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True)
            if proc.returncode != 0:
                raise SystemExit(proc.stdout.decode()[-3000:])
            records.extend(json.loads((root / "stops.json").read_text()))
    waited = [r for r in records if "detach" in r and "ended" in r]

    def median(start: str, end: str) -> float:
        return statistics.median((r[end] - r[start]) * 1e6 for r in waited)

    print(f"{len(waited)} of {len(records)} stops waited for the loop to end a connection")
    print(
        f"stop -> the loop takes it {median('stop', 'detach'):.1f} us, "
        f"-> the connection's end {median('detach', 'ended'):.1f} us, "
        f"-> the test's thread again {median('ended', 'awake'):.1f} us; "
        f"in all {median('stop', 'awake'):.1f} us (medians)"
    )


if __name__ == "__main__":
    main()
