"""``mockprogress serve --tls [--ca-file PATH]``: the CA's PEM is written before the readiness
line names an https URL; the demo set, its index and the control API answer over TLS."""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
from support.standalone import Standalone

from mockprogress.standalone.cli import main

CURL = shutil.which("curl")


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    assert CURL is not None, "curl is part of the machine's set-up"
    return subprocess.run([CURL, "-sS", *args], capture_output=True, text=True, check=False)


def test_serve_tls_writes_the_ca_then_listens_on_https(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    with Standalone("--tls", "--ca-file", str(ca)) as server:
        assert server.lines[0] == f"the CA to trust: {ca} (curl --cacert {ca})"
        assert server.url.startswith("https://127.0.0.1:")
        assert ca.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
        index = curl("--cacert", str(ca), server.url + "/")
        assert index.returncode == 0 and f"routes on {server.url}" in index.stdout
        jobs = curl("-i", "--cacert", str(ca), "-X", "POST", server.url + "/jobs")
        assert jobs.stdout.count("HTTP/1.1 102 Processing") == 3
        problems = curl("--cacert", str(ca), server.url + "/__mockprogress/problems")
        assert json.loads(problems.stdout) == {"problems": [], "report": None}
        # Without the CA a client refuses the certificate.
        assert curl(server.url + "/").returncode == 60
        server.stop()


def test_serve_tls_without_ca_file_names_a_temporary_one() -> None:
    with Standalone("--tls", "--empty") as server:
        named = server.lines[0].removeprefix("the CA to trust: ").split(" ", 1)[0]
        assert Path(named).is_file()
        context = __import__("ssl").create_default_context(cafile=named)
        with urllib.request.urlopen(server.url + "/__mockprogress/problems", context=context) as r:
            assert r.status == 200
        server.stop()


def test_ca_file_needs_tls(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["serve", "--ca-file", str(tmp_path / "ca.pem")]) == 2
    assert "--ca-file needs --tls" in capsys.readouterr().err
