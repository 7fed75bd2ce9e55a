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

This module reads documents and builds expectations and head cuts; the steps come from
``steps.STEP_BUILDERS``, the resources from ``resources.RESOURCE_BUILDERS`` (one literal table
each), and every value is read through ``keys``.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping
from os import PathLike, fspath
from pathlib import Path
from typing import Any

from ..engine.limits import LIMIT_NAMES, SetLimits
from ..engine.matching import Expectation
from ..engine.proxy import SetUpstream, UpstreamURL
from ..engine.resource import Resource
from ..engine.state import ScenarioItem
from ..errors import ScenarioError
from ..script.continue_policy import (
    ContinuePolicy,
    continue_auto,
    continue_delay,
    continue_immediate,
    continue_policy,
    continue_reject,
)
from ..script.faults import HeadCut
from .keys import Where, base64_at, headers_at, regex_at, shown, table, text_at
from .resources import RESOURCE_BUILDERS
from .steps import build_step

#: How deeply tables and arrays may nest in a document. The deepest the schema goes is about
#: eight levels; the limit keeps a hostile control-API body from recursing the parsers (and
#: the error messages) past Python's recursion limit.
MAX_DEPTH = 64


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


def _value_matcher(value: Any, key: str, where: Where) -> str | re.Pattern[str]:
    """A query or header value: exact text, or ``{ regex = "..." }`` (a full match)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        spec = table(value, key, where, {"regex"})
        if "regex" not in spec:
            raise where.error(f"{key}.regex", "missing (a regular expression)")
        return regex_at(spec["regex"], f"{key}.regex", where)
    raise where.error(key, f'expected a string or {{ regex = "..." }}, got {shown(value)}')


def _match(value: Any, key: str, where: Where) -> dict[str, Any]:
    """The keyword arguments of ``Expectation`` that the ``match`` table gives."""
    spec = table(value, key, where, _MATCH_KEYS)
    out: dict[str, Any] = {}
    query = spec.get("query")
    if isinstance(query, str):
        out["query"] = query  # the raw query string, exactly
    elif query is not None:
        pairs = table(query, f"{key}.query", where, set(_keys_of(query)))
        out["query"] = {
            str(k): _value_matcher(v, f"{key}.query.{k}", where) for k, v in pairs.items()
        }
    if "headers" in spec:
        pairs = table(spec["headers"], f"{key}.headers", where, set(_keys_of(spec["headers"])))
        out["headers"] = {
            str(k): _value_matcher(v, f"{key}.headers.{k}", where) for k, v in pairs.items()
        }
    bodies = [k for k in ("body", "body_base64", "body_regex", "json") if k in spec]
    if len(bodies) > 1:
        raise where.error(f"{key}.{bodies[1]}", f"match on one of {' / '.join(bodies)}, not both")
    if "body" in spec:
        out["body"] = text_at(spec["body"], f"{key}.body", where, "the body as text").encode()
    elif "body_base64" in spec:
        out["body"] = base64_at(spec["body_base64"], f"{key}.body_base64", where)
    elif "body_regex" in spec:
        out["body"] = regex_at(spec["body_regex"], f"{key}.body_regex", where, binary=True)
    elif "json" in spec:
        out["json"] = spec["json"]
    return out


def _keys_of(value: Any) -> list[str]:
    return [str(k) for k in value] if isinstance(value, Mapping) else []


_CONTINUE_KEYS = {"mode", "seconds", "status", "body", "headers"}


def _expect_continue(value: Any, key: str, where: Where) -> ContinuePolicy:
    """``expect_continue = "immediate"``, or a table such as ``{ mode = "delay", seconds = 0.5,
    headers = { ... } }`` or ``{ mode = "reject", status = 417 }``."""
    if isinstance(value, str):
        if value not in ("auto", "immediate", "never"):
            raise where.error(
                key,
                f'expected "auto", "immediate", "never" or a table such as {{ mode = "delay", '
                f'seconds = 0.5 }} or {{ mode = "reject", status = 417 }}, got {shown(value)}',
            )
        return continue_policy(value)
    spec = table(value, key, where, _CONTINUE_KEYS)
    mode = spec.get("mode", "auto")
    headers = headers_at(spec.get("headers"), f"{key}.headers", where)
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


def _expectation(value: Any, key: str, where: Where) -> Expectation:
    spec = table(value, key, where, _EXPECT_KEYS)
    if ("path" in spec) == ("path_regex" in spec):
        raise where.error(
            f"{key}.path",
            'missing (the request path, e.g. "/jobs", or path_regex = "/jobs/\\d+")'
            if "path" not in spec
            else "give path or path_regex, not both",
        )
    path: str | re.Pattern[str]
    if "path" in spec:
        path = text_at(spec["path"], f"{key}.path", where, 'a path such as "/jobs"')
    else:
        path = regex_at(spec["path_regex"], f"{key}.path_regex", where)
    method = spec.get("method")
    if method is not None:
        method = text_at(method, f"{key}.method", where, 'a method such as "GET", or "*"')
    times = spec.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise where.error(f"{key}.times", f"expected an integer >= 1, got {shown(times)}")
    ordered = spec.get("ordered", False)
    if not isinstance(ordered, bool | str):
        raise where.error(f"{key}.ordered", f"expected true or a group name, got {shown(ordered)}")
    name = spec.get("name")
    if name is not None:
        name = text_at(name, f"{key}.name", where)
    match = _match(spec.get("match", {}), f"{key}.match", where)
    steps_spec = spec.get("steps")
    if not isinstance(steps_spec, list) or not steps_spec:
        raise where.error(f"{key}.steps", "missing: add [[expect.steps]] tables")
    steps = [build_step(s, f"{key}.steps[{i}]", where) for i, s in enumerate(steps_spec)]
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
        raise where.located(key, exc) from None
    try:
        expectation.respond(*steps)
    except ScenarioError as exc:
        raise where.located(f"{key}.steps", exc) from None
    _note(expectation, spec, key, where)
    return expectation


def _note(item: Expectation | Resource, spec: Mapping[str, Any], key: str, where: Where) -> None:
    """Copy the index's ``description`` and ``curl`` onto the item."""
    for field in _NOTE_KEYS:
        if field in spec:
            setattr(item, field, text_at(spec[field], f"{key}.{field}", where))


