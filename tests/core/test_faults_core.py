"""The fault features of the pure core, without sockets: malformed-framing factories, head
cuts, cut sweeps and the gauntlet's scripts, byte for byte."""

from __future__ import annotations

import pytest
from support.sansio import Wire

import mockprogress as mp
from mockprogress.engine.actions import Close, Hold, Receive
from mockprogress.engine.matching import Expectation
from mockprogress.script.faults import HeadCut

GET = b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n"


def serve(wire: Wire, *steps: mp.Step, method: str = "GET", path: str = "/r") -> None:
    exp = Expectation(method, path)
    exp.respond(*steps)
    wire.state.add_expectation(exp)


class TestMalformed:
    def test_lying_content_length_both_ways(self) -> None:
        long = mp.lying_content_length(b"abc", declared=10)
        assert long.data == b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
        short = mp.lying_content_length(b"abcdef", declared=2, status=404, headers={"X": "1"})
        assert short.data == b"HTTP/1.1 404 Not Found\r\nX: 1\r\nContent-Length: 2\r\n\r\nabcdef"
        with pytest.raises(mp.ScenarioError, match="true length"):
            mp.lying_content_length(b"abc", declared=3)

    def test_malformed_chunked_writes_the_sizes_given(self) -> None:
        step = mp.malformed_chunked([(5, b"hello"), ("zz", b"world"), (3, b"toolong")])
        assert step.data == (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\nzz\r\nworld\r\n3\r\ntoolong\r\n0\r\n\r\n"
        )
        unended = mp.malformed_chunked([(16, b"x")], end=False)
        assert unended.data.endswith(b"\r\n\r\n10\r\nx\r\n")
        with pytest.raises(mp.ScenarioError, match="chunk 0 must be a"):
            mp.malformed_chunked([b"nope"])  # type: ignore[list-item]

    def test_bad_status_line_and_unsolicited_101(self) -> None:
        assert mp.bad_status_line().data == b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n"
        assert mp.bad_status_line("FOO", b"hi").data == b"FOO\r\nContent-Length: 2\r\n\r\nhi"
        with pytest.raises(mp.ScenarioError, match="CR or LF"):
            mp.bad_status_line("HTTP/1.1 200 OK\r\nX: y")
        assert mp.unsolicited_101(then=b"\x81\x00").data == (
            b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            b"\r\n\x81\x00"
        )

    def test_the_bytes_go_out_verbatim_then_the_connection_closes(self) -> None:
        wire = Wire()
        serve(wire, mp.unsolicited_101(upgrade="echo"), mp.pause(0.1), mp.drop("reset"))
        out = wire.run([GET], eof=False)
        assert out.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
        assert b"Upgrade: echo\r\n" in out
        assert wire.sleeps == [0.1] and wire.closed == "reset"


class TestHeadCuts:
    def test_the_socket_is_never_asked_for_more_than_the_cut(self) -> None:
        wire = Wire()
        wire.state.head_cuts.add(HeadCut(7, "reset"))
        serve(wire, mp.respond(200))
        out = wire.run([GET], eof=False)
        assert out == b""
        assert wire.closed == "reset"
        assert [a.max_bytes for a in wire.actions if isinstance(a, Receive)] == [7]
        ex = wire.state.journal().last
        assert ex.fault is not None
        assert (ex.fault.kind, ex.fault.side, ex.fault.bytes_received) == ("reset", "request", 7)
        assert (ex.method, ex.target) == ("", "")
        assert ex.timeline().splitlines()[:2] == [
            "#1 (incomplete request)  [connection 1]",
            "        0.0 ms  <- 7 bytes of a request head b'GET /r '",
        ]
        assert "C->>S: (incomplete request)" in wire.state.journal().to_mermaid()

    def test_a_cut_after_the_request_line_names_the_request(self) -> None:
        wire = Wire()
        wire.state.head_cuts.add(HeadCut(len(b"GET /r HTTP/1.1\r\nHo"), "stall", 2.0))
        wire.run([b"GET /r HTTP/1.1\r\n", b"Host: x\r\n\r\n"], eof=False)
        assert Hold(2.0) in wire.actions and isinstance(wire.actions[-1], Close)
        ex = wire.state.journal().last
        assert (ex.method, ex.target, ex.http_version) == ("GET", "/r", "1.1")
        assert (
            ex.fault is not None
            and ex.fault.detail == "stall after 19 bytes of the request head, for 2 s"
        )

    def test_a_cut_at_zero_ends_a_new_connection_unread(self) -> None:
        wire = Wire()
        wire.state.head_cuts.add(HeadCut(0))
        assert wire.run([GET], eof=False) == b""
        assert not any(isinstance(a, Receive) for a in wire.actions)
        assert wire.state.journal().last.fault is not None


