"""The checks every script value goes through when it is built: counts, seconds, statuses and
reason phrases. A mistake raises ``ScenarioError`` where the test wrote it."""

from __future__ import annotations

import math

from ..errors import ScenarioError
from ..http.status import reason_phrase


def check_seconds(value: object, what: str, *, allow_none: bool = False) -> float | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ScenarioError(f"{what} must be a number of seconds, got {value!r}")
    seconds = float(value)
    if not math.isfinite(seconds) or seconds < 0:
        raise ScenarioError(f"{what} must be a finite number >= 0, got {value!r}")
    return seconds


def check_count(value: object, what: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ScenarioError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def check_reason(reason: str, status: int) -> str:
    if not reason:
        return reason_phrase(status)
    if any(c in reason for c in "\r\n\x00"):
        raise ScenarioError(f"reason phrase {reason!r} contains CR, LF or NUL")
    return reason


def check_status(status: object, low: int, high: int, what: str) -> int:
    if isinstance(status, bool) or not isinstance(status, int) or not low <= status <= high:
        raise ScenarioError(f"{what} status must be an integer in {low}..{high}, got {status!r}")
    return status
