"""Run every benchmark script and write benchmarks/RESULTS.md.

Each script runs in its own subprocess, one after the other (never two at once: they would
measure each other), and writes its own section with ``--markdown``; this script adds the
machine, the load on it and the way to rerun. ``make bench`` calls it. Every script also runs
alone, with the command shown in its section.

Run: ``.venv/bin/python benchmarks/run_all.py [--quick] [--only NAME ...]``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import time
from pathlib import Path

from _common import HERE, WORK, machine_lines

#: Each script, with its arguments for a full run and for ``--quick`` (to try the scripts).
SCRIPTS: dict[str, dict[str, list[str]]] = {
    "bench_fixture_overhead.py": {
        "full": ["--tests", "1000", "--rounds", "5"],
        "quick": ["--tests", "200", "--rounds", "2"],
    },
    "bench_keepalive.py": {
        # 8,000 requests a measurement (about a second): with 2,000 (a fifth of a second) the
        # machine's bursts of other work made the ratios' ranges 0.56-1.05 in one run.
        "full": ["--requests", "8000", "--rounds", "5"],
        "quick": ["--requests", "300", "--rounds", "1"],
    },
    "bench_timing.py": {
        "full": ["--events", "1000", "--runs", "5"],
        "quick": ["--events", "200", "--runs", "1"],
    },
    "bench_progress_jobs.py": {
        "full": ["--jobs", "1000", "--rounds", "5", "--find-max"],
        "quick": ["--jobs", "200", "--rounds", "1", "--servers", "ProgressJob", "script"],
    },
    "bench_http2.py": {
        "full": ["--requests", "2000", "--rounds", "5"],
        "quick": ["--requests", "300", "--rounds", "1"],
    },
    "bench_uploads.py": {
        "full": ["--size-mib", "1024", "--rounds", "3"],
        "quick": ["--size-mib", "64", "--rounds", "1"],
    },
    "bench_proxy_streaming.py": {
        "full": ["--size-mib", "1024", "--rounds", "3"],
        "quick": ["--size-mib", "64", "--rounds", "1"],
    },
}


#: The scripts whose raw figures (``--json``) the targets are read from.
TARGET_SCRIPTS = ("bench_fixture_overhead.py", "bench_keepalive.py")


def targets_section() -> str | None:
    """The three speed targets of issue 16, each a ratio per round of figures measured in the
    same run of its script (median, min-max over the rounds), and whether it holds; None
    when either script's raw figures are missing (``--only`` left it out)."""
    import json

    from _common import Summary, table
    from bench_fixture_overhead import overheads

    fixture_raw = WORK / "bench_fixture_overhead.json"
    keepalive_raw = WORK / "bench_keepalive.json"
    if not (fixture_raw.exists() and keepalive_raw.exists()):
        return None
    fixture = json.loads(fixture_raw.read_text())
    rates = {tuple(r["config"]): r["rates"] for r in json.loads(keepalive_raw.read_text())}

    def per_round(a: list[float], b: list[float]) -> Summary:
        return Summary.of([x / y for x, y in zip(a, b, strict=True)])

    rows = []
    for figure in ("median", "mean", "wall"):
        ratio = per_round(
            overheads(fixture, figure, "mp_request"), overheads(fixture, figure, "hs_request")
        )
        rows.append(
            (
                f"per-test cost, 1 expectation + 1 GET ({figure} figure)",
                "mockprogress_server / httpserver",
                "<= 1.0x",
                ratio,
                ratio.median <= 1.0,
            )
        )
    for threads in (1, 4):
        rows.append(
            (
                f"keep-alive requests/s, {threads} client thread(s)",
                "mockprogress / aiohttp TestServer",
                ">= 1.0x",
                per_round(
                    rates[("mockprogress", "keep-alive", threads)],
                    rates[("aiohttp", "keep-alive", threads)],
                ),
                None,
            )
        )
        rows.append(
            (
                f"new connection per request, {threads} client thread(s)",
                "mockprogress / pytest-httpserver",
                ">= 1.0x",
                per_round(
                    rates[("mockprogress", "new connection", threads)],
                    rates[("pytest-httpserver", "new connection", threads)],
                ),
                None,
            )
        )
    lines = []
    for what, ratio_of, target, ratio, met in rows:
        if met is None:
            met = ratio.median >= 1.0
        everywhere = ratio.high <= 1.0 if target.startswith("<") else ratio.low >= 1.0
        verdict = ("met" if met else "NOT met") + (" in every round" if met and everywhere else "")
        lines.append([what, ratio_of, target, ratio.fmt(1, 2, "x"), verdict])
    return "\n".join(
        [
            "## Targets (issue 16)",
            "",
            "Each ratio is computed per round between figures measured in the same round of "
            "the same script (below: `bench_fixture_overhead.py` for the per-test cost, "
            "`bench_keepalive.py` for the others), then summarised as median (min-max) over "
            'the rounds. A target holds when the median ratio meets it; "in every round" '
            "when the whole range does. The per-test headline is the median figure (the "
            "median test's set-up, call and teardown); the mean and wall figures keep the "
            "slow tail and the one-off costs.",
            "",
            table(["what", "ratio", "target", "median (min-max)", "holds"], lines),
            "",
        ]
    )


