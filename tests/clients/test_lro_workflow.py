"""The draft's README workflow end to end, on real sockets with real timing.

POST with ``Prefer: processing, respond-async, wait=1`` → 102s → 202 → GET of the status
document with ``Prefer: processing`` → 102s → 200 with ``Status-URI`` → DELETE → 404, observed
by the h11 recording client (every interim, stamped on arrival) and by Node's http
``'information'`` event.

The job has three stages of 0.5 s, so the POST sees 102s at 0, 0.5 and 1.0 s and the 202 at
1.0 s; the status document then streams the third stage and ends at 1.5 s. Timing tolerance:
nothing arrives before its time (5 ms allowed for stamping), and nothing more than 0.3 s late,
since other test runs share the machine.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
from support.paths import NODE_DIR
from support.recording_client import Client

import mockprogress as mp

STAGES = [("Herding cats", 0.5), ("Knitting sweaters", 0.5), ("Slaying dragons", 0.5)]
RESULT_BODY = "The photographer uploaded your image to /photos/42\n"
EARLY = 0.005
LATE = 0.3
NODE = shutil.which("node")
NODE_SCRIPT = NODE_DIR / "lro_workflow.js"


def mount_capture(srv: mp.MockServer) -> mp.ProgressJob:
    return srv.mount(
        mp.ProgressJob(
            "/capture",
            STAGES,
            mp.respond(201, RESULT_BODY, {"Location": "/photos/42"}),
            done_remark="Available",
        )
    )


def on_time(at: float, expected: float) -> bool:
    return expected - EARLY <= at <= expected + LATE


def test_the_workflow_with_the_h11_recording_client(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    job = mount_capture(srv)

    with Client(srv.port) as client:  # one keep-alive connection for the whole workflow
        post = client.request(
            "POST", "/capture", headers=[("Prefer", "processing, respond-async, wait=1")]
        )
        location = post.header("Location")
        assert location is not None
        follow = client.request("GET", location, headers=[("Prefer", "processing")])
        deleted = client.request("DELETE", location)
        gone = client.request("GET", location)

    # The POST: three 102s, the first carrying Location, then the 202 at wait=1.
    assert [(i.status, i.reason) for i in post.interims] == [(102, "Processing")] * 3
    assert [i.header("Progress") for i in post.interims] == [
        '0/3 "Herding cats"',
        '1/3 "Knitting sweaters"',
        '2/3 "Slaying dragons"',
    ]
    assert post.interims[0].header("Location") == location == job.jobs[0].status_uri
    assert [i.header("Location") for i in post.interims[1:]] == [None, None]
    assert (post.status, post.reason) == (202, "Accepted")
    assert post.header("Content-Location") == location
    assert post.header("Preference-Applied") == "processing, respond-async, wait=1"
    start = post.started
    arrivals = [i.at - start for i in post.interims]
    assert all(on_time(at, t) for at, t in zip(arrivals, (0, 0.5, 1.0), strict=True)), arrivals
    assert post.head_at is not None and on_time(post.head_at - start, 1.0)

    # The status document: the stage still running, then the result.
    assert [i.header("Progress") for i in follow.interims] == ['2/3 "Slaying dragons"']
    assert (follow.status, follow.header("Progress")) == (200, '3/3 "Available"')
    assert follow.header("Status-URI") == "201 </capture>"
    assert follow.header("Preference-Applied") == "processing"
    assert follow.body == RESULT_BODY.encode()
    assert follow.head_at is not None and on_time(follow.head_at - start, 1.5)

    assert (deleted.status, gone.status) == (204, 404)
    journal = srv.journal
    assert [(ex.method, ex.response.status if ex.response else None) for ex in journal] == [
        ("POST", 202),
        ("GET", 200),
        ("DELETE", 204),
        ("GET", 404),
    ]
    assert len({ex.connection for ex in journal}) == 1


def test_without_preferences_the_same_job_answers_once_at_the_end(
    mockprogress_server: mp.MockServer,
) -> None:
    srv = mockprogress_server
    mount_capture(srv)

    with Client(srv.port) as client:
        reply = client.request("POST", "/capture")

    assert reply.interims == []
    assert (reply.status, reply.header("Progress")) == (201, '3/3 "Available"')
    assert (
        reply.header(
            "Content-Location",
        )
        is not None
    )
    assert reply.head_at is not None and on_time(reply.head_at - reply.started, 1.5)


@pytest.mark.skipif(NODE is None, reason="the node command is not installed")
def test_the_workflow_with_node_information_events(mockprogress_server: mp.MockServer) -> None:
    srv = mockprogress_server
    mount_capture(srv)
    assert NODE is not None

    done = subprocess.run(
        [NODE, str(NODE_SCRIPT), srv.url("/"), "/capture", "1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert done.returncode == 0, f"node exited {done.returncode}: {done.stdout}{done.stderr}"
    report: dict[str, Any] = json.loads(done.stdout)
    assert report["error"] is None
    post, follow, deleted, gone = report["steps"]

    info = post["information"]
    assert [(i["statusCode"], i["statusMessage"]) for i in info] == [(102, "Processing")] * 3
    location = post["response"]["headers"]["location"]
    assert info[0]["rawHeaders"] == ["Progress", '0/3 "Herding cats"', "Location", location]
    assert info[1]["rawHeaders"] == ["Progress", '1/3 "Knitting sweaters"']
    assert info[2]["rawHeaders"] == ["Progress", '2/3 "Slaying dragons"']
    arrivals = [i["at"] / 1000 for i in info]
    assert all(on_time(at, t) for at, t in zip(arrivals, (0, 0.5, 1.0), strict=True)), arrivals
    response = post["response"]
    assert (response["statusCode"], response["headers"]["content-location"]) == (202, location)
    assert response["body"] == "step 3 of 3: Slaying dragons\n"

    assert [i["rawHeaders"] for i in follow["information"]] == [
        ["Progress", '2/3 "Slaying dragons"']
    ]
    result = follow["response"]
    assert (result["statusCode"], result["headers"]["status-uri"]) == (200, "201 </capture>")
    assert result["headers"]["progress"] == '3/3 "Available"'
    assert result["body"] == RESULT_BODY
    assert on_time(result["at"] / 1000, 1.5)

    assert (deleted["response"]["statusCode"], gone["response"]["statusCode"]) == (204, 404)
