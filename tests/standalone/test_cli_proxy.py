"""``mockprogress proxy``: the standalone server in front of a real one, driven with curl."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.standalone import Standalone

import mockprogress as mp
from mockprogress.standalone.cli import main

SCENARIO = """
[[expect]]
method = "GET"
path = "/flaky"
times = 2
[[expect.steps]]
respond = 503

[[expect]]
method = "GET"
path = "/cut"
[[expect.steps]]
processing = '0/1 "asking upstream"'
[[expect.steps]]
forward = { cut = { at = 4, how = "reset" } }
"""


@pytest.fixture(scope="module")
def upstream() -> Iterator[mp.MockServer]:
    with mp.MockServer() as srv:
        srv.expect("GET", "/flaky").respond(mp.respond(200, b"the real thing\n"))
        srv.expect("GET", "/cut").respond(mp.respond(200, b"0123456789"))
        srv.expect("GET", "/info").respond(mp.early_hints("</s.css>"), mp.respond(200, b"i\n"))
        yield srv


@pytest.fixture(scope="module")
def proxy(
    upstream: mp.MockServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Standalone]:
    scenario = tmp_path_factory.mktemp("proxy") / "flaky.toml"
    scenario.write_text(SCENARIO)
    with Standalone("--upstream", upstream.url(), str(scenario), command="proxy") as served:
        yield served
        served.stop()


def curl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "--max-time", "10", *args], capture_output=True, text=True, check=False
    )


def test_the_readiness_line_then_where_it_forwards(
    proxy: Standalone, upstream: mp.MockServer
) -> None:
    assert proxy.lines[0] == f"mockprogress listening on {proxy.url}"
    proxy.wait_for(f"^forwarding to {upstream.url()}$")


def test_curl_fails_twice_then_gets_the_upstreams_answer(proxy: Standalone) -> None:
    statuses = [
        curl("-o", "/dev/null", "-w", "%{http_code}", f"{proxy.url}/flaky").stdout for _ in range(3)
    ]
    assert statuses == ["503", "503", "200"]
    assert curl(f"{proxy.url}/flaky").stdout == "the real thing\n"


def test_curl_sees_the_scripted_interim_the_relayed_one_and_the_cut(proxy: Standalone) -> None:
    cut = curl("-i", f"{proxy.url}/cut")
    assert cut.returncode == 56, cut.stderr  # the body stopped at byte 4 with a reset
    assert "Connection reset by peer" in cut.stderr
    assert cut.stdout.startswith("HTTP/1.1 102 Processing\n")  # (text mode: CRLF read as \n)
    assert cut.stdout.endswith("Content-Length: 10\n\n0123")
    info = curl("-i", f"{proxy.url}/info")
    assert info.returncode == 0
    assert info.stdout.startswith("HTTP/1.1 103 Early Hints\nLink: </s.css>\n\nHTTP/1.1 200 OK")
    proxy.wait_for(r"GET /info")


def test_proxy_needs_an_upstream(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["proxy"])
    assert exit_.value.code == 2
    assert "--upstream" in capsys.readouterr().err


def test_a_bad_upstream_url_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["proxy", "--upstream", "ftp://example.test/"]) == 2
    assert "an upstream is an http:// or https:// URL" in capsys.readouterr().err
