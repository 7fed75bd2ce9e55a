"""The server's limits, declared once.

Each field is one limit: its name is the keyword of ``MockServer(...)`` and of
``@pytest.mark.mockprogress(...)``, and (with dashes) the option of ``mockprogress serve``; its
default is everybody's default; its ``help`` metadata is the one line the CLI prints, its
``unit`` says what it counts (``count``: an integer >= 0; ``seconds``: a number > 0, or None
for never).
docs/limits.md names every field with its default (``tests/server/test_limits.py`` checks).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ScenarioError


def _limit(default: int, text: str) -> Any:
    return field(default=default, metadata={"help": text, "unit": "count"})


def _seconds(default: float, text: str) -> Any:
    return field(default=default, metadata={"help": text, "unit": "seconds"})


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one server takes from its clients before it refuses them."""

    max_header_size: int = _limit(16 * 1024, "bytes of a request head before a 431")
    max_header_count: int = _limit(100, "header lines in a request before a 431")
    max_body_size: int = _limit(100 * 1024 * 1024, "bytes of a request body before a 413")
    max_connections: int = _limit(2048, "connections open at once before a 503")
    spool_threshold: int = _limit(1024 * 1024, "body bytes kept in memory, then on disk")
    #: HTTP/2 (``http2=True``): a rapid-reset flood (CVE-2023-44487) and the request body
    #: bytes a connection holds unread, all its streams together (its receive window).
    max_stream_resets: int = _limit(
        1000, "HTTP/2 streams a client may reset on one connection before a GOAWAY"
    )
    connection_window: int = _limit(
        1 << 20, "bytes of request bodies an HTTP/2 connection holds unread, all streams"
    )
    #: HTTP/2: a flood of frames the server must answer (PING, SETTINGS) from a client that
    #: does not read the answers: what waits unsent is bounded, the client's sends are held.
    control_backlog: int = _limit(
        64 * 1024,
        "bytes of HTTP/2 acknowledgements waiting for a client that does not read them "
        "before the server reads no more from it",
    )
    #: Time is a limit too: a connection held idle, or a head that never ends, holds a
    #: connection (and its place under ``max_connections``). None: never.
    keep_alive_timeout: float | None = _seconds(
        5.0, "seconds an idle keep-alive connection is kept before a plain close"
    )
    head_timeout: float | None = _seconds(
        60.0, "seconds a request head may take to arrive before a 408"
    )
    upstream_timeout: float | None = _seconds(
        30.0, "seconds an upstream (proxy mode) may take to connect or to send more before a 504"
    )

    def __post_init__(self) -> None:
        for limit in LIMIT_FIELDS:
            value = getattr(self, limit.name)
            if limit.metadata["unit"] == "seconds":
                if value is not None and not _positive_number(value):
                    raise ScenarioError(
                        f"{limit.name} must be a number of seconds > 0 or None, got {value!r}"
                    )
            elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ScenarioError(f"{limit.name} must be an integer >= 0, got {value!r}")

    @classmethod
    def pick(cls, options: Mapping[str, Any]) -> tuple[Limits, dict[str, Any]]:
        """Split keyword options into the limits they set and the rest."""
        if not options:
            return _DEFAULT_LIMITS, {}  # a server per test: the checks once, not per test
        limits = cls(**{k: v for k, v in options.items() if k in LIMIT_NAMES})
        return limits, {k: v for k, v in options.items() if k not in LIMIT_NAMES}


def _positive_number(value: object) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < float("inf")
    )


@dataclass(frozen=True, slots=True)
class SetLimits:
    """Limits a scenario document sets at its top level (``keep_alive_timeout = 30``): loaded,
    they replace the server's own, and stay after ``reset()``, as a keyword of ``MockServer``
    would."""

    values: Mapping[str, Any]

    def __post_init__(self) -> None:
        Limits.pick(self.values)  # refuses a bad value, naming the limit

    def over(self, limits: Limits) -> Limits:
        return dataclasses.replace(limits, **self.values)


#: The limits' fields (``name``, ``default``, ``metadata["help"]``), in declaration order.
LIMIT_FIELDS = dataclasses.fields(Limits)
LIMIT_NAMES = tuple(f.name for f in LIMIT_FIELDS)
_DEFAULT_LIMITS = Limits()
