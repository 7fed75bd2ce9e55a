"""Per-test overhead of the ``mockprogress_server`` fixture against pytest-httpserver's.

Method. Five temporary test files of N tests each (N = 1,000 by default) are generated:

- ``baseline``: N empty tests;
- ``mp_fixture`` / ``hs_fixture``: N tests that only take ``mockprogress_server`` /
  pytest-httpserver's ``httpserver`` fixture;
- ``mp_request`` / ``hs_request``: N tests that add one expectation (``expect(...).respond(...)``
  / ``expect_request(...).respond_with_data(...)``) and make one GET with the same
  ``http.client`` helper (a fresh connection per request, closed afterwards), then check
  (ours checks at teardown; pytest-httpserver's ``check_assertions()`` is called in the test).

Each file runs in its own ``python -m pytest -q -p no:cacheprovider`` subprocess, in its own
directory with an empty ``pytest.ini`` (so the repository's settings do not apply), rounds
interleaved (baseline, mp_fixture, hs_fixture, mp_request, hs_request; then again), after one
discarded warm-up round. The same plugins are loaded in every variant.

Two figures per variant and round:

- wall: (variant's wall time - the same round's baseline wall time) / N. This is what a suite
  pays, session-wide costs included (pytest-httpserver's one server start and its stop, which
  waits for ``serve_forever``'s 0.5 s poll; our one background event loop);
- per test: the median time from a test's ``logstart`` to its ``logfinish`` (setup, call and
  teardown) minus the baseline's median. Medians leave the one-off session costs out.

pytest-httpserver's ``httpserver`` fixture shares ONE session-scoped server and only
``clear()``s it per test; ``mockprogress_server`` starts a fresh server (its own listener and
port, empty state) per test and stops it at teardown.

Run: ``.venv/bin/python benchmarks/bench_fixture_overhead.py [--tests 1000] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import WORK, Summary, machine_lines, table

CLIENT = '''\
import http.client


def get(port, path):
    """One GET on a fresh connection, closed afterwards: the same client for every variant."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()
