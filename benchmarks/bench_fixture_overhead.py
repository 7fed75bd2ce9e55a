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

Three figures per variant and round, each against the same round's baseline run:

- wall: (the run's wall time - the baseline's) / N. What a suite pays, one-off costs included
  (imports, pytest-httpserver's one server start and its stop, which waits out
  ``serve_forever``'s 0.5 s poll; our one background event loop);
- median: the median time from a test's ``logstart`` to its ``logfinish`` (setup, call and
  teardown) minus the baseline's. Leaves the one-off costs and the slow tail out;
- mean: the mean of the same durations without the first and last test (which carry the
  session fixtures' set-up and teardown) minus the baseline's. Keeps the slow tail.

The generated files' bytecode is cached (``PYTHONDONTWRITEBYTECODE`` is dropped for the runs),
so rewriting the asserts of 1,000 tests is paid in the warm-up round only.

pytest-httpserver's ``httpserver`` fixture shares ONE session-scoped server and only
``clear()``s it per test; ``mockprogress_server`` makes a fresh server per test (empty state,
its own connections) on the session's listening socket, stops it at teardown (closing its
connections) and runs ``check()``.

Run: ``.venv/bin/python benchmarks/bench_fixture_overhead.py [--tests 1000] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import WORK, Summary, machine_lines, table

