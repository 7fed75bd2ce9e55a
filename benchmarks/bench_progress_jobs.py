"""Scale of long-running operations: many concurrent ProgressJobs on one server.

Each round starts a server in its own process, opens ``--jobs`` connections at once, and sends
``POST /jobs`` with ``Prefer: processing`` on every one. Each job streams ``--stages`` 102s
(``Progress: i/n``), one per stage of ``--stage-seconds``, then the final response. Every
client checks that it received every interim, in order, with the right Progress, then the
final ``Progress: n/n``. The parent measures, from /proc, the server process's CPU time
(user + system) over the load and its resident memory (peak during the load minus the
baseline before it).

Servers measured in the same run, on the same load:

- ``ProgressJob``: ``srv.mount(mp.ProgressJob(...))``, the resource under test;
- ``script``: the same stream scripted with ``mp.processing`` and ``mp.pause`` steps;
- ``floor``: a bare asyncio + h11 server that writes the same messages on the same schedule,
  with nothing else (no journal, no matching): what the bytes alone cost in Python;
- ``node``: Node's built-in http server writing raw 102s, as the draft's own proof of concept
  does (``awwright/http-progress/demo-progress/httpd.js``); skipped without ``node``.

With ``--find-max`` it then looks for the most concurrent jobs a ``ProgressJob`` server holds
on this machine with every client receiving every interim in order: it doubles ``--jobs``
until a round fails (or the client reaches its file-descriptor limit), then narrows the gap
by halves. The server's ``max_connections`` is raised above the jobs for this (its default,
2,048, would refuse the rest with 503s, which is the limit doing its job, not the server
failing to hold them).

Run: ``.venv/bin/python benchmarks/bench_progress_jobs.py [--jobs 1000] [--rounds 5]
[--find-max] [--markdown PATH]``. It prints a Markdown section, writes it to ``--markdown``
and, with ``--write``, replaces its own section of benchmarks/RESULTS.md (between its
markers), leaving the rest of the file alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import h11

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
START = "<!-- bench_progress_jobs: start -->"
END = "<!-- bench_progress_jobs: end -->"
KINDS = ("ProgressJob", "script", "floor", "node")
TICKS = os.sysconf("SC_CLK_TCK")

# ---- the servers (each runs in its own process) ----------------------------------------------


def remark(i: int) -> str:
    return f"stage {i + 1}"


def serve_mockprogress(kind: str, stages: int, seconds: float, max_connections: int) -> None:
    import anyio

    import mockprogress as mp

    async def main() -> None:
        async with mp.MockServer(max_connections=max_connections) as srv:
            if kind == "ProgressJob":
                srv.mount(
                    mp.ProgressJob(
                        "/jobs",
                        [(remark(i), seconds) for i in range(stages)],
                        mp.respond(200, b"done\n"),
                        methods=["POST"],
                    )
                )
            else:
                steps: list[mp.Step] = []
                for i in range(stages):
                    location = "/jobs/status/1" if i == 0 else None
                    steps.append(mp.processing((i, stages, remark(i)), location=location))
                    steps.append(mp.pause(seconds))
                steps.append(mp.respond(200, b"done\n", {"Progress": f"{stages}/{stages}"}))
                srv.expect("POST", "/jobs").respond(*steps)
            print(f"ready {srv.port}", flush=True)
            await anyio.to_thread.run_sync(sys.stdin.read)  # until the parent closes stdin

    anyio.run(main)


def serve_floor(stages: int, seconds: float) -> None:
    """The same messages from a bare asyncio + h11 server."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(await reader.read(65536))
                continue
            if isinstance(event, h11.EndOfMessage):
                break
            if isinstance(event, h11.ConnectionClosed):
                writer.close()
                return
        for i in range(stages):
            headers = [("Progress", f'{i}/{stages} "{remark(i)}"')]
            if i == 0:
                headers.append(("Location", "/jobs/status/1"))
            writer.write(
                conn.send(
                    h11.InformationalResponse(status_code=102, headers=headers, reason="Processing")
                )
                or b""
            )
            await writer.drain()
            await asyncio.sleep(seconds)
        head = [("Progress", f"{stages}/{stages}"), ("Content-Length", "5")]
        data = conn.send(h11.Response(status_code=200, headers=head, reason="OK")) or b""
        data += conn.send(h11.Data(data=b"done\n")) or b""
        data += conn.send(h11.EndOfMessage()) or b""
        writer.write(data)
        await writer.drain()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
        port = server.sockets[0].getsockname()[1]
        print(f"ready {port}", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        server.close()

    asyncio.run(main())


NODE_SERVER = r"""
// The draft's proof of concept writes 102s raw on the socket; this does the same.
const http = require('node:http');
const [stages, seconds] = [Number(process.argv[1]), Number(process.argv[2])];
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    let i = 0;
    const next = () => {
      if (i < stages) {
        let head = `HTTP/1.1 102 Processing\r\nProgress: ${i}/${stages} "stage ${i + 1}"\r\n`;
        if (i === 0) head += 'Location: /jobs/status/1\r\n';
        res.socket.write(head + '\r\n');
        i += 1;
        setTimeout(next, seconds * 1000);
      } else {
        res.writeHead(200, { Progress: `${stages}/${stages}`, 'Content-Length': 5 });
        res.end('done\n');
      }
    };
    next();
  });
});
server.listen(0, '127.0.0.1', 4096, () => console.log(`ready ${server.address().port}`));
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
"""


# ---- measuring a server process --------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def memory_kib(pid: int) -> dict[str, int]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found


def start_server(
    kind: str, stages: int, seconds: float, max_connections: int = 2048
) -> tuple[subprocess.Popen[str], int]:
    if kind == "node":
        node = shutil.which("node")
        assert node is not None
        command = [node, "-e", NODE_SERVER, str(stages), str(seconds)]
    else:
        command = [sys.executable, __file__, "--serve", kind, "--stages", str(stages)]
        command += ["--stage-seconds", str(seconds), "--max-connections", str(max_connections)]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().split()
    if len(line) != 2 or line[0] != "ready":
        proc.kill()
        raise RuntimeError(f"{kind} server did not start: {line}")
    return proc, int(line[1])


def stop_server(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---- the clients -----------------------------------------------------------------------------


@dataclass
class JobResult:
    ok: bool
    lateness: list[float] = field(default_factory=list)  # of each interim and the final
    error: str = ""


async def one_job(port: int, stages: int, seconds: float) -> JobResult:
    """One client: POST, then check every interim in order, then the final response."""
    result = JobResult(ok=False)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError as exc:
        result.error = f"connect: {exc}"
        return result
    conn = h11.Connection(h11.CLIENT)
    data = (
        conn.send(
            h11.Request(
                method="POST",
                target="/jobs",
                headers=[("Host", "bench"), ("Prefer", "processing"), ("Content-Length", "0")],
            )
        )
        or b""
    )
    data += conn.send(h11.EndOfMessage()) or b""
    sent = time.monotonic()
    writer.write(data)
    seen = 0
    try:
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                chunk = await reader.read(65536)
                conn.receive_data(chunk)
                continue
            now = time.monotonic()
            if isinstance(event, h11.InformationalResponse):
                progress = dict(event.headers).get(b"progress", b"").decode()
                if event.status_code != 102 or progress != f'{seen}/{stages} "{remark(seen)}"':
                    result.error = f"interim {seen}: {event.status_code} {progress!r}"
                    return result
                result.lateness.append(now - sent - seen * seconds)
                seen += 1
            elif isinstance(event, h11.Response):
                progress = dict(event.headers).get(b"progress", b"").decode()
                if event.status_code != 200 or seen != stages or progress != f"{stages}/{stages}":
                    result.error = f"final after {seen} interims: {event.status_code} {progress!r}"
                    return result
                result.lateness.append(now - sent - stages * seconds)
            elif isinstance(event, h11.EndOfMessage):
                result.ok = True
                return result
            elif isinstance(event, h11.ConnectionClosed):
                result.error = f"closed after {seen} interims"
                return result
    except (OSError, h11.ProtocolError) as exc:
        result.error = repr(exc)
        return result
    finally:
        writer.close()


@dataclass
class Round:
    cpu: float
    rss_delta_kib: int
    rss_peak_kib: int
    wall: float
    ok: int
    late_median: float
    late_max: float
    errors: list[str]


async def load(port: int, jobs: int, stages: int, seconds: float) -> tuple[list[JobResult], float]:
    started = time.monotonic()
    results = await asyncio.gather(*(one_job(port, stages, seconds) for _ in range(jobs)))
    return list(results), time.monotonic() - started


def run_round(
    kind: str, jobs: int, stages: int, seconds: float, max_connections: int = 2048
) -> Round:
    proc, port = start_server(kind, stages, seconds, max_connections)
    try:
        time.sleep(0.2)  # let the server settle before the baseline
        cpu_before = cpu_seconds(proc.pid)
        rss_before = memory_kib(proc.pid)["VmRSS"]
        results, wall = asyncio.run(load(port, jobs, stages, seconds))
        cpu = cpu_seconds(proc.pid) - cpu_before
        peak = memory_kib(proc.pid)["VmHWM"]
    finally:
        stop_server(proc)
    late = [x for r in results for x in r.lateness]
    return Round(
        cpu=cpu,
        rss_delta_kib=peak - rss_before,
        rss_peak_kib=peak,
        wall=wall,
        ok=sum(r.ok for r in results),
        late_median=statistics.median(late) if late else float("nan"),
        late_max=max(late) if late else float("nan"),
        errors=sorted({r.error for r in results if not r.ok})[:3],
    )


# ---- the report ------------------------------------------------------------------------------


def summary(values: Sequence[float], scale: float = 1.0, digits: int = 2) -> str:
    med, lo, hi = (v * scale for v in (statistics.median(values), min(values), max(values)))
    return f"{med:.{digits}f} ({lo:.{digits}f}-{hi:.{digits}f})"


def machine() -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for name in ("mockprogress", "anyio", "h11", "wsproto"):
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} not installed")
    node = shutil.which("node")
    if node:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
        versions.append(f"node {out.stdout.strip()}")
    return (
        f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}; " + ", ".join(versions)
    )


