"""A raw-socket client for exactness tests: it sends bytes and records exactly what came back
and how the stream ended (a clean end of stream, a reset, or silence)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Received:
    data: bytes
    #: "eof" (FIN; over TLS, a close_notify), "truncated" (over TLS: a FIN without
    #: close_notify), "reset" (ECONNRESET) or "silent" (nothing more within the timeout).
    end: str
    send_error: str | None = None


def exchange(
    port: int, request: bytes, *, timeout: float = 5.0, tls: ssl.SSLContext | None = None
) -> Received:
    """Send ``request`` whole, then read until the server ends the stream or goes silent.

    With ``tls``, the request and the data are plaintext, and the end is read off the TCP
    stream itself (Python's ssl sockets report an RST after a complete record as an EOF)."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except ConnectionResetError as exc:  # a reset right after accept can beat connect()
        return Received(b"", "reset", f"connect: {exc!r}")
    with sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        channel = None if tls is None else _TLSClient(sock, tls)
        send_error = None
        reset_on_send = False
        try:
            if channel is not None:
                channel.handshake()
                channel.send(request)
            else:
                sock.sendall(request)
        except ssl.SSLError:
            raise
        except OSError as exc:  # a reset can beat the last of the request
            send_error = repr(exc)
            # The kernel reports a reset once: to the send it beat, and recv then reads an end.
            reset_on_send = isinstance(exc, ConnectionResetError)
        data = bytearray()
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                if channel is not None:
                    data += channel.plaintext(b"")
                return Received(bytes(data), "reset", send_error)
            except TimeoutError:
                return Received(bytes(data), "silent", send_error)
            if channel is not None:
                data += channel.plaintext(chunk)
                if not chunk:
                    end = "reset" if reset_on_send else channel.end()
                    return Received(bytes(data), end, send_error)
                continue
            if not chunk:
                return Received(bytes(data), "reset" if reset_on_send else "eof", send_error)
            data += chunk


class _TLSClient:
    """A TLS client over memory BIOs: the test reads the socket itself."""

    def __init__(self, sock: socket.socket, context: ssl.SSLContext) -> None:
        self._sock = sock
        self._in, self._out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self._obj = context.wrap_bio(self._in, self._out, server_hostname="127.0.0.1")
        self._notified = False

    def handshake(self) -> None:
        while True:
            try:
                self._obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._sock.sendall(self._out.read())
                data = self._sock.recv(65536)
                if not data:
                    raise ssl.SSLEOFError("the server closed during the handshake") from None
                self._in.write(data)
        self._sock.sendall(self._out.read())

    def send(self, data: bytes) -> None:
        self._obj.write(data)
        self._sock.sendall(self._out.read())

    def plaintext(self, ciphertext: bytes) -> bytes:
        """Feed what the socket gave (``b""``: its end); return the plaintext it completes."""
        if ciphertext:
            self._in.write(ciphertext)
        out = bytearray()
        while not self._notified:
            try:
                piece = self._obj.read(65536)
            except (ssl.SSLWantReadError, ssl.SSLEOFError):
                break
            except ssl.SSLZeroReturnError:
                self._notified = True
                break
            if not piece:
                self._notified = True
                break
            out += piece
        return bytes(out)

    def end(self) -> str:
        """How a stream that reached its FIN ended: with a close_notify or truncated."""
        return "eof" if self._notified else "truncated"


def in_parallel(fn: Callable[[T], R], items: Iterable[T], workers: int = 8) -> list[R]:
    """``[fn(item) for item in items]`` on a few threads (the server handles them
    concurrently), in the items' order."""
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))


def get(path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: raw\r\n{extra}\r\n".encode()


def post(path: str, body: bytes, *, chunked: bool = False) -> bytes:
    """A POST that asks the server to close after its answer (the client reads to the end)."""
    head = f"POST {path} HTTP/1.1\r\nHost: raw\r\nConnection: close\r\n"
    if chunked:
        framed = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in _pieces(body, 64))
        return f"{head}Transfer-Encoding: chunked\r\n\r\n".encode() + framed + b"0\r\n\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


def _pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]
