"""Would ``os.splice`` (socket -> pipe -> file, no copy through user space) store an upload
faster than ``recv`` + ``pwrite``? Both against a loopback copy that discards (``recv_into``).

Sends 1 GiB over loopback from a thread, three ways per round: discarded; ``recv`` into bytes
then ``os.pwrite`` to an unlinked temporary file (what the upload store does); ``os.splice``
into the same kind of file. ``os.sync()`` before each phase. Prints MB/s per round and the
median.

Not part of ``make bench``: a probe behind a figure in benchmarks/README.md ("What is left").
Linux only. Run: ``.venv/bin/python benchmarks/probe_splice.py [--size-mib 1024] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import socket
import statistics
import tempfile
import threading
import time

READ = 262144
F_SETPIPE_SZ = 1031
BLOCK = os.urandom(1 << 20)


def _send(port: int, size: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for _ in range(size // len(BLOCK)):
            sock.sendall(BLOCK)


def _discard(conn: socket.socket, fd: int) -> int:
    buf = bytearray(READ)
    got = 0
    while n := conn.recv_into(buf):
        got += n
    return got


def _write(conn: socket.socket, fd: int) -> int:
    got = 0
    while data := conn.recv(READ):
        os.pwrite(fd, data, got)
        got += len(data)
    return got


def _splice(conn: socket.socket, fd: int) -> int:
    r, w = os.pipe()
    try:
        fcntl.fcntl(w, F_SETPIPE_SZ, 1 << 20)
        got = 0
        while n := os.splice(conn.fileno(), w, 1 << 20):
            while n:
                moved = os.splice(r, fd, n, offset_dst=got)
                got += moved
                n -= moved
        return got
    finally:
        os.close(r)
        os.close(w)


WAYS = {"discard (recv_into)": _discard, "recv + pwrite": _write, "splice": _splice}


def _run(way: str, size: int) -> float:
    with socket.create_server(("127.0.0.1", 0)) as listener, tempfile.TemporaryFile() as f:
        sender = threading.Thread(target=_send, args=(listener.getsockname()[1], size))
        sender.start()
        conn, _ = listener.accept()
        with conn:
            start = time.perf_counter()
            got = WAYS[way](conn, f.fileno())
            elapsed = time.perf_counter() - start
        sender.join()
    if got != size:
        raise SystemExit(f"{way}: received {got} bytes of {size}")
    return size / elapsed / 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    size = args.size_mib << 20
    results: dict[str, list[float]] = {way: [] for way in WAYS}
    for _ in range(args.rounds):
        for way in WAYS:
            os.sync()
            results[way].append(_run(way, size))
    for way, values in results.items():
        rounds = ", ".join(f"{v:.0f}" for v in values)
        print(f"{way:20} median {statistics.median(values):6.0f} MB/s   rounds: {rounds}")


if __name__ == "__main__":
    main()
