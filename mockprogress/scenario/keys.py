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

    def located(self, key: str, exc: ScenarioError) -> ScenarioError:
        """``exc`` if it already names the file (a nested builder placed it), else its message
        placed at ``key``."""
        if str(exc).startswith(self.filename + ":"):
            return exc
        return self.error(key, str(exc))


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
