"""curl and Node's http module against scripted faults, each run as a separate process.

What they do against this server, measured here:

- curl 7.88 takes a head cut after a complete status line (byte 17) and before a complete
  ``Content-Length`` line (byte 58) for a finished 200 with an empty body: exit 0. With the length line whole it reports ``(18) transfer closed with 1000 bytes
  remaining to read``; a cut before the status line ends is ``(52) Empty reply from server``;
  a reset is ``(56) Recv failure: Connection reset by peer``. The bytes it saves are exactly
  the ones sent.
- Node 20's ``http``: a head cut is ``socket hang up`` (ECONNRESET) on the request and never a
  ``'response'``; a body cut gives ``'response'``, then ``'aborted'`` and a response error
  ``aborted``, never ``'end'``, with ``res.complete`` false. An RST mid-body looks the same;
  only sometimes does a request error ``read ECONNRESET`` come first. An unsolicited 101 without an
  ``'upgrade'`` listener ends the request with only ``'close'``: no response, no error
  (it waits for a response that never comes).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from support.faultcases import (
    BODY,
    HEAD_END,
    LENGTH_LINE_END,
    STATUS_LINE_END,
    chunked_download,
    cut,
    serve,
)
from support.paths import NODE_DIR

import mockprogress as mp

NODE_CLIENT = NODE_DIR / "http_client.js"


def curl(url: str, tmp_path: Path, *extra: str) -> tuple[int, str, str, bytes]:
    """Run curl; its exit code, ``%{http_code}``, stderr and the bytes it saved."""
    binary = shutil.which("curl")
    assert binary, "these tests drive the curl command line: install curl"
    out = tmp_path / "body"
    out.unlink(missing_ok=True)
    done = subprocess.run(
        [binary, "-sS", "-o", str(out), "-w", "%{http_code}", "--max-time", "10", *extra, url],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    saved = out.read_bytes() if out.exists() else b""
    return done.returncode, done.stdout, done.stderr.strip(), saved


def node(url: str, *extra: str) -> dict[str, Any]:
    """Run tests/node/http_client.js: the events it saw, the status and the body."""
    binary = shutil.which("node")
    assert binary, "these tests drive Node's http module: install Node.js (20 or newer)"
    done = subprocess.run(
        [binary, str(NODE_CLIENT), url, *extra],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    result["body"] = base64.b64decode(result["body"])
    result["names"] = [e["event"] + (f":{e['on']}" if "on" in e else "") for e in result["events"]]
    return result


class TestCurl:
    def test_exit_codes_around_the_edges_of_the_head(
        self, mockprogress_server: mp.MockServer, tmp_path: Path
    ) -> None:
        srv = mockprogress_server
        srv.expect("GET", "/h").respond_with(lambda ex: cut(int(ex.query["at"]), "wire"))
        outcomes = {
            at: curl(srv.url(f"/h?at={at}"), tmp_path)[:3]
            for at in (
                0,
                STATUS_LINE_END - 1,
                STATUS_LINE_END,
                LENGTH_LINE_END - 1,
                LENGTH_LINE_END,
                HEAD_END,
            )
        }
        assert outcomes == {
            0: (52, "000", "curl: (52) Empty reply from server"),
            STATUS_LINE_END - 1: (52, "000", "curl: (52) Empty reply from server"),
            STATUS_LINE_END: (0, "200", ""),  # a truncated head taken for an empty 200
            LENGTH_LINE_END - 1: (0, "200", ""),
            LENGTH_LINE_END: (
                18,
                "200",
                "curl: (18) transfer closed with 1000 bytes remaining to read",
            ),
            HEAD_END: (18, "200", "curl: (18) transfer closed with 1000 bytes remaining to read"),
        }

    def test_a_short_body_is_exit_18_with_exactly_the_bytes_sent(
        self, mockprogress_server: mp.MockServer, tmp_path: Path
    ) -> None:
        code, status, error, saved = curl(serve(mockprogress_server, "/short", cut(119)), tmp_path)
        assert (code, status, saved) == (18, "200", BODY[:119])
        assert error == "curl: (18) transfer closed with 881 bytes remaining to read"

    def test_a_short_chunked_body_is_exit_18(
        self, mockprogress_server: mp.MockServer, tmp_path: Path
    ) -> None:
        url = serve(mockprogress_server, "/chunked", chunked_download().cut(119))
        code, _, error, saved = curl(url, tmp_path)
        assert (code, saved) == (18, BODY[:119])
        assert error == "curl: (18) transfer closed with outstanding read data remaining"

    def test_a_reset_is_exit_56(self, mockprogress_server: mp.MockServer, tmp_path: Path) -> None:
        srv = mockprogress_server
        early = curl(serve(srv, "/early", cut(20, "wire", "reset")), tmp_path)
        late = curl(serve(srv, "/late", cut(119, how="reset")), tmp_path)
        # curl parsed the status code out of the partial head "HTTP/1.1 200 OK\r\nCon".
        assert early == (56, "200", "curl: (56) Recv failure: Connection reset by peer", b"")
        assert late == (56, "200", "curl: (56) Recv failure: Connection reset by peer", BODY[:119])
        assert len(srv.journal) == 2  # curl does not retry without --retry

    def test_a_stall_mid_body_is_exit_28_at_its_max_time(
        self, mockprogress_server: mp.MockServer, tmp_path: Path
    ) -> None:
        """curl has no read timeout: ``--max-time`` (or ``--speed-time``) ends the wait, with
        exactly the bytes sent saved."""
        url = serve(mockprogress_server, "/stall-body", cut(119, how="stall"))
        code, status, error, saved = curl(url, tmp_path, "--max-time", "0.5")
        assert (code, status, saved) == (28, "200", BODY[:119])
        assert re.fullmatch(
            r"curl: \(28\) Operation timed out after \d+ milliseconds with 119 out of 1000 bytes "
            r"received",
            error,
        )


class TestNodeHttp:
    def test_a_cut_inside_the_head_is_a_socket_hang_up(
        self, mockprogress_server: mp.MockServer
    ) -> None:
        srv = mockprogress_server
        for at in (0, 20, HEAD_END - 1):
            result = node(serve(srv, f"/h{at}", cut(at, "wire")))
            assert result["names"] == ["error:request", "close:request"], at
            assert (result["events"][0]["code"], result["events"][0]["message"]) == (
                "ECONNRESET",
                "socket hang up",
            )
        assert len(srv.journal) == 3  # no retries

    def test_a_short_body_is_aborted_and_never_ends(
        self, mockprogress_server: mp.MockServer
    ) -> None:
        result = node(serve(mockprogress_server, "/short", cut(119)))
        assert (result["status"], result["complete"], result["body"]) == (200, False, BODY[:119])
        assert result["names"] == [
            "response",
            "aborted",
            "close:request",
            "error:response",
            "close:response",
        ]
        error = result["events"][3]
        assert (error["code"], error["message"]) == ("ECONNRESET", "aborted")

    def test_a_whole_head_without_body(self, mockprogress_server: mp.MockServer) -> None:
        result = node(serve(mockprogress_server, "/head", cut(HEAD_END, "wire")))
        assert (result["status"], result["complete"], result["body"]) == (200, False, b"")
        assert "end" not in result["names"] and "aborted" in result["names"]

    def test_a_short_chunked_body(self, mockprogress_server: mp.MockServer) -> None:
        result = node(serve(mockprogress_server, "/chunked", chunked_download().cut(119)))
        assert (result["complete"], result["body"]) == (False, BODY[:119])
        assert "end" not in result["names"] and "aborted" in result["names"]

    def test_resets(self, mockprogress_server: mp.MockServer) -> None:
        srv = mockprogress_server
        early = node(serve(srv, "/early", cut(0, "wire", "reset")))
        assert early["names"] == ["error:request", "close:request"]
        assert early["events"][0]["message"] == "read ECONNRESET"
        late = node(serve(srv, "/late", cut(119, how="reset")))
        assert (late["status"], late["complete"], late["body"]) == (200, False, BODY[:119])
        # Mid-body an RST reads like a FIN ('aborted'); a request error "read ECONNRESET"
        # comes first only sometimes (in 5 of 20 runs here), so it is left out of the match.
        names = [n for n in late["names"] if n != "error:request"]
        assert names == ["response", "aborted", "close:request", "error:response", "close:response"]
        assert {e["message"] for e in late["events"] if e["event"] == "error"} <= {
            "aborted",
            "read ECONNRESET",
        }

    def test_an_unsolicited_101_ends_the_request_silently(
        self, mockprogress_server: mp.MockServer
    ) -> None:
        srv = mockprogress_server
        url = serve(srv, "/switch", mp.unsolicited_101())
        assert node(url)["names"] == ["close:request"]
        assert node(url, "--on-upgrade")["names"] == ["upgrade", "close:request"]

    def test_a_stall_after_the_head_leaves_the_response_open(
        self, mockprogress_server: mp.MockServer
    ) -> None:
        url = serve(mockprogress_server, "/stall", mp.respond(200, BODY).cut(0, how="stall"))
        result = node(url, "--timeout-ms", "300")
        assert (result["reason"], result["names"], result["body"]) == ("timeout", ["response"], b"")

    def test_a_stall_mid_body_leaves_the_response_open(
        self, mockprogress_server: mp.MockServer
    ) -> None:
        """No timeout of its own: 119 bytes in, the response stays open (no error, no
        ``'aborted'``) until the caller's own timer."""
        url = serve(mockprogress_server, "/stall-body", cut(119, how="stall"))
        result = node(url, "--timeout-ms", "300")
        assert (result["reason"], result["names"]) == ("timeout", ["response"])
        assert (result["body"], result["complete"]) == (BODY[:119], False)
