"""The standalone server, run as a user runs it: a subprocess, a readiness line, curl.

What each demo route prints through curl is checked line by line by the README walkthrough
(test_readme_walkthrough.py); here every route the index lists is driven through its own curl
command and the server's journal must show it answered by that route.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.paths import ROOT
from support.standalone import Standalone

from mockprogress.standalone.cli import _parser, main

pytestmark = pytest.mark.skipif(
    subprocess.run(["sh", "-c", "command -v curl"], capture_output=True).returncode != 0,
    reason="the curl command is not installed",
)


@pytest.fixture(scope="module")
def demo() -> Iterator[Standalone]:
    with Standalone() as served:
        yield served
        served.stop()


def curl(*args: str) -> str:
    return subprocess.run(
        ["curl", "-sS", "--max-time", "10", *args], capture_output=True, text=True, check=True
    ).stdout


def run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockprogress", *args],
        capture_output=True,
        text=True,
        timeout=30,
        **kwargs,  # type: ignore[call-overload]
    )


def test_the_readiness_line_comes_first_then_the_hints(demo: Standalone) -> None:
    assert demo.lines[0] == f"mockprogress listening on {demo.url}"
    demo.wait_for(r"live view")
    assert demo.lines[1:4] == [
        f"the demo set: curl {demo.url}/ lists its routes",
        f"control API: {demo.url}/__mockprogress/",
        f"live view in a browser: {demo.url}/__mockprogress/ui",
    ]


def test_the_demo_progress_route_shows_102s_then_the_final_response(demo: Standalone) -> None:
    out = curl("-i", "-X", "POST", demo.url + "/jobs")
    statuses = re.findall(r"^HTTP/1\.1 (\d{3} [A-Za-z ]+)$", out, re.M)
    assert statuses == ["102 Processing"] * 3 + ["201 Created"]
    assert re.findall(r"^Progress: (.*)$", out, re.M) == [
        '0/3 "Herding cats"',
        '1/3 "Knitting sweaters"',
        '2/3 "Slaying dragons"',
        '3/3 "Available"',
    ]
    assert out.endswith("created\n")


def test_every_route_of_the_index_answers_its_own_curl_command(demo: Standalone) -> None:
    index = curl(demo.url + "/")
    status, listing = demo.control("GET", "routes")
    assert status == 200 and listing["url"] == demo.url
    routes = listing["routes"]
    assert len(routes) >= 17
    assert index.startswith(f"mockprogress demo set: {len(routes)} routes on {demo.url}\n")
    for route in routes:
        # The index shows each route, its line, and the command with the real address.
        assert f"\n{route['route']}\n    {route['description']}\n    $ {route['curl']}\n" in index
        assert route["curl"].startswith("curl ") and demo.url in route["curl"]
    _, before = demo.control("GET", "journal")
    since = before["exchanges"][-1]["index"] if before["exchanges"] else 0
    # All at once: the slow ones (a stall, a progress stream) overlap.
    running = [
        subprocess.Popen(
            [
                "sh",
                "-c",
                route["curl"] + ("" if "--max-time" in route["curl"] else " --max-time 5"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for route in routes
    ]
    for proc in running:
        proc.wait(timeout=20)
    _, journal = demo.control("GET", f"journal?since={since}")
    # Each route was answered by itself, and no request went unanswered.
    assert {ex["handled_by"] for ex in journal["exchanges"]} == {r["handled_by"] for r in routes}
    _, problems = demo.control("GET", "problems")
    assert problems["problems"] == []


def test_every_get_route_of_the_demo_set_answers_head(demo: Standalone) -> None:
    """``curl -I`` on the index and on every GET route gets the head its GET gets (the same
    fields, Content-Length included) and no content, as RFC 9110 §9.3.2 has a server do
    (they answered 500: no expectation for HEAD)."""
    _, listing = demo.control("GET", "routes")
    urls = [demo.url + "/"]
    for route in listing["routes"]:
        method, _, path = route["route"].partition(" ")
        words = shlex.split(route["curl"])
        if method == "GET":
            urls.append(demo.url + path)
        elif not {"-X", "-H", "--data-binary"} & set(words):  # a resource's plain GET
            urls.extend(word for word in words if word.startswith(demo.url))
    assert len(urls) >= 18 and demo.url + "/early" in urls and demo.url + "/test/" in urls

    def printed(flag: str, url: str) -> str:
        # A fault route makes curl fail (a cut, a reset, a timeout): what it printed counts.
        command = ["curl", "-sS", "--max-time", "1", flag, url]
        return subprocess.run(command, capture_output=True, text=True).stdout

    with ThreadPoolExecutor(len(urls)) as pool:
        heads = list(pool.map(printed, ["-I"] * len(urls), urls))
        gets = list(pool.map(printed, ["-i"] * len(urls), urls))
    for url, head, got in zip(urls, heads, gets, strict=True):
        # The heads a GET gets (interims, then the final one) and nothing after them; or, on
        # a route whose fault ends the exchange inside the head, what GET gets.
        assert got.startswith(head), (url, head, got)
        assert head.endswith("\n\n") or head == got, (url, head, got)
        assert "500 Internal Server Error" not in head, url
    assert heads[0].startswith("HTTP/1.1 200 OK\n") and "Content-Length: " in heads[0]
    _, problems = demo.control("GET", "problems")
    assert problems["problems"] == []


def test_the_demo_set_has_a_route_for_every_capability(demo: Standalone) -> None:
    """Issue 6: one scenario per capability, each in the index with its curl command."""
    _, listing = demo.control("GET", "routes")
    routes = {route["route"] for route in listing["routes"]}
    policies = ["auto", "immediate", "delay", "never", "reject"]
    for path in [f"/continue/{policy}" for policy in policies] + ["/continue/answer-first"]:
        assert f"POST {path}" in routes
    for resource in [
        "/capture (ProgressJob)",  # respond-async and its status document
        "/resumable-uploads (ResumableUploads)",
        "/tus (TusUploads)",
        "/upload (ResumableRequests)",
        "/files (ByteRangeResource)",
        "/test (HttpProgressDemo)",  # the reference demo's interop suite
    ]:
        assert resource in routes
    assert {"GET /ws", "GET /early", "POST /jobs", "GET /faults/reset"} <= routes


def test_events_are_printed_as_they_happen(demo: Standalone) -> None:
    start = len(demo.lines)
    curl("-i", demo.url + "/early")
    request = demo.wait_for(r"#\d+ <- GET /early HTTP/1\.1$", start=start)
    number = re.search(r"#(\d+) ", request).group(1)  # type: ignore[union-attr]
    assert re.match(r"^\d\d:\d\d:\d\d\.\d{3} #\d+ <- GET /early HTTP/1\.1$", request)
    demo.wait_for(
        rf"#{number} -> 103 Early Hints  Link: </style.css>; rel=preload; as=style; "
        r"Link: </app.js>; rel=preload; as=script$",
        start=start,
    )
    demo.wait_for(rf"#{number} -> 200 OK$", start=start)
    demo.wait_for(rf"#{number} -> 42 body bytes \(complete\)$", start=start)
    # A fault gets its own mark, and so does the control API's traffic.
    subprocess.run(["curl", "-sS", demo.url + "/faults/reset"], capture_output=True)
    demo.wait_for(r"#\d+ !! reset after 8 body bytes \(wire byte 88\)$", start=start)
    demo.control("GET", "expectations")
    demo.wait_for(r"ctl#\d+ <- GET /__mockprogress/expectations HTTP/1\.1$", start=start)
    # Piped, the lines carry no colour.
    assert not any("\x1b[" in line for line in demo.lines)


def test_scenario_files_are_served_and_nothing_else(tmp_path: Path) -> None:
    toml = tmp_path / "one.toml"
    toml.write_text(
        "[[expect]]\npath = '/only'\nsteps = [{ respond = { status = 200, body = 'just this' } }]\n"
    )
    js = tmp_path / "two.json"
    js.write_text(json.dumps({"expect": [{"path": "/json", "steps": [{"respond": 204}]}]}))
    with Standalone(str(toml), str(js)) as served:
        assert curl(served.url + "/only") == "just this"
        assert curl("-o", "/dev/null", "-w", "%{http_code}", served.url + "/json") == "204"
        assert "matched no expectation" in curl(served.url + "/jobs")
        assert not any("demo set" in line for line in served.lines)
        assert served.stop() == 0


def test_limits_are_options(tmp_path: Path) -> None:
    toml = tmp_path / "up.toml"
    toml.write_text("[[expect]]\npath = '/up'\nsteps = [{ respond = 204 }]\n")
    args = ("--max-body-size", "10", "--max-header-count", "8", str(toml))
    with Standalone(*args) as served:
        status = "%{http_code}"
        assert (
            curl("-o", "/dev/null", "-w", status, "--data-binary", "x" * 11, served.url + "/up")
            == "413"
        )
        assert (
            curl("-o", "/dev/null", "-w", status, "--data-binary", "x" * 10, served.url + "/up")
            == "204"
        )
        many = [arg for i in range(6) for arg in ("-H", f"X-{i}: y")]  # with curl's own 3: 9
        assert curl("-o", "/dev/null", "-w", status, *many, served.url + "/up") == "431"
    refused = run("serve", "--max-body-size", "lots")
    assert refused.returncode == 2
    assert "--max-body-size: expected a whole number, got 'lots'" in refused.stderr


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "bad.toml",
            "[[expect]]\npath = '/x'\nsteps = [{ respond = { status = 42 } }]\n",
            "{path}: expect[0].steps[0].respond: final response status must be an integer "
            "in 200..999, got 42",
        ),
        (
            "bad.toml",
            "[[expect]]\npath = '/x'\nmatch.headers = { A = 1 }\nsteps = [{ respond = 200 }]\n",
            '{path}: expect[0].match.headers.A: expected a string or { regex = "..." }, got 1',
        ),
        (
            "bad.json",
            '{"expect": [{"path": "/x", "steps": [{"stall": {"seconds": -2}}]}]}',
            "{path}: expect[0].steps[0].stall: stall must be a finite number >= 0, got -2",
        ),
        ("bad.json", '{"expect": [', "{path}: not valid JSON: Expecting value: line 1 column 13"),
        ("bad.toml", "[[expect]\n", "{path}: not valid TOML: Expected ']]' at the end"),
        ("missing.toml", None, "{path}: no such scenario file"),
    ],
)
def test_a_bad_scenario_file_is_named_with_its_key(
    tmp_path: Path, name: str, text: str | None, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    expected = "mockprogress: " + message.replace("{path}", str(path))
    proc = run("serve", str(path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(expected)
    assert proc.stderr.count("\n") == 1
    assert "Traceback" not in proc.stderr
    assert main(["validate", str(path)]) == 2
    assert capsys.readouterr().err.startswith(expected)


def test_validate_reports_what_each_file_defines() -> None:
    demo_dir = ROOT / "fixtures"
    files = sorted(demo_dir.glob("*.toml"))
    proc = run("validate", *map(str, files))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(files)
    assert f"{demo_dir / '10-progress.toml'}: ok, 1 expectation(s), 0 resource(s)" in lines


def test_a_control_api_round_trip() -> None:
    with Standalone("--empty") as served:
        assert not any("demo set" in line for line in served.lines)
        assert "matched no expectation (none are defined)" in curl(served.url + "/")
        document = (
            "[[expect]]\nmethod = 'PUT'\npath = '/thing'\n"
            "steps = [{ processing = '1/2' }, { respond = { status = 201, body = \"made\\n\" } }]\n"
        )
        added = subprocess.run(
            [
                "curl",
                "-sS",
                "-X",
                "POST",
                "-H",
                "Content-Type: application/toml",
                "--data-binary",
                document,
                served.url + "/__mockprogress/expectations",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert json.loads(added)["expectations"][0]["describe"] == "expect PUT /thing"
        out = curl("-i", "-X", "PUT", "--data-binary", "payload", served.url + "/thing")
        assert "HTTP/1.1 102 Processing\nProgress: 1/2\n\nHTTP/1.1 201 Created\n" in out
        assert out.endswith("made\n")
        journal = json.loads(curl(served.url + "/__mockprogress/journal"))["exchanges"]
        assert [(ex["method"], ex["target"], ex["body"]) for ex in journal] == [
            ("GET", "/", ""),
            ("PUT", "/thing", "payload"),
        ]
        assert [i["status"] for i in journal[1]["interims"]] == [102]
        reset = json.loads(curl("-X", "POST", served.url + "/__mockprogress/reset"))
        assert reset == {"expectations": [], "resources": []}
        assert served.stop() == 0


def test_token_prefix_and_no_control() -> None:
    with Standalone("--empty", "--token", "s3cret", "--control-prefix", "/ctl/") as served:
        served.wait_for(r"^control API: http://127\.0\.0\.1:\d+/ctl/$")
        denied = subprocess.run(
            ["curl", "-sS", "-w", "%{http_code}", "-o", "/dev/null", served.url + "/ctl/journal"],
            capture_output=True,
            text=True,
        ).stdout
        assert denied == "401"
        assert json.loads(
            curl("-H", "Authorization: Bearer s3cret", served.url + "/ctl/journal")
        ) == {"exchanges": [], "total": 0}
        served.stop()
    env = {**os.environ, "MOCKPROGRESS_TOKEN": "from-env"}
    with Standalone("--empty", env=env) as served:
        assert curl("-H", "Authorization: Bearer from-env", served.url + "/__mockprogress/journal")
        served.stop()
    with Standalone("--empty", "--no-control") as served:
        assert not any("control API" in line for line in served.lines[:3])
        assert "matched no expectation" in curl(served.url + "/__mockprogress/journal")
        served.stop()


def test_a_public_host_without_a_token_gets_a_warning() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mockprogress",
            "serve",
            "--empty",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert re.match(
            r"^mockprogress listening on http://0\.0\.0\.0:\d+$", proc.stdout.readline()
        )
        assert proc.stderr.readline() == (
            "mockprogress: warning: the control API on 0.0.0.0 answers any host without a "
            "token; add --token\n"
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)


def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = run("serve", "--port", str(port))
    assert proc.returncode == 2
    assert (
        proc.stderr == f"mockprogress: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    )


def test_json_log_format_and_the_journal_file(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    with Standalone("--log-format", "json", "--journal", str(journal), ready=False) as served:
        first = json.loads(served.wait_for(r"."))
        assert first["type"] == "listening" and first["control"].endswith("/__mockprogress/")
        assert first["view"] == first["control"] + "ui"
        url = first["url"]
        curl("-i", url + "/early")
        subprocess.run(["curl", "-sS", url + "/faults/close"], capture_output=True)
        served.wait_for(r'"kind":"fault"')
        assert served.stop() == 0
    events = [json.loads(line) for line in served.lines[1:]]
    assert all(e["type"] == "event" for e in events)
    early = [e for e in events if e["target"] == "/early"]
    assert [e["kind"] for e in early] == ["request", "interim", "pause", "response", "body-sent"]
    assert early[1]["status"] == 103 and early[1]["headers"][0][0] == "Link"
    assert {"exchange", "connection", "control", "method", "at", "direction", "detail"} <= set(
        early[0]
    )
    lines = journal.read_text().splitlines()
    assert [json.loads(line)["target"] for line in lines] == ["/early", "/faults/close"]
    diagram = run("diagram", str(journal))
    assert diagram.returncode == 0, diagram.stderr
    assert diagram.stdout.splitlines()[:8] == [
        "sequenceDiagram",
        "    participant C as client",
        "    participant S as mockprogress",
        "    Note over C,S: connection 1",
        "    C->>S: GET /early",
        "    S-->>C: 103 Early Hints<br/>Link: #lt;/style.css#gt;#59; rel=preload#59; as=style<br/>"
        "Link: #lt;/app.js#gt;#59; rel=preload#59; as=script",
        "    Note over S: pause 0.2 s",
        "    S->>C: 200 OK",
    ]
    assert "    S-xC: close after 8 body bytes (wire byte 88)" in diagram.stdout
    from_stdin = run("diagram", "-", input=journal.read_text())
    assert from_stdin.stdout == diagram.stdout
    broken = tmp_path / "broken.jsonl"
    broken.write_text(lines[0] + "\n{\n")
    failed = run("diagram", str(broken))
    assert failed.returncode == 2
    assert failed.stderr.startswith(f"mockprogress: {broken}: line 2: not JSON")


def read_to_the_end(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


def test_sigterm_stops_within_a_second_closing_connections_in_flight() -> None:
    with Standalone() as served:
        port = int(served.url.rsplit(":", 1)[1])
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as hung,
            socket.create_connection(("127.0.0.1", port), timeout=10) as stalled,
        ):
            hung.sendall(b"GET /faults/hang HTTP/1.1\r\nHost: x\r\n\r\n")
            stalled.sendall(b"GET /faults/stall HTTP/1.1\r\nHost: x\r\n\r\n")
            served.wait_for(r"!! stall after 0 body bytes")
            served.wait_for(r"!! stall after 8 body bytes")
            started = time.monotonic()
            served.proc.send_signal(signal.SIGTERM)
            code = served.proc.wait(timeout=10)
            elapsed = time.monotonic() - started
            assert code == 0
            assert elapsed < 1.0, f"SIGTERM took {elapsed:.2f} s"
            # Both connections were closed by the server, not left for the client to time out.
            assert read_to_the_end(hung) == b""
            assert read_to_the_end(stalled).endswith(b"\r\n\r\nchunk 1\n")
        assert served.stop() == 0
        assert served.errors == []


def test_ctrl_c_stops_cleanly_with_130() -> None:
    with Standalone() as served:
        curl(served.url + "/")
        assert served.stop(signal.SIGINT) == 130
        assert served.errors == []


def test_python_m_is_the_same_cli_with_a_version() -> None:
    module = run("--version")
    entry = subprocess.run(
        [str(Path(sys.executable).parent / "mockprogress"), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert module.returncode == entry.returncode == 0
    assert module.stdout == entry.stdout
    assert re.fullmatch(r"mockprogress \d+\.\d+\.\d+\S*\n", module.stdout)


def test_help_documents_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    parser = _parser()
    subparsers = next(a for a in parser._actions if a.choices and isinstance(a.choices, dict))
    for name, sub in subparsers.choices.items():  # type: ignore[union-attr]
        with pytest.raises(SystemExit) as info:
            main([name, "--help"])
        assert info.value.code == 0
        text = capsys.readouterr().out
        for action in sub._actions:
            assert action.help, f"{name}: {action.dest} has no help"
            for option in action.option_strings:
                assert option in text, f"{name} --help does not show {option}"
            if not action.option_strings:
                assert (action.metavar or action.dest) in text
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    top = capsys.readouterr().out
    assert all(name in top for name in ("serve", "diagram", "validate", "--version"))
    assert all(action.help for action in parser._actions)
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert shlex.split("mockprogress serve --help")  # the command the README shows
