"""What the standalone server shows as it runs: one line per journal event, a live display of
the exchanges in flight, and the journal written as JSON lines.

- ``TextLog``: a readable line per event (``12:00:01.234 #1 -> 102 Processing  Progress: ...``),
  in colour when asked to, and, on a terminal, a few status lines under them for the uploads
  and long jobs still running, redrawn in place.
- ``JsonLog``: one JSON object per event, for machines (``--log-format json``).
- ``JournalWriter``: every exchange, once it has ended, as one JSON line (``--journal FILE``).

All of them are fed by ``MockServer.on_event`` and run on the server's event loop; the CLI
calls ``tick()`` a few times a second for the live parts.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import TextIO

from ..engine.journal import Event, ExchangeLog
from ..engine.journal_json import dump_exchange, event_to_json

# SGR codes: https://en.wikipedia.org/wiki/ANSI_escape_code#SGR
_RESET = "\x1b[0m"
_STYLES = {
    "request": "\x1b[1;36m",
    "body": "\x1b[36m",
    "interim": "\x1b[33m",
    "interim-skipped": "\x1b[2;33m",
    "response": "\x1b[1;32m",
    "response-error": "\x1b[1;31m",
    "body-sent": "\x1b[32m",
    "pause": "\x1b[2m",
    "fault": "\x1b[1;31m",
    "raw": "\x1b[35m",
    "error": "\x1b[31m",
    "closed": "\x1b[2m",
    "control": "\x1b[2m",
    "live": "\x1b[2m",
}
_ARROWS = {"in": "<-", "out": "->"}
#: An exchange shows in the live display once it has run this long.
LIVE_AFTER = 0.3
#: At most this many exchanges are shown live; the rest are counted.
LIVE_LINES = 6


def use_colour(stream: TextIO, choice: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to colour ``stream``: ``always``, ``never``, or ``auto`` (a terminal, and
    neither ``NO_COLOR`` (no-color.org: set and not empty) nor ``TERM=dumb``)."""
    env = os.environ if environ is None else environ
    if choice == "always":
        return True
    if choice == "never":
        return False
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return False
    return _isatty(stream)


