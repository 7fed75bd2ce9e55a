"""A small HTTP/2 client over h2 and a blocking socket, for tests that must see every frame's
effect: each stream's informational HEADERS, its response, its DATA bytes, its reset code,
and the connection's GOAWAY. Many streams may be opened at once on one connection."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
from hyperframe.frame import Frame


@dataclass
class StreamResult:
    """What one stream got."""

    interims: list[dict[str, str]] = field(default_factory=list)
    response: dict[str, str] | None = None
    body: bytearray = field(default_factory=bytearray)
    trailers: dict[str, str] | None = None
    ended: bool = False
    reset: int | None = None


@dataclass
class Outcome:
    """What the connection got: each stream's result, and a GOAWAY if one came."""

    streams: dict[int, StreamResult]
    goaway: tuple[int, int] | None = None  # (error code, last stream id)
    closed: bool = False


def _decode(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {n.decode(): v.decode() for n, v in headers}


class H2Client:
    """One prior-knowledge HTTP/2 connection."""

    def __init__(self, port: int, host: str = "127.0.0.1", *, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        self.conn.initiate_connection()
        # Room for many streams' bodies at once.
        self.conn.increment_flow_control_window(1 << 24)
        self.sock.sendall(self.conn.data_to_send())
        self.host = f"{host}:{port}"

    def settings(self, frames: int = 1) -> None:
        """Read until the server's SETTINGS came (before opening more than 100 streams); a
        server's restrictions come in a second frame."""
        while frames > 0:
            data = self.sock.recv(65536)
            assert data, "the server closed the connection before its SETTINGS"
            events = self.conn.receive_data(data)
            self.sock.sendall(self.conn.data_to_send())
            frames -= sum(isinstance(e, h2.events.RemoteSettingsChanged) for e in events)

    def request(self, method: str, path: str, body: bytes = b"") -> int:
        stream_id = self.conn.get_next_available_stream_id()
        headers = [(":method", method), (":path", path), (":scheme", "http")]
        headers.append((":authority", self.host))
        self.conn.send_headers(stream_id, headers, end_stream=not body)
        if body:
            self.conn.send_data(stream_id, body, end_stream=True)
        self.sock.sendall(self.conn.data_to_send())
        return stream_id

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def collect(self, streams: list[int], also: tuple[int, ...] = ()) -> Outcome:
        """Read until every stream in ``streams`` ended or was reset, or the connection ended
        (``also``: streams whose frames are kept too, without waiting for their end)."""
        outcome = Outcome({sid: StreamResult() for sid in [*streams, *also]})
        waiting = set(streams)
        while waiting:
            try:
                data = self.sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                data = b""
            if not data:
                outcome.closed = True
                break
            for event in self.conn.receive_data(data):
                self._event(event, outcome, waiting)
            out = self.conn.data_to_send()
            if out:
                try:
                    self.sock.sendall(out)
                except OSError:
                    pass
        return outcome

    def _event(self, event: h2.events.Event, outcome: Outcome, waiting: set[int]) -> None:
        sid = getattr(event, "stream_id", None)
        result = outcome.streams.get(sid) if sid else None
        if isinstance(event, h2.events.InformationalResponseReceived) and result is not None:
            result.interims.append(_decode(event.headers or []))
        elif isinstance(event, h2.events.ResponseReceived) and result is not None:
            result.response = _decode(event.headers or [])
        elif isinstance(event, h2.events.TrailersReceived) and result is not None:
            result.trailers = _decode(event.headers or [])
        elif isinstance(event, h2.events.DataReceived) and result is not None:
            result.body += event.data or b""
            self.conn.acknowledge_received_data(event.flow_controlled_length or 0, sid or 0)
        elif isinstance(event, h2.events.StreamEnded) and result is not None:
            result.ended = True
            waiting.discard(sid or 0)
        elif isinstance(event, h2.events.StreamReset) and result is not None:
            result.reset = int(event.error_code or 0)
            waiting.discard(sid or 0)
        elif isinstance(event, h2.events.ConnectionTerminated):
            outcome.goaway = (int(event.error_code or 0), int(event.last_stream_id or 0))
            if event.last_stream_id is not None:
                for stream_id in list(waiting):
                    if stream_id > event.last_stream_id:
                        waiting.discard(stream_id)

    def close(self) -> None:
        self.sock.close()


def read_frames(sock: socket.socket, *, until: Callable[[list[Frame]], bool]) -> list[Frame]:
    """Frames straight off the socket, past any client state machine (h2's client refuses
    every frame after a GOAWAY, even on a stream the GOAWAY kept), until ``until`` holds for
    those read or the connection ends."""
    frames: list[Frame] = []
    buffer = b""
    while not until(frames):
        try:
            data = sock.recv(65536)
        except (ConnectionResetError, TimeoutError):
            data = b""
        if not data:
            break
        buffer += data
        while len(buffer) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(buffer[:9]))
            if len(buffer) < 9 + length:
                break
            frame.parse_body(memoryview(buffer[9 : 9 + length]))
            frames.append(frame)
            buffer = buffer[9 + length :]
    return frames
