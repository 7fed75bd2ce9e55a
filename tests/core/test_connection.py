"""The pure core over h11, driven without sockets: exact bytes out, exact delays asked for."""

from __future__ import annotations

import h11
import pytest
from support.sansio import Wire, config, parse_responses

import mockprogress as mp
from mockprogress.engine.actions import Close, Hold, Sleep
from mockprogress.engine.matching import Expectation
from mockprogress.engine.state import ServerState

JOBS = [
    mp.processing('0/3 "Herding cats"', location="/jobs/1/status"),
    mp.pause(0.05),
    mp.processing((1, 3, "Knitting sweaters")),
    mp.pause(0.05),
    mp.processing((2, 3, "Slaying dragons")),
    mp.respond(201, b"created\n", {"Location": "/items/1"}),
]


def expect(
    state: ServerState, method: str, path: str, *steps: mp.Step, **kw: object
) -> Expectation:
    exp = Expectation(method, path, **kw)  # type: ignore[arg-type]
    if steps:
        exp.respond(*steps)
    state.add_expectation(exp)
    return exp


def post(path: str, body: bytes = b"", extra: str = "", version: str = "1.1") -> bytes:
    return (
        f"POST {path} HTTP/{version}\r\nHost: x\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    ).encode() + body


def test_interims_then_final_response_exact_bytes_and_delays() -> None:
    wire = Wire()
    expect(wire.state, "POST", "/jobs", *JOBS)
    out = wire.run([post("/jobs", b"hello")])
    assert out == (
        b"HTTP/1.1 102 Processing\r\n"
        b'Progress: 0/3 "Herding cats"\r\nLocation: /jobs/1/status\r\n\r\n'
        b'HTTP/1.1 102 Processing\r\nProgress: 1/3 "Knitting sweaters"\r\n\r\n'
        b'HTTP/1.1 102 Processing\r\nProgress: 2/3 "Slaying dragons"\r\n\r\n'
        b"HTTP/1.1 201 Created\r\nLocation: /items/1\r\nContent-Length: 8\r\n\r\ncreated\n"
    )
    assert wire.sleeps == [0.05, 0.05]
    ex = wire.state.journal().last
    assert [i.status for i in ex.interims] == [102, 102, 102]
    assert [i.headers["progress"] for i in ex.interims] == [
        '0/3 "Herding cats"',
        '1/3 "Knitting sweaters"',
        '2/3 "Slaying dragons"',
    ]
    assert [round(i.at, 3) for i in ex.interims] == [0.0, 0.05, 0.1]
    assert ex.response is not None and ex.response.status == 201 and ex.response.complete
    assert ex.body == b"hello" and ex.body_complete
    assert ex.fault is None
    assert wire.state.check_error() is None


def test_every_status_line_carries_its_reason_phrase() -> None:
    wire = Wire()
    expect(wire.state, "GET", "/", mp.interim(104), mp.interim(150), mp.respond(299))
    out = wire.run([b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"])
    assert b"HTTP/1.1 104 Upload Resumption Supported\r\n" in out
    assert b"HTTP/1.1 150 Informational\r\n" in out
    assert b"HTTP/1.1 299 Incomplete Resource\r\n" in out


def test_no_interim_goes_to_an_http10_client() -> None:
    wire = Wire()
    expect(wire.state, "POST", "/jobs", *JOBS)
    out = wire.run([post("/jobs", b"hi", version="1.0")])
    assert out.startswith(b"HTTP/1.1 201 Created\r\n")
    assert b" 102 " not in out
    ex = wire.state.journal().last
    assert [(i.status, i.skipped) for i in ex.interims] == [(102, True)] * 3
    assert [e.kind for e in ex.events].count("interim-skipped") == 3
    assert wire.closed == "close"  # HTTP/1.0 without keep-alive


def test_keep_alive_and_pipelined_requests_are_answered_in_order() -> None:
    wire = Wire()
    expect(wire.state, "GET", "/a", mp.respond(200, b"A"))
    expect(wire.state, "GET", "/b", mp.pause(0.1), mp.respond(200, b"B"))
    expect(wire.state, "GET", "/c", mp.respond(200, b"C"))
    pipelined = b"".join(f"GET /{p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in "abc")
    out = wire.run([pipelined])
    events = parse_responses(out)
    bodies = [bytes(e.data) for e in events if isinstance(e, h11.Data)]
    assert bodies == [b"A", b"B", b"C"]
    journal = wire.state.journal()
    assert [ex.path for ex in journal] == ["/a", "/b", "/c"]
    assert {ex.connection for ex in journal} == {1}


def test_chunked_request_body_is_read() -> None:
    wire = Wire()
    expect(wire.state, "PUT", "/up", mp.respond(204))
    wire.run(
        [
            b"PUT /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        ]
    )
    ex = wire.state.journal().last
    assert ex.body == b"hello world" and ex.body_complete


class TestExpectContinue:
    def test_lazy_100_goes_out_when_the_body_is_first_needed(self) -> None:
        wire = Wire()
        expect(wire.state, "POST", "/up", mp.processing((0, 1)), mp.respond(200, b"ok"))
        head = post("/up", b"", "Expect: 100-continue\r\n").replace(
            b"Content-Length: 0", b"Content-Length: 4"
        )
        out = wire.run([head, b"data"])
        statuses = [
            e.status_code
            for e in parse_responses(out, "POST")
            if isinstance(e, h11.InformationalResponse | h11.Response)
        ]
        assert statuses == [102, 100, 200]
        ex = wire.state.journal().last
        assert ex.body == b"data"
        assert [i.status for i in ex.interims] == [102, 100]

    def test_the_scripts_own_100_is_not_doubled(self) -> None:
        wire = Wire()
        expect(
            wire.state,
            "POST",
            "/up",
            mp.interim(100, {"Request-Content-Location": "/r/1"}),
            mp.respond(200),
        )
        head = post("/up", b"", "Expect: 100-continue\r\n").replace(
            b"Content-Length: 0", b"Content-Length: 4"
        )
        out = wire.run([head, b"data"])
        assert out.count(b"HTTP/1.1 100 Continue\r\n") == 1
        assert b"Request-Content-Location: /r/1\r\n" in out
        assert wire.state.journal().last.body == b"data"

    def test_answering_before_the_body_closes_the_connection(self) -> None:
        wire = Wire()
        expect(wire.state, "POST", "/up", mp.respond(417), mp.read_body())
        head = post("/up", b"", "Expect: 100-continue\r\n").replace(
            b"Content-Length: 0", b"Content-Length: 4"
        )
        out = wire.run([head], eof=False)
        assert b"100 Continue" not in out
        assert out.startswith(b"HTTP/1.1 417 Expectation Failed\r\n")
        assert b"Connection: close\r\n" in out
        ex = wire.state.journal().last
        assert ex.body == b"" and not ex.body_complete
        assert wire.closed == "close"

    def test_http10_expect_is_ignored(self) -> None:
        wire = Wire()
        expect(wire.state, "POST", "/up", mp.respond(200))
        wire.run([post("/up", b"data", "Expect: 100-continue\r\n", version="1.0")])
        assert b"100" not in bytes(wire.out).split(b"\r\n")[0]


def test_read_body_upto_keeps_exactly_n_bytes_and_closes_after_the_response() -> None:
    wire = Wire()
    expect(wire.state, "POST", "/up", mp.read_body(upto=3), mp.respond(200, b"partial"))
    out = wire.run([post("/up", b"0123456789")], eof=False)
    assert b"Connection: close\r\n" in out
    ex = wire.state.journal().last
    assert ex.body == b"012" and not ex.body_complete
    assert wire.closed == "close"


def test_read_body_upto_asks_the_socket_for_no_more_than_the_cut() -> None:
    wire = Wire()
    expect(wire.state, "POST", "/up", mp.read_body(upto=7), mp.drop())
    head = post("/up", b"").replace(b"Content-Length: 0", b"Content-Length: 100")
    wire.run([head, b"x" * 100], eof=False)
    assert wire.read_sizes[-1] == 7
    ex = wire.state.journal().last
    assert ex.body == b"x" * 7
    assert ex.fault is not None and (ex.fault.side, ex.fault.body_bytes) == ("request", 7)


def test_draining_after_the_response_keeps_the_connection() -> None:
    wire = Wire()
    expect(wire.state, "POST", "/up", mp.read_body(upto=2), mp.respond(202), mp.read_body())
    expect(wire.state, "GET", "/next", mp.respond(200, b"next"))
    out = wire.run([post("/up", b"abcdef") + b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n"])
    assert b"Connection: close" not in out
    assert out.endswith(b"next")
    assert wire.state.journal()[0].body == b"abcdef"


class TestErrors:
    def test_unmatched_request_gets_500_naming_the_closest(self) -> None:
        wire = Wire()
        expect(wire.state, "POST", "/jobs", mp.respond(201))
        out = wire.run([b"GET /jobs HTTP/1.1\r\nHost: x\r\n\r\n"])
        assert out.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
        assert b"GET /jobs matched no expectation" in out
        assert b"expect POST /jobs: method: wanted POST, got GET" in out
        error = wire.state.check_error()
        assert error is not None and "[unmatched]" in str(error)

    def test_malformed_request_gets_400_and_is_recorded(self) -> None:
        wire = Wire()
        out = wire.run([b"NOT HTTP AT ALL\r\n\r\n"])
        assert out.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert wire.closed == "close"
        assert [p.kind for p in wire.state.problems] == ["malformed-request"]
        assert wire.state.journal().last.response is not None

    def test_oversized_head_gets_431(self) -> None:
        wire = Wire(state=config(max_header_size=1024))
        out = wire.run([b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2000 + b"\r\n\r\n"])
        assert out.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")

    def test_declared_body_over_the_limit_gets_413_unread(self) -> None:
        wire = Wire(state=config(max_body_size=10))
        expect(wire.state, "POST", "/up", mp.respond(200))
        out = wire.run([post("/up", b"x" * 11)], eof=False)
        assert out.startswith(b"HTTP/1.1 413 Content Too Large\r\n")
        assert b"Connection: close" in out
        assert wire.state.journal().last.body == b""
        assert [p.kind for p in wire.state.problems] == ["limit"]

    def test_chunked_body_over_the_limit_gets_413(self) -> None:
        wire = Wire(state=config(max_body_size=8))
        expect(wire.state, "POST", "/up", mp.respond(200))
        out = wire.run(
            [
                b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n"
            ]
        )
        assert out.startswith(b"HTTP/1.1 413 Content Too Large\r\n")
        # The chunk that crosses the limit was read: its bytes within the limit are kept.
        assert wire.state.journal().last.body == b"hellowor"

    def test_bad_chunk_framing_is_a_malformed_request(self) -> None:
        wire = Wire()
        expect(wire.state, "POST", "/up", mp.respond(200))
        out = wire.run(
            [b"POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"]
        )
        assert out.startswith(b"HTTP/1.1 400 Bad Request\r\n")
        assert [p.kind for p in wire.state.problems] == ["malformed-request"]

    def test_client_closing_mid_body_is_journaled_not_a_problem(self) -> None:
        wire = Wire()
        expect(wire.state, "POST", "/up", mp.respond(200))
        head = post("/up", b"").replace(b"Content-Length: 0", b"Content-Length: 10")
        out = wire.run([head, b"abc"])
        assert out == b""
        ex = wire.state.journal().last
        assert ex.body == b"abc" and not ex.body_complete
        assert ex.events[-1].kind == "closed"
        assert wire.state.problems == []

    def test_sync_handler_errors_become_500_and_problems(self) -> None:
        wire = Wire()
        exp = expect(wire.state, "GET", "/boom")
        exp.respond_with(lambda request: 1 / 0)  # type: ignore[arg-type,return-value]
        out = wire.run([b"GET /boom HTTP/1.1\r\nHost: x\r\n\r\n"])
        assert out.startswith(b"HTTP/1.1 500 ")
        assert b"ZeroDivisionError" in out
        assert [p.kind for p in wire.state.problems] == ["handler-error"]

    def test_unconsumed_times_is_reported(self) -> None:
        state = ServerState()
        expect(state, "GET", "/twice", mp.respond(200), times=2)
        error = state.check_error()
        assert error is not None
        assert "expect GET /twice expected 2 request(s), got 0" in str(error)


def test_sync_handler_returns_steps_built_from_the_request() -> None:
    wire = Wire()
    exp = expect(wire.state, "POST", "/echo")
    exp.respond_with(lambda request: [mp.processing((0, 1)), mp.respond(200, request.body[::-1])])
    out = wire.run([post("/echo", b"abc")])
    assert out.endswith(b"cba")
    assert b"102 Processing" in out


def test_head_response_has_no_body_bytes() -> None:
    wire = Wire()
    expect(wire.state, "HEAD", "/r", mp.respond(200, b"0123456789"))
    out = wire.run([b"HEAD /r HTTP/1.1\r\nHost: x\r\n\r\n"])
    assert out == b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"


def test_chunked_response_uses_the_given_chunk_boundaries() -> None:
    wire = Wire()
    expect(wire.state, "GET", "/c", mp.respond(200, [b"abc", b"de"]))
    out = wire.run([b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n"])
    assert out.endswith(b"\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")


class TestCuts:
    HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"

    @pytest.mark.parametrize("how", ["close", "reset"])
    @pytest.mark.parametrize("at", [0, 1, 5, 10])
    def test_body_cut_sends_head_and_exactly_n_body_bytes(self, at: int, how: str) -> None:
        wire = Wire()
        expect(wire.state, "GET", "/r", mp.respond(200, b"0123456789").cut(at, how=how))  # type: ignore[arg-type]
        out = wire.run([b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n"], eof=False)
        assert out == self.HEAD + b"0123456789"[:at]
        assert wire.closed == how
        ex = wire.state.journal().last
        assert ex.fault is not None
        assert (ex.fault.kind, ex.fault.side, ex.fault.body_bytes) == (how, "response", at)
        assert ex.fault.wire_bytes == len(out)
        assert ex.response is not None and not ex.response.complete

    @pytest.mark.parametrize("at", [0, 1, 17, 41, 42, 43, 60, 80, 90])
    def test_wire_cut_counts_every_byte_of_the_exchange(self, at: int) -> None:
        wire = Wire()
        expect(
            wire.state,
            "GET",
            "/r",
            mp.processing((0, 1)),
            mp.respond(200, b"0123456789").cut(at, unit="wire"),
        )
        out = wire.run([b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n"], eof=False)
        interim = b"HTTP/1.1 102 Processing\r\nProgress: 0/1\r\n\r\n"
        full = interim + self.HEAD + b"0123456789"
        if at >= len(interim):
            assert out == full[:at]
        else:
            # the interim went out whole before the response: a cut inside it is a mistake
            assert [p.kind for p in wire.state.problems] == ["scenario-error"]

    @pytest.mark.parametrize("at", range(0, 6))
    def test_chunked_body_cut_counts_content_not_framing(self, at: int) -> None:
        wire = Wire()
        expect(wire.state, "GET", "/c", mp.respond(200, [b"abc", b"de"]).cut(at))
        out = wire.run([b"GET /c HTTP/1.1\r\nHost: x\r\n\r\n"], eof=False)
        _, _, body = out.partition(b"\r\n\r\n")
        content = body.replace(b"3\r\n", b"", 1).replace(b"\r\n2\r\n", b"").replace(b"\r\n", b"")
        assert content == b"abcde"[:at]

    def test_stall_holds_then_closes(self) -> None:
        wire = Wire()
        expect(wire.state, "GET", "/s", mp.respond(200, b"abcdef").cut(2, how="stall", seconds=3))
        wire.run([b"GET /s HTTP/1.1\r\nHost: x\r\n\r\n"], eof=False)
        holds = [a for a in wire.actions if isinstance(a, Hold)]
        assert holds == [Hold(3.0)]
        assert isinstance(wire.actions[-1], Close)

    def test_drop_before_the_response(self) -> None:
        wire = Wire()
        expect(wire.state, "GET", "/d", mp.processing(), mp.drop("reset"))
        out = wire.run([b"GET /d HTTP/1.1\r\nHost: x\r\n\r\n"], eof=False)
        assert out == b"HTTP/1.1 102 Processing\r\n\r\n"
        assert wire.closed == "reset"
        ex = wire.state.journal().last
        assert ex.response is None and ex.fault is not None and ex.fault.kind == "reset"

    def test_raw_bytes_then_close(self) -> None:
        wire = Wire()
        expect(wire.state, "GET", "/raw", mp.raw(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"))
        out = wire.run([b"GET /raw HTTP/1.1\r\nHost: x\r\n\r\n"], eof=False)
        assert out == b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"
        assert wire.closed == "close"


def test_drip_splits_the_body_and_paces_it() -> None:
    wire = Wire()
    expect(wire.state, "GET", "/d", mp.respond(200, b"abcdefgh").drip(chunk=3, interval=0.5))
    out = wire.run([b"GET /d HTTP/1.1\r\nHost: x\r\n\r\n"])
    assert out.endswith(b"abcdefgh")
    sends = [a.data for a in wire.actions if type(a).__name__ == "Send"]
    assert sends[1:] == [b"abc", b"def", b"gh"]
    assert wire.sleeps == [0.5, 0.5, 0.5]
    assert all(isinstance(a, Sleep) for a in wire.actions if type(a).__name__ == "Sleep")


def test_read_body_chunk_streams_pieces_into_the_journal() -> None:
    from mockprogress.engine.exchange import ExchangeContext

    pieces: list[bytes] = []

    def handler(ctx: ExchangeContext):  # type: ignore[no-untyped-def]
        while True:
            chunk = yield from ctx.read_body_chunk(4)
            if not chunk:
                break
            pieces.append(chunk)
        yield from ctx.respond(mp.respond(200, b"%d" % len(pieces)), read_first=False)

    class Collect(mp.Resource):
        def serve(self, ctx):  # type: ignore[no-untyped-def,override]
            return handler(ctx)

    wire = Wire()
    wire.state.mount(Collect("/up"))
    out = wire.run([post("/up", b"0123456789")])
    assert pieces == [b"0123", b"4567", b"89"]
    assert out.endswith(b"3")
    assert wire.state.journal().last.body == b"0123456789"


def test_read_body_upto_the_whole_body_keeps_the_connection() -> None:
    wire = Wire()
    expect(wire.state, "POST", "/up", mp.read_body(upto=5), mp.respond(200))
    out = wire.run([post("/up", b"01234")])
    assert b"Connection: close" not in out
    assert wire.state.journal().last.body_complete


def test_too_many_header_lines_get_431() -> None:
    wire = Wire(state=config(max_header_count=3))
    expect(wire.state, "GET", "/", mp.respond(200))
    head = b"GET / HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(3))
    out = wire.run([head + b"\r\n"])
    assert out.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert [p.kind for p in wire.state.problems] == ["limit"]


def test_a_204_carries_no_content_length() -> None:
    # This used to send "Content-Length: 0" on a 204 (RFC 9110 §8.6: MUST NOT).
    wire = Wire()
    expect(wire.state, "DELETE", "/x", mp.respond(204))
    expect(wire.state, "GET", "/y", mp.respond(304, headers={"ETag": '"1"'}))
    out = wire.run([b"DELETE /x HTTP/1.1\r\nHost: x\r\n\r\nGET /y HTTP/1.1\r\nHost: x\r\n\r\n"])
    assert out == b'HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nETag: "1"\r\n\r\n'
