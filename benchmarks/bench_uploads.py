"""Upload memory and throughput: a 1 GiB upload through ResumableUploads with three
interruptions, against a plain loopback socket copy in the same run.

- The server runs in its own process (``--serve``: a thread-mode ``MockServer`` with
  ``ResumableUploads``), so its resident memory is its own: after a warm-up it resets the
  kernel's peak-RSS mark (``/proc/self/clear_refs``), and after each upload reports ``VmHWM``
  minus the RSS at the reset: the peak growth the upload caused.
- The client is a raw socket in this process, speaking the IETF draft: POST (``?0``) to
  create, PATCH the whole representation, get cut (an RST after 256 MiB of each of the first
  three PATCHes), HEAD for the offset, PATCH the rest. The source is generated, never held
  whole: a 1 MiB random block repeated, hashed on the fly and compared with the server's hash
  of what it stored.
- The baseline is a plain loopback copy: the same bytes through one TCP connection into a
  reader that discards them (``recv_into``), in a subprocess as well.
- The journal keeps every body byte too, reading an upload's bytes from the upload store
  (``JournalBody.share``) instead of writing them a second time: the server reports how many
  bytes its journal holds. Two more baselines show what the store's one write costs and what
  a second one (a journal with a copy of its own) would: loopback copies into one and into two
  spooled files.

Run: ``.venv/bin/python benchmarks/bench_uploads.py [--size-mib 1024] [--rounds 3]
[--markdown PATH]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import h11

MIB = 1 << 20
BLOCK = MIB
PIECE = 256 * 1024  # what the client writes per send


# ---- the server process -------------------------------------------------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def serve(cut_every: int) -> None:
    """Run the server; answer commands on stdin, one JSON line each."""
    import mockprogress as mp

    with mp.MockServer(max_body_size=1 << 40) as srv:
        print(json.dumps({"port": srv.port}), flush=True)
        baseline = 0
        uploads: mp.ResumableUploads | None = None
        for line in sys.stdin:
            command = line.strip()
            if command == "mount":
                srv.reset()
                cuts = [mp.interrupt(after=cut_every, request=n) for n in (1, 2, 3)]
                uploads = srv.mount(mp.ResumableUploads("/uploads", interrupts=cuts))
                reply: dict[str, Any] = {"ok": True}
            elif command == "mark":
                Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
                baseline = _status_kib("VmRSS")
                reply = {"rss_kib": baseline}
            elif command == "report":
                assert uploads is not None
                [upload] = uploads.uploads.values()
                journal = srv.journal
                reply = {
                    "peak_growth_kib": _status_kib("VmHWM") - baseline,
                    "rss_kib": _status_kib("VmRSS"),
                    "baseline_kib": baseline,
                    "offset": upload.offset,
                    "complete": upload.complete,
                    "sha256": upload.hexdigest(),
                    "journal_body_bytes": sum(ex.body_size for ex in journal),
                    "exchanges": len(journal),
                    "faults": sum(1 for ex in journal if ex.fault is not None),
                }
            elif command == "quit":
                break
            else:
                reply = {"error": f"unknown command {command!r}"}
            print(json.dumps(reply), flush=True)
        srv.reset()


def copy_server(files: int) -> None:
    """A baseline: accept one connection at a time, read everything, and keep it in ``files``
    spooled ``BodyBuffer``s (0: discard it), as the server keeps an upload in its store (1)
    and in its journal too (2)."""
    from mockprogress.engine.body import BodyBuffer

    listener = socket.create_server(("127.0.0.1", 0))
    print(json.dumps({"port": listener.getsockname()[1]}), flush=True)
    buffer = bytearray(PIECE)
    view = memoryview(buffer)
    while True:
        conn, _ = listener.accept()
        with conn:
            keep = [BodyBuffer(MIB) for _ in range(files)]
            total = 0
            while n := conn.recv_into(buffer):
                total += n
                for kept in keep:
                    kept.append(view[:n])
            for kept in keep:
                kept.close()
            if total == 0:
                return
            conn.sendall(str(total).encode())


class Process:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.port = int(self.read()["port"])

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the server process ended")
        data: dict[str, Any] = json.loads(line)
        return data

    def command(self, text: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self.read()

    def close(self) -> None:
        if self.proc.stdin is not None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        self.proc.wait(timeout=60)


# ---- the client ---------------------------------------------------------------------------


class Source:
    """``size`` bytes: a random 1 MiB block over and over."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.block = os.urandom(BLOCK) * 2  # doubled, so any 1 MiB window is one slice

    def pieces(self, start: int) -> Any:
        view = memoryview(self.block)
        offset = start
        while offset < self.size:
            n = min(PIECE, self.size - offset)
            at = offset % BLOCK
            yield view[at : at + n]
            offset += n

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for piece in self.pieces(0):
            digest.update(piece)
        return digest.hexdigest()


