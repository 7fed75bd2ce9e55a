"""The bad-input catalogue (tests/support/bad_input_catalogue.py) holds, row by row, and
docs/bad-input.md shows exactly its rows.

Every wire row runs on one real server (reset between rows): the client gets the status the
row says, the connection closes or stays open as it says, ``check()`` reports the problems it
says, the journal (or the control log) keeps the exchange, and a fresh connection is served
afterwards. Every parser row returns or raises what it says. Then the page is rendered from
the rows and compared with docs/bad-input.md; ``MOCKPROGRESS_UPDATE_DOCS=1`` rewrites it.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
from collections.abc import Callable, Iterator

import h11
import pytest
from hpack import Decoder
from hyperframe.frame import (
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
)
from support.bad_input_catalogue import (
    MAGIC,
    PARSER_CASES,
    WIRE_CASES,
    ParserCase,
    WireCase,
    WireOutcome,
    catalogue_server,
    h2_get,
    setup,
)
from support.paths import ROOT
from support.recording_client import request

import mockprogress as mp
from mockprogress.http.status import reason_phrase
from mockprogress.script.http2 import error_name

DOC = ROOT / "docs" / "bad-input.md"
START, END = "<!-- catalogue: start -->", "<!-- catalogue: end -->"


@pytest.fixture(scope="module")
def server() -> Iterator[mp.MockServer]:
    srv = catalogue_server()
    try:
        yield srv
    finally:
        srv.stop()


class Responses:
    """Reads the server's final responses on one connection, in turn (interims skipped)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.client = h11.Connection(h11.CLIENT)

    def next_status(self) -> int | None:
        """The status of the next final response, or None if the stream ends (or is reset)
        without one."""
        client = self.client
        if client.states == {h11.CLIENT: h11.DONE, h11.SERVER: h11.DONE}:
            client.start_next_cycle()
        if client.our_state is not h11.IDLE:
            return None  # the server ended the connection after the last response
        client.send(h11.Request(method="GET", target="/", headers=[("Host", "h")]))
        client.send(h11.EndOfMessage())
        status = None
        while True:
            try:
                event = client.next_event()
            except h11.RemoteProtocolError:
                return None  # closed before a (whole) response
            if event is h11.NEED_DATA:
                try:
                    data = self.sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                client.receive_data(data)
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
            if isinstance(event, h11.ConnectionClosed):
                return None
            if isinstance(event, h11.EndOfMessage):
                return status


def closes_after(responses: Responses) -> bool:
    """Whether the server ends the connection: a second request gets no answer."""
    try:
        responses.sock.sendall(b"GET /ok HTTP/1.1\r\nHost: h\r\n\r\n")
    except OSError:
        return True
    return responses.next_status() is None


class Frames:
    """Reads the server's HTTP/2 frames on one connection straight off the socket (h2's own
    client refuses every frame after a GOAWAY), keeping what a row's answer is made of."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""
        self.ended = False
        self.goaway: int | None = None
        self.resets: dict[int, int] = {}
        self.statuses: dict[int, int] = {}
        self.acks = 0
        self.decoder = Decoder()  # the server's HPACK state, frame after frame

    def read(self, done: Callable[[], bool]) -> None:
        """Read frames until ``done()``, a GOAWAY, or the connection's end."""
        while not done() and self.goaway is None and not self.ended:
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                data = b""
            self.ended = not data
            self.buffer += data
            while len(self.buffer) >= 9:
                frame, length = Frame.parse_frame_header(memoryview(self.buffer[:9]))
                if len(self.buffer) < 9 + length:
                    break
                frame.parse_body(memoryview(self.buffer[9 : 9 + length]))
                self.buffer = self.buffer[9 + length :]
                self.take(frame)

    def take(self, frame: Frame) -> None:
        if isinstance(frame, GoAwayFrame):
            self.goaway = frame.error_code
        elif isinstance(frame, RstStreamFrame):
            self.resets[frame.stream_id] = frame.error_code
        elif isinstance(frame, PingFrame) and "ACK" in frame.flags:
            self.acks += 1
        elif isinstance(frame, HeadersFrame):
            fields = dict(self.decoder.decode(frame.data))
            status = int(fields.get(":status", 0))  # trailers have none
            if status >= 200 and frame.stream_id not in self.statuses:
                self.statuses[frame.stream_id] = status

    def answered(self, stream: int) -> bool:
        return stream in self.resets or stream in self.statuses


