"""Proxy mode's decisions, sans-IO: what goes up, what comes back, where a cut falls, how much
is held, what trouble gets. ``Wire`` plays the client and ``FakeUpstream`` the upstream."""

from __future__ import annotations

import h11
import pytest
from support.sansio import FakeUpstream, Wire, config, parse_responses

import mockprogress as mp
from mockprogress.engine.actions import Send, Sleep, UpstreamOpen, UpstreamSend, UpstreamTrouble
from mockprogress.engine.proxy import READ_SIZE, UpstreamURL
from mockprogress.engine.wire import STREAM_PIECE

URL = "http://10.0.0.7:8080/api"


def proxy_wire(*replies: bytes | UpstreamTrouble, **options: object) -> Wire:
    state = config(upstream=UpstreamURL.parse(URL), **options)
    return Wire(state=state, upstream=FakeUpstream(list(replies)))


def sent_up(wire: Wire) -> tuple[h11.Request, bytes]:
    """The request the upstream got, and its body."""
    assert wire.upstream is not None
    server = h11.Connection(h11.SERVER)
    server.receive_data(bytes(wire.upstream.received))
    request = server.next_event()
    assert isinstance(request, h11.Request)
    body = b""
    while isinstance(event := server.next_event(), h11.Data):
        body += event.data
    return request, body


def fields(headers: h11._headers.Headers) -> list[tuple[str, str]]:
    return [(n.decode().lower(), v.decode()) for n, v in headers.raw_items()]