def _exchange(
    port: int,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    source: Source | None = None,
    start: int = 0,
) -> tuple[int, dict[str, str]] | None:
    """One request on a fresh connection (the body from ``start``); the final status and
    headers, or None when the connection was cut first."""
    client = h11.Connection(h11.CLIENT)
    length = 0 if source is None else source.size - start
    all_headers = [("Host", "bench"), *headers]
    if method != "HEAD":
        all_headers.append(("Content-Length", str(length)))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        try:
            sock.sendall(
                client.send(h11.Request(method=method, target=target, headers=all_headers))
            )
            if source is not None:
                for piece in source.pieces(start):
                    sock.sendall(piece)
            while True:
                event = client.next_event()
                if event is h11.NEED_DATA:
                    data = sock.recv(65536)
                    if not data:
                        return None
                    client.receive_data(data)
                elif isinstance(event, h11.Response):
                    return event.status_code, {
                        n.decode().lower(): v.decode() for n, v in event.headers
                    }
        except (ConnectionResetError, BrokenPipeError, h11.RemoteProtocolError):
            return None


def ietf_upload(port: int, source: Source) -> tuple[float, int]:
    """Create, append, resume after each cut; the seconds it took and the cuts met."""
    draft = ("Upload-Draft-Interop-Version", "8")
    started = time.perf_counter()
    created = _exchange(
        port,
        "POST",
        "/uploads",
        [draft, ("Upload-Complete", "?0"), ("Upload-Length", str(source.size))],
    )
    assert created is not None and created[0] == 201, created
    location = created[1]["location"]
    offset, cuts = 0, 0
    while True:
        headers = [
            draft,
            ("Content-Type", "application/partial-upload"),
            ("Upload-Offset", str(offset)),
            ("Upload-Complete", "?1"),
        ]
        response = _exchange(port, "PATCH", location, headers, source, offset)
        if response is not None:
            assert response[0] == 200, response
            return time.perf_counter() - started, cuts
        cuts += 1
        head = _exchange(port, "HEAD", location, [])
        assert head is not None and head[0] == 204, head
        offset = int(head[1]["upload-offset"])
        assert 0 < offset < source.size, head


def plain_copy(port: int, source: Source) -> float:
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        for piece in source.pieces(0):
            sock.sendall(piece)
        sock.shutdown(socket.SHUT_WR)
        received = int(sock.recv(64))
    assert received == source.size
    return time.perf_counter() - started


# ---- the report ---------------------------------------------------------------------------


def _spread(values: list[float], digits: int = 0) -> str:
    def f(v: float) -> str:
        return f"{v:.{digits}f}"

    return f"{f(statistics.median(values))} (min {f(min(values))}, max {f(max(values))})"


