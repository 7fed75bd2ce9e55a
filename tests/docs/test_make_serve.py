"""The README's quick start, as written: `make serve` starts the demo set and prints its URL,
and a POST to the demo's progress route shows the 102 interims, then the final response."""

from __future__ import annotations

import os
import re
import signal
import subprocess

from support.paths import ROOT


def test_make_serve_then_curl_shows_the_interims() -> None:
    proc = subprocess.Popen(
        ["make", "-s", "serve", "PORT=0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # make's child server goes down with the group
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        match = re.fullmatch(r"mockprogress listening on (http://127\.0\.0\.1:\d+)", line)
        assert match, f"first line {line!r}"
        out = subprocess.run(
            ["curl", "-sS", "-i", "--max-time", "10", "-X", "POST", match.group(1) + "/jobs"],
            capture_output=True,
            check=True,
        ).stdout.decode()
        statuses = re.findall(r"^HTTP/1\.1 (\d{3} [A-Za-z ]+)\r$", out, re.M)
        assert statuses == ["102 Processing"] * 3 + ["201 Created"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
