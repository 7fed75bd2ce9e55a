"""Helpers shared by the benchmark scripts: summaries, the machine, Markdown tables.

The scripts run as ``python benchmarks/<name>.py``, so this module is imported by file
location (the script's directory is on ``sys.path``), not as part of a package.
"""

from __future__ import annotations

import platform
import statistics
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"

PACKAGES = ("mockprogress", "anyio", "h11", "pytest", "pytest_httpserver", "werkzeug", "aiohttp")


@dataclass(frozen=True)
class Summary:
    """The median, min and max of one measured quantity over the rounds."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        return cls(statistics.median(values), min(values), max(values), len(values))

    def fmt(self, scale: float = 1.0, digits: int = 2, unit: str = "") -> str:
        m, lo, hi = (v * scale for v in (self.median, self.low, self.high))
        return f"{m:.{digits}f}{unit} ({lo:.{digits}f}-{hi:.{digits}f})"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def nproc() -> str:
    try:
        out = subprocess.run(["nproc"], capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        import os

        return str(os.cpu_count())


def versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def machine_lines() -> list[str]:
    pkgs = ", ".join(f"{k} {v}" for k, v in versions().items())
    return [
        f"- CPU: {cpu_model()}, nproc = {nproc()}",
        f"- OS: {platform.system()} {platform.release()} ({platform.machine()})",
        f"- Python: {sys.version.split()[0]} ({sys.executable})",
        f"- Packages: {pkgs}",
    ]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)
