"""A raw-socket client for exactness tests: it sends bytes and records exactly what came back
and how the stream ended (a clean end of stream, a reset, or silence)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Received:
    data: bytes
    #: "eof" (FIN), "reset" (ECONNRESET) or "silent" (nothing more within the timeout).
    end: str
    send_error: str | None = None


def exchange(port: int, request: bytes, *, timeout: float = 5.0) -> Received:
    """Send ``request`` whole, then read until the server ends the stream or goes silent."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    except ConnectionResetError as exc:  # a reset right after accept can beat connect()
        return Received(b"", "reset", f"connect: {exc!r}")
    with sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        send_error = None
        try:
            sock.sendall(request)
        except OSError as exc:  # a reset can beat the last of the request
            send_error = repr(exc)
        data = bytearray()
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return Received(bytes(data), "reset", send_error)
            except TimeoutError:
                return Received(bytes(data), "silent", send_error)
            if not chunk:
                return Received(bytes(data), "eof", send_error)
            data += chunk


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