def use_live_display(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Whether to redraw a live block on ``stream``: it moves the cursor, so a terminal only
    (and not ``TERM=dumb``). ``NO_COLOR`` is about colour alone and leaves it on."""
    env = os.environ if environ is None else environ
    return _isatty(stream) and env.get("TERM") != "dumb"


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _stamp() -> str:
    now = time.time()
    return time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d}"


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def label(log: ExchangeLog) -> str:
    """``#3`` for a client's exchange, ``ctl#3`` for a control-API request."""
    return f"ctl#{log.index}" if log.reserved else f"#{log.index}"


#: The control token in a target (the live view opened with ``ui?token=TOKEN``).
_TOKEN_IN_QUERY = re.compile(r"([?&]token=)[^&\s]*")


def _shown(log: ExchangeLog, text: str) -> str:
    """``text`` as printed: without the token a control request carries in its target."""
    return _TOKEN_IN_QUERY.sub(r"\1...", text) if log.reserved else text


def event_line(log: ExchangeLog, event: Event) -> str:
    """One readable line for an event, without colour or time stamp. A control request's
    token (``ui?token=``) is not printed."""
    arrow = _ARROWS.get(event.direction, "..")
    detail = event.detail
    detail = _shown(log, detail)
    if event.kind == "fault":
        arrow = "!!"
    if event.kind in ("interim", "interim-skipped") and event.headers:
        detail += "  " + "; ".join(f"{n}: {v}" for n, v in event.headers)
    return f"{label(log)} {arrow} {detail}"


#: The header the live view in a browser sends with its reads (mockprogress/ui/app.js).
VIEW_HEADER = "x-mockprogress-view"


def _routine_view_read(log: ExchangeLog, event: Event) -> bool:
    """A read of the live view (several a second while a browser shows it) that did not fail:
    not worth a line. A refused one is (a 401, a 403 say why the page shows nothing)."""
    if VIEW_HEADER not in log.headers:
        return False
    return event.kind == "request" or (event.status or 0) < 400


def _style(log: ExchangeLog, event: Event) -> str:
    if log.reserved:
        return _STYLES["control"]
    if event.kind == "response" and (event.status or 0) >= 400:
        return _STYLES["response-error"]
    return _STYLES.get(event.kind, "")


def live_line(log: ExchangeLog, now: float) -> str:
    """What one exchange in flight is doing: body bytes received of how many, the interims
    sent and the last ``Progress``, how long it has run."""
    parts = [f"{label(log)} {log.method} {log.target}"]
    received = len(log.body)
    declared = log.headers.get("content-length")
    if declared is not None and declared.isdigit() and not log.body_complete:
        total = int(declared)
        share = received / total if total else 1.0
        bar = "#" * round(share * 20)
        parts.append(f"[{bar:<20}] {_size(received)} of {_size(total)} received ({share:.0%})")
    elif received and not log.body_complete:
        parts.append(f"{_size(received)} received")
    if log.interims:
        progress = next(
            (i.headers.get("progress") for i in reversed(log.interims) if "progress" in i.headers),
            None,
        )
        text = f"{len(log.interims)} interim{'s' if len(log.interims) != 1 else ''}"
        parts.append(text + (f", Progress: {progress}" if progress else ""))
    if log.fault is not None:
        parts.append(f"fault: {log.fault.kind}")
    parts.append(f"{now - log.started:.1f} s")
    return "  ".join(parts)


class TextLog:
    """Readable lines, one per event, with the exchanges in flight shown live below them.

    :param out: where lines go.
    :param colour: colour the lines (see ``use_colour``).
    :param live: redraw a status block of the exchanges in flight (on a terminal only).
    :param clock: the server's clock (``anyio.current_time``), to time exchanges in flight.
    """

    def __init__(
        self, out: TextIO, *, colour: bool, live: bool, clock: Callable[[], float]
    ) -> None:
        self.out = out
        self.colour = colour
        self.live = live
        self.clock = clock
        self._in_flight: dict[int, ExchangeLog] = {}
        self._drawn = 0  # lines of the status block on screen now

    def line(self, text: str, style: str = "") -> None:
        """Print one line above the live block."""
        self._erase()
        if self.colour and style:
            text = f"{style}{text}{_RESET}"
        self.out.write(text + "\n")
        self._draw()
        self.out.flush()

    def __call__(self, log: ExchangeLog, event: Event) -> None:
        if log.reserved:
            # The control API's own traffic: its request and its answer are enough.
            if event.kind in ("request", "response") and not _routine_view_read(log, event):
                self.line(f"{_stamp()} {event_line(log, event)}", _style(log, event))
            return
        if log.ended is None:
            self._in_flight[id(log)] = log
        self.line(f"{_stamp()} {event_line(log, event)}", _style(log, event))

    def tick(self) -> None:
        """Redraw the live block (the CLI calls this a few times a second)."""
        if self.live:
            self._erase()
            self._draw()
            self.out.flush()

    def close(self) -> None:
        """Take the live block off the screen."""
        self._erase()
        self.out.flush()

    def _erase(self) -> None:
        if self._drawn:
            # Up to the first line of the block, then clear to the end of the screen.
            self.out.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _draw(self) -> None:
        if not self.live:
            return
        now = self.clock()
        for key, log in list(self._in_flight.items()):
            if log.ended is not None:
                del self._in_flight[key]
        running = [log for log in self._in_flight.values() if now - log.started >= LIVE_AFTER]
        lines = [f"  ... {live_line(log, now)}" for log in running[:LIVE_LINES]]
        if len(running) > LIVE_LINES:
            lines.append(f"  ... and {len(running) - LIVE_LINES} more in flight")
        for text in lines:
            if self.colour:
                text = f"{_STYLES['live']}{text}{_RESET}"
            self.out.write(text + "\n")
        self._drawn = len(lines)


class JsonLog:
    """One JSON object per line: ``{"type": "event", "exchange": 1, ...}``."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def emit(self, record: Mapping[str, object]) -> None:
        self.out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.out.flush()

    def __call__(self, log: ExchangeLog, event: Event) -> None:
        self.emit(
            {
                "type": "event",
                "time": time.time(),
                "exchange": log.index,
                "connection": log.connection,
                "control": log.reserved,
                "method": log.method,
                "target": _shown(log, log.target),
                **event_to_json(event),
                "detail": _shown(log, event.detail),  # in its place among the event's fields
            }
        )

    def tick(self) -> None:
        pass

    def close(self) -> None:
        pass


class JournalWriter:
    """Writes each of the clients' exchanges as one JSON line once it has ended (the ones
    still running when the server stops are written as they are then)."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._pending: dict[int, ExchangeLog] = {}

    def __call__(self, log: ExchangeLog, event: Event) -> None:
        if not log.reserved:
            self._pending.setdefault(id(log), log)

    def tick(self) -> None:
        self._write(lambda log: log.ended is not None)

    def close(self) -> None:
        self._write(lambda log: True)
        self.out.close()

    def _write(self, ready: Callable[[ExchangeLog], bool]) -> None:
        done = [(key, log) for key, log in self._pending.items() if ready(log)]
        for key, log in done:
            self.out.write(dump_exchange(log.snapshot()) + "\n")
            del self._pending[key]
        if done:
            self.out.flush()