def _resource(
    builder: Callable[[Any, str, Where], Resource], value: Any, key: str, where: Where
) -> Resource:
    """Build one resource; its ``description`` and ``curl`` are taken off first, so builders
    never see them."""
    spec = value
    if isinstance(value, Mapping):
        spec = {k: v for k, v in value.items() if k not in _NOTE_KEYS}
    try:
        resource = builder(spec, key, where)
    except ScenarioError as exc:
        raise where.located(key, exc) from None
    except KeyError as exc:
        raise where.error(f"{key}.{exc.args[0]}", "missing") from None
    except (TypeError, ValueError) as exc:
        raise where.error(key, str(exc)) from None
    if isinstance(value, Mapping):
        _note(resource, value, key, where)
    return resource


def _head_cut(value: Any, key: str, where: Where) -> HeadCut:
    """``[[cut_request_head]]``: ``at``, ``how``, ``seconds`` (a stall's), ``times`` (a count,
    or ``"every"``)."""
    spec = table(value, key, where, {"at", "how", "seconds", "times"})
    if "at" not in spec:
        raise where.error(f"{key}.at", "missing (the byte of the request head to cut at)")
    times = spec.get("times", 1)
    if times == "every":
        times = None
    try:
        return HeadCut(spec["at"], spec.get("how", "close"), spec.get("seconds"), times)
    except ScenarioError as exc:
        raise where.located(key, exc, {"cut_request_head": key}) from None


def parse_scenario(
    data: Mapping[str, Any], filename: str, *, from_file: bool = True
) -> list[ScenarioItem]:
    """Build the expectations, resources and head cuts of an already-parsed scenario document
    (from TOML or JSON: the schema is the same).

    :param from_file: ``filename`` is a file, whose directory relative ``store_dir`` paths
        start from; otherwise (a control-API body) only absolute ones are accepted.
    """
    where = Where(filename, Path(filename).resolve().parent if from_file else None)
    _check_depth(data, where)
    allowed = {
        "expect",
        "title",
        "description",
        "cut_request_head",
        "upstream",
        *RESOURCE_BUILDERS,
        *LIMIT_NAMES,
    }
    table(data, "(top level)", where, allowed)
    for field in ("title", "description"):
        if field in data:
            text_at(data[field], field, where)
    items: list[ScenarioItem] = []
    # The server's limits, by name (keep_alive_timeout = 30), as MockServer's keywords; TOML
    # has no null, so "none" says never there.
    limits = {
        name: None if data[name] == "none" else data[name] for name in LIMIT_NAMES if name in data
    }
    if limits:
        try:
            items.append(SetLimits(limits))
        except ScenarioError as exc:
            raise where.error(next(n for n in limits if n in str(exc)), str(exc)) from None
    if "upstream" in data:
        try:
            items.append(SetUpstream(UpstreamURL.parse(data["upstream"])))
        except ScenarioError as exc:
            raise where.error("upstream", str(exc)) from None
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


def _check_depth(data: Any, where: Where) -> None:
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
