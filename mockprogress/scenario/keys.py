"""Reading one value of a scenario document at a key path, and saying where it went wrong.

Every builder (steps, expectations, resources) reads its table through these, so every mistake
names the file, the key path (``expect[0].steps[2].respond.status``) and what was expected.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ScenarioError


class Where:
    """Builds error messages that name the file and the key path; knows the file's directory
    (None for a document that came without a file: a control-API body)."""

    def __init__(self, filename: str, directory: Path | None) -> None:
        self.filename = filename
        self.directory = directory

    def error(self, key: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.filename}: {key}: {message}")

    def located(
        self, key: str, exc: ScenarioError, calls: Mapping[str, str] | None = None
    ) -> ScenarioError:
        """``exc`` if it already names the file (a nested builder placed it), else its message
        placed at ``key`` in the file's terms (``in_file_terms``)."""
        if str(exc).startswith(self.filename + ":"):
            return exc
        return self.error(*in_file_terms(key, str(exc), calls or {}))


def shown(value: Any) -> str:
    """A value as the file wrote it (JSON spells None, True and False its own way)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def table(value: Any, key: str, where: Where, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise where.error(key, f"expected a table, got {shown(value)}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise where.error(
            f"{key}.{unknown[0]}", f"unknown key (expected one of: {', '.join(sorted(allowed))})"
        )
    return value


def headers_at(value: Any, key: str, where: Where) -> Any:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 for p in value):
        return [tuple(p) for p in value]
    raise where.error(key, "expected a table of name = value, or a list of [name, value] pairs")


def base64_at(value: Any, key: str, where: Where) -> bytes:
    if not isinstance(value, str):
        raise where.error(key, f"expected base64 text, got {shown(value)}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise where.error(key, f"expected base64 text, got {value[:40]!r}") from None


def body_base64_of(spec: Mapping[str, Any], key: str, where: Where) -> bytes | None:
    """A body given as ``body`` (text, UTF-8) or ``body_base64``."""
    if "body_base64" in spec:
        return base64_at(spec["body_base64"], f"{key}.body_base64", where)
    return None


def text_at(value: Any, key: str, where: Where, what: str = "a string") -> str:
    if not isinstance(value, str):
        raise where.error(key, f"expected {what}, got {shown(value)}")
    return value


def regex_at(value: Any, key: str, where: Where, *, binary: bool = False) -> re.Pattern[Any]:
    pattern = text_at(value, key, where, "a regular expression (a string)")
    try:
        return re.compile(pattern.encode() if binary else pattern)
    # ``a{4294967296}`` overflows and thousands of nested groups recurse too deep: both are
    # mistakes in the file, not in the server.
    except (re.error, OverflowError, RecursionError) as exc:
        raise where.error(key, f"not a valid regular expression: {exc}") from None


# What the Python API's messages say of a call and its parameters, at their start:
# ``cut(at=...) must be``, ``ws_send(...).cut(at=...) must``, ``respond() body must be``,
# ``declared=3 is``; and the calls they suggest (``use mp.respond()``).
_CALL_PARAMETER = re.compile(r"(?:mp\.)?(?:\w+\([^()]*\)\.)*(\w+)\((\w+)=[^()]*\) ")
_CALL = re.compile(r"(?:mp\.)?(\w+)\(\) ")
_PARAMETER_VALUE = re.compile(r"(\w+)=(\S+) ")
_SUGGESTED_CALL = re.compile(r"\bmp\.(\w+)\((?:\.\.\.)?\)")
_PYTHON_KEYWORD = re.compile(r"\b(\w+)='([^']*)'")


def in_file_terms(key: str, message: str, calls: Mapping[str, str]) -> tuple[str, str]:
    """The key and message of an error the Python API raised for a value of the file, in the
    file's terms: where the message starts by naming a call's parameter (``cut(seconds=...)
    only applies to how='stall'``), the parameter's key (``respond.cut.seconds``) and the rest
    (``only applies to how = "stall"``).

    ``calls`` maps a call's name to the key of its table (``{"cut": "steps[0].respond.cut"}``);
    ``"name.parameter"`` to the parameter's own key (``ws_echo.count`` is the action's
    ``echo``), ``"name.*"`` for every parameter (a step written as a bare value, ``read_body =
    -1``), and ``""`` to the table a bare ``parameter=value`` belongs to. Calls the message
    suggests (``use mp.respond()``) become the steps' names."""
    message = _SUGGESTED_CALL.sub(r"\1", message)
    placed = _place(message, calls)
    if placed is None:
        return key, message
    at, rest = placed
    rest = _PYTHON_KEYWORD.sub(r'\1 = "\2"', rest)
    return at, re.sub(r"\b(True|False)\b", lambda m: m[1].lower(), rest)


def _place(message: str, calls: Mapping[str, str]) -> tuple[str, str] | None:
    """(key, rest of the message) when the message starts by naming a call of ``calls``."""
    match = _CALL_PARAMETER.match(message)
    if match:
        call, parameter = match[1], match[2]
        for name in (f"{call}.{parameter}", f"{call}.*"):
            if name in calls:
                return calls[name], message[match.end() :]
        if call in calls:
            return f"{calls[call]}.{parameter}", message[match.end() :]
        return None
    match = _CALL.match(message)
    if match and match[1] in calls:
        return calls[match[1]], message[match.end() :]
    match = _PARAMETER_VALUE.match(message)
    if match and "" in calls:
        return f"{calls['']}.{match[1]}", f"{match[2]} {message[match.end() :]}"
    return None
