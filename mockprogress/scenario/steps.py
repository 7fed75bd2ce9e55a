"""Scenario-file steps: each ``[[expect.steps]]`` table (one key, the step's name) -> the step
the Python API builds, through the one literal table ``STEP_BUILDERS``.

.. code-block:: toml

      [[expect.steps]]
      respond = { status = 201, body = "created\\n", headers = { Location = "/items/1" } }
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ..engine.index import index
from ..engine.proxy import forward
from ..engine.websocket import upgrade_websocket
from ..errors import ScenarioError
from ..script.malformed import (
    bad_status_line,
    lying_content_length,
    malformed_chunked,
    unsolicited_101,
)
from ..script.steps import (
    Drop,
    Pause,
    Shaped,
    Step,
    drop,
    early_hints,
    goaway,
    interim,
    pause,
    processing,
    raw,
    read_body,
    respond,
    stall,
)
from ..script.websocket import WsAction, ws_close, ws_echo, ws_expect, ws_ping, ws_send
from .keys import (
    Where,
    base64_at,
    body_base64_of,
    headers_at,
    in_file_terms,
    shown,
    table,
    text_at,
)

S = TypeVar("S", bound=Shaped)
T = TypeVar("T")


def _interim(value: Any, key: str, where: Where) -> Step:
    if isinstance(value, int):
        return interim(value)
    spec = table(value, key, where, {"status", "headers", "reason"})
    if "status" not in spec:
        raise where.error(f"{key}.status", "missing (an interim status such as 103)")
    return interim(
        spec["status"], headers_at(spec.get("headers"), f"{key}.headers", where), spec.get("reason")
    )


def _processing(value: Any, key: str, where: Where) -> Step:
    if isinstance(value, str):
        return processing(value)
    if isinstance(value, list):
        return processing(tuple(value))
    spec = table(value, key, where, {"progress", "location", "status_uri", "headers"})
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
        headers=headers_at(spec.get("headers"), f"{key}.headers", where),
    )


def _early_hints(value: Any, key: str, where: Where) -> Step:
    if isinstance(value, list):
        return early_hints(*_links(value, key, where))
    spec = table(value, key, where, {"links", "headers"})
    links = spec.get("links", [])
    if not isinstance(links, list):
        raise where.error(f"{key}.links", "expected a list of Link values")
    return early_hints(
        *_links(links, f"{key}.links", where),
        headers=headers_at(spec.get("headers"), f"{key}.headers", where),
    )


def _links(links: list[Any], key: str, where: Where) -> list[str]:
    return [text_at(link, f"{key}[{i}]", where, "a Link value") for i, link in enumerate(links)]


def _pause(value: Any, key: str, where: Where) -> Step:
    if isinstance(value, Mapping):
        value = table(value, key, where, {"seconds"}).get("seconds")
    return pause(value)


def _read_body(value: Any, key: str, where: Where) -> Step:
    if value is True or value == {}:
        return read_body()
    if isinstance(value, int) and not isinstance(value, bool):
        return read_body(value)
    return read_body(table(value, key, where, {"upto"}).get("upto"))


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
    "trailers",
}


def respond_at(value: Any, key: str, where: Where) -> Step:
    if isinstance(value, int) and not isinstance(value, bool):
        return respond(value)
    spec = table(value, key, where, _RESPOND_KEYS)
    body: Any = body_base64_of(spec, key, where)
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
        body = [base64_at(c, f"{key}.chunks_base64[{i}]", where) for i, c in enumerate(chunks)]
    given = [k for k in ("body", "body_base64", "chunks", "chunks_base64", "json") if k in spec]
    if len(given) > 1:
        raise where.error(f"{key}.{given[1]}", f"give one of {' / '.join(given)}, not both")
    headers = headers_at(spec.get("headers"), f"{key}.headers", where)
    try:
        step = respond(
            spec.get("status", 200),
            body,
            headers,
            reason=spec.get("reason"),
            json=spec.get("json"),
            chunked=bool(spec.get("chunked", False)),
            trailers=headers_at(spec.get("trailers"), f"{key}.trailers", where),
        )
    except ScenarioError as exc:
        # Said in the file's terms wherever a response is written (a step, a resource's result).
        raise where.located(key, exc, {"respond": key}) from None
    return _shaped(step, spec, key, where)


def _shaped(step: S, spec: Mapping[str, Any], key: str, where: Where) -> S:
    """``step`` with the ``cut`` and ``drip`` of its table (a response's, a forward's)."""
    if "cut" in spec:
        cut = spec["cut"]
        if isinstance(cut, int) and not isinstance(cut, bool):
            cut = {"at": cut}
        keys = {"at", "unit", "how", "seconds", "close_notify", "split_record", "error_code"}
        cut = table(cut, f"{key}.cut", where, keys)
        if "at" not in cut:
            raise where.error(f"{key}.cut.at", "missing (the byte offset of the cut)")
        step = step.cut(
            cut["at"],
            cut.get("unit", "body"),
            cut.get("how", "close"),
            seconds=cut.get("seconds"),
            close_notify=cut.get("close_notify", True),
            split_record=cut.get("split_record", False),
            error_code=cut.get("error_code"),
        )
    if "drip" in spec:
        drip = spec["drip"]
        if isinstance(drip, int | float) and not isinstance(drip, bool):
            drip = {"bytes_per_second": drip}
        drip = table(drip, f"{key}.drip", where, {"bytes_per_second", "chunk", "interval", "head"})
        step = step.drip(
            drip.get("bytes_per_second"),
            chunk=drip.get("chunk"),
            interval=drip.get("interval"),
            head=bool(drip.get("head", False)),
        )
    return step


def _forward(value: Any, key: str, where: Where) -> Step:
    if value is True or value == {}:
        return forward()
    if isinstance(value, str):
        return _located(key, where, forward, value)
    keys = {"url", "headers", "remove_headers", "cut", "drip", "cut_request"}
    spec = table(value, key, where, keys)
    remove = spec.get("remove_headers", [])
    if not isinstance(remove, list):
        raise where.error(f"{key}.remove_headers", "expected a list of field names")
    headers = headers_at(spec.get("headers"), f"{key}.headers", where)
    step = _located(key, where, forward, spec.get("url"), headers=headers, remove_headers=remove)
    if "cut_request" in spec:
        cut = spec["cut_request"]
        if isinstance(cut, int) and not isinstance(cut, bool):
            cut = {"at": cut}
        cut = table(cut, f"{key}.cut_request", where, {"at", "how", "seconds"})
        if "at" not in cut:
            raise where.error(f"{key}.cut_request.at", "missing (the body byte of the cut)")
        at, how, seconds = cut["at"], cut.get("how", "close"), cut.get("seconds")
        step = _located(f"{key}.cut_request", where, step.cut_request, at, how, seconds=seconds)
    return _shaped(step, spec, key, where)


def _located(key: str, where: Where, build: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    try:
        return build(*args, **kwargs)
    except ScenarioError as exc:
        raise where.located(key, exc) from None


def _drop(value: Any, key: str, where: Where) -> Step:
    if isinstance(value, Mapping):
        spec = table(value, key, where, {"how", "close_notify", "error_code"})
        return drop(
            spec.get("how", "close"),
            close_notify=spec.get("close_notify", True),
            error_code=spec.get("error_code"),
        )
    return drop(value)


def _goaway(value: Any, key: str, where: Where) -> Step:
    """``goaway = {}``, or ``{ last_stream_id = 0, error_code = "NO_ERROR", debug = "..." }``."""
    spec = table(value, key, where, {"last_stream_id", "error_code", "debug"})
    debug = spec.get("debug", "")
    if not isinstance(debug, str):
        raise where.error(f"{key}.debug", f"expected text, got {shown(debug)}")
    return goaway(
        spec.get("last_stream_id"),
        error_code=spec.get("error_code", "NO_ERROR"),
        debug=debug.encode(),
    )


def _stall(value: Any, key: str, where: Where) -> Step:
    if isinstance(value, Mapping):
        value = table(value, key, where, {"seconds"}).get("seconds")
    return stall(value)


def _raw(value: Any, key: str, where: Where) -> Step:
    if isinstance(value, str):
        value = {"text": value}
    spec = table(value, key, where, {"text", "base64"})
    if "base64" in spec:
        return raw(base64_at(spec["base64"], f"{key}.base64", where))
    text = text_at(spec.get("text", ""), f"{key}.text", where)
    try:
        return raw(text.encode("latin-1"))
    except UnicodeEncodeError:
        raise where.error(f"{key}.text", "text beyond latin-1: use base64 = ...") from None


def _headers_of(spec: Mapping[str, Any], key: str, where: Where) -> Any:
    return headers_at(spec.get("headers"), f"{key}.headers", where)


def _lying_content_length(value: Any, key: str, where: Where) -> Step:
    """``{ body = "abc", declared = 10 }`` (or ``body_base64``), with ``status``/``headers``."""
    spec = table(value, key, where, {"body", "body_base64", "declared", "status", "headers"})
    if "declared" not in spec:
        raise where.error(f"{key}.declared", "missing (the Content-Length to claim)")
    body = body_base64_of(spec, key, where)
    if body is None:
        body = text_at(spec.get("body", "mockprogress\n"), f"{key}.body", where).encode()
    return lying_content_length(
        body,
        spec["declared"],
        status=spec.get("status", 200),
        headers=_headers_of(spec, key, where),
    )


def _malformed_chunked(value: Any, key: str, where: Where) -> Step:
    """``{ chunks = [[5, "hello"], ["zz", "world"]] }``: each chunk a [size, data] pair whose
    integer size is written in hex and whose text size verbatim; ``end = false`` leaves out the
    last chunk."""
    spec = table(value, key, where, {"chunks", "status", "headers", "end"})
    chunks = spec.get("chunks")
    if not isinstance(chunks, list) or not chunks:
        raise where.error(f"{key}.chunks", "expected a list of [size, data] pairs")
    pairs = []
    for i, chunk in enumerate(chunks):
        if not isinstance(chunk, list) or len(chunk) != 2:
            raise where.error(f"{key}.chunks[{i}]", f"expected [size, data], got {shown(chunk)}")
        size, data = chunk
        pairs.append((size, text_at(data, f"{key}.chunks[{i}][1]", where).encode()))
    end = spec.get("end", True)
    if not isinstance(end, bool):
        raise where.error(f"{key}.end", f"expected true or false, got {shown(end)}")
    return malformed_chunked(
        pairs, status=spec.get("status", 200), headers=_headers_of(spec, key, where), end=end
    )


def _bad_status_line(value: Any, key: str, where: Where) -> Step:
    """``"HTTP/1.1 2OO OK"``, or ``{ line = "...", body = "...", headers = {...} }``."""
    if isinstance(value, str):
        value = {"line": value}
    spec = table(value, key, where, {"line", "body", "headers"})
    line = text_at(spec.get("line", "HTTP/1.1 2OO OK"), f"{key}.line", where)
    body = text_at(spec.get("body", ""), f"{key}.body", where).encode()
    return bad_status_line(line, body, headers=_headers_of(spec, key, where))


def _unsolicited_101(value: Any, key: str, where: Where) -> Step:
    """``true``, or ``{ upgrade = "websocket", headers = {...}, then = "bytes after" }``."""
    if value is True:
        return unsolicited_101()
    spec = table(value, key, where, {"upgrade", "headers", "then"})
    upgrade = text_at(spec.get("upgrade", "websocket"), f"{key}.upgrade", where)
    then = text_at(spec.get("then", ""), f"{key}.then", where).encode("latin-1", "replace")
    return unsolicited_101(upgrade, headers=_headers_of(spec, key, where), then=then)


def _index_step(value: Any, key: str, where: Where) -> Step:
    if value is True:
        return index()
    if isinstance(value, str):
        return index(value)
    spec = table(value, key, where, {"title"})
    return index(text_at(spec.get("title", "mockprogress"), f"{key}.title", where))


_WS_ACTION_KEYS = {"send", "send_base64", "cut", "expect", "echo", "ping", "close", "reason"}
_WS_ACTION_KEYS |= {"pause", "drop"}


def _ws_action(value: Any, key: str, where: Where) -> WsAction:
    """One action of ``upgrade_websocket.actions``: a table such as ``{ send = "hi" }``,
    ``{ send = "...", cut = { at = 10, how = "reset" } }``, ``{ expect = "hello" }`` (or
    ``true`` for any message), ``{ echo = 2 }``, ``{ ping = "?" }``,
    ``{ close = 4000, reason = "done" }``, ``{ pause = 0.5 }`` or ``{ drop = "reset" }``."""
    spec = table(value, key, where, _WS_ACTION_KEYS)
    if "send" in spec or "send_base64" in spec:
        data: Any = spec.get("send")
        if "send_base64" in spec:
            data = body_base64_of({"body_base64": spec["send_base64"]}, key, where)
        action = ws_send(data)
        if "cut" in spec:
            cut = table(spec["cut"], f"{key}.cut", where, {"at", "how"})
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


def _ws_action_at(value: Any, key: str, where: Where) -> WsAction:
    try:
        return _ws_action(value, key, where)
    except ScenarioError as exc:
        calls = {"ws_send": f"{key}.send", "cut": f"{key}.cut", "ws_echo.count": f"{key}.echo"}
        calls |= {"ws_expect": f"{key}.expect", "ws_ping": f"{key}.ping"}
        at, message = in_file_terms(key, str(exc), calls)
        if at == key:
            raise  # not about a call's parameter: build_step places it at the step
        raise where.error(at, message) from None


def _upgrade_websocket(value: Any, key: str, where: Where) -> Step:
    if value is True:
        return upgrade_websocket()
    spec = table(value, key, where, {"actions", "echo", "subprotocol", "headers"})
    actions = spec.get("actions", [])
    if not isinstance(actions, list):
        raise where.error(f"{key}.actions", "expected a list of action tables")
    return upgrade_websocket(
        *(_ws_action_at(a, f"{key}.actions[{i}]", where) for i, a in enumerate(actions)),
        echo=spec.get("echo"),
        subprotocol=spec.get("subprotocol"),
        headers=headers_at(spec.get("headers"), f"{key}.headers", where),
    )


#: Step name in a scenario file -> builder.
STEP_BUILDERS: dict[str, Callable[[Any, str, Where], Step]] = {
    "interim": _interim,
    "processing": _processing,
    "early_hints": _early_hints,
    "pause": _pause,
    "read_body": _read_body,
    "respond": respond_at,
    "drop": _drop,
    "stall": _stall,
    "raw": _raw,
    "index": _index_step,
    "upgrade_websocket": _upgrade_websocket,
    "lying_content_length": _lying_content_length,
    "malformed_chunked": _malformed_chunked,
    "bad_status_line": _bad_status_line,
    "unsolicited_101": _unsolicited_101,
    "forward": _forward,
    "goaway": _goaway,
}


def _calls(name: str, spec: Any, key: str) -> dict[str, str]:
    """Where the parameters of the calls a step's builder makes are written in the file
    (``keys.in_file_terms``): the step's own at its key, a response's ``cut`` and ``drip`` in
    their tables, or at the key itself when the file gave a bare value (``cut = 5``)."""
    if not isinstance(spec, Mapping):
        return {f"{name}.*": key}
    calls = {name: key, "": key}
    for call, first in (("cut", "at"), ("drip", "bytes_per_second")):
        calls[call] = f"{key}.{call}"
        if not isinstance(spec.get(call), Mapping):
            calls[f"{call}.{first}"] = f"{key}.{call}"
    return calls


def build_step(value: Any, key: str, where: Where) -> Step:
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
        raise where.located(f"{key}.{name}", exc, _calls(name, spec, f"{key}.{name}")) from None
    except KeyError as exc:
        raise where.error(f"{key}.{name}.{exc.args[0]}", "missing") from None
    except (TypeError, ValueError) as exc:
        raise where.error(f"{key}.{name}", str(exc)) from None
