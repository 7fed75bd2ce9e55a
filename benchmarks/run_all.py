"""Run every benchmark script and write benchmarks/RESULTS.md.

Each script runs in its own subprocess and writes its own section; this script adds the
machine and the way to rerun. ``make bench`` calls it.

Run: ``.venv/bin/python benchmarks/run_all.py [--quick]``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
from pathlib import Path

from _common import HERE, WORK, machine_lines

SCRIPTS = {
    "bench_fixture_overhead.py": {"full": ["--tests", "1000", "--rounds", "5"]},
    "bench_keepalive.py": {"full": ["--requests", "2000", "--rounds", "5"]},
}
QUICK = {
    "bench_fixture_overhead.py": ["--tests", "200", "--rounds", "2"],
    "bench_keepalive.py": ["--requests", "500", "--rounds", "2"],
}


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small runs, to try the scripts")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    sections = []
    for script, options in SCRIPTS.items():
        extra = QUICK[script] if args.quick else options["full"]
        section = WORK / (Path(script).stem + ".md")
        section.unlink(missing_ok=True)
        cmd = [sys.executable, str(HERE / script), *extra, "--markdown", str(section)]
        print("+", " ".join(cmd), file=sys.stderr, flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        sections.append(section.read_text())
    load_after = os.getloadavg()
    today = datetime.date.today().isoformat()
    header = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`benchmarks/run_all.py`); do not edit by hand, rerun instead.",
        "How the figures are made, what the profiles showed and what was changed for them: "
        "`benchmarks/README.md`.",
        "",
        "To rerun: `make bench` (it installs `.[test,bench]` into `.venv`, runs every script "
        "below and rewrites this file), or one script at a time with the command shown in its "
        "section, from the repository root with `.venv/bin/python`. Figures from a busy or "
        "different machine differ: compare ratios measured in the same run, not absolute "
        "figures across runs.",
        "",
        f"Run on {today}, revision {git_revision()}" + (" (--quick)" if args.quick else "") + ".",
        "",
        "Machine:",
        "",
        *machine_lines(),
        "- Load average (1, 5, 15 min) before the run: "
        + ", ".join(f"{x:.2f}" for x in load_before)
        + "; after: "
        + ", ".join(f"{x:.2f}" for x in load_after)
        + ". Other work on the machine widens the min-max ranges.",
        "",
    ]
    args.output.write_text("\n".join(header) + "\n" + "\n".join(sections))
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
