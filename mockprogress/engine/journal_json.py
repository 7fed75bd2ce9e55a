"""The journal as JSON: a stable, round-trippable form of ``Exchange`` and ``Event``.

One exchange is one JSON object (``exchange_to_json``); ``exchange_from_json`` rebuilds an
``Exchange`` equal to the original, body included. The standalone server writes one such object
per line (``--journal FILE``), the control API answers ``{"exchanges": [...]}``, and
``mockprogress diagram`` reads either back into the same ``journal_to_mermaid`` the Python API
uses. Field names are documented in docs/standalone.md; ``schema`` is bumped on any change that
is not a pure addition.

Headers are ``[name, value]`` pairs in wire order. The request body is always in
``body_base64``; ``body`` repeats it as text when it is valid UTF-8, for people reading the
file. ``exchange_json_pieces`` writes the same JSON a slice of the body at a
time (the control API's journal), optionally with the body cut short (``body_truncated``).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import dataclasses
import json
from collections.abc import Iterator, Mapping
from typing import Any

from ..errors import MockProgressError
from ..http.headers import Headers
from .body import BodyBuffer
from .journal import (
    Event,
    Exchange,
    Fault,
    FrameCount,
    InterimRecord,
    ResponseRecord,
    TLSRecord,
)

#: The version of the JSON form.
SCHEMA = 1


class JournalFormatError(MockProgressError, ValueError):
    """Raised when a JSON document is not a journal in the form ``exchange_to_json`` writes."""


# ---- to JSON ---------------------------------------------------------------------------------


def _headers(headers: Headers | None) -> list[list[str]] | None:
    return None if headers is None else [[n, v] for n, v in headers]


def event_to_json(event: Event) -> dict[str, Any]:
    """One timeline event as a JSON-ready dict."""
    return {
        "at": event.at,
        "kind": event.kind,
        "direction": event.direction,
        "detail": event.detail,
        "status": event.status,
        "headers": _headers(event.headers),
    }


def exchange_to_json(ex: Exchange) -> dict[str, Any]:
    """One exchange as a JSON-ready dict (see the module docstring)."""
    body = ex.body
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "index": ex.index,
        "connection": ex.connection,
        "method": ex.method,
        "target": ex.target,
        "http_version": ex.http_version,
        "headers": _headers(ex.headers),
        "body_size": len(body),
        "body_base64": base64.b64encode(body).decode("ascii"),
    }
    if ex.stream_id is not None:  # HTTP/2 only
        out["stream_id"] = ex.stream_id
        out["control_frames"] = [
            {
                "kind": c.kind,
                "direction": c.direction,
                "scope": c.scope,
                "count": c.count,
                "total": c.total,
            }
            for c in ex.control_frames
        ]
    if ex.tls is not None:  # over TLS only
        out["tls"] = dataclasses.asdict(ex.tls)
    try:
        out["body"] = body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    out.update(
        {
            "body_complete": ex.body_complete,
            "interims": [
                {
                    "status": i.status,
                    "reason": i.reason,
                    "headers": _headers(i.headers),
                    "at": i.at,
                    "skipped": i.skipped,
                }
                for i in ex.interims
            ],
            "response": None
            if ex.response is None
            else {
                "status": ex.response.status,
                "reason": ex.response.reason,
                "headers": _headers(ex.response.headers),
                "at": ex.response.at,
                "body_sent": ex.response.body_sent,
                "complete": ex.response.complete,
            },
            "fault": None
            if ex.fault is None
            else {
                "kind": ex.fault.kind,
                "side": ex.fault.side,
                "body_bytes": ex.fault.body_bytes,
                "wire_bytes": ex.fault.wire_bytes,
                "at": ex.fault.at,
                "detail": ex.fault.detail,
                "bytes_received": ex.fault.bytes_received,
            },
            "events": [event_to_json(e) for e in ex.events],
            "started": ex.started,
            "duration": ex.duration,
            "handled_by": ex.handled_by,
            "bytes_received": ex.bytes_received,
            "bytes_sent": ex.bytes_sent,
        }
    )
    return out


#: How many body bytes ``exchange_json_pieces`` reads, encodes and hands out at a time
#: (a multiple of 3, so that each slice's base64 joins to the whole body's).
BODY_SLICE = 3 * 256 * 1024


def exchange_json_pieces(ex: Exchange, *, body_limit: int | None = None) -> Iterator[str]:
    """The JSON of ``exchange_to_json(ex)``, in pieces: the body is read, encoded and handed
    out ``BODY_SLICE`` bytes at a time, so no piece holds more than a slice of it, however
    large it is. ``body_limit``: only the body's first bytes, and ``body_truncated``: true
    when that cut it short (``body_size`` stays the whole size)."""
    size = ex.body_size if body_limit is None else min(ex.body_size, body_limit)
    rest = exchange_to_json(_without_body(ex))
    for key in ("body_size", "body_base64", "body"):
        rest.pop(key, None)
    yield f'{{"body_size": {ex.body_size}, "body_base64": "'
    for start in range(0, size, BODY_SLICE):
        yield base64.b64encode(ex.read_body(start, min(start + BODY_SLICE, size))).decode("ascii")
    yield '"'
    if _is_utf8(ex, size):
        yield ', "body": "'
        decoder = codecs.getincrementaldecoder("utf-8")()
        for start in range(0, size, BODY_SLICE):
            chunk = ex.read_body(start, min(start + BODY_SLICE, size))
            text = decoder.decode(chunk, final=start + BODY_SLICE >= size)
            yield json.dumps(text, ensure_ascii=False)[1:-1]
        yield '"'
    if size < ex.body_size:
        yield ', "body_truncated": true'
    yield ", " + json.dumps(rest, ensure_ascii=False)[1:]


def _is_utf8(ex: Exchange, size: int) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, size, BODY_SLICE):
            decoder.decode(ex.read_body(start, min(start + BODY_SLICE, size)))
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _without_body(ex: Exchange) -> Exchange:
    return dataclasses.replace(ex, _body=BodyBuffer(), _body_size=0)


def dump_exchange(ex: Exchange) -> str:
    """One exchange as one line of JSON (no newline)."""
    return json.dumps(exchange_to_json(ex), ensure_ascii=False, separators=(",", ":"))


# ---- from JSON -------------------------------------------------------------------------------


class _Reader:
    """Typed access to a JSON object, with errors that name the field."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, Mapping):
            raise JournalFormatError(f"{where}: expected an object, got {type(data).__name__}")
        self.data = data
        self.where = where

    def _get(self, key: str, types: tuple[type, ...], what: str, optional: bool) -> Any:
        if key not in self.data:
            if optional:
                return None
            raise JournalFormatError(f"{self.where}.{key}: missing ({what})")
        value = self.data[key]
        if value is None and optional:
            return None
        # A bool is an int to isinstance: refuse it where a number is due.
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise JournalFormatError(f"{self.where}.{key}: expected {what}, got {value!r}")
        return value

    def text(self, key: str, *, optional: bool = False) -> Any:
        return self._get(key, (str,), "a string", optional)

    def integer(self, key: str, *, optional: bool = False) -> Any:
        return self._get(key, (int,), "an integer", optional)

    def number(self, key: str, *, optional: bool = False) -> Any:
        value = self._get(key, (int, float), "a number", optional)
        return None if value is None else float(value)

    def flag(self, key: str) -> bool:
        value: bool = self._get(key, (bool,), "true or false", False)
        return value

    def items(self, key: str) -> list[Any]:
        value: list[Any] = self._get(key, (list,), "a list", False)
        return value

    def child(self, key: str) -> _Reader | None:
        value = self._get(key, (Mapping,), "an object or null", True)
        return None if value is None else _Reader(value, f"{self.where}.{key}")

    def headers(self, key: str, *, optional: bool = False) -> Headers | None:
        value = self._get(key, (list,), "a list of [name, value] pairs", optional)
        if value is None:
            return None
        pairs = []
        for i, pair in enumerate(value):
            if (
                not isinstance(pair, list)
                or len(pair) != 2
                or not all(isinstance(p, str) for p in pair)
            ):
                raise JournalFormatError(
                    f"{self.where}.{key}[{i}]: expected a [name, value] pair of strings"
                )
            pairs.append((pair[0], pair[1]))
        return Headers(pairs)


