"""HTTP/2 requests per second beside HTTP/1.1 keep-alive, on one ``MockServer(http2=True)``.

The server (thread mode, in this process) has one expectation,
``expect("GET", "/hello").respond(mp.respond(200, body=b"hello world\\n"))``. Each client uses one
connection for all its requests:

- ``HTTP/1.1 keep-alive``: a raw-socket client that sends one request, reads the response by
  its Content-Length and repeats (the client of bench_keepalive.py);
- ``HTTP/2, one stream at a time``: an h2 client (prior knowledge) that opens a stream, reads
  until it ends, and repeats;
- ``HTTP/2, 10 streams in flight``: the same client keeping 10 streams open at once (what
  HTTP/2 is for: one connection, requests side by side).

Client and server share the process (and the GIL), as they do in a test; the h2 client's own
cost (pure Python, HPACK) is part of the HTTP/2 figures. The ratio is HTTP/2's median over
HTTP/1.1's.

Run: ``.venv/bin/python benchmarks/bench_http2.py [--requests 2000] [--rounds 5]``.
"""

from __future__ import annotations

import argparse
import socket
import time
from pathlib import Path

import h2.config
import h2.connection
import h2.events
from _common import Summary, machine_lines, table

import mockprogress as mp

BODY = b"hello world\n"
PATH = "/hello"
IN_FLIGHT = 10


def http11(port: int, requests: int) -> float:
    """Seconds for ``requests`` keep-alive requests on one connection."""
    request = f"GET {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        started = time.perf_counter()
        for _ in range(requests):
            sock.sendall(request)
            while b"\r\n\r\n" not in buf:
                buf += sock.recv(65536)
            head, _, buf = buf.partition(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            while len(buf) < length:
                buf += sock.recv(65536)
            body, buf = buf[:length], buf[length:]
            assert body == BODY, body
        return time.perf_counter() - started


def http2(port: int, requests: int, in_flight: int) -> float:
    """Seconds for ``requests`` requests on one HTTP/2 connection, ``in_flight`` at a time."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    headers = [(":method", "GET"), (":path", PATH), (":scheme", "http")]
    headers.append((":authority", f"127.0.0.1:{port}"))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.initiate_connection()
        sock.sendall(conn.data_to_send())
        started = time.perf_counter()
        sent = done = 0
        open_streams: dict[int, bytearray] = {}
        while done < requests:
            while sent < requests and len(open_streams) < in_flight:
                stream_id = conn.get_next_available_stream_id()
                conn.send_headers(stream_id, headers, end_stream=True)
                open_streams[stream_id] = bytearray()
                sent += 1
            sock.sendall(conn.data_to_send())
            data = sock.recv(65536)
            assert data, "the server closed the connection"
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.DataReceived):
                    assert event.stream_id is not None and event.data is not None
                    open_streams[event.stream_id] += event.data
                    conn.acknowledge_received_data(
                        event.flow_controlled_length or 0, event.stream_id
                    )
                elif isinstance(event, h2.events.StreamEnded):
                    assert event.stream_id is not None
                    assert bytes(open_streams.pop(event.stream_id)) == BODY
                    done += 1
            out = conn.data_to_send()
            if out:
                sock.sendall(out)
        return time.perf_counter() - started


CLIENTS = {
    "HTTP/1.1 keep-alive": lambda port, n: http11(port, n),
    "HTTP/2, one stream at a time": lambda port, n: http2(port, n, 1),
    f"HTTP/2, {IN_FLIGHT} streams in flight": lambda port, n: http2(port, n, IN_FLIGHT),
}


def measure(requests: int, rounds: int) -> dict[str, list[float]]:
    rates: dict[str, list[float]] = {name: [] for name in CLIENTS}
    with mp.MockServer(http2=True) as srv:
        srv.expect("GET", PATH).respond(mp.respond(200, body=BODY))
        for client in CLIENTS.values():
            client(srv.port, 50)  # warm up
        for _ in range(rounds):
            for name, client in CLIENTS.items():
                srv.reset()
                srv.expect("GET", PATH).respond(mp.respond(200, body=BODY))
                rates[name].append(requests / client(srv.port, requests))
        srv.check()
    return rates


def markdown(rates: dict[str, list[float]], requests: int, rounds: int, command: str) -> str:
    base = Summary.of(rates["HTTP/1.1 keep-alive"]).median
    rows = []
    for name, values in rates.items():
        summary = Summary.of(values)
        rows.append([name, summary.fmt(1, 0), f"{summary.median / base:.2f}"])
    return "\n".join(
        [
            "## HTTP/2 beside HTTP/1.1 keep-alive (bench_http2.py)",
            "",
            f"{requests} requests per round, {rounds} rounds, one connection per client; "
            "requests per second, median (min-max), and the ratio of medians to HTTP/1.1.",
            "",
            table(["client", "requests/s", "ratio"], rows),
            "",
            f"Run: `{command}`",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--markdown", type=Path, help="write the results section here")
    args = parser.parse_args(argv)
    rates = measure(args.requests, args.rounds)
    command = (
        f".venv/bin/python benchmarks/bench_http2.py --requests {args.requests} "
        f"--rounds {args.rounds}"
    )
    text = markdown(rates, args.requests, args.rounds, command)
    if args.markdown:
        args.markdown.write_text(text)
    print("\n".join(machine_lines()))
    print()
    print(text)


if __name__ == "__main__":
    main()