def git_revision() -> str:
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=HERE,
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small runs, to try the scripts")
    parser.add_argument("--only", nargs="+", choices=sorted(SCRIPTS), help="run these only")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    load_before = load()
    started = time.monotonic()
    sections = []
    timings = []
    for script, options in SCRIPTS.items():
        if args.only and script not in args.only:
            continue
        extra = options["quick" if args.quick else "full"]
        section = WORK / (Path(script).stem + ".md")
        section.unlink(missing_ok=True)
        cmd = [sys.executable, str(HERE / script), *extra, "--markdown", str(section)]
        if script in TARGET_SCRIPTS:
            raw = WORK / (Path(script).stem + ".json")
            raw.unlink(missing_ok=True)
            cmd += ["--json", str(raw)]
        print("+", " ".join(cmd), file=sys.stderr, flush=True)
        begun = time.monotonic()
        done = subprocess.run(cmd, check=False, stdout=subprocess.DEVNULL)
        timings.append(f"{script} {time.monotonic() - begun:.0f} s")
        if not section.exists():
            raise SystemExit(f"{script} failed (exit {done.returncode}) and wrote no section")
        text = section.read_text().rstrip("\n")
        if done.returncode:
            text += f"\n\n**{script} exited with status {done.returncode}**: see its section."
        sections.append(text + "\n")
    today = datetime.date.today().isoformat()
    minutes = (time.monotonic() - started) / 60
    header = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`benchmarks/run_all.py`); do not edit by hand, rerun instead.",
        "How the figures are made, what the profiles showed and what was changed for them: "
        "`benchmarks/README.md`.",
        "",
        "To rerun: `make bench` (it installs `.[test,bench]` into `.venv`, runs every script "
        "below one after the other and rewrites this file), or one script at a time with the "
        "command shown in its section, from the repository root. Figures from a busy or "
        "different machine differ: compare the ratios measured in the same run, not absolute "
        "figures across runs.",
        "",
        f"Run on {today}, revision {git_revision()}"
        + (" (--quick)" if args.quick else "")
        + f", in {minutes:.1f} minutes ({'; '.join(timings)}).",
        "",
        "Machine:",
        "",
        *machine_lines(),
        f"- Load average (1, 5, 15 min) before the run: {load_before}; after: {load()}. Other "
        "work on the machine (other sessions run test suites on it) widens the min-max ranges.",
        "",
    ]
    targets = targets_section()
    if targets:
        sections.insert(0, targets)
    args.output.write_text("\n".join(header) + "\n" + "\n".join(sections))
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