def report(
    args: argparse.Namespace, rounds: dict[str, list[Round]], command: str, extra: list[str]
) -> str:
    total = args.stages * args.stage_seconds
    lines = [
        START,
        "## Concurrent ProgressJobs (`bench_progress_jobs.py`)",
        "",
        f"{args.jobs} clients at once, each `POST /jobs` with `Prefer: processing` on its own "
        f"connection; every job streams {args.stages} `102 Processing` ({args.stage_seconds:g} s "
        f"a stage, {total:g} s a job) then `200` with `Progress: {args.stages}/{args.stages}`. "
        f"Each client checks every interim, in order. {args.rounds} rounds per server, a fresh "
        "server process each round; figures are median (min-max) over the rounds. CPU is the "
        "server process's user + system time over the load; memory is its peak resident size "
        "during the load minus its size just before. Lateness is how long after its scheduled "
        "time (from the client's send) each message arrived, over every message of every job.",
        "",
        f"Command: `{command}`",
        "",
        f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; other agents' test runs may "
        "share the machine, so the servers' rounds are interleaved.",
        "",
        "| server | all interims in order | CPU s | CPU ms / job | memory MiB | KiB / job "
        "| wall s | lateness median ms | lateness max ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, measured in rounds.items():
        ok = min(r.ok for r in measured)
        lines.append(
            f"| {kind} | {ok}/{args.jobs} (worst round) "
            f"| {summary([r.cpu for r in measured])} "
            f"| {summary([r.cpu / args.jobs for r in measured], 1000, 3)} "
            f"| {summary([r.rss_delta_kib for r in measured], 1 / 1024, 1)} "
            f"| {summary([r.rss_delta_kib / args.jobs for r in measured], 1, 1)} "
            f"| {summary([r.wall for r in measured])} "
            f"| {summary([r.late_median for r in measured], 1000, 1)} "
            f"| {summary([r.late_max for r in measured], 1000, 1)} |"
        )
    job_cpu = statistics.median(r.cpu for r in rounds["ProgressJob"])
    ratios = []
    for kind in rounds:
        if kind != "ProgressJob":
            other = statistics.median(r.cpu for r in rounds[kind])
            ratios.append(f"{job_cpu / other:.2f}x {kind}" if other else f"n/a vs {kind}")
    if ratios:
        lines += ["", f"ProgressJob CPU (medians): {', '.join(ratios)}."]
    problems = [f"{k}: {e}" for k, rs in rounds.items() for r in rs for e in r.errors]
    if problems:
        lines += ["", "Errors seen: " + "; ".join(sorted(set(problems))) + "."]
    lines += extra
    lines.append(END)
    return "\n".join(lines) + "\n"


def raise_fd_limit() -> int:
    """Raise this process's (and so its servers') open-file limit to the hard limit; the
    soft limit it now has."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def find_max(start: int, cap: int, stages: int, seconds: float) -> list[tuple[int, Round]]:
    """Trials of a ProgressJob server at rising job counts: doubling from ``start`` until a
    round fails or ``cap`` is reached, then halving the gap between the last success and the
    first failure until it is under an eighth of the success (or 100 jobs)."""
    trials: list[tuple[int, Round]] = []

    def trial(jobs: int) -> bool:
        measured = run_round("ProgressJob", jobs, stages, seconds, max_connections=jobs + 100)
        trials.append((jobs, measured))
        print(
            f"max search: {jobs} jobs: {measured.ok}/{jobs} ok, wall {measured.wall:.2f} s, "
            f"late max {measured.late_max * 1000:.0f} ms",
            file=sys.stderr,
        )
        return measured.ok == jobs

    held, failed = 0, None
    jobs = start
    while True:
        if not trial(jobs):
            failed = jobs
            break
        held = jobs
        if jobs >= cap:
            break
        jobs = min(jobs * 2, cap)
    while failed is not None and failed - held > max(held // 8, 100):
        middle = (held + failed) // 2
        if trial(middle):
            held = middle
        else:
            failed = middle
    return trials


def max_report(trials: list[tuple[int, Round]], cap: int, args: argparse.Namespace) -> list[str]:
    held = max((jobs for jobs, r in trials if r.ok == jobs), default=0)
    failed = [jobs for jobs, r in trials if r.ok != jobs]
    if failed:
        bound = f"a round of {min(j for j in failed if j > held):,} jobs failed"
    else:
        bound = (
            f"{cap:,} is as many connections as the client process may open (its "
            "file-descriptor limit), so the server's own limit is higher"
        )
    lines = [
        "",
        "### The most concurrent jobs held",
        "",
        f"`--find-max`: one round per job count, a fresh `ProgressJob` server each time (its "
        f"`max_connections` raised above the count), {args.stages} stages of "
        f"{args.stage_seconds:g} s; doubling from {args.jobs:,}, then narrowing.",
        "",
        "| jobs | all interims in order | server CPU s | memory MiB | wall s "
        "| lateness median ms | lateness max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for jobs, r in trials:
        lines.append(
            f"| {jobs:,} | {r.ok:,}/{jobs:,} | {r.cpu:.2f} | {r.rss_delta_kib / 1024:.1f} "
            f"| {r.wall:.2f} | {r.late_median * 1000:.1f} | {r.late_max * 1000:.1f} |"
        )
    errors = sorted({e for _, r in trials for e in r.errors})[:3]
    lines += [
        "",
        f"Held: **{held:,} concurrent progress streams**, every client receiving every interim "
        f"in order; {bound}."
        + (f" Errors of the failed rounds: {'; '.join(errors)}." if errors else ""),
        "Lateness grows with the count: the interims arrive in order but late once the "
        "server (and the Python client, on the same two CPUs) cannot keep the schedule.",
    ]
    return lines


def write_section(section: str) -> None:
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    if START in text and END in text:
        before = text[: text.index(START)]
        after = text[text.index(END) + len(END) :].lstrip("\n")
        text = before + section + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--stages", type=int, default=5)
    parser.add_argument("--stage-seconds", type=float, default=0.2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--servers", nargs="+", choices=KINDS, default=list(KINDS))
    parser.add_argument("--write", action="store_true", help="update benchmarks/RESULTS.md")
    parser.add_argument("--markdown", type=Path, help="write the results section here")
    parser.add_argument(
        "--find-max", action="store_true", help="then find the most jobs a ProgressJob holds"
    )
    parser.add_argument("--serve", choices=KINDS[:3], help=argparse.SUPPRESS)
    parser.add_argument("--max-connections", type=int, default=2048, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.serve == "floor":
        serve_floor(args.stages, args.stage_seconds)
        return 0
    if args.serve:
        serve_mockprogress(args.serve, args.stages, args.stage_seconds, args.max_connections)
        return 0
    fd_limit = raise_fd_limit()

    kinds = [k for k in args.servers if k != "node" or shutil.which("node")]
    rounds: dict[str, list[Round]] = {k: [] for k in kinds}
    for i in range(args.rounds):
        for kind in kinds:  # interleaved, so a slow patch of the machine hits every server
            measured = run_round(kind, args.jobs, args.stages, args.stage_seconds)
            rounds[kind].append(measured)
            print(
                f"round {i + 1} {kind}: {measured.ok}/{args.jobs} ok, cpu {measured.cpu:.2f} s, "
                f"+{measured.rss_delta_kib / 1024:.1f} MiB, wall {measured.wall:.2f} s, "
                f"late max {measured.late_max * 1000:.0f} ms",
                file=sys.stderr,
            )
    extra: list[str] = []
    if args.find_max:
        cap = fd_limit - 500  # room for the client's own files and the servers' pipes
        extra = max_report(find_max(args.jobs, cap, args.stages, args.stage_seconds), cap, args)
    shown = [a for a in (argv if argv is not None else sys.argv[1:]) if a]
    if "--markdown" in shown:
        i = shown.index("--markdown")
        del shown[i : i + 2]
    command = " ".join([".venv/bin/python benchmarks/bench_progress_jobs.py", *shown])
    section = report(args, rounds, command, extra)
    print(section)
    if args.markdown is not None:
        args.markdown.write_text(section)
    if args.write:
        write_section(section)
    return 0 if all(r.ok == args.jobs for rs in rounds.values() for r in rs) else 1


if __name__ == "__main__":
    sys.exit(main())
