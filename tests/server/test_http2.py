"""HTTP/2 on the wire: streams side by side, faults at exact bytes per stream, SETTINGS a test
chooses, GOAWAY. The client is tests/support/h2_client.py (h2 over a socket: it sees every
interim, every reset code and the GOAWAY) or httpx where a real client's view is the point."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator

import h2.errors
import httpx
import pytest
from hpack import Encoder
from hyperframe.frame import (
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    RstStreamFrame,
    WindowUpdateFrame,
)
from support.h2_client import H2Client, read_frames

import mockprogress as mp


@pytest.fixture
def srv() -> Iterator[mp.MockServer]:
    with mp.MockServer(http2=mp.HTTP2(max_concurrent_streams=1000)) as server:
        yield server
        server.check()


def test_a_thousand_concurrent_streams_each_with_its_own_script(srv: mp.MockServer) -> None:
    def script(ex: mp.Exchange) -> list[mp.Step]:
        n = int(ex.path.rsplit("/", 1)[1])
        return [
            mp.processing((0, 1, f"stream {n}")),
            mp.pause(0.2),
            mp.early_hints(f"</{n}.css>; rel=preload"),
            mp.respond(200, f"body of {n}\n".encode()),
        ]

    srv.expect("GET", re.compile(r"/s/\d+")).respond_with(script)
    client = H2Client(srv.port, timeout=30)
    client.settings()
    started = time.monotonic()
    streams = [client.request("GET", f"/s/{n}") for n in range(1000)]
    outcome = client.collect(streams)
    took = time.monotonic() - started
    client.close()
    assert not outcome.closed and outcome.goaway is None
    for n, stream_id in enumerate(streams):
        got = outcome.streams[stream_id]
        assert [i[":status"] for i in got.interims] == ["102", "103"], n
        assert got.interims[0]["progress"] == f'0/1 "stream {n}"'
        assert got.interims[1]["link"] == f"</{n}.css>; rel=preload"
        assert got.response is not None and got.response[":status"] == "200"
        assert bytes(got.body) == f"body of {n}\n".encode() and got.ended
    # Side by side: a thousand 0.2 s pauses one after another would take 200 s.
    assert took < 20, took
    journal = srv.journal
    assert len(journal) == 1000 and len({ex.connection for ex in journal}) == 1
    assert sorted(ex.stream_id or 0 for ex in journal) == streams
    assert all([i.status for i in ex.interims] == [102, 103] for ex in journal)


BODY = bytes(random.Random(7).randrange(256) for _ in range(70_000))
# The edges of a frame (16,384 bytes) and of the client's first window (65,535), and a sample.
OFFSETS = sorted(
    {0, 1, 2, 16383, 16384, 16385, 32768, 65534, 65535, 65536, 69999, 70000}
    | set(random.Random(1).sample(range(70_000), 8))
)


@pytest.mark.parametrize("how", ["reset", "close", "stall"])
def test_cut_sweep_is_exact_with_httpx(srv: mp.MockServer, how: str) -> None:
    """Each offset on its own stream (``reset``, ``stall``: one connection; ``close`` ends
    its connection, so each gets a new one): httpx receives exactly N body bytes."""
    for at in OFFSETS:
        response = mp.respond(200, BODY)
        cut = (
            response.cut(at, how=how, seconds=0.0) if how == "stall" else response.cut(at, how=how)
        )  # type: ignore[arg-type]
        srv.expect("GET", f"/cut/{at}").respond(cut)
    wrong = []
    with httpx.Client(http1=False, http2=True, timeout=5) as client:
        for at in OFFSETS:
            got = b""
            try:
                with client.stream("GET", srv.url(f"/cut/{at}")) as r:
                    for chunk in r.iter_bytes():
                        got += chunk
            except httpx.RemoteProtocolError:
                pass
            else:
                wrong.append(f"{at}: no error")
            if got != BODY[:at]:
                wrong.append(f"{at}: got {len(got)} bytes")
    assert wrong == []
    by_path = {ex.path: ex for ex in srv.journal}
    for at in OFFSETS:
        ex = by_path[f"/cut/{at}"]
        assert ex.fault is not None and (ex.fault.kind, ex.fault.body_bytes) == (how, at)
        assert ex.response is not None and ex.response.body_sent == at
    connections = {ex.connection for ex in srv.journal}
    assert len(connections) == (len(OFFSETS) if how == "close" else 1)


def test_a_stalled_stream_leaves_the_others_alone(srv: mp.MockServer) -> None:
    srv.expect("GET", "/stalled").respond(mp.respond(200, b"0123456789").cut(4, how="stall"))
    srv.expect("GET", "/other").respond(mp.pause(0.05), mp.respond(200, b"other"))
    client = H2Client(srv.port)
    stalled = client.request("GET", "/stalled")
    other = client.request("GET", "/other")
    outcome = client.collect([other], also=(stalled,))
    assert bytes(outcome.streams[other].body) == b"other"
    assert bytes(outcome.streams[stalled].body) == b"0123"
    assert not outcome.streams[stalled].ended and outcome.streams[stalled].reset is None
    client.close()


def test_drop_reset_with_a_code_and_the_connection_goes_on(srv: mp.MockServer) -> None:
    srv.expect("POST", "/refuse").respond(
        mp.read_body(upto=5), mp.drop("reset", error_code="REFUSED_STREAM")
    )
    srv.expect("GET", "/next").respond(mp.respond(200, b"next"))
    client = H2Client(srv.port)
    refused = client.request("POST", "/refuse", b"0123456789")
    outcome = client.collect([refused])
    assert outcome.streams[refused].reset == h2.errors.ErrorCodes.REFUSED_STREAM
    following = client.request("GET", "/next")
    assert bytes(client.collect([following]).streams[following].body) == b"next"
    client.close()
    ex = srv.journal[0]
    assert ex.body == b"01234"
    assert ex.fault is not None and (ex.fault.side, ex.fault.body_bytes) == ("request", 5)


def test_goaway_then_new_streams_are_refused_and_the_connection_ends(srv: mp.MockServer) -> None:
    srv.expect("GET", "/bye").respond(
        mp.goaway(error_code="NO_ERROR"), mp.pause(0.05), mp.respond(200, b"last")
    )
    srv.expect("GET", "/late").respond(mp.respond(200, b"never"))
    client = H2Client(srv.port)
    bye = client.request("GET", "/bye")
    frames = read_frames(client.sock, until=lambda fs: any(isinstance(f, GoAwayFrame) for f in fs))
    assert [(f.last_stream_id, f.error_code) for f in frames if isinstance(f, GoAwayFrame)] == [
        (bye, 0)
    ]
    # While /bye pauses, a new stream (written by hand: the client's h2 opens none after a
    # GOAWAY) is refused; then /bye is answered, and the connection ends.
    client.send_raw(_headers_frame(bye + 2, "/late", client))
    rest = read_frames(client.sock, until=lambda fs: False)
    refused = [(f.stream_id, f.error_code) for f in rest if isinstance(f, RstStreamFrame)]
    assert refused == [(bye + 2, h2.errors.ErrorCodes.REFUSED_STREAM)]
    assert [f.data for f in rest if isinstance(f, DataFrame)] == [b"last"]
    client.close()
    assert [ex.path for ex in srv.journal] == ["/bye"]
    messages = [e for e in srv.journal[0].events if e.kind != "frame"]  # SETTINGS, ... aside
    assert messages[1].detail == "GOAWAY last_stream_id=1 NO_ERROR"


def _headers_frame(stream_id: int, path: str, client: H2Client) -> bytes:
    block = Encoder().encode(
        [(":method", "GET"), (":path", path), (":scheme", "http"), (":authority", client.host)]
    )
    frame = HeadersFrame(stream_id, data=block, flags=["END_HEADERS", "END_STREAM"])
    return frame.serialize()


def test_settings_the_test_chose_reach_the_client() -> None:
    spec = mp.HTTP2(max_concurrent_streams=1, max_frame_size=20000, initial_window_size=0)
    with mp.MockServer(http2=spec) as server:
        server.expect("POST", "/up").respond(mp.respond(200, b"x" * 50_000))
        client = H2Client(server.port)
        client.settings(2)  # the restrictions come in a second frame, in force once acknowledged
        remote = client.conn.remote_settings
        assert (remote.max_concurrent_streams, remote.max_frame_size) == (1, 20000)
        assert remote.initial_window_size == 0
        stream = client.request("POST", "/up")
        outcome = client.collect([stream])
        client.close()
        server.check()
    assert bytes(outcome.streams[stream].body) == b"x" * 50_000


@pytest.mark.parametrize("at", [0, 3, 9, 12, 20, 40])
def test_a_wire_cut_ends_the_connection_at_that_frame_byte(srv: mp.MockServer, at: int) -> None:
    """``unit="wire"`` counts the frames written for the exchange: the client gets exactly
    ``at`` of them (mid-frame too), then the connection ends."""
    srv.expect("GET", "/first").respond(mp.respond(200, b"x" * 30))
    srv.expect("GET", "/cut").respond(mp.respond(200, b"y" * 30).cut(at, unit="wire"))
    client = H2Client(srv.port)
    first = client.request("GET", "/first")
    assert bytes(client.collect([first]).streams[first].body) == b"x" * 30
    client.request("GET", "/cut")
    after = b""
    while data := client.sock.recv(65536):
        after += data
    client.close()
    assert len(after) == at
    ex = srv.journal[1]
    assert ex.fault is not None and (ex.fault.wire_bytes, ex.fault.kind) == (at, "close")
    # The response's HEADERS frame is 9 + 2 bytes here (both fields are in HPACK's tables by
    # then), the DATA frame's header 9 more: what lies past byte 20 is body.
    assert ex.response is not None and ex.response.body_sent == max(0, at - 20)


class _Broken(mp.Step):
    answers = True

    def run(self, ctx: object) -> Iterator[object]:
        raise RuntimeError("a step that breaks")
        yield


def test_a_failure_inside_a_stream_is_answered_and_contained(srv: mp.MockServer) -> None:
    srv.expect("GET", "/broken").respond(_Broken())
    srv.expect("GET", "/fine").respond(mp.respond(200, b"fine"))
    client = H2Client(srv.port)
    broken = client.request("GET", "/broken")
    fine = client.request("GET", "/fine")
    outcome = client.collect([broken, fine])
    client.close()
    assert outcome.streams[broken].response is not None
    assert outcome.streams[broken].response[":status"] == "500"
    assert b"RuntimeError('a step that breaks')" in outcome.streams[broken].body
    assert bytes(outcome.streams[fine].body) == b"fine"
    with pytest.raises(
        mp.ExpectationError, match=r"\[internal-error\] \(exchange #1\) HTTP/2 stream 1 failed"
    ):
        srv.check()
    srv.reset()


def test_a_tus_upload_cut_and_resumed_over_http2() -> None:
    """The upload resources work per stream: an interrupt after 1,000 bytes resets the stream
    (the connection goes on), and the client resumes from the offset HEAD reports."""
    data = bytes(range(256)) * 40
    tus = {"Tus-Resumable": "1.0.0"}
    with mp.MockServer(http2=True) as server:
        uploads = server.mount(
            mp.TusUploads("/files", interrupts=[mp.interrupt(after=1000, request=1)])
        )
        with httpx.Client(http1=False, http2=True, timeout=5) as client:
            created = client.post(
                server.url("/files"), headers={**tus, "Upload-Length": str(len(data))}
            )
            assert created.status_code == 201
            location = server.url(created.headers["location"])
            patch = {**tus, "Content-Type": "application/offset+octet-stream"}
            with pytest.raises(httpx.RemoteProtocolError, match="error_code:8"):
                client.patch(location, content=data[:5000], headers={**patch, "Upload-Offset": "0"})
            offset = int(client.head(location, headers=tus).headers["upload-offset"])
            assert offset == 1000
            done = client.patch(
                location, content=data[offset:], headers={**patch, "Upload-Offset": str(offset)}
            )
            assert done.status_code == 204
        server.check()
    (upload,) = uploads.uploads.values()
    assert upload.data == data and upload.complete
    assert {ex.connection for ex in server.journal} == {1}


def test_expect_100_continue_on_a_stream() -> None:
    """``expect_continue="immediate"``: the 100 is an informational HEADERS frame before the
    client sends the body."""
    with mp.MockServer(http2=True) as server:
        server.expect("PUT", "/wait", expect_continue="immediate").respond(
            mp.respond(201, b"stored")
        )
        client = H2Client(server.port)
        stream = client.conn.get_next_available_stream_id()
        headers = [(":method", "PUT"), (":path", "/wait"), (":scheme", "http")]
        headers += [(":authority", client.host), ("expect", "100-continue")]
        client.conn.send_headers(stream, headers)
        client.sock.sendall(client.conn.data_to_send())
        frames = read_frames(
            client.sock, until=lambda fs: any(isinstance(f, HeadersFrame) for f in fs)
        )
        assert [f.stream_id for f in frames if isinstance(f, HeadersFrame)] == [stream]
        client.conn.receive_data(b"".join(f.serialize() for f in frames))
        client.conn.send_data(stream, b"body", end_stream=True)
        client.sock.sendall(client.conn.data_to_send())
        outcome = client.collect([stream])
        client.close()
        server.check()
    got = outcome.streams[stream]
    assert got.response is not None and got.response[":status"] == "201"
    ex = server.journal.last
    assert [i.status for i in ex.interims] == [100] and ex.body_before_continue == 0
    assert ex.body == b"body"


def test_an_idle_connection_gets_a_goaway_after_keep_alive_timeout() -> None:
    with mp.MockServer(http2=True, keep_alive_timeout=0.2) as server:
        server.expect("GET", "/").respond(mp.respond(200, b"ok"))
        client = H2Client(server.port)
        stream = client.request("GET", "/")
        client.collect([stream])
        started = time.monotonic()
        frames = read_frames(client.sock, until=lambda fs: False)
        client.close()
        server.check()
    assert 0.15 < time.monotonic() - started < 2
    assert [f.error_code for f in frames if isinstance(f, GoAwayFrame)] == [0]
    assert "keep_alive_timeout" in server.journal.last.events[-1].detail


def test_the_diagram_draws_the_streams_side_by_side(srv: mp.MockServer) -> None:
    srv.expect("GET", "/slow").respond(mp.processing("0/1"), mp.pause(0.2), mp.respond(200))
    srv.expect("GET", "/quick").respond(mp.pause(0.1), mp.respond(204))
    client = H2Client(srv.port)
    slow = client.request("GET", "/slow")
    quick = client.request("GET", "/quick")
    client.collect([slow, quick])
    client.close()
    lines = srv.journal.to_mermaid().splitlines()
    assert lines[3] == "    Note over C,S: connection 1 (HTTP/2)"
    drawn = [line for line in lines[4:] if "->>" in line or "-->>" in line]
    assert sorted(drawn) == sorted(
        [
            "    C->>S: [1] GET /slow",
            "    C->>S: [3] GET /quick",
            "    S-->>C: [1] 102 Processing<br/>Progress: 0/1",
            "    S->>C: [3] 204 No Content",
            "    S->>C: [1] 200 OK",
        ]
    )
    # In time order, across the streams: the quick answer comes between the slow one's parts.
    assert drawn[0] == "    C->>S: [1] GET /slow"
    assert drawn[-2:] == ["    S->>C: [3] 204 No Content", "    S->>C: [1] 200 OK"]


def test_raw_writes_malformed_frames_then_the_connection_ends(srv: mp.MockServer) -> None:
    bad_ping = b"\x00\x00\x04\x06\x00\x00\x00\x00\x00abcd"  # a PING must carry 8 bytes
    srv.expect("GET", "/raw").respond(mp.raw(bad_ping))
    client = H2Client(srv.port)
    client.request("GET", "/raw")
    got = b""
    while data := client.sock.recv(65536):
        got += data
    client.close()
    assert got.endswith(bad_ping)  # after the server's SETTINGS and their acknowledgement
    ex = srv.journal.last
    assert ex.bytes_sent == len(bad_ping) and ex.events[-1].kind == "raw"


def test_a_window_of_zero_holds_the_upload_until_the_script_reads() -> None:
    """``initial_window_size=0``: the client may send no body byte until the script reads;
    the read opens the window by exactly what it asks for (a flow-control stall until then)."""
    with mp.MockServer(http2=mp.HTTP2(initial_window_size=0)) as server:
        server.expect("POST", "/slow").respond(
            mp.pause(0.2), mp.read_body(upto=3), mp.respond(200, b"took 3")
        )
        client = H2Client(server.port)
        client.settings(2)
        stream = client.conn.get_next_available_stream_id()
        fields = [(":method", "POST"), (":path", "/slow"), (":scheme", "http")]
        client.conn.send_headers(stream, [*fields, (":authority", client.host)])
        client.sock.sendall(client.conn.data_to_send())
        started = time.monotonic()
        assert client.conn.local_flow_control_window(stream) == 0
        frames = read_frames(
            client.sock,
            until=lambda fs: any(
                isinstance(f, WindowUpdateFrame) and f.stream_id == stream for f in fs
            ),
        )
        waited = time.monotonic() - started
        opened = [f.window_increment for f in frames if isinstance(f, WindowUpdateFrame)]
        assert waited >= 0.18 and opened[-1] == 3
        client.conn.receive_data(b"".join(f.serialize() for f in frames))
        client.conn.send_data(stream, b"abc", end_stream=False)
        client.sock.sendall(client.conn.data_to_send())
        got = client.collect([stream]).streams[stream]
        client.close()
        server.check()
    assert bytes(got.body) == b"took 3"
    assert server.journal.last.body == b"abc"


def test_proxy_mode_does_not_forward_http2_requests() -> None:
    """Proxy mode speaks HTTP/1.1 upstream: a request that came over HTTP/2 and would be
    forwarded is answered 502, and check() says why."""
    with mp.MockServer(http2=True, upstream="http://127.0.0.1:9") as server:
        client = H2Client(server.port)
        stream = client.request("GET", "/anything")
        got = client.collect([stream]).streams[stream]
        client.close()
        with pytest.raises(mp.ExpectationError, match=r"proxy mode forwards HTTP/1\.x, not HTTP/2"):
            server.check()
    assert got.response is not None and got.response[":status"] == "502"