class TestTheRequestUp:
    def test_hop_by_hop_fields_stay_host_and_via_are_set_the_target_goes_under_the_base(
        self,
    ) -> None:
        wire = proxy_wire(b"HTTP/1.1 204 No Content\r\n\r\n")
        wire.run(
            [
                b"GET /items?id=1 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\nConnection: keep-alive, "
                b"X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
                b"Proxy-Connection: keep-alive\r\nUpgrade: h2c\r\nVia: 1.0 corp\r\n"
                b"Accept: */*\r\n\r\n"
            ]
        )
        assert wire.upstream is not None
        assert wire.upstream.opened == [UpstreamOpen("10.0.0.7", 8080, False, 30.0)]
        request, body = sent_up(wire)
        assert request.target == b"/api/items?id=1"
        assert fields(request.headers) == [
            ("host", "10.0.0.7:8080"),
            ("accept", "*/*"),
            ("via", "1.0 corp, 1.1 mockprogress"),
            ("connection", "close"),
        ]
        assert body == b""

    def test_expect_stays_on_the_clients_hop_and_the_body_keeps_its_framing(self) -> None:
        for framing, chunked in ((b"Content-Length: 5\r\n", False), (b"", True)):
            wire = proxy_wire(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            body = b"5\r\nhello\r\n0\r\n\r\n" if chunked else b"hello"
            te = b"Transfer-Encoding: chunked\r\n" if chunked else b""
            out = wire.run(
                [
                    b"POST /u HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n"
                    + framing
                    + te
                    + b"\r\n",
                    body,
                ]
            )
            assert out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
            request, sent = sent_up(wire)
            assert sent == b"hello"
            names = [n for n, _ in fields(request.headers)]
            assert "expect" not in names
            assert ("transfer-encoding" in names) is chunked

    def test_the_body_goes_up_a_read_at_a_time(self) -> None:
        body = bytes(range(256)) * 4096  # 1 MiB
        wire = proxy_wire(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        head = f"PUT /f HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n\r\n"
        wire.run([head.encode(), *(body[i : i + 65536] for i in range(0, len(body), 65536))])
        assert sent_up(wire)[1] == body
        sends = [a for a in wire.actions if isinstance(a, UpstreamSend)]
        assert max(len(a.data) for a in sends) <= READ_SIZE + 64  # one read (and its framing)
        assert len(sends) >= len(body) // READ_SIZE


class TestTheAnswerBack:
    def test_interims_are_relayed_but_100_and_the_final_head_loses_its_hop_by_hop_fields(
        self,
    ) -> None:
        wire = proxy_wire(
            b"HTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 102 Processing\r\nProgress: 1/2\r\n\r\n"
            b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nConnection: close, X-Private\r\nX-Private: 1\r\n"
            b"Keep-Alive: timeout=1\r\nVia: 1.1 cdn\r\nContent-Length: 3\r\nX-Kept: k\r\n\r\nabc"
        )
        out = wire.run([b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"])
        events = parse_responses(out)
        assert [type(e).__name__ for e in events] == [
            "InformationalResponse",
            "InformationalResponse",
            "Response",
            "Data",
            "EndOfMessage",
        ]
        assert [e.status_code for e in events[:3]] == [102, 103, 200]
        assert fields(events[2].headers) == [
            ("x-kept", "k"),
            ("via", "1.1 cdn, 1.1 mockprogress"),
            ("content-length", "3"),
        ]
        [ex] = wire.state.journal()
        assert [i.status for i in ex.interims] == [102, 103]
        assert [e.status for e in ex.upstream if e.status] == [100, 102, 103, 200]
        assert not wire.state.problems

    def test_a_body_without_a_length_is_relayed_chunked_as_it_comes(self) -> None:
        wire = proxy_wire(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        )
        out = wire.run([b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"])
        assert out.endswith(b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        [ex] = wire.state.journal()
        assert ex.response is not None
        assert (ex.response.body_sent, ex.response.complete) == (5, True)

    def test_a_body_ended_by_the_close_reaches_an_http10_client_ended_by_the_close(self) -> None:
        wire = proxy_wire(b"HTTP/1.1 200 OK\r\n\r\nabcde")
        out = wire.run([b"GET / HTTP/1.0\r\n\r\n"])
        head, _, body = out.partition(b"\r\n\r\n")
        assert body == b"abcde" and b"Content-Length" not in head and b"chunked" not in head
        assert wire.closed == "close"

    @pytest.mark.parametrize("unit", ["body", "wire"])
    def test_a_cut_in_a_body_without_a_length_is_exact_at_every_offset(self, unit: str) -> None:
        chunks = [b"abc", b"defgh", b"ij"]
        upstream = (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
            + b"0\r\n\r\n"
        )
        whole = proxy_wire(upstream).run([b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"])
        head_end = whole.index(b"\r\n\r\n") + 4
        body = b"".join(chunks)
        ats = range(len(body) + 1) if unit == "body" else range(head_end, len(whole))
        for at in ats:
            wire = proxy_wire(upstream)
            wire.state.add_expectation(
                mp.Expectation("GET", "/").respond(mp.forward().cut(at=at, unit=unit, how="reset"))
            )
            out = wire.run([b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"])
            assert wire.closed == "reset", at
            if unit == "wire":
                assert out == whole[:at], at
                continue
            # Exactly `at` body bytes: the chunks up to the cut, the last one's data cut short.
            assert dechunked(out[head_end:]) == body[:at], at
            [ex] = wire.state.journal()
            assert ex.fault is not None and ex.fault.body_bytes == at, at
            assert not wire.state.problems, at

    def test_a_cut_past_the_end_of_a_body_without_a_length_falls_at_its_end(self) -> None:
        wire = proxy_wire(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        )
        wire.state.add_expectation(
            mp.Expectation("GET", "/").respond(mp.forward().cut(at=10, how="close"))
        )
        out = wire.run([b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"])
        assert out.endswith(b"3\r\nabc\r\n") and wire.closed == "close"
        [problem] = wire.state.problems
        assert "cut at body byte 10 but the 200 response ended after 3 body bytes" in str(problem)

    @pytest.mark.parametrize("at", [0, 1, 99_999, 100_000, 250_000])
    def test_a_cut_sends_exactly_n_upstream_bytes_and_reads_little_past_them(self, at: int) -> None:
        body = bytes(range(256)) * 1000  # 256,000 bytes
        wire = proxy_wire(b"HTTP/1.1 200 OK\r\nContent-Length: 256000\r\n\r\n" + body)
        wire.state.add_expectation(
            mp.Expectation("GET", "/").respond(mp.forward().cut(at=at, how="reset"))
        )
        out = wire.run([b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"])
        assert out.partition(b"\r\n\r\n")[2] == body[:at]
        assert wire.closed == "reset"
        assert wire.upstream is not None
        assert wire.upstream.delivered <= at + STREAM_PIECE + READ_SIZE + 100
        assert wire.upstream.closes >= 1

    def test_a_long_body_is_never_held_whole(self) -> None:
        size = 8 << 20
        body = bytes(range(256)) * (size // 256)
        wire = proxy_wire(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode() + body)
        out = wire.run([b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"])
        assert out.partition(b"\r\n\r\n")[2] == body
        assert max(wire.held) <= STREAM_PIECE + READ_SIZE

    def test_an_http10_client_gets_no_interim(self) -> None:
        wire = proxy_wire(
            b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
        )
        out = wire.run([b"GET / HTTP/1.0\r\n\r\n"])
        assert out.startswith(b"HTTP/1.1 200 OK\r\n") and out.endswith(b"\r\n\r\nx")
        [ex] = wire.state.journal()
        assert [i.skipped for i in ex.interims] == [True]


class TestTrouble:
    @pytest.mark.parametrize(
        ("trouble", "status"),
        [
            (UpstreamTrouble("refused", "refused the connection (x)"), b"502 Bad Gateway"),
            (UpstreamTrouble("timeout", "did not accept a connection within 30 s"), b"504"),
        ],
    )
    def test_an_upstream_that_cannot_be_reached(
        self, trouble: UpstreamTrouble, status: bytes
    ) -> None:
        wire = proxy_wire()
        assert wire.upstream is not None
        wire.upstream.refuse = trouble
        out = wire.run([b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"])
        assert out.startswith(b"HTTP/1.1 " + status)
        assert f"upstream {URL} {trouble.detail}".encode() in out
        assert [(p.kind, p.message) for p in wire.state.problems] == [
            ("upstream", f"upstream {URL} {trouble.detail}")
        ]

    @pytest.mark.parametrize(
        ("reply", "says"),
        [
            (UpstreamTrouble("timeout", "sent nothing for 30 s"), b"504 Gateway Timeout"),
            (UpstreamTrouble("reset", "reset the connection (x)"), b"502 Bad Gateway"),
            (b"", b"closed the connection without a response"),
            (b"NOT HTTP\r\n\r\n", b"sent a malformed response"),
        ],
    )
    def test_an_upstream_that_does_not_answer(
        self, reply: bytes | UpstreamTrouble, says: bytes
    ) -> None:
        wire = proxy_wire(reply)
        out = wire.run([b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"])
        assert says in out
        assert [p.kind for p in wire.state.problems] == ["upstream"]

    def test_an_upstream_that_stops_mid_body_resets_the_client_after_what_came(self) -> None:
        wire = proxy_wire(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123")
        out = wire.run([b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"])
        assert out.endswith(b"Content-Length: 10\r\n\r\n0123")
        assert wire.closed == "reset"
        [ex] = wire.state.journal()
        assert ex.response is not None and ex.response.body_sent == 4
        assert not ex.response.complete
        assert [p.message for p in wire.state.problems] == [
            f"upstream {URL} closed the connection after 4 body bytes"
        ]

    def test_a_web_page_is_not_forwarded(self) -> None:
        wire = proxy_wire()
        out = wire.run(
            [b"GET / HTTP/1.1\r\nHost: localhost\r\nOrigin: https://evil.example\r\n\r\n"]
        )
        assert out.startswith(b"HTTP/1.1 403 Forbidden\r\n")
        assert wire.upstream is not None and wire.upstream.opened == []

    def test_forward_without_an_upstream_is_a_scenario_error(self) -> None:
        wire = Wire(state=config())
        wire.state.add_expectation(mp.Expectation("GET", "/").respond(mp.forward()))
        out = wire.run([b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"])
        assert out.startswith(b"HTTP/1.1 500 ")
        assert [p.kind for p in wire.state.problems] == ["scenario-error"]


class TestTheStep:
    def test_bad_urls_fail_where_they_are_written(self) -> None:
        for url in ("ftp://x", "http://", "http://h:port", "http://h/?q=1", "http://u:p@h"):
            with pytest.raises(mp.ScenarioError, match="upstream"):
                mp.forward(url)
        with pytest.raises(mp.ScenarioError, match="remove_headers"):
            mp.forward(remove_headers=[""])

    def test_the_authority_leaves_out_a_default_port(self) -> None:
        assert UpstreamURL.parse("https://example.test/").authority == "example.test"
        assert UpstreamURL.parse("http://[::1]:81").authority == "[::1]:81"
        assert str(UpstreamURL.parse("http://h:8080/base/")) == "http://h:8080/base"


class TestRequestCut:
    def test_exactly_n_body_bytes_go_up_and_nothing_more_is_read(self) -> None:
        wire = proxy_wire()
        wire.state.add_expectation(
            mp.Expectation("PUT", "/f").respond(mp.forward().cut_request(70_000, "reset"))
        )
        body = bytes(range(256)) * 1000
        head = f"PUT /f HTTP/1.1\r\nHost: localhost\r\nContent-Length: {len(body)}\r\n\r\n"
        out = wire.run([head.encode() + body])
        assert out == b"" and wire.closed == "reset"
        assert wire.upstream is not None
        assert wire.upstream.received.endswith(b"\r\n\r\n" + body[:70_000])
        [ex] = wire.state.journal()
        assert ex.body == body[:70_000]
        assert ex.fault is not None
        assert (ex.fault.side, ex.fault.body_bytes) == ("request", 70_000)
        assert ex.upstream[-1].detail.endswith("then the connection closed (cut_request)")

    def test_a_body_shorter_than_the_cut_goes_up_whole_and_says_so(self) -> None:
        wire = proxy_wire(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        wire.state.add_expectation(
            mp.Expectation("PUT", "/f").respond(mp.forward().cut_request(10))
        )
        out = wire.run([b"PUT /f HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n\r\nabcd"])
        assert out.startswith(b"HTTP/1.1 201 Created\r\n")
        assert sent_up(wire)[1] == b"abcd"
        assert [p.message for p in wire.state.problems] == [
            "cut_request(at=10) did not fire: the request body has 4 bytes"
        ]


def test_the_diagram_draws_the_upstream_leg() -> None:
    wire = proxy_wire(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    wire.run([b"GET /x HTTP/1.1\r\nHost: localhost\r\n\r\n"])
    lines = wire.state.journal().to_mermaid().splitlines()
    assert "    participant U as upstream" in lines
    assert [line for line in lines if "U" in line.split(":")[0]] == [
        "    participant U as upstream",
        "    S->>U: GET /api/x HTTP/1.1",
        "    U->>S: 200 OK",
        "    U->>S: 2 of 2 body bytes (all of it)",
    ]


def dechunked(body: bytes) -> bytes:
    """The data of a chunked body, whole or cut anywhere."""
    data = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16) if size_line else 0
        data, body = data + body[:size], body[size + 2 :]
    return data


def test_a_drip_paces_a_body_without_a_length_chunk_by_chunk() -> None:
    wire = proxy_wire(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n"
    )
    wire.state.add_expectation(
        mp.Expectation("GET", "/").respond(mp.forward().drip(chunk=4, interval=0.01))
    )
    out = wire.run([b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"])
    assert out.endswith(b"\r\n\r\na\r\n0123456789\r\n0\r\n\r\n")
    writes = [len(a.data) for a in wire.actions if isinstance(a, Send)]
    sleeps = [a.seconds for a in wire.actions if isinstance(a, Sleep)]
    head = out.index(b"\r\n\r\n") + 4
    # The head whole, then the chunk's 15 framed bytes 4 at a time, then the last chunk.
    assert writes == [head, 4, 4, 4, 3, 5]
    assert sleeps == [0.01] * 4


def test_a_body_without_a_length_is_never_held_whole() -> None:
    # max_body_size bounds what a server holds; a relayed body is not held, whatever its size.
    chunk = b"4000\r\n" + b"x" * 16384 + b"\r\n"
    upstream = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 512
    wire = proxy_wire(upstream + b"0\r\n\r\n", max_body_size=4096)
    out = wire.run([b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"])
    head, _, body = out.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head and body.endswith(b"\r\n0\r\n\r\n")
    assert dechunked(body) == b"x" * 16384 * 512
    assert max(wire.held) <= STREAM_PIECE + READ_SIZE


def test_the_expectations_continue_policy_applies_toward_the_client() -> None:
    wire = proxy_wire(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    wire.state.add_expectation(
        mp.Expectation("PUT", "/f", expect_continue="immediate").respond(mp.forward())
    )
    out = wire.run(
        [
            b"PUT /f HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
            b"ab",
        ]
    )
    assert out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n")
    kinds = [type(a).__name__ for a in wire.actions]
    assert kinds.index("Send") < kinds.index("UpstreamOpen")  # the 100 before the upstream
    assert sent_up(wire)[1] == b"ab"
