"""Where a test's time goes, set-up, call and teardown, with each fixture.

The suites of ``bench_fixture_overhead.py`` (its generated files, same conftest), run
``--rounds`` times each, interleaved: the fixture alone and with one expectation and one
GET, for ``mockprogress_server`` and pytest-httpserver's ``httpserver``. A hook records
pytest's own duration of each phase of each test (``TestReport.duration``); printed: the
median per phase, per variant, over the rounds' medians. ``bench_fixture_overhead.py``
gives the totals; this says which phase they come from (ours: a teardown that waits for
the loop to close the test's connection; theirs: a longer call).

Not part of ``make bench``: a probe behind figures in benchmarks/README.md.
Run: ``.venv/bin/python benchmarks/probe_test_phases.py [--tests 1000] [--rounds 3]``.
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

PHASES_HOOK = """

_phases = {"setup": [], "call": [], "teardown": []}


def pytest_runtest_logreport(report):
    _phases[report.when].append(report.duration)


def pytest_unconfigure(config):
    out = os.environ.get("PROBE_PHASES")
    if out:
        with open(out, "w") as f:
            json.dump(_phases, f)
"""
VARIANTS = ("mp_fixture", "hs_fixture", "mp_request", "hs_request")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    WORK.mkdir(exist_ok=True)
    medians: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        root = Path(tmp)
        write_suite(root, args.tests)
        with (root / "conftest.py").open("a") as conftest:
            conftest.write(PHASES_HOOK)
        env = dict(os.environ, PROBE_PHASES=str(root / "phases.json"))
        env.pop("PYTEST_ADDOPTS", None)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        for _ in range(args.rounds + 1):  # the first round compiles the files: not counted
            for variant in VARIANTS:
                cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
                proc = subprocess.run(
                    [*cmd, f"test_{variant}.py"], cwd=root, env=env, capture_output=True
                )
                if proc.returncode != 0:
                    raise SystemExit(f"{variant} failed:\n{proc.stdout.decode()[-3000:]}")
                phases = json.loads((root / "phases.json").read_text())
                for phase, durations in phases.items():
                    medians.setdefault((variant, phase), []).append(
                        statistics.median(durations) * 1e6
                    )
    for variant in VARIANTS:
        cells = []
        for phase in ("setup", "call", "teardown"):
            rounds = medians[(variant, phase)][1:]
            cells.append(f"{phase} {statistics.median(rounds):6.1f} us")
        print(f"{variant:11} " + ", ".join(cells))
    print(f"(median per phase of {args.tests} tests, median over {args.rounds} rounds)")


if __name__ == "__main__":
    main()
