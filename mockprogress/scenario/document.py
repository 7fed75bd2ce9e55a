"""Scenario files: TOML or JSON that builds the same expectations and steps as the Python API.

.. code-block:: toml

    [[expect]]
    method = "POST"
    path = "/jobs"                              # or path_regex = "/jobs/\\d+"
    times = 1                                   # optional; default: any number
    match.headers = { Prefer = "processing" }   # optional: query, headers, body..., json
    description = "a progress stream"           # optional: shown by the index
    curl = "curl -i -X POST {url}/jobs"         # optional: shown by the index

      [[expect.steps]]
      processing = { progress = '0/2 "Herding cats"', location = "/jobs/1/status" }

      [[expect.steps]]
      pause = 0.5

      [[expect.steps]]
      respond = { status = 201, body = "created\\n", headers = { Location = "/items/1" } }

One parser works over the parsed document (``parse_scenario``), so a ``.json`` file, a
``.toml`` file and a control-API request body share one schema (docs/scenarios.md). Every
mistake raises ``ScenarioError`` naming the file, the key path (``expect[0].steps[2]``) and what
was expected there.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import tomllib
from collections.abc import Callable, Mapping
from os import PathLike, fspath
from pathlib import Path
from typing import Any

from ..engine.index import index
from ..engine.matching import Expectation
from ..engine.resource import Resource
from ..engine.state import ScenarioItem
from ..engine.websocket import upgrade_websocket
from ..errors import ScenarioError
from ..resources.progress_job import ProgressJob
from ..script.continue_policy import (
    ContinuePolicy,
    continue_auto,
    continue_delay,
    continue_immediate,
    continue_policy,
    continue_reject,
)
from ..script.faults import HeadCut
from ..script.malformed import (
    bad_status_line,
    lying_content_length,
    malformed_chunked,
    unsolicited_101,
)
from ..script.steps import (
    Drop,
    Pause,
    Step,
    drop,
    early_hints,
    interim,
    pause,
    processing,
    raw,
    read_body,
    respond,
    stall,
)
from ..script.websocket import WsAction, ws_close, ws_echo, ws_expect, ws_ping, ws_send

StepBuilder = Callable[[Any, str], Step]

#: How deeply tables and arrays may nest in a document. The deepest the schema goes is about
#: eight levels; the limit keeps a hostile control-API body from recursing the parsers (and
#: the error messages) past Python's recursion limit.
MAX_DEPTH = 64


class _Where:
    """Builds error messages that name the file and the key path; knows the file's directory
    (None for a document that came without a file: a control-API body)."""

    def __init__(self, filename: str, directory: Path | None) -> None:
        self.filename = filename
        self.directory = directory

    def error(self, key: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.filename}: {key}: {message}")


def _shown(value: Any) -> str:
    """A value as the file wrote it (JSON spells None, True and False its own way)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _table(value: Any, key: str, where: _Where, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise where.error(key, f"expected a table, got {_shown(value)}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise where.error(
            f"{key}.{unknown[0]}", f"unknown key (expected one of: {', '.join(sorted(allowed))})"
        )
    return value


def _headers(value: Any, key: str, where: _Where) -> Any:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 for p in value):
        return [tuple(p) for p in value]
    raise where.error(key, "expected a table of name = value, or a list of [name, value] pairs")


