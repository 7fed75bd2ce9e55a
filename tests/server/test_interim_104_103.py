"""``103 Early Hints`` (``mp.early_hints``) and ``104 Upload Resumption Supported`` through the
generic ``mp.interim``: exact bytes, and what h11, curl and Node's http see."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from support.paths import NODE_DIR
from support.recording_client import request
from support.sansio import Wire

import mockprogress as mp
from mockprogress.engine.matching import Expectation

STYLE = "</style.css>; rel=preload; as=style"
SCRIPT = "</app.js>; rel=preload; as=script"
UPLOAD = {"Location": "/uploads/7", "Upload-Draft-Interop-Version": "8"}
STEPS = (
    mp.early_hints(STYLE, SCRIPT),
    mp.interim(104, UPLOAD),
    mp.respond(201, b"created\n"),
)
NODE = shutil.which("node")
CURL = shutil.which("curl")


def test_exact_bytes() -> None:
    wire = Wire()
    wire.state.add_expectation(Expectation("POST", "/up").respond(*STEPS))
    out = wire.run([b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"])
    assert out.startswith(
        b"HTTP/1.1 103 Early Hints\r\n"
        b"Link: </style.css>; rel=preload; as=style\r\n"
        b"Link: </app.js>; rel=preload; as=script\r\n\r\n"
        b"HTTP/1.1 104 Upload Resumption Supported\r\n"
        b"Location: /uploads/7\r\nUpload-Draft-Interop-Version: 8\r\n\r\n"
        b"HTTP/1.1 201 Created\r\n"
    )
    ex = wire.state.journal().last
    assert [(i.status, i.reason) for i in ex.interims] == [
        (103, "Early Hints"),
        (104, "Upload Resumption Supported"),
    ]
    assert ex.interims[0].headers.getall("link") == [STYLE, SCRIPT]


def test_the_h11_client_sees_both(mockprogress_server: mp.MockServer) -> None:
    mockprogress_server.expect("POST", "/up").respond(*STEPS)
    reply = request(mockprogress_server.port, "POST", "/up")
    hints, resumption = reply.interims
    # h11 hands a client its header names lower-cased.
    assert (hints.status, hints.headers) == (103, [("link", STYLE), ("link", SCRIPT)])
    assert (resumption.status, resumption.reason) == (104, "Upload Resumption Supported")
    assert resumption.headers == [(n.lower(), v) for n, v in UPLOAD.items()]
    assert reply.status == 201


@pytest.mark.skipif(CURL is None, reason="the curl command is not installed")
def test_curl_prints_both_blocks(mockprogress_server: mp.MockServer) -> None:
    mockprogress_server.expect("POST", "/up").respond(*STEPS)
    assert CURL is not None
    done = subprocess.run(
        [CURL, "-sS", "-i", "-X", "POST", mockprogress_server.url("/up")],
        capture_output=True,
        timeout=20,
        check=True,
    )
    blocks = [b.split(b"\r\n")[0] for b in done.stdout.split(b"\r\n\r\n")[:3]]
    assert blocks == [
        b"HTTP/1.1 103 Early Hints",
        b"HTTP/1.1 104 Upload Resumption Supported",
        b"HTTP/1.1 201 Created",
    ]


@pytest.mark.skipif(NODE is None, reason="the node command is not installed")
def test_node_information_events(mockprogress_server: mp.MockServer) -> None:
    mockprogress_server.expect("POST", "/up").respond(*STEPS)
    assert NODE is not None
    done = subprocess.run(
        [NODE, str(NODE_DIR / "information.js"), "POST",
         mockprogress_server.url("/up")],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )  # fmt: skip
    report = json.loads(done.stdout)
    hints, resumption = report["information"]
    assert (hints["statusCode"], hints["rawHeaders"]) == (103, ["Link", STYLE, "Link", SCRIPT])
    assert (resumption["statusCode"], resumption["statusMessage"]) == (
        104,
        "Upload Resumption Supported",
    )
    assert resumption["rawHeaders"] == [
        "Location",
        "/uploads/7",
        "Upload-Draft-Interop-Version",
        "8",
    ]
    assert report["response"]["statusCode"] == 201
