"""An h11 client that records every interim response, for tests that must see 1xx on the wire.

httpx and aiohttp drop 1xx responses and the http.client family mistakes them for the final
response (tests/clients/), so the suite observes interims with this client. It keeps a connection
open across requests (keep-alive), stamps each interim with the time it arrived, and reports a
truncated response instead of raising, so fault tests can assert on exactly what arrived.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import anyio
import h11


@dataclass
class Interim:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    at: float

    def header(self, name: str) -> str | None:
        values = [v for n, v in self.headers if n.lower() == name.lower()]
        return ", ".join(values) if values else None


@dataclass
class Reply:
    status: int | None = None
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    interims: list[Interim] = field(default_factory=list)
    complete: bool = False
    error: str | None = None
    started: float = 0.0
    head_at: float | None = None

    def header(self, name: str) -> str | None:
        values = [v for n, v in self.headers if n.lower() == name.lower()]
        return ", ".join(values) if values else None


def _decode(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    return [(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers]


class _Exchange:
    """The h11 side of one request, shared by the sync and async clients."""

    def __init__(self, conn: h11.Connection, reply: Reply) -> None:
        self.conn = conn
        self.reply = reply

    def feed(self, data: bytes) -> bool:
        """Feed bytes; True once the exchange is over (complete or broken)."""
        self.conn.receive_data(data)
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError as exc:
                self.reply.error = f"protocol error: {exc}"
                return True
            if event is h11.NEED_DATA:
                if not data:
                    self.reply.error = self.reply.error or "connection closed"
                    return True
                return False
            now = time.monotonic()
            if isinstance(event, h11.InformationalResponse):
                self.reply.interims.append(
                    Interim(event.status_code, event.reason.decode(), _decode(event.headers), now)
                )
            elif isinstance(event, h11.Response):
                self.reply.status = event.status_code
                self.reply.reason = event.reason.decode()
                self.reply.headers = _decode(event.headers)
                self.reply.head_at = now
            elif isinstance(event, h11.Data):
                self.reply.body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self.reply.complete = True
                return True
            elif isinstance(event, h11.ConnectionClosed):
                self.reply.error = "connection closed"
                return True


def _request_events(
    conn: h11.Connection,
    method: str,
    path: str,
    host: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    chunked: bool,
) -> tuple[bytes, bytes]:
    """The bytes of the request head and of its body (with the end of message)."""
    all_headers = [("Host", host), *headers]
    names = {n.lower() for n, _ in all_headers}
    if chunked:
        all_headers.append(("Transfer-Encoding", "chunked"))
    elif body or method in ("POST", "PUT", "PATCH"):
        if "content-length" not in names:
            all_headers.append(("Content-Length", str(len(body))))
    head = conn.send(h11.Request(method=method, target=path, headers=all_headers)) or b""
    rest = b""
    if body:
        rest += conn.send(h11.Data(data=body)) or b""
    rest += conn.send(h11.EndOfMessage()) or b""
    return head, rest


class Client:
    """A blocking keep-alive client over one socket."""

    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        timeout: float = 10.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """``tls``: speak HTTPS, the handshake done here."""
        self.host = host
        self.port = port
        self.timeout = timeout
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock if tls is None else tls.wrap_socket(sock, server_hostname=host)
        self.conn = h11.Connection(h11.CLIENT)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        chunked: bool = False,
        wait_for_continue: float | None = None,
    ) -> Reply:
        """Send a request and read the reply. With ``wait_for_continue`` the body goes out
        after an interim arrives, or after that many seconds."""
        if self.conn.our_state is h11.DONE and self.conn.their_state is h11.DONE:
            self.conn.start_next_cycle()
        reply = Reply(started=time.monotonic())
        exchange = _Exchange(self.conn, reply)
        head, rest = _request_events(
            self.conn, method, path, f"{self.host}:{self.port}", headers, body, chunked
        )
        self.sock.sendall(head)
        done = False
        if wait_for_continue is not None:
            self.sock.settimeout(wait_for_continue)
            try:
                while not reply.interims and not done:
                    done = exchange.feed(self.sock.recv(65536))
            except TimeoutError:
                pass
            self.sock.settimeout(self.timeout)
        if not done:
            try:
                self.sock.sendall(rest)
            except OSError as exc:
                reply.error = f"send failed: {exc}"
        try:
            while not done:
                done = exchange.feed(self.sock.recv(65536))
        except ConnectionResetError:
            reply.error = "connection reset"
        except TimeoutError:
            reply.error = "timed out"
        return reply


def request(port: int, method: str, path: str, **kwargs: object) -> Reply:
    """One request on a fresh connection."""
    with Client(port) as client:
        return client.request(method, path, **kwargs)  # type: ignore[arg-type]


async def arequest(
    port: int,
    method: str,
    path: str,
    *,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    host: str = "127.0.0.1",
) -> Reply:
    """One request on a fresh connection, from async code (asyncio or trio)."""
    conn = h11.Connection(h11.CLIENT)
    reply = Reply(started=time.monotonic())
    exchange = _Exchange(conn, reply)
    head, rest = _request_events(conn, method, path, f"{host}:{port}", headers, body, False)
    async with await anyio.connect_tcp(host, port) as stream:
        await stream.send(head + rest)
        done = False
        while not done:
            try:
                data = await stream.receive(65536)
            except anyio.EndOfStream:
                data = b""
            except anyio.BrokenResourceError:
                reply.error = "connection reset"
                break
            done = exchange.feed(data)
    return reply
