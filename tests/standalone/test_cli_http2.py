"""``mockprogress serve --http2``: the demo set answers HTTP/2 clients (prior knowledge and the
h2c upgrade) and HTTP/1.1 clients on the same port, and the terminal names the streams."""

from __future__ import annotations

import shutil
import subprocess

from support.standalone import Standalone

CURL = shutil.which("curl")


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    assert CURL is not None, "curl is part of the machine's set-up"
    return subprocess.run(
        [CURL, "-sS", "--max-time", "10", *args], capture_output=True, text=True, check=False
    )


def test_serve_http2_answers_every_way_in() -> None:
    with Standalone("--http2") as server:
        jobs = curl("-i", "--http2-prior-knowledge", "-X", "POST", server.url + "/jobs")
        assert jobs.returncode == 0, jobs.stderr
        assert jobs.stdout.count("HTTP/2 102") == 3
        upgraded = curl("-v", "--http2", server.url + "/")
        assert "101 Switching Protocols" in upgraded.stderr and "< HTTP/2 200" in upgraded.stderr
        plain = curl("-i", server.url + "/")
        assert plain.stdout.startswith("HTTP/1.1 200 OK")
        server.wait_for(r"HTTP/2")
        server.stop()
