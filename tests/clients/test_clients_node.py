"""Node's built-in ``http`` client against the server, through tests/node/information.js.

Node emits an ``'information'`` event for every 1xx but 101, with its status, reason and
headers: the way a JavaScript SDK would show job progress. The script prints
what Node reported as one JSON document.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
from support.jobs_scenario import (
    CREATED_BODY,
    ITEM_LOCATION,
    PROGRESS,
    STATUS_LOCATION,
    expect_jobs,
)
from support.paths import NODE_DIR

import mockprogress as mp

NODE = shutil.which("node")
SCRIPT = NODE_DIR / "information.js"
pytestmark = pytest.mark.skipif(NODE is None, reason="the node command is not installed")


def node_request(method: str, url: str) -> dict[str, Any]:
    """Run information.js and return what Node reported."""
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(SCRIPT), method, url], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, f"node exited {done.returncode}: {done.stdout}{done.stderr}"
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["error"] is None
    return report


def test_node_information_events_then_response(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    expect_jobs(srv)

    report = node_request("POST", srv.url("/jobs"))

    info = report["information"]
    assert [(i["statusCode"], i["statusMessage"]) for i in info] == [(102, "Processing")] * 3
    assert [i["httpVersion"] for i in info] == ["1.1"] * 3
    assert [i["rawHeaders"] for i in info] == [
        ["Progress", PROGRESS[0], "Location", STATUS_LOCATION],
        ["Progress", PROGRESS[1]],
        ["Progress", PROGRESS[2]],
    ]
    assert [i["headers"].get("progress") for i in info] == PROGRESS
    assert [i["headers"].get("location") for i in info] == [STATUS_LOCATION, None, None]

    response = report["response"]
    assert (response["statusCode"], response["statusMessage"]) == (201, "Created")
    assert response["headers"]["location"] == ITEM_LOCATION
    assert response["body"] == CREATED_BODY.decode()
    assert response["complete"] is True
    assert [i.status for i in srv.journal.last.interims] == [102, 102, 102]


def test_node_early_hints_keeps_both_link_lines(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    style = "</style.css>; rel=preload; as=style"
    script = "</app.js>; rel=preload; as=script"
    srv.expect("GET", "/page").respond(
        mp.early_hints(style, script),
        mp.respond(200, b"<html></html>\n", headers={"Content-Type": "text/html"}),
    )

    report = node_request("GET", srv.url("/page"))

    [hints] = report["information"]
    assert (hints["statusCode"], hints["statusMessage"]) == (103, "Early Hints")
    # rawHeaders keeps the two Link lines apart; headers joins them with ", ".
    assert hints["rawHeaders"] == ["Link", style, "Link", script]
    assert hints["headers"]["link"] == f"{style}, {script}"
    response = report["response"]
    assert (response["statusCode"], response["body"]) == (200, "<html></html>\n")