def _base64(value: Any, key: str, where: _Where) -> bytes:
    if not isinstance(value, str):
        raise where.error(key, f"expected base64 text, got {_shown(value)}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise where.error(key, f"expected base64 text, got {value[:40]!r}") from None


def _bytes(spec: Mapping[str, Any], key: str, where: _Where) -> bytes | None:
    """A body given as ``body`` (text, UTF-8) or ``body_base64``."""
    if "body_base64" in spec:
        return _base64(spec["body_base64"], f"{key}.body_base64", where)
    return None


def _text(value: Any, key: str, where: _Where, what: str = "a string") -> str:
    if not isinstance(value, str):
        raise where.error(key, f"expected {what}, got {_shown(value)}")
    return value


def _regex(value: Any, key: str, where: _Where, *, binary: bool = False) -> re.Pattern[Any]:
    pattern = _text(value, key, where, "a regular expression (a string)")
    try:
        return re.compile(pattern.encode() if binary else pattern)
    # ``a{4294967296}`` overflows and thousands of nested groups recurse too deep: both are
    # mistakes in the file, not in the server.
    except (re.error, OverflowError, RecursionError) as exc:
        raise where.error(key, f"not a valid regular expression: {exc}") from None


def _interim(value: Any, key: str, where: _Where) -> Step:
    if isinstance(value, int):
        return interim(value)
    spec = _table(value, key, where, {"status", "headers", "reason"})
    if "status" not in spec:
        raise where.error(f"{key}.status", "missing (an interim status such as 103)")
    return interim(
        spec["status"], _headers(spec.get("headers"), f"{key}.headers", where), spec.get("reason")
    )


def _processing(value: Any, key: str, where: _Where) -> Step:
    if isinstance(value, str):
        return processing(value)
    if isinstance(value, list):
        return processing(tuple(value))
    spec = _table(value, key, where, {"progress", "location", "status_uri", "headers"})
    status_uri = spec.get("status_uri")
    if status_uri is not None:
        if not isinstance(status_uri, list):
            raise where.error(f"{key}.status_uri", "expected a list of [code, uri] pairs")
        status_uri = [tuple(p) if isinstance(p, list) else p for p in status_uri]
    progress = spec.get("progress")
    if isinstance(progress, list):
        progress = tuple(progress)
    return processing(
        progress,
        location=spec.get("location"),
        status_uri=status_uri,
        headers=_headers(spec.get("headers"), f"{key}.headers", where),
    )


def _early_hints(value: Any, key: str, where: _Where) -> Step:
    if isinstance(value, list):
        return early_hints(*value)
    spec = _table(value, key, where, {"links", "headers"})
    links = spec.get("links", [])
    if not isinstance(links, list):
        raise where.error(f"{key}.links", "expected a list of Link values")
    return early_hints(*links, headers=_headers(spec.get("headers"), f"{key}.headers", where))


def _pause(value: Any, key: str, where: _Where) -> Step:
    if isinstance(value, Mapping):
        value = _table(value, key, where, {"seconds"}).get("seconds")
    return pause(value)


def _read_body(value: Any, key: str, where: _Where) -> Step:
    if value is True or value == {}:
        return read_body()
    if isinstance(value, int) and not isinstance(value, bool):
        return read_body(value)
    return read_body(_table(value, key, where, {"upto"}).get("upto"))


_RESPOND_KEYS = {
    "status",
    "body",
    "body_base64",
    "chunks",
    "json",
    "headers",
    "reason",
    "chunked",
    "chunks_base64",
    "cut",
    "drip",
}


def _respond(value: Any, key: str, where: _Where) -> Step:
    if isinstance(value, int) and not isinstance(value, bool):
        return respond(value)
    spec = _table(value, key, where, _RESPOND_KEYS)
    body: Any = _bytes(spec, key, where)
    if body is None:
        body = spec.get("body", b"")
    if "chunks" in spec:
        chunks = spec["chunks"]
        if not isinstance(chunks, list) or not all(isinstance(c, str) for c in chunks):
            raise where.error(f"{key}.chunks", "expected a list of strings")
        body = [c.encode() for c in chunks]
    if "chunks_base64" in spec:
        chunks = spec["chunks_base64"]
        if not isinstance(chunks, list):
            raise where.error(f"{key}.chunks_base64", "expected a list of base64 strings")
        body = [_base64(c, f"{key}.chunks_base64[{i}]", where) for i, c in enumerate(chunks)]
    given = [k for k in ("body", "body_base64", "chunks", "chunks_base64", "json") if k in spec]
    if len(given) > 1:
        raise where.error(f"{key}.{given[1]}", f"give one of {' / '.join(given)}, not both")
    step = respond(
        spec.get("status", 200),
        body,
        _headers(spec.get("headers"), f"{key}.headers", where),
        reason=spec.get("reason"),
        json=spec.get("json"),
        chunked=bool(spec.get("chunked", False)),
    )
    if "cut" in spec:
        cut = spec["cut"]
        if isinstance(cut, int) and not isinstance(cut, bool):
            cut = {"at": cut}
        cut = _table(cut, f"{key}.cut", where, {"at", "unit", "how", "seconds"})
        if "at" not in cut:
            raise where.error(f"{key}.cut.at", "missing (the byte offset of the cut)")
        step = step.cut(
            cut["at"], cut.get("unit", "body"), cut.get("how", "close"), seconds=cut.get("seconds")
        )
    if "drip" in spec:
        drip = spec["drip"]
        if isinstance(drip, int | float) and not isinstance(drip, bool):
            drip = {"bytes_per_second": drip}
        drip = _table(drip, f"{key}.drip", where, {"bytes_per_second", "chunk", "interval", "head"})
        step = step.drip(
            drip.get("bytes_per_second"),
            chunk=drip.get("chunk"),
            interval=drip.get("interval"),
            head=bool(drip.get("head", False)),
        )
    return step


def _drop(value: Any, key: str, where: _Where) -> Step:
    if isinstance(value, Mapping):
        value = _table(value, key, where, {"how"}).get("how", "close")
    return drop(value)


def _stall(value: Any, key: str, where: _Where) -> Step:
    if isinstance(value, Mapping):
        value = _table(value, key, where, {"seconds"}).get("seconds")
    return stall(value)


def _raw(value: Any, key: str, where: _Where) -> Step:
    if isinstance(value, str):
        value = {"text": value}
    spec = _table(value, key, where, {"text", "base64"})
    if "base64" in spec:
        return raw(_base64(spec["base64"], f"{key}.base64", where))
    text = _text(spec.get("text", ""), f"{key}.text", where)
    try:
        return raw(text.encode("latin-1"))
    except UnicodeEncodeError:
        raise where.error(f"{key}.text", "text beyond latin-1: use base64 = ...") from None


def _headers_of(spec: Mapping[str, Any], key: str, where: _Where) -> Any:
    return _headers(spec.get("headers"), f"{key}.headers", where)


def _lying_content_length(value: Any, key: str, where: _Where) -> Step:
    """``{ body = "abc", declared = 10 }`` (or ``body_base64``), with ``status``/``headers``."""
    spec = _table(value, key, where, {"body", "body_base64", "declared", "status", "headers"})
    if "declared" not in spec:
        raise where.error(f"{key}.declared", "missing (the Content-Length to claim)")
    body = _bytes(spec, key, where)
    if body is None:
        body = _text(spec.get("body", "mockprogress\n"), f"{key}.body", where).encode()
    return lying_content_length(
        body,
        spec["declared"],
        status=spec.get("status", 200),
        headers=_headers_of(spec, key, where),
    )


def _malformed_chunked(value: Any, key: str, where: _Where) -> Step:
    """``{ chunks = [[5, "hello"], ["zz", "world"]] }``: each chunk a [size, data] pair whose
    integer size is written in hex and whose text size verbatim; ``end = false`` leaves out the
    last chunk."""
    spec = _table(value, key, where, {"chunks", "status", "headers", "end"})
    chunks = spec.get("chunks")
    if not isinstance(chunks, list) or not chunks:
        raise where.error(f"{key}.chunks", "expected a list of [size, data] pairs")
    pairs = []
    for i, chunk in enumerate(chunks):
        if not isinstance(chunk, list) or len(chunk) != 2:
            raise where.error(f"{key}.chunks[{i}]", f"expected [size, data], got {_shown(chunk)}")
        size, data = chunk
        pairs.append((size, _text(data, f"{key}.chunks[{i}][1]", where).encode()))
    end = spec.get("end", True)
    if not isinstance(end, bool):
        raise where.error(f"{key}.end", f"expected true or false, got {_shown(end)}")
    return malformed_chunked(
        pairs, status=spec.get("status", 200), headers=_headers_of(spec, key, where), end=end
    )


def _bad_status_line(value: Any, key: str, where: _Where) -> Step:
    """``"HTTP/1.1 2OO OK"``, or ``{ line = "...", body = "...", headers = {...} }``."""
    if isinstance(value, str):
        value = {"line": value}
    spec = _table(value, key, where, {"line", "body", "headers"})
    line = _text(spec.get("line", "HTTP/1.1 2OO OK"), f"{key}.line", where)
    body = _text(spec.get("body", ""), f"{key}.body", where).encode()
    return bad_status_line(line, body, headers=_headers_of(spec, key, where))


def _unsolicited_101(value: Any, key: str, where: _Where) -> Step:
    """``true``, or ``{ upgrade = "websocket", headers = {...}, then = "bytes after" }``."""
    if value is True:
        return unsolicited_101()
    spec = _table(value, key, where, {"upgrade", "headers", "then"})
    upgrade = _text(spec.get("upgrade", "websocket"), f"{key}.upgrade", where)
    then = _text(spec.get("then", ""), f"{key}.then", where).encode("latin-1", "replace")
    return unsolicited_101(upgrade, headers=_headers_of(spec, key, where), then=then)


def _index_step(value: Any, key: str, where: _Where) -> Step:
    if value is True:
        return index()
    if isinstance(value, str):
        return index(value)
    spec = _table(value, key, where, {"title"})
    return index(_text(spec.get("title", "mockprogress"), f"{key}.title", where))


_WS_ACTION_KEYS = {"send", "send_base64", "cut", "expect", "echo", "ping", "close", "reason"}
_WS_ACTION_KEYS |= {"pause", "drop"}


def _ws_action(value: Any, key: str, where: _Where) -> WsAction:
    """One action of ``upgrade_websocket.actions``: a table such as ``{ send = "hi" }``,
    ``{ send = "...", cut = { at = 10, how = "reset" } }``, ``{ expect = "hello" }`` (or
    ``true`` for any message), ``{ echo = 2 }``, ``{ ping = "?" }``,
    ``{ close = 4000, reason = "done" }``, ``{ pause = 0.5 }`` or ``{ drop = "reset" }``."""
    spec = _table(value, key, where, _WS_ACTION_KEYS)
    if "send" in spec or "send_base64" in spec:
        data: Any = spec.get("send")
        if "send_base64" in spec:
            data = _bytes({"body_base64": spec["send_base64"]}, key, where)
        action = ws_send(data)
        if "cut" in spec:
            cut = _table(spec["cut"], f"{key}.cut", where, {"at", "how"})
            if "at" not in cut:
                raise where.error(f"{key}.cut.at", "missing (the byte of the frame to stop at)")
            action = action.cut(cut["at"], cut.get("how", "close"))
        return action
    if "expect" in spec:
        wanted = spec["expect"]
        return ws_expect(None if wanted is True else wanted)
    if "echo" in spec:
        return ws_echo(spec["echo"])
    if "ping" in spec:
        return ws_ping(str(spec["ping"]).encode())
    if "close" in spec:
        return ws_close(spec["close"], spec.get("reason", ""))
    if "pause" in spec:
        return Pause(spec["pause"])
    if "drop" in spec:
        return Drop(spec["drop"])
    raise where.error(
        key, "expected one of send, send_base64, expect, echo, ping, close, pause, drop"
    )


def _upgrade_websocket(value: Any, key: str, where: _Where) -> Step:
    if value is True:
        return upgrade_websocket()
    spec = _table(value, key, where, {"actions", "echo", "subprotocol", "headers"})
    actions = spec.get("actions", [])
    if not isinstance(actions, list):
        raise where.error(f"{key}.actions", "expected a list of action tables")
    return upgrade_websocket(
        *(_ws_action(a, f"{key}.actions[{i}]", where) for i, a in enumerate(actions)),
        echo=spec.get("echo"),
        subprotocol=spec.get("subprotocol"),
        headers=_headers(spec.get("headers"), f"{key}.headers", where),
    )


#: Step name in a scenario file -> builder. Other modules add theirs here.
STEP_BUILDERS: dict[str, Callable[[Any, str, _Where], Step]] = {
    "interim": _interim,
    "processing": _processing,
    "early_hints": _early_hints,
    "pause": _pause,
    "read_body": _read_body,
    "respond": _respond,
    "drop": _drop,
    "stall": _stall,
    "raw": _raw,
    "index": _index_step,
    "upgrade_websocket": _upgrade_websocket,
    "lying_content_length": _lying_content_length,
    "malformed_chunked": _malformed_chunked,
    "bad_status_line": _bad_status_line,
    "unsolicited_101": _unsolicited_101,
}


def _step(value: Any, key: str, where: _Where) -> Step:
    if not isinstance(value, Mapping) or len(value) != 1:
        raise where.error(
            key, f"a step is a table with exactly one key, one of: {', '.join(STEP_BUILDERS)}"
        )
    ((name, spec),) = value.items()
    builder = STEP_BUILDERS.get(name)
    if builder is None:
        raise where.error(
            f"{key}.{name}", f"unknown step (expected one of: {', '.join(STEP_BUILDERS)})"
        )
    try:
        return builder(spec, f"{key}.{name}", where)
    except ScenarioError as exc:
        if str(exc).startswith(where.filename + ":"):
            raise
        raise where.error(f"{key}.{name}", str(exc)) from None
    except KeyError as exc:
        raise where.error(f"{key}.{name}.{exc.args[0]}", "missing") from None
    except (TypeError, ValueError) as exc:
        raise where.error(f"{key}.{name}", str(exc)) from None


_EXPECT_KEYS = {
    "method",
    "path",
    "path_regex",
    "times",
    "ordered",
    "name",
    "description",
    "curl",
    "match",
    "steps",
    "expect_continue",
}
_MATCH_KEYS = {"query", "headers", "body", "body_base64", "body_regex", "json"}
#: Keys every expectation and resource table may carry for the index.
_NOTE_KEYS = ("description", "curl")


def _value_matcher(value: Any, key: str, where: _Where) -> str | re.Pattern[str]:
    """A query or header value: exact text, or ``{ regex = "..." }`` (a full match)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        spec = _table(value, key, where, {"regex"})
        if "regex" not in spec:
            raise where.error(f"{key}.regex", "missing (a regular expression)")
        return _regex(spec["regex"], f"{key}.regex", where)
    raise where.error(key, f'expected a string or {{ regex = "..." }}, got {_shown(value)}')


def _match(value: Any, key: str, where: _Where) -> dict[str, Any]:
    """The keyword arguments of ``Expectation`` that the ``match`` table gives."""
    spec = _table(value, key, where, _MATCH_KEYS)
    out: dict[str, Any] = {}
    query = spec.get("query")
    if isinstance(query, str):
        out["query"] = query  # the raw query string, exactly
    elif query is not None:
        table = _table(query, f"{key}.query", where, set(_keys_of(query)))
        out["query"] = {
            str(k): _value_matcher(v, f"{key}.query.{k}", where) for k, v in table.items()
        }
    if "headers" in spec:
        table = _table(spec["headers"], f"{key}.headers", where, set(_keys_of(spec["headers"])))
        out["headers"] = {
            str(k): _value_matcher(v, f"{key}.headers.{k}", where) for k, v in table.items()
        }
    bodies = [k for k in ("body", "body_base64", "body_regex", "json") if k in spec]
    if len(bodies) > 1:
        raise where.error(f"{key}.{bodies[1]}", f"match on one of {' / '.join(bodies)}, not both")
    if "body" in spec:
        out["body"] = _text(spec["body"], f"{key}.body", where, "the body as text").encode()
    elif "body_base64" in spec:
        out["body"] = _base64(spec["body_base64"], f"{key}.body_base64", where)
    elif "body_regex" in spec:
        out["body"] = _regex(spec["body_regex"], f"{key}.body_regex", where, binary=True)
    elif "json" in spec:
        out["json"] = spec["json"]
    return out


def _keys_of(value: Any) -> list[str]:
    return [str(k) for k in value] if isinstance(value, Mapping) else []


_CONTINUE_KEYS = {"mode", "seconds", "status", "body", "headers"}


def _expect_continue(value: Any, key: str, where: _Where) -> ContinuePolicy:
    """``expect_continue = "immediate"``, or a table such as ``{ mode = "delay", seconds = 0.5,
    headers = { ... } }`` or ``{ mode = "reject", status = 417 }``."""
    if isinstance(value, str):
        return continue_policy(value)
    spec = _table(value, key, where, _CONTINUE_KEYS)
    mode = spec.get("mode", "auto")
    headers = _headers(spec.get("headers"), f"{key}.headers", where)
    if mode == "delay":
        if "seconds" not in spec:
            raise where.error(f"{key}.seconds", "missing (how long before the 100)")
        return continue_delay(spec["seconds"], headers)
    if mode == "reject":
        return continue_reject(spec.get("status", 417), spec.get("body", b""), headers)
    extra = sorted(set(spec) & {"seconds", "status", "body"})
    if extra:
        raise where.error(f"{key}.{extra[0]}", "only applies to mode delay or reject")
    if mode == "immediate":
        return continue_immediate(headers)
    if mode == "auto":
        return continue_auto(headers)
    if mode == "never" and headers is None:
        return continue_policy("never")
    raise where.error(
        f"{key}.mode", "expected auto, immediate, delay, never (without headers) or reject"
    )


def _expectation(value: Any, key: str, where: _Where) -> Expectation:
    spec = _table(value, key, where, _EXPECT_KEYS)
    if ("path" in spec) == ("path_regex" in spec):
        raise where.error(
            f"{key}.path",
            'missing (the request path, e.g. "/jobs", or path_regex = "/jobs/\\d+")'
            if "path" not in spec
            else "give path or path_regex, not both",
        )
    path: str | re.Pattern[str]
    if "path" in spec:
        path = _text(spec["path"], f"{key}.path", where, 'a path such as "/jobs"')
    else:
        path = _regex(spec["path_regex"], f"{key}.path_regex", where)
    method = spec.get("method")
    if method is not None:
        method = _text(method, f"{key}.method", where, 'a method such as "GET", or "*"')
    times = spec.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise where.error(f"{key}.times", f"expected an integer >= 1, got {_shown(times)}")
    ordered = spec.get("ordered", False)
    if not isinstance(ordered, bool | str):
        raise where.error(f"{key}.ordered", f"expected true or a group name, got {_shown(ordered)}")
    name = spec.get("name")
    if name is not None:
        name = _text(name, f"{key}.name", where)
    match = _match(spec.get("match", {}), f"{key}.match", where)
    steps_spec = spec.get("steps")
    if not isinstance(steps_spec, list) or not steps_spec:
        raise where.error(f"{key}.steps", "missing: add [[expect.steps]] tables")
    steps = [_step(s, f"{key}.steps[{i}]", where) for i, s in enumerate(steps_spec)]
    try:
        policy = _expect_continue(
            spec.get("expect_continue", "auto"), f"{key}.expect_continue", where
        )
        expectation = Expectation(
            method,
            path,
            times=times,
            ordered=ordered,
            name=name,
            expect_continue=policy,
            **match,
        )
    except ScenarioError as exc:
        if str(exc).startswith(where.filename + ":"):
            raise
        raise where.error(key, str(exc)) from None
    try:
        expectation.respond(*steps)
    except ScenarioError as exc:
        raise where.error(f"{key}.steps", str(exc)) from None
    _note(expectation, spec, key, where)
    return expectation


def _note(item: Expectation | Resource, spec: Mapping[str, Any], key: str, where: _Where) -> None:
    """Copy the index's ``description`` and ``curl`` onto the item."""
    for field in _NOTE_KEYS:
        if field in spec:
            setattr(item, field, _text(spec[field], f"{key}.{field}", where))


_PROGRESS_JOB_KEYS = {"path", "stages", "result", "done_remark", "methods"}


def _progress_job(value: Any, key: str, where: _Where) -> Resource:
    """``[[progress_job]]``: ``path``, ``stages = [["Herding cats", 1.0], ...]``,
    ``result = { status = 201, ... }`` (as a ``respond`` step), ``done_remark``, ``methods``."""
    spec = _table(value, key, where, _PROGRESS_JOB_KEYS)
    if "path" not in spec:
        raise where.error(f"{key}.path", 'missing (where jobs start, e.g. "/jobs")')
    kwargs: dict[str, Any] = {}
    if "stages" in spec:
        stages = spec["stages"]
        if not isinstance(stages, list) or not all(isinstance(s, list) for s in stages):
            raise where.error(f"{key}.stages", "expected a list of [remark, seconds] pairs")
        kwargs["stages"] = [tuple(s) for s in stages]
    if "result" in spec:
        kwargs["result"] = _respond(spec["result"], f"{key}.result", where)
    if "methods" in spec:
        kwargs["methods"] = spec["methods"]
    try:
        return ProgressJob(spec["path"], done_remark=spec.get("done_remark"), **kwargs)
    except ScenarioError as exc:
        raise where.error(key, str(exc)) from None


#: Top-level table name -> builder of resources. Resource modules add theirs here.
RESOURCE_BUILDERS: dict[str, Callable[[Any, str, _Where], Resource]] = {
    "progress_job": _progress_job,
}


def _resource(
    builder: Callable[[Any, str, _Where], Resource], value: Any, key: str, where: _Where
) -> Resource:
    """Build one resource; its ``description`` and ``curl`` are taken off first, so builders
    never see them."""
    spec = value
    if isinstance(value, Mapping):
        spec = {k: v for k, v in value.items() if k not in _NOTE_KEYS}
    try:
        resource = builder(spec, key, where)
    except ScenarioError as exc:
        if str(exc).startswith(where.filename + ":"):
            raise
        raise where.error(key, str(exc)) from None
    except KeyError as exc:
        raise where.error(f"{key}.{exc.args[0]}", "missing") from None
    except (TypeError, ValueError) as exc:
        raise where.error(key, str(exc)) from None
    if isinstance(value, Mapping):
        _note(resource, value, key, where)
    return resource


def _head_cut(value: Any, key: str, where: _Where) -> HeadCut:
    """``[[cut_request_head]]``: ``at``, ``how``, ``seconds`` (a stall's), ``times`` (a count,
    or ``"every"``)."""
    spec = _table(value, key, where, {"at", "how", "seconds", "times"})
    if "at" not in spec:
        raise where.error(f"{key}.at", "missing (the byte of the request head to cut at)")
    times = spec.get("times", 1)
    if times == "every":
        times = None
    try:
        return HeadCut(spec["at"], spec.get("how", "close"), spec.get("seconds"), times)
    except ScenarioError as exc:
        raise where.error(key, str(exc)) from None


def parse_scenario(
    data: Mapping[str, Any], filename: str, *, from_file: bool = True
) -> list[ScenarioItem]:
    """Build the expectations, resources and head cuts of an already-parsed scenario document
    (from TOML or JSON: the schema is the same).

    :param from_file: ``filename`` is a file, whose directory relative ``store_dir`` paths
        start from; otherwise (a control-API body) only absolute ones are accepted.
    """
    where = _Where(filename, Path(filename).resolve().parent if from_file else None)
    _check_depth(data, where)
    allowed = {"expect", "title", "description", "cut_request_head", *RESOURCE_BUILDERS}
    _table(data, "(top level)", where, allowed)
    for field in ("title", "description"):
        if field in data:
            _text(data[field], field, where)
    items: list[ScenarioItem] = []
    expect = data.get("expect", [])
    if not isinstance(expect, list):
        raise where.error("expect", "expected [[expect]] tables")
    items.extend(_expectation(e, f"expect[{i}]", where) for i, e in enumerate(expect))
    for name, builder in RESOURCE_BUILDERS.items():
        specs = data.get(name, [])
        if not isinstance(specs, list):
            raise where.error(name, f"expected [[{name}]] tables")
        items.extend(_resource(builder, s, f"{name}[{i}]", where) for i, s in enumerate(specs))
    cuts = data.get("cut_request_head", [])
    if not isinstance(cuts, list):
        raise where.error("cut_request_head", "expected [[cut_request_head]] tables")
    items.extend(_head_cut(c, f"cut_request_head[{i}]", where) for i, c in enumerate(cuts))
    return items


def _check_depth(data: Any, where: _Where) -> None:
    """Refuse documents nested deeper than ``MAX_DEPTH`` (walked without recursion)."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, Mapping):
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_DEPTH:
            raise where.error("(top level)", f"tables and arrays nest deeper than {MAX_DEPTH}")
        pending.extend((child, depth + 1) for child in children)


def _decode(text: str, fmt: str, source: str) -> Any:
    nested = f"{source}: tables and arrays nest too deeply (at most {MAX_DEPTH} levels)"
    if fmt == "json":
        try:
            return json.loads(text)
        except RecursionError:
            raise ScenarioError(nested) from None
        except ValueError as exc:
            raise ScenarioError(f"{source}: not valid JSON: {exc}") from None
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ScenarioError(nested) from None
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise ScenarioError(f"{source}: not valid TOML: {exc}") from None


def parse_document(data: bytes, content_type: str | None, source: str) -> list[ScenarioItem]:
    """Build the items of a scenario document sent as bytes (the control API's bodies):
    JSON when the content type says so or the text starts with ``{``, TOML otherwise.

    :raises ScenarioError: naming ``source``, the key and what was expected.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError(f"{source}: a scenario document is UTF-8 text") from None
    kind = (content_type or "").split(";")[0].strip().lower()
    if "json" in kind:
        fmt = "json"
    elif "toml" in kind:
        fmt = "toml"
    else:
        fmt = "json" if text.lstrip().startswith("{") else "toml"
    return parse_scenario(_decode(text, fmt, source), source, from_file=False)


def load_scenario(path: str | PathLike[str]) -> list[ScenarioItem]:
    """Read a scenario file: JSON if its name ends in ``.json``, TOML otherwise.

    :raises ScenarioError: naming the file, the key and what was expected.
    """
    filename = fspath(path)
    try:
        with open(filename, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise ScenarioError(f"{filename}: no such scenario file") from None
    except OSError as exc:
        raise ScenarioError(f"{filename}: cannot read it: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(
            f"{filename}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    fmt = "json" if filename.lower().endswith(".json") else "toml"
    return parse_scenario(_decode(text, fmt, filename), filename)


# Resource modules register their tables here (imported last: they use the helpers above).
from . import uploads, wright  # noqa: E402, F401