CLIENT = '''\
import http.client
import ssl

_contexts = {}


def get_tls(port, path, cafile):
    """One GET over HTTPS on a fresh connection; the client's context is made once, as a
    suite's HTTP client would make it."""
    context = _contexts.get(cafile) or _contexts.setdefault(
        cafile, ssl.create_default_context(cafile=cafile)
    )
    conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


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

HEADER = "import pytest\nimport mockprogress as mp\n\nfrom _client import get, get_tls\n\n"

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
    "mp_tls_request": (
        "mockprogress_server, mockprogress_ca",
        "    srv = mockprogress_server\n"
        '    srv.expect("GET", "/hello").respond(mp.respond(200, body=b"hello world\\n"))\n'
        '    got = get_tls(srv.port, "/hello", mockprogress_ca.ca_file)\n'
        '    assert got == (200, b"hello world\\n")\n',
    ),
}
#: A marker put on each test of a variant.
MARKERS = {"mp_tls_request": "@pytest.mark.mockprogress(tls=True)\n"}
VARIANTS = list(BODIES)
LABELS = {
    "mp_fixture": "mockprogress_server, fixture only",
    "hs_fixture": "httpserver, fixture only",
    "mp_request": "mockprogress_server, 1 expectation + 1 GET",
    "hs_request": "httpserver, 1 expectation + 1 GET",
    "mp_tls_request": "mockprogress_server with tls=True, 1 expectation + 1 GET over HTTPS",
}


def write_suite(root: Path, tests: int) -> None:
    (root / "pytest.ini").write_text("[pytest]\n")
    (root / "conftest.py").write_text(CONFTEST)
    (root / "_client.py").write_text(CLIENT)
    for variant, (arg, body) in BODIES.items():
        parts = [HEADER]
        marker = MARKERS.get(variant, "")
        parts.extend(f"\n{marker}def test_{i:05d}({arg}):\n{body}" for i in range(tests))
        (root / f"test_{variant}.py").write_text("".join(parts))


def run_once(root: Path, variant: str, tests: int) -> tuple[float, list[float]]:
    durations = root / f"durations_{variant}.json"
    env = dict(os.environ, BENCH_DURATIONS=str(durations))
    env.pop("PYTEST_ADDOPTS", None)
    # Cache the generated files' bytecode (as Python does by default), so that rewriting and
    # compiling 1,000 tests with asserts is paid once, in the warm-up round, not timed.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"test_{variant}.py"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0 or f"{tests} passed" not in proc.stdout:
        raise SystemExit(f"{variant} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return wall, json.loads(durations.read_text())


#: The HTTPS variant and the plain one it is compared with.
TLS_PAIR = ("mp_tls_request", "mp_request")
#: Per round and variant: the run's wall time, the median per-test duration, and the mean
#: per-test duration without the first and last tests (which carry session set-up/teardown).
FIGURES = ("wall", "median", "mean")


def measure(tests: int, rounds: int, warmup: int = 1) -> dict[str, object]:
    WORK.mkdir(parents=True, exist_ok=True)
    raw: dict[str, dict[str, list[float]]] = {f: {v: [] for v in VARIANTS} for f in FIGURES}
    with tempfile.TemporaryDirectory(dir=WORK, prefix="fixture-") as tmp:
        root = Path(tmp)
        write_suite(root, tests)
        for r in range(warmup + rounds):
            for variant in VARIANTS:
                wall, durations = run_once(root, variant, tests)
                if r >= warmup:
                    raw["wall"][variant].append(wall)
                    raw["median"][variant].append(statistics.median(durations))
                    raw["mean"][variant].append(statistics.fmean(durations[1:-1]))
                label = f"round {r - warmup + 1}" if r >= warmup else "warm-up"
                print(f"{label}: {variant:<10} {wall:6.2f} s", file=sys.stderr)
    return {"tests": tests, "rounds": rounds, **raw}


def overheads(data: dict[str, object], figure: str, variant: str) -> list[float]:
    """Per round: the variant's per-test overhead over the same round's baseline, seconds."""
    values: dict[str, list[float]] = data[figure]  # type: ignore[assignment]
    scale = int(data["tests"]) if figure == "wall" else 1  # type: ignore[call-overload]
    return [(x - b) / scale for x, b in zip(values[variant], values["baseline"], strict=True)]


def ratios(a: list[float], b: list[float]) -> Summary:
    return Summary.of([x / y for x, y in zip(a, b, strict=True)])


def markdown(data: dict[str, object], command: str) -> str:
    tests = int(data["tests"])  # type: ignore[call-overload]
    rounds = int(data["rounds"])  # type: ignore[call-overload]
    walls: dict[str, list[float]] = data["wall"]  # type: ignore[assignment]
    medians: dict[str, list[float]] = data["median"]  # type: ignore[assignment]
    ms = 1000.0
    rows = [
        [
            "baseline (empty tests)",
            Summary.of(walls["baseline"]).fmt(1, 2, " s"),
            Summary.of(medians["baseline"]).fmt(ms, 3, " ms") + " per test",
            "",
            "",
        ]
    ]
    rows.extend(
        [
            LABELS[v],
            Summary.of(walls[v]).fmt(1, 2, " s"),
            *(Summary.of(overheads(data, f, v)).fmt(ms, 3, " ms") for f in FIGURES),
        ]
        for v in VARIANTS[1:]
    )
    ratio_rows = [
        [
            "fixture only" if kind == "fixture" else "1 expectation + 1 GET",
            *(
                ratios(overheads(data, f, f"mp_{kind}"), overheads(data, f, f"hs_{kind}")).fmt(
                    1, 2, "x"
                )
                for f in FIGURES
            ),
        ]
        for kind in ("fixture", "request")
    ]
    tls_extra = Summary.of(
        [x - y for x, y in zip(*(overheads(data, "median", v) for v in TLS_PAIR), strict=True)]
    )
    tls_ratio = ratios(*(overheads(data, "median", v) for v in TLS_PAIR))
    verdicts = ", ".join(
        f"{f} figure {'met' if ratio <= 1 else 'NOT met'} ({ratio:.2f}x)"
        for f in FIGURES
        for ratio in [
            ratios(overheads(data, f, "mp_request"), overheads(data, f, "hs_request")).median
        ]
    )
    return "\n".join(
        [
            "## Per-test overhead of the fixture (`bench_fixture_overhead.py`)",
            "",
            f"Command: `{command}`",
            "",
            f"{tests} generated tests per pytest run; {rounds} rounds, each running every "
            "variant once, after one warm-up round; median (min-max) over the rounds. "
            "Per-test overhead, three ways, each against the same round's baseline run:",
            "",
            f"- *wall*: (the run's wall time - the baseline's) / {tests}. What a suite pays, "
            "one-off costs included: interpreter start, plugin imports (mockprogress imports "
            "its server modules in the first test), pytest-httpserver's one server start and "
            "its stop at session end (`shutdown()` waits out `serve_forever`'s 0.5 s poll).",
            "- *median*: the median per-test time (pytest's logstart to logfinish: setup, call "
            "and teardown) - the baseline's. Leaves the one-off costs and the slow tail out.",
            "- *mean*: the mean per-test time without the first and the last test (they carry "
            "the session fixtures' set-up and teardown) - the baseline's. Keeps the slow tail.",
            "",
            table(
                [
                    "variant",
                    "wall time of the run",
                    "overhead/test, wall",
                    "overhead/test, median",
                    "overhead/test, mean",
                ],
                rows,
            ),
            "",
            "Ratio of the overheads, mockprogress / pytest-httpserver, per round, median "
            "(min-max); below 1 means mockprogress costs less:",
            "",
            table(["test body", "wall", "median", "mean"], ratio_rows),
            "",
            "Not quite like for like: pytest-httpserver's `httpserver` fixture uses ONE "
            "session-scoped server and only `clear()`s it per test; `mockprogress_server` "
            "makes a fresh server per test (empty state, its own connections) on the "
            "session's listening socket, stops it at teardown (closing its connections) and "
            "runs `check()`. The same `http.client` helper makes the GET in both (a new "
            "connection per request). pytest-httpserver's `check_assertions()` is called in "
            "its tests; ours runs at teardown.",
            "",
            "Target (per-test overhead, with one request, no more than pytest-httpserver's): "
            f"{verdicts}.",
            "",
            "HTTPS (`@pytest.mark.mockprogress(tls=True)`, the GET over TLS with a client "
            "context made once): the CA and the server's certificate are made once per session "
            "(`mockprogress_ca`), so a test pays a TLS handshake, not a key pair. Its median "
            f"per-test overhead is {tls_ratio.fmt(1, 2, 'x')} the plain test's, "
            f"{tls_extra.fmt(ms, 3, ' ms')} more per test.",
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