BASELINES = {
    0: "plain loopback socket copy (received bytes discarded)",
    1: "loopback copy into one spooled file (as the upload store keeps it)",
    2: "loopback copy into two spooled files (what a journal copy of its own would add)",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--markdown", type=Path, help="write the results section here")
    parser.add_argument("--serve", type=int, metavar="CUT_EVERY", help=argparse.SUPPRESS)
    parser.add_argument("--copy", type=int, metavar="FILES", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve is not None:
        serve(args.serve)
        return
    if args.copy is not None:
        copy_server(args.copy)
        return

    size = args.size_mib * MIB
    cut_every = size // 4
    source = Source(size)
    expected = source.sha256()
    server = Process("--serve", str(cut_every))
    copiers = {files: Process("--copy", str(files)) for files in BASELINES}
    upload_mbps: list[float] = []
    peaks: list[float] = []
    journal_mib: list[float] = []
    copy_mbps: dict[int, list[float]] = {files: [] for files in BASELINES}
    try:
        # Warm-up: a small upload, so the baseline includes every code path's imports.
        server.command("mount")
        ietf_upload(server.port, Source(4 * MIB))
        for n in range(args.rounds):
            # Each phase starts with the page cache flushed (os.sync), in a rotating order,
            # so no phase pays for the previous one's writeback.
            phases: list[int | None] = [None, *BASELINES]
            for phase in phases[n % len(phases) :] + phases[: n % len(phases)]:
                os.sync()
                if phase is not None:
                    copy_mbps[phase].append(size / 1e6 / plain_copy(copiers[phase].port, source))
                    continue
                server.command("mount")
                server.command("mark")
                seconds, cuts = ietf_upload(server.port, source)
                report = server.command("report")
                assert report["sha256"] == expected, "stored bytes differ from the source"
                assert report["complete"] and report["offset"] == size and cuts == 3
                upload_mbps.append(size / 1e6 / seconds)
                peaks.append(report["peak_growth_kib"] / 1024)
                journal_mib.append(report["journal_body_bytes"] / MIB)
                server.command("mount")  # forget the upload and the journal: free their disk
            figures = {"upload MB/s": upload_mbps[-1], "peak MiB": peaks[-1]}
            figures |= {f"copy{f} MB/s": v[-1] for f, v in copy_mbps.items()}
            print(f"round {n + 1}: {json.dumps(figures)}", file=sys.stderr, flush=True)
    finally:
        server.close()
        for copier in copiers.values():
            socket.create_connection(("127.0.0.1", copier.port)).close()  # an empty copy ends it
            copier.proc.wait(timeout=30)

    def ratio(files: int) -> str:
        values = [u / c for u, c in zip(upload_mbps, copy_mbps[files], strict=True)]
        return _spread(values, 2)

    shown = [a for a in (argv if argv is not None else sys.argv[1:]) if a]
    if "--markdown" in shown:
        i = shown.index("--markdown")
        del shown[i : i + 2]
    half = statistics.median(u / c for u, c in zip(upload_mbps, copy_mbps[0], strict=True))
    lines = [
        f"## Uploads: {args.size_mib} MiB through ResumableUploads with three interruptions "
        "(`bench_uploads.py`)",
        "",
        f"Command: `.venv/bin/python {' '.join(['benchmarks/bench_uploads.py', *shown])}` "
        f"({args.rounds} rounds of {args.size_mib} MiB, cut by an RST after "
        f"{cut_every // MIB} MiB of each of the first three PATCHes; medians with min and max; "
        "MB = 10^6 bytes).",
        "",
        "| measure | result |",
        "|---|---|",
        f"| server peak RSS growth during the upload (MiB; target < 64) | {_spread(peaks, 1)} |",
        f"| upload through ResumableUploads (MB/s of representation data) | "
        f"{_spread(upload_mbps)} |",
        *(
            f"| {label} (MB/s) | {_spread(copy_mbps[files])} |"
            for files, label in BASELINES.items()
        ),
        f"| upload / plain copy | {ratio(0)} |",
        f"| upload / copy into one spooled file | {ratio(1)} |",
        f"| body bytes the journal holds after the upload (MiB) | {_spread(journal_mib)} |",
        "",
        "Every round the server's SHA-256 of the stored bytes equals the source's, and the "
        "client met exactly three cuts. The upload time covers the whole flow: the creation "
        "POST, four PATCHes (each resumed where the HEAD said) and three HEADs. The journal "
        "keeps every body byte the server read; for the upload's bytes it reads the upload "
        "store's spooled file (an unlinked temporary file past 1 MiB) instead of writing a "
        "copy, so each byte is written to disk once, and the copy into one spooled file is "
        "the floor for any server that keeps what it reads. Every phase (the upload and each "
        "copy) starts after `os.sync()`, in an order that rotates between rounds, so none "
        "pays for another's writeback; with 24 GiB of memory the bytes an upload writes fit "
        "in the page cache, and the disk flush happens after the measured time.",
        "",
        f"Targets: upload throughput at least half a plain loopback copy's: "
        f"{'met' if half >= 0.5 else 'NOT met'} (median ratio {half:.2f}); server peak RSS "
        f"growth under 64 MiB: {'met' if statistics.median(peaks) < 64 else 'NOT met'}.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.markdown is not None:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
