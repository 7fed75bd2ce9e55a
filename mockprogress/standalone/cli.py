"""The command line: ``mockprogress serve``, ``proxy``, ``diagram``, ``validate``.

``serve`` prints one readiness line, ``mockprogress listening on http://HOST:PORT``, then one
line per journal event as it happens. With no scenario it serves the demo set; ``proxy`` is
the same server in front of an upstream, which gets every request the scenarios do not answer.
Ctrl-C stops it with status 130, SIGTERM with status 0; either way within a second, closing the
connections in flight and letting mounted resources flush their stores. This module only wires
options to ``MockServer`` and to the printers of ``_terminal``: what goes on the wire is decided
in the core.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import anyio

from ..engine.journal import Journal
from ..engine.journal_json import load_exchanges
from ..engine.limits import LIMIT_FIELDS
from ..errors import MockProgressError
from ..resources.control_api import DEFAULT_CONTROL_PREFIX
from ..server.server import MockServer
from ..version import __version__
from .terminal import JournalWriter, JsonLog, TextLog, use_colour, use_live_display

#: How often the live display and the journal file are brought up to date.
TICK_SECONDS = 0.1


def demo_files() -> list[Path]:
    """The scenario files of the demo set (``fixtures/*.toml`` and ``*.json``)."""
    from importlib.resources import files

    root = Path(str(files("mockprogress.fixtures")))
    return sorted([*root.glob("*.toml"), *root.glob("*.json")])


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockprogress",
        description="A programmable HTTP/1.1 test double: interim responses, faults at exact "
        "byte offsets, resumable uploads.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"mockprogress {__version__}",
        help="print the version and exit",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", help="what to do (COMMAND --help)"
    )
    _serve_parser(commands)
    diagram = commands.add_parser(
        "diagram",
        help="draw a journal as a Mermaid sequence diagram",
        description="Read a journal (the JSON lines of `serve --journal FILE`, or the JSON of "
        "the control API's GET journal) and print a Mermaid sequenceDiagram.",
    )
    diagram.add_argument("journal", metavar="FILE", help="the journal file; - reads standard input")
    validate = commands.add_parser(
        "validate",
        help="check scenario files without serving them",
        description="Load each scenario file as `serve` would, and report what it defines or "
        "the first mistake in it (file, key, what was expected). Exit status 2 on a mistake.",
    )
    validate.add_argument(
        "scenarios", nargs="+", type=Path, metavar="SCENARIO", help="TOML or JSON scenario files"
    )
    return parser


def _serve_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = commands.add_parser(
        "serve",
        help="run the standalone server",
        description="Serve scenario files (TOML, or JSON if the name ends in .json) over "
        "HTTP/1.1. Prints `mockprogress listening on http://HOST:PORT` when ready, then one "
        "line per event. Ctrl-C exits 130, SIGTERM exits 0.",
    )
    serve.add_argument(
        "scenarios",
        nargs="*",
        type=Path,
        metavar="SCENARIO",
        help="scenario files to serve (default: the demo set, unless --empty)",
    )
    serve.add_argument(
        "--empty",
        action="store_true",
        help="start with no expectations at all (no demo set): for suites that script the "
        "server through the control API",
    )
    _server_options(serve)
    proxy = commands.add_parser(
        "proxy",
        help="run the standalone server in front of a real one",
        description="Forward every request that the scenario files (if any) do not answer to "
        "the upstream, and bring its answer back; their expectations may fail some requests "
        "and cut, drip or delay the upstream's answers with the forward step (docs/proxy.md). "
        "Prints `mockprogress listening on http://HOST:PORT` when ready, then one line per "
        "event. Ctrl-C exits 130, SIGTERM exits 0.",
    )
    proxy.add_argument(
        "--upstream",
        required=True,
        metavar="URL",
        help="the real server: http://HOST:PORT or https://... (a path is put before every "
        "forwarded one)",
    )
    proxy.add_argument(
        "scenarios",
        nargs="*",
        type=Path,
        metavar="SCENARIO",
        help="scenario files whose expectations answer before the upstream (default: none)",
    )
    proxy.set_defaults(empty=True)
    _server_options(proxy)


def _server_options(serve: argparse.ArgumentParser) -> None:
    """The options ``serve`` and ``proxy`` share."""
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: %(default)s); a non-loopback address also opens "
        "the control API to other hosts",
    )
    serve.add_argument(
        "--port", type=int, default=0, help="port to listen on (default: 0, an ephemeral one)"
    )
    serve.add_argument(
        "--backend",
        choices=["asyncio", "trio"],
        default="asyncio",
        help="event loop (default: %(default)s)",
    )
    serve.add_argument(
        "--log-format",
        choices=["text", "json"],
        default="text",
        help="text: readable lines; json: one JSON object per line, the readiness line "
        "included (default: %(default)s)",
    )
    serve.add_argument(
        "--color",
        choices=["auto", "always", "never"],
        default="auto",
        help="colour the text lines: auto colours a terminal unless NO_COLOR is set "
        "(default: %(default)s)",
    )
    serve.add_argument(
        "--journal",
        type=Path,
        metavar="FILE",
        help="write every exchange, once it has ended, to FILE as one JSON line "
        "(read it back with `mockprogress diagram FILE`)",
    )
    serve.add_argument(
        "--control-prefix",
        default=DEFAULT_CONTROL_PREFIX,
        metavar="PREFIX",
        help="path prefix of the control API (default: %(default)s)",
    )
    serve.add_argument(
        "--no-control", action="store_true", help="do not serve the control API at all"
    )
    serve.add_argument(
        "--token",
        metavar="TOKEN",
        help="require `Authorization: Bearer TOKEN` on control-API requests (default: the "
        "MOCKPROGRESS_TOKEN environment variable, if set)",
    )
    serve.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a name the control API (and the proxy) answers requests for (their Host), besides "
        "the listening address, IP addresses and localhost; repeatable; .example.test allows "
        "the name and every name under it",
    )
    serve.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS, with a certificate for 127.0.0.1, ::1 and localhost signed by a "
        "throwaway CA (docs/https.md)",
    )
    serve.add_argument(
        "--http2",
        action="store_true",
        help="speak HTTP/2 too: prior knowledge, Upgrade: h2c, ALPN h2 with --tls; HTTP/1.1 "
        "clients are served as before (docs/http2.md)",
    )
    serve.add_argument(
        "--ca-file",
        type=Path,
        metavar="PATH",
        help="with --tls: write the CA's PEM to PATH (default: a temporary file, named at "
        "start-up) for curl --cacert, REQUESTS_CA_BUNDLE or NODE_EXTRA_CA_CERTS",
    )
    limits = serve.add_argument_group("limits (docs/limits.md)")
    # One option per field of Limits: --max-body-size sets max_body_size.
    for limit in LIMIT_FIELDS:
        seconds = limit.metadata["unit"] == "seconds"
        limits.add_argument(
            "--" + limit.name.replace("_", "-"),
            dest=limit.name,
            type=_seconds if seconds else _count,
            default=limit.default,
            metavar="SECONDS" if seconds else "N",
            help=f"{limit.metadata['help']} (default: %(default)s"
            + ("; none: never)" if seconds else ")"),
        )


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _seconds(text: str) -> float | None:
    if text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds or none, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected seconds > 0 or none, got {text}")
    return value


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(host: str, port: int, path: str = "", *, tls: bool = False) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}{path}"


async def _serve(
    args: argparse.Namespace, out: TextIO, err: TextIO, writer: JournalWriter | None
) -> int:
    limits = {limit.name: getattr(args, limit.name) for limit in LIMIT_FIELDS}
    if args.ca_file is not None and not args.tls:
        raise MockProgressError("--ca-file needs --tls")
    upstream = getattr(args, "upstream", None)
    server = MockServer(
        args.host,
        args.port,
        tls=args.tls,
        http2=args.http2,
        upstream=upstream,
        allowed_hosts=args.allowed_host,
        **limits,
    )
    ca_file = _write_ca(server, args.ca_file) if args.tls else None
    files: list[Path] = list(args.scenarios)
    if upstream is None and not files and not args.empty:
        files = demo_files()
    for path in files:
        server.load(path)
    token = args.token if args.token is not None else os.environ.get("MOCKPROGRESS_TOKEN")
    remote = not _loopback(args.host)
    if not args.no_control:
        server.enable_control_api(
            args.control_prefix,
            token=token or None,
            allow_remote=remote,
            allowed_hosts=args.allowed_host,
            reset_files=files,
        )
    if args.log_format == "json":
        printer: TextLog | JsonLog = JsonLog(out)
    else:
        printer = TextLog(
            out,
            colour=use_colour(out, args.color),
            live=use_live_display(out),
            clock=anyio.current_time,
        )
    server.on_event(printer)
    if writer is not None:
        server.on_event(writer)
    status = 0
    try:
        async with server, anyio.create_task_group() as tg:
            _announce(server, args, printer, out, err, remote, token, ca_file)
            tg.start_soon(_tick, printer, writer)
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    status = 130 if signum == signal.SIGINT else 0
                    break
            tg.cancel_scope.cancel()
    finally:
        printer.close()
    return status


def _announce(
    server: MockServer,
    args: argparse.Namespace,
    printer: TextLog | JsonLog,
    out: TextIO,
    err: TextIO,
    remote: bool,
    token: str | None,
    ca_file: str | None,
) -> None:
    tls = server.tls is not None
    url = _url(args.host, server.port, tls=tls)
    control = (
        None if args.no_control else _url(args.host, server.port, args.control_prefix, tls=tls)
    )
    view = None if control is None else control + "ui"
    if isinstance(printer, JsonLog):
        event = {
            "type": "listening",
            "url": url,
            "control": control,
            "view": view,
            "version": __version__,
        }
        if getattr(args, "upstream", None) is not None:
            event["upstream"] = args.upstream
        if ca_file is not None:
            event["ca_file"] = ca_file
        printer.emit(event)
    else:
        if ca_file is not None:
            print(f"the CA to trust: {ca_file} (curl --cacert {ca_file})", file=out, flush=True)
        print(f"mockprogress listening on {url}", file=out, flush=True)
        upstream = getattr(args, "upstream", None)
        if upstream is not None:
            print(f"forwarding to {upstream}", file=out, flush=True)
        if not args.empty and not args.scenarios:
            print(f"the demo set: curl {url}/ lists its routes", file=out, flush=True)
        if control is not None:
            print(f"control API: {control}", file=out, flush=True)
        if view is not None:
            with_token = f" (with a token: open {view}?token=TOKEN once)" if token else ""
            print(f"live view in a browser: {view}{with_token}", file=out, flush=True)
    if remote and control is not None and not token:
        print(
            f"mockprogress: warning: the control API on {args.host} answers any host without a "
            "token; add --token",
            file=err,
            flush=True,
        )


def _write_ca(server: MockServer, path: Path | None) -> str:
    """The CA's PEM where the user asked for it (else the CA's own temporary file)."""
    if path is None:
        return server.ca_file
    try:
        path.write_bytes(Path(server.ca_file).read_bytes())
    except OSError as exc:
        raise MockProgressError(f"cannot write the CA to {path}: {exc.strerror or exc}") from None
    return str(path)


async def _tick(printer: TextLog | JsonLog, writer: JournalWriter | None) -> None:
    while True:
        await anyio.sleep(TICK_SECONDS)
        printer.tick()
        if writer is not None:
            writer.tick()


def _diagram(args: argparse.Namespace, out: TextIO) -> int:
    source = "<stdin>" if args.journal == "-" else args.journal
    try:
        text = sys.stdin.read() if args.journal == "-" else Path(args.journal).read_text("utf-8")
    except OSError as exc:
        raise MockProgressError(f"{source}: cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise MockProgressError(f"{source}: not UTF-8 text") from None
    journal = Journal(list(load_exchanges(text, source)))
    out.write(journal.to_mermaid())
    return 0


def _validate(args: argparse.Namespace, out: TextIO) -> int:
    from ..engine.matching import Expectation
    from ..engine.resource import Resource
    from ..scenario.document import load_scenario
    from ..script.faults import HeadCut

    for path in args.scenarios:
        items = load_scenario(path)
        expectations = sum(isinstance(i, Expectation) for i in items)
        cuts = sum(isinstance(i, HeadCut) for i in items)
        resources = sum(isinstance(i, Resource) for i in items)
        line = f"{path}: ok, {expectations} expectation(s), {resources} resource(s)"
        if cuts:
            line += f", {cuts} head cut(s)"
        print(line, file=out)
    return 0


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the CLI; returns the exit status."""
    args = _parser().parse_args(argv)
    stream = out or sys.stdout
    try:
        if args.command == "diagram":
            return _diagram(args, stream)
        if args.command == "validate":
            return _validate(args, stream)
        return _run_server(args, stream)
    except MockProgressError as exc:
        print(f"mockprogress: {exc}", file=sys.stderr)
        return 2


def _first_leaf(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _run_server(args: argparse.Namespace, out: TextIO) -> int:
    writer = None
    if args.journal is not None:
        try:
            writer = JournalWriter(open(args.journal, "w", encoding="utf-8"))
        except OSError as exc:
            raise MockProgressError(
                f"cannot write the journal to {args.journal}: {exc.strerror or exc}"
            ) from None
    try:
        status: int = anyio.run(_serve, args, out, sys.stderr, writer, backend=args.backend)
        return status
    except KeyboardInterrupt:
        return 130  # Ctrl-C before the server was listening
    except (OSError, ExceptionGroup) as exc:
        # The listener fails inside the server's task group, which wraps what it raises.
        error = _first_leaf(exc)
        if not isinstance(error, OSError):
            raise
        where = f"{args.host}:{args.port}"
        raise MockProgressError(f"cannot listen on {where}: {error.strerror or error}") from None
    finally:
        if writer is not None:
            writer.close()