class TestCutPoints:
    @pytest.mark.parametrize(
        "response",
        [
            mp.respond(200, b"0123456789"),
            mp.respond(201, [b"abc", b"de", b"f" * 17], {"X-Y": "z"}),
            mp.respond(200, b""),
        ],
        ids=["content-length", "chunked", "empty"],
    )
    @pytest.mark.parametrize("unit", ["wire", "body"])
    def test_expected_bytes_are_what_the_server_writes(self, response: mp.Step, unit: str) -> None:
        points = mp.cut_points(response, unit=unit, how="reset", interims=[mp.processing((0, 1))])  # type: ignore[arg-type]
        assert points, "a response always has at least one cut point"
        for point in points:
            wire = Wire()
            serve(wire, mp.processing((0, 1)), point.response)
            out = wire.run([GET], eof=False)
            assert out == point.expected, point.id
            fault = wire.state.journal().last.fault
            assert fault is not None and fault.body_bytes == point.body_bytes, point.id
            assert wire.closed == "reset"
            assert wire.state.problems == [], point.id

    def test_a_small_response_gets_every_offset_with_named_places(self) -> None:
        ids = [p.id for p in mp.cut_points(mp.respond(200, b"ab"))]
        head = len(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
        assert len(ids) == head + 3
        assert ids[0] == "wire-0-nothing-close"
        assert ids[17] == "wire-17-after-status-line-close"
        assert ids[18] == "wire-18-in-header-content-length-close"
        assert ids[head - 1] == f"wire-{head - 1}-in-blank-line-close"
        assert ids[head] == f"wire-{head}-after-head-close"
        assert ids[head + 1] == f"wire-{head + 1}-after-first-body-byte-close"
        assert ids[-1] == f"wire-{head + 2}-complete-close"
        body = [
            p.id
            for p in mp.cut_points(
                mp.respond(200, [b"abc", b"de"]), unit="body", how=("close", "stall")
            )
        ]
        assert body[:4] == [
            "body-0-no-body-close",
            "body-0-no-body-stall",
            "body-1-after-first-body-byte-close",
            "body-1-after-first-body-byte-stall",
        ]
        assert "body-3-after-chunk-1-close" in body and body[-1] == "body-5-all-body-stall"

    def test_a_large_response_gets_the_edges_of_every_part_plus_a_sample(self) -> None:
        chunks = [bytes([65 + i]) * 700 for i in range(3)]
        response = mp.respond(200, chunks, {"Content-Type": "application/octet-stream"})
        points = mp.cut_points(response, sample=10, seed=7)
        places = {p.where for p in points}
        for part in ("status-line", "header-content-type", "header-transfer-encoding"):
            assert f"in-{part}" in places and f"after-{part}" in places
        assert {
            "in-blank-line",
            "after-head",
            "after-first-body-byte",
            "before-last-body-byte",
        } <= places
        for i in (1, 2, 3):
            assert {
                f"after-chunk-{i}-size",
                f"in-chunk-{i}-data",
                f"after-chunk-{i}-data",
            } <= places
        assert {"in-last-chunk", "complete"} <= places
        assert len(points) < 100
        assert [p.at for p in points] == [p.at for p in mp.cut_points(response, sample=10, seed=7)]
        assert [p.at for p in points] != [p.at for p in mp.cut_points(response, sample=10, seed=8)]

    def test_mistakes(self) -> None:
        with pytest.raises(mp.ScenarioError, match="without a cut"):
            mp.cut_points(mp.respond(200, b"x").cut(0))
        with pytest.raises(mp.ScenarioError, match="cut how"):
            mp.cut_points(mp.respond(200, b"x"), how="explode")  # type: ignore[arg-type]
        with pytest.raises(mp.ScenarioError, match="interim steps"):
            mp.cut_points(mp.respond(200, b"x"), interims=[mp.pause(1)])  # type: ignore[list-item]


def test_the_100_that_never_comes_is_never_sent() -> None:
    (case,) = mp.gauntlet("100-never-comes")
    wire = Wire()
    exp = Expectation(case.method, "/g", expect_continue=case.expect_continue)  # type: ignore[arg-type]
    exp.respond(*case.steps)
    wire.state.add_expectation(exp)
    request = b"POST /g HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"
    out = wire.run([request, b"abc"])
    assert out.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"100 Continue" not in out
    ex = wire.state.journal().last
    assert ex.body == b"abc" and ex.interims == ()
    assert ex.body_before_continue is None  # no 100 ever went out