'''

CONFTEST = """\
import json
import os
import time

import pytest

_started = {}
_durations = []


@pytest.fixture(scope="session")
def httpserver_listen_address():
    # pytest-httpserver listens on "localhost" by default; use the address ours uses.
    return ("127.0.0.1", 0)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logstart(nodeid, location):
    _started[nodeid] = time.perf_counter()


@pytest.hookimpl(trylast=True)
def pytest_runtest_logfinish(nodeid, location):
    _durations.append(time.perf_counter() - _started.pop(nodeid))


def pytest_sessionfinish(session, exitstatus):
    out = os.environ.get("BENCH_DURATIONS")
    if out:
        with open(out, "w") as f:
            json.dump(_durations, f)
"""

HEADER = "import mockprogress as mp\n\nfrom _client import get\n\n"

BODIES = {
    "baseline": ("", "    pass\n"),
    "mp_fixture": ("mockprogress_server", "    pass\n"),
    "hs_fixture": ("httpserver", "    pass\n"),
    "mp_request": (
        "mockprogress_server",
        "    srv = mockprogress_server\n"
        '    srv.expect("GET", "/hello").respond(mp.respond(200, body=b"hello world\\n"))\n'
        '    assert get(srv.port, "/hello") == (200, b"hello world\\n")\n',
    ),
    "hs_request": (
        "httpserver",
        '    httpserver.expect_request("/hello", method="GET")'
        '.respond_with_data("hello world\\n")\n'
        '    assert get(httpserver.port, "/hello") == (200, b"hello world\\n")\n'
        "    httpserver.check_assertions()\n",
    ),
}
VARIANTS = list(BODIES)
LABELS = {
    "mp_fixture": "mockprogress_server, fixture only",
    "hs_fixture": "httpserver, fixture only",
    "mp_request": "mockprogress_server, 1 expectation + 1 GET",
    "hs_request": "httpserver, 1 expectation + 1 GET",
}


def write_suite(root: Path, tests: int) -> None:
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "conftest.py").write_text(CONFTEST)
    (root / "_client.py").write_text(CLIENT)
    for variant, (arg, body) in BODIES.items():
        parts = [HEADER]
        parts.extend(f"\ndef test_{i:05d}({arg}):\n{body}" for i in range(tests))
        (root / f"test_{variant}.py").write_text("".join(parts))


def run_once(root: Path, variant: str, tests: int) -> tuple[float, list[float]]:
    durations = root / f"durations_{variant}.json"
    env = dict(os.environ, BENCH_DURATIONS=str(durations))
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"test_{variant}.py"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or f"{tests} passed" not in proc.stdout:
        raise SystemExit(f"{variant} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return wall, json.loads(durations.read_text())


def measure(tests: int, rounds: int, warmup: int = 1) -> dict[str, object]:
    WORK.mkdir(parents=True, exist_ok=True)
    walls: dict[str, list[float]] = {v: [] for v in VARIANTS}
    medians: dict[str, list[float]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory(dir=WORK, prefix="fixture-") as tmp:
        root = Path(tmp)
        write_suite(root, tests)
        for r in range(warmup + rounds):
            for variant in VARIANTS:
                wall, durations = run_once(root, variant, tests)
                if r >= warmup:
                    walls[variant].append(wall)
                    durations.sort()
                    medians[variant].append(durations[len(durations) // 2])
                print(
                    f"round {r - warmup + 1 if r >= warmup else 'warm-up'}: {variant:<10} "
                    f"{wall:6.2f} s",
                    file=sys.stderr,
                )
    return {"tests": tests, "rounds": rounds, "walls": walls, "medians": medians}


def analyse(data: dict[str, object]) -> dict[str, dict[str, Summary]]:
    tests = int(data["tests"])  # type: ignore[call-overload]
    walls: dict[str, list[float]] = data["walls"]  # type: ignore[assignment]
    medians: dict[str, list[float]] = data["medians"]  # type: ignore[assignment]
    base_w, base_m = walls["baseline"], medians["baseline"]
    out: dict[str, dict[str, Summary]] = {}
    for v in VARIANTS[1:]:
        out[v] = {
            "wall_total": Summary.of(walls[v]),
            "wall": Summary.of([(w - b) / tests for w, b in zip(walls[v], base_w, strict=True)]),
            "per_test": Summary.of([m - b for m, b in zip(medians[v], base_m, strict=True)]),
        }
    out["baseline"] = {"wall_total": Summary.of(base_w), "per_test": Summary.of(base_m)}
    return out


def ratios(a: list[float], b: list[float]) -> Summary:
    return Summary.of([x / y for x, y in zip(a, b, strict=True)])


def markdown(data: dict[str, object], command: str) -> str:
    tests = int(data["tests"])  # type: ignore[call-overload]
    rounds = int(data["rounds"])  # type: ignore[call-overload]
    walls: dict[str, list[float]] = data["walls"]  # type: ignore[assignment]
    medians: dict[str, list[float]] = data["medians"]  # type: ignore[assignment]
    s = analyse(data)
    ms = 1000.0
    rows = [["baseline (empty tests)", s["baseline"]["wall_total"].fmt(1, 2, " s"), "—", "—"]]
    rows.extend(
        [
            LABELS[v],
            s[v]["wall_total"].fmt(1, 2, " s"),
            s[v]["wall"].fmt(ms, 3, " ms"),
            s[v]["per_test"].fmt(ms, 3, " ms"),
        ]
        for v in VARIANTS[1:]
    )

    def wall_overheads(v: str) -> list[float]:
        return [(w - b) / tests for w, b in zip(walls[v], walls["baseline"], strict=True)]

    def test_overheads(v: str) -> list[float]:
        return [m - b for m, b in zip(medians[v], medians["baseline"], strict=True)]

    ratio_rows = []
    for kind in ("fixture", "request"):
        mp, hs = f"mp_{kind}", f"hs_{kind}"
        ratio_rows.append(
            [
                "fixture only" if kind == "fixture" else "1 expectation + 1 GET",
                ratios(wall_overheads(mp), wall_overheads(hs)).fmt(1, 2, "x"),
                ratios(test_overheads(mp), test_overheads(hs)).fmt(1, 2, "x"),
            ]
        )
    met_wall = s["mp_request"]["wall"].median <= s["hs_request"]["wall"].median
    met_test = s["mp_request"]["per_test"].median <= s["hs_request"]["per_test"].median
    return "\n".join(
        [
            "## Per-test overhead of the fixture (`bench_fixture_overhead.py`)",
            "",
            f"Command: `{command}`",
            "",
            f"{tests} tests per run, {rounds} rounds interleaved after one warm-up round; "
            "median (min-max) over the rounds. *Overhead/test, wall* = (run's wall time - the "
            f"same round's baseline wall time) / {tests}; it includes each run's one-off "
            "session costs. *Overhead/test, median* = median per-test time (logstart to "
            "logfinish: setup + call + teardown) minus the baseline's; it leaves them out.",
            "",
            table(
                ["variant", "wall time of the run", "overhead/test, wall", "overhead/test, median"],
                rows,
            ),
            "",
            "Ratio mockprogress / pytest-httpserver (per round, median (min-max)); below 1 means "
            "mockprogress costs less:",
            "",
            table(["test body", "wall overhead ratio", "median overhead ratio"], ratio_rows),
            "",
            "Not like for like: pytest-httpserver's `httpserver` fixture uses ONE session-scoped "
            "server and only `clear()`s it per test; `mockprogress_server` starts a fresh server "
            "per test (a new listener on a new port, empty state) and stops it at teardown, "
            "then runs `check()`. pytest-httpserver's wall figure includes its one server start "
            "and its stop at session end (`shutdown()` waits for `serve_forever`'s 0.5 s poll), "
            f"spread over {tests} tests.",
            "",
            "Target (per-test overhead no more than pytest-httpserver's, with one request): "
            f"wall figure {'met' if met_wall else 'NOT met'}, median figure "
            f"{'met' if met_test else 'NOT met'}.",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--markdown", type=Path, help="write the results section here")
    parser.add_argument("--json", type=Path, help="write the raw measurements here")
    args = parser.parse_args(argv)
    data = measure(args.tests, args.rounds)
    command = f"python benchmarks/bench_fixture_overhead.py --tests {args.tests} " + (
        f"--rounds {args.rounds}"
    )
    text = markdown(data, command)
    if args.json:
        args.json.write_text(json.dumps(data, indent=1))
    if args.markdown:
        args.markdown.write_text(text)
    print("\n".join(machine_lines()))
    print()
    print(text)


if __name__ == "__main__":
    main()