def sent_frames(data: bytes) -> list[tuple[int, int, int]]:
    """The frames of an HTTP/2 row as the client sends them (after the preface): each one's
    type, flags and stream id, whatever they are."""
    frames, at = [], len(MAGIC)
    while at + 9 <= len(data):
        length, kind, flags = int.from_bytes(data[at : at + 3], "big"), data[at + 3], data[at + 4]
        frames.append((kind, flags, int.from_bytes(data[at + 5 : at + 9], "big") & 0x7FFFFFFF))
        at += 9 + length
    return frames


def observe(srv: mp.MockServer, case: WireCase) -> WireOutcome:
    """Send a row's bytes on a fresh connection and see what comes back (over HTTP/1.1 the
    final response, over HTTP/2 the frames), then whether the connection goes on."""
    state = srv._state
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as sock:
        try:
            if case.arrives_whole:
                srv._call(sock.sendall, case.data)
            else:
                sock.sendall(case.data)
        except OSError:
            pass  # refused before the client finished: the answer is already queued
        if case.then_closes:
            sock.shutdown(socket.SHUT_WR)
        if case.http2:
            outcome = read_h2(srv, sock, case)
        else:
            responses = Responses(sock)
            status = responses.next_status()
            journal = len(srv.journal)
            closes = True if status is None else closes_after(responses)
            outcome = WireOutcome(status, closes, journal=journal)
    control = srv._call(lambda: len(state.reserved_logs))
    recorded = tuple(p.kind for p in srv._call(state.all_problems))
    kept_in = "control log" if control else "journal"
    return dataclasses.replace(outcome, recorded=recorded, kept_in=kept_in)


def read_h2(srv: mp.MockServer, sock: socket.socket, case: WireCase) -> WireOutcome:
    """An HTTP/2 row's answer: a GOAWAY, else what its last stream got (a RST_STREAM or a
    final status) and the PING acknowledgements; then a GET on a new stream of the same
    connection tells whether it goes on."""
    client = sent_frames(case.data)
    pings = sum(kind == PingFrame.type and not flags & 0x1 for kind, flags, _ in client)
    opened = [stream for kind, _, stream in client if kind == HeadersFrame.type]
    reset = {stream for kind, _, stream in client if kind == RstStreamFrame.type}
    last = max([0, *(s for s in opened if s not in reset)])
    frames = Frames(sock)
    if pings or last:
        frames.read(lambda: frames.acks >= pings and (not last or frames.answered(last)))
    else:
        frames.read(lambda: False)  # nothing to answer on a stream: a GOAWAY, or the end
    journal = len(srv.journal)
    status, code = frames.statuses.get(last), frames.resets.get(last)
    if frames.goaway is None and not frames.ended:
        after = max([-1, *opened]) + 2
        sock.sendall(h2_get(after))
        frames.read(lambda: frames.answered(after))
        closes = frames.statuses.get(after) != 200
    else:
        frames.read(lambda: False)  # to its end
        closes = True
    return WireOutcome(
        status,
        closes,
        journal=journal,
        goaway=None if frames.goaway is None else error_name(frames.goaway),
        reset=None if code is None else error_name(code),
        acks=frames.acks,
    )


@pytest.mark.parametrize("case", WIRE_CASES, ids=[f"{c.area}: {c.sends}" for c in WIRE_CASES])
def test_wire_row(server: mp.MockServer, case: WireCase) -> None:
    server.reset()
    setup(server)
    assert observe(server, case) == case.gets
    reply = request(server.port, "GET", "/ok")  # the server keeps serving
    assert (reply.status, reply.body) == (200, b"ok")


