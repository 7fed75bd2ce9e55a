"""A client suite in another language scripts the standalone server between its tests through
the control API: tests/node/control.js (Node's built-in http) programs an expectation, sends the
request it expects, and reads the journal back."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from support.paths import NODE_DIR
from support.standalone import Standalone

NODE = shutil.which("node")
SCRIPT = NODE_DIR / "control.js"
pytestmark = pytest.mark.skipif(NODE is None, reason="the node command is not installed")


def test_node_programs_the_server_and_reads_the_journal() -> None:
    assert NODE is not None
    with Standalone("--empty") as served:
        done = subprocess.run(
            [NODE, str(SCRIPT), served.url], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, f"node exited {done.returncode}: {done.stdout}{done.stderr}"
        report = json.loads(done.stdout)
        assert served.stop() == 0

    assert report["added"]["statusCode"] == 201
    (added,) = report["added"]["body"]["expectations"]
    assert added["describe"] == "expect POST /greetings"

    greeting = report["greeting"]
    assert [(i["statusCode"], i["statusMessage"]) for i in greeting["information"]] == [
        (102, "Processing")
    ]
    assert greeting["information"][0]["headers"]["progress"] == '0/1 "Warming up"'
    assert greeting["statusCode"] == 201
    assert greeting["headers"]["content-type"] == "application/json"
    assert greeting["body"] == {"greeting": "hello, node"}

    assert report["journal"]["statusCode"] == 200
    (exchange,) = report["journal"]["body"]["exchanges"]
    assert (exchange["method"], exchange["target"]) == ("POST", "/greetings")
    assert json.loads(exchange["body"]) == {"name": "node"}
    assert exchange["handled_by"] == "expect POST /greetings"
    assert [i["status"] for i in exchange["interims"]] == [102]
    assert exchange["response"]["status"] == 201
    # The server's own log saw the exchange too, and the control requests marked as such.
    lines = "\n".join(served.lines)
    assert "#1 <- POST /greetings HTTP/1.1" in lines
    assert "ctl#1 <- POST /__mockprogress/expectations HTTP/1.1" in lines