def event_from_json(data: object, where: str = "event") -> Event:
    """Rebuild an ``Event`` from ``event_to_json``'s form."""
    r = _Reader(data, where)
    return Event(
        r.number("at"),
        r.text("kind"),
        r.text("direction"),
        r.text("detail"),
        r.integer("status", optional=True),
        r.headers("headers", optional=True),
    )


def _body(r: _Reader) -> BodyBuffer:
    encoded = r.text("body_base64")
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise JournalFormatError(f"{r.where}.body_base64: not base64") from None
    size = r.integer("body_size", optional=True)
    # A journal read with ?bodies=N shows each body's first bytes: the exchange rebuilt holds
    # those.
    cut = r._get("body_truncated", (bool,), "true or false", True) is True
    if size is not None and (size < len(data) if cut else size != len(data)):
        raise JournalFormatError(
            f"{r.where}.body_size: says {size} bytes, body_base64 holds {len(data)}"
        )
    buffer = BodyBuffer()
    buffer.append(data)
    return buffer


def exchange_from_json(data: object, where: str = "exchange") -> Exchange:
    """Rebuild an ``Exchange`` from ``exchange_to_json``'s form.

    :raises JournalFormatError: naming the field that is missing or of the wrong type.
    """
    r = _Reader(data, where)
    schema = r.integer("schema")
    if schema != SCHEMA:
        raise JournalFormatError(f"{where}.schema: this mockprogress reads schema {SCHEMA}")
    headers = r.headers("headers")
    assert headers is not None
    interims = []
    for i, item in enumerate(r.items("interims")):
        ir = _Reader(item, f"{where}.interims[{i}]")
        interims.append(
            InterimRecord(
                ir.integer("status"),
                ir.text("reason"),
                ir.headers("headers") or Headers(),
                ir.number("at"),
                ir.flag("skipped"),
            )
        )
    response = None
    rr = r.child("response")
    if rr is not None:
        response = ResponseRecord(
            rr.integer("status"),
            rr.text("reason"),
            rr.headers("headers") or Headers(),
            rr.number("at"),
            rr.integer("body_sent"),
            rr.flag("complete"),
        )
    fault = None
    fr = r.child("fault")
    if fr is not None:
        fault = Fault(
            fr.text("kind"),
            fr.text("side"),
            fr.integer("body_bytes"),
            fr.integer("wire_bytes"),
            fr.number("at"),
            fr.text("detail"),
            fr.integer("bytes_received"),
        )
    events = tuple(
        event_from_json(e, f"{where}.events[{i}]") for i, e in enumerate(r.items("events"))
    )
    frames = []
    counted = r.data.get("control_frames", [])
    for i, item in enumerate(counted if isinstance(counted, list) else [None]):
        cr = _Reader(item, f"{where}.control_frames[{i}]")
        frames.append(
            FrameCount(
                cr.text("kind"),
                cr.text("direction"),
                cr.text("scope"),
                cr.integer("count"),
                cr.integer("total"),
            )
        )
    tls = None
    tr = r.child("tls")
    if tr is not None:
        tls = TLSRecord(
            tr.text("version"),
            tr.text("cipher"),
            tr.text("server_name", optional=True),
            tr.text("alpn", optional=True),
            tr.text("peer_subject", optional=True),
        )
    body = _body(r)
    return Exchange(
        index=r.integer("index"),
        connection=r.integer("connection"),
        method=r.text("method"),
        target=r.text("target"),
        http_version=r.text("http_version"),
        headers=headers,
        body_complete=r.flag("body_complete"),
        interims=tuple(interims),
        response=response,
        fault=fault,
        events=events,
        started=r.number("started"),
        duration=r.number("duration", optional=True),
        handled_by=r.text("handled_by", optional=True),
        bytes_received=r.integer("bytes_received"),
        bytes_sent=r.integer("bytes_sent"),
        _body=body,
        _body_size=len(body),
        stream_id=r.integer("stream_id", optional=True),
        control_frames=tuple(frames),
        tls=tls,
    )


def load_exchanges(text: str, source: str = "journal") -> Iterator[Exchange]:
    """Read a journal: JSON lines (one exchange per line, as ``--journal`` writes) or one JSON
    document ``{"exchanges": [...]}`` (as the control API answers).

    :raises JournalFormatError: naming the line or the field at fault.
    """
    try:
        document = json.loads(text)
    except ValueError:
        document = None  # not one document: JSON lines
    if isinstance(document, Mapping) and "exchanges" in document:
        items = document["exchanges"]
        if not isinstance(items, list):
            raise JournalFormatError(f"{source}: exchanges: expected a list")
        for i, item in enumerate(items):
            yield exchange_from_json(item, f"{source}: exchanges[{i}]")
        return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise JournalFormatError(f"{source}: line {number}: not JSON ({exc})") from None
        yield exchange_from_json(data, f"{source}: line {number}: exchange")