def test_a_short_body_and_an_abandoned_head_are_kept(server: mp.MockServer) -> None:
    """What the two rows without an answer keep: the bytes that came."""
    for case in WIRE_CASES:
        if case.gets.status is None and not case.http2:
            server.reset()
            setup(server)
            observe(server, case)
            (exchange,) = server.journal
            assert exchange.bytes_received == len(case.data)
            if exchange.method:
                assert exchange.body == case.data.partition(b"\r\n\r\n")[2]


def parser_outcome(case: ParserCase) -> str:
    try:
        value = case.run()
    except (mp.ScenarioError, ValueError) as exc:
        return f"{type(exc).__name__}: {shorten(str(exc))}"
    return f"returns {shorten(repr(value) if not isinstance(value, str) else value)}"


def shorten(text: str, size: int = 160) -> str:
    """At most ``size`` characters, and a run of 20 or more of one character as
    ``<N x c>``."""
    text = re.sub(r"(.)\1{19,}", lambda m: f"<{len(m.group()):,} x {m.group(1)}>", text)
    return text if len(text) <= size else text[: size - 1] + "…"


@pytest.mark.parametrize("case", PARSER_CASES, ids=[c.call for c in PARSER_CASES])
def test_parser_row(case: ParserCase) -> None:
    assert parser_outcome(case) == case.gets


# ---- the page --------------------------------------------------------------------------------


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def gets(case: WireCase) -> str:
    outcome = case.gets
    if outcome.goaway is not None:
        return f"`GOAWAY {outcome.goaway}`; the connection closes"
    if (case.http2 and outcome.status is not None) or outcome.reset is not None or outcome.acks:
        said = [f"`RST_STREAM {outcome.reset}` on its stream"] if outcome.reset else []
        if outcome.acks:
            said.append(f"{outcome.acks:,} `PING` acknowledgements")
        if outcome.status is not None:
            said.append(f"{outcome.status} {reason_phrase(outcome.status)} on its stream")
        ends = "the connection closes" if outcome.closes else "the connection goes on"
        return ", ".join(said) + "; " + ends
    if outcome.status is None:
        return "no answer"
    said = f"{outcome.status} {reason_phrase(outcome.status)}"
    return said + ("; the connection closes" if outcome.closes else "; the connection stays open")


def kept(outcome: WireOutcome) -> str:
    where = "control log" if outcome.kept_in == "control log" else "journal"
    count = 1 if outcome.kept_in == "control log" else outcome.journal
    return f"{count:,} exchange{'s' if count != 1 else ''} in the {where}"


def render() -> str:
    lines = [START, ""]
    area = None
    for case in WIRE_CASES:
        if case.area != area:
            area = case.area
            lines += [
                "",
                f"### {area}",
                "",
                "| the client sends | it gets | check() | kept | why |",
            ]
            lines.append("|---|---|---|---|---|")
        recorded = ", ".join(f"`{k}`" for k in case.gets.recorded) or "nothing"
        lines.append(
            f"| {cell(case.sends)} | {gets(case)} | {recorded} | {kept(case.gets)} | "
            f"{cell(case.why)} |"
        )
    area = None
    for case in PARSER_CASES:
        if case.area != area:
            area = case.area
            lines += ["", f"### {area} (the parser)", "", "| input | result | why |"]
            lines.append("|---|---|---|")
        lines.append(f"| `{cell(case.call)}` | {cell(case.gets)} | {cell(case.why)} |")
    return "\n".join([*lines, "", END])


def test_docs_bad_input_shows_the_catalogue() -> None:
    text = DOC.read_text()
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    fresh = before + render() + after
    if os.environ.get("MOCKPROGRESS_UPDATE_DOCS"):
        DOC.write_text(fresh)
        text = fresh
    assert text == fresh, (
        "docs/bad-input.md is out of date: run "
        "MOCKPROGRESS_UPDATE_DOCS=1 .venv/bin/pytest tests/server/test_bad_input_catalogue.py"
    )
    assert "docs/bad-input.md" in (DOC.parent.parent / "README.md").read_text()
