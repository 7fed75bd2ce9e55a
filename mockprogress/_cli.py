"""The standalone server: ``mockprogress serve [SCENARIO.toml ...]``.

It prints one readiness line, ``mockprogress listening on http://HOST:PORT``, then one line per
journal event as it happens. With no scenario it serves the demo set.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import anyio

from ._errors import MockProgressError
from ._journal import Event, ExchangeLog
from ._server import MockServer
from ._version import __version__


def demo_files() -> list[Path]:
    """The scenario files of the demo set (``fixtures/*.toml``)."""
    from importlib.resources import files

    root = Path(str(files("mockprogress.fixtures")))
    return sorted(root.glob("*.toml"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockprogress",
        description="A programmable HTTP/1.1 test double: interim responses, faults at exact "
        "byte offsets, resumable uploads.",
    )
    parser.add_argument("--version", action="version", version=f"mockprogress {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the standalone server")
    serve.add_argument(
        "scenarios",
        nargs="*",
        type=Path,
        metavar="SCENARIO.toml",
        help="scenario files to serve (default: the demo set)",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument("--port", type=int, default=0, help="port to listen on (default: ephemeral)")
    serve.add_argument(
        "--backend",
        choices=["asyncio", "trio"],
        default="asyncio",
        help="event loop (default: %(default)s)",
    )
    return parser


class EventPrinter:
    """Prints one line per journal event."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def __call__(self, log: ExchangeLog, event: Event) -> None:
        arrow = {"in": "<-", "out": "->"}.get(event.direction, "..")
        stamp = time.strftime("%H:%M:%S")
        detail = event.detail
        if event.kind in ("interim", "interim-skipped") and event.headers:
            detail += "  " + "; ".join(f"{n}: {v}" for n, v in event.headers)
        print(f"{stamp} #{log.index} {arrow} {detail}", file=self.out, flush=True)


async def _serve(args: argparse.Namespace, out: TextIO) -> None:
    server = MockServer(args.host, args.port)
    scenarios = args.scenarios or demo_files()
    for path in scenarios:
        server.load(path)
    server.on_event(EventPrinter(out))
    async with server, anyio.create_task_group() as tg:
        url = server.url("/").rstrip("/")
        print(f"mockprogress listening on {url}", file=out, flush=True)
        with anyio.open_signal_receiver(signal.SIGTERM) as signals:
            async for _ in signals:
                tg.cancel_scope.cancel()
                break


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = _parser().parse_args(argv)
    stream = out or sys.stdout
    try:
        anyio.run(_serve, args, stream, backend=args.backend)
    except KeyboardInterrupt:
        return 130
    except MockProgressError as exc:
        print(f"mockprogress: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"mockprogress: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    return 0
