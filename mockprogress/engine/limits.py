"""The server's limits, declared once.

Each field is one limit: its name is the keyword of ``MockServer(...)`` and of
``@pytest.mark.mockprogress(...)``, and (with dashes) the option of ``mockprogress serve``; its
default is everybody's default; its ``help`` metadata is the one line the CLI prints.
docs/limits.md names every field with its default (``tests/server/test_limits.py`` checks).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ScenarioError


def _limit(default: int, text: str) -> Any:
    return field(default=default, metadata={"help": text})


@dataclass(frozen=True, slots=True)
class Limits:
    """How much one server takes from its clients before it refuses them."""

    max_header_size: int = _limit(16 * 1024, "bytes of a request head before a 431")
    max_header_count: int = _limit(100, "header lines in a request before a 431")
    max_body_size: int = _limit(100 * 1024 * 1024, "bytes of a request body before a 413")
    max_connections: int = _limit(2048, "connections open at once before a 503")
    spool_threshold: int = _limit(1024 * 1024, "body bytes kept in memory, then on disk")

    def __post_init__(self) -> None:
        for name in LIMIT_NAMES:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ScenarioError(f"{name} must be an integer >= 0, got {value!r}")

    @classmethod
    def pick(cls, options: Mapping[str, Any]) -> tuple[Limits, dict[str, Any]]:
        """Split keyword options into the limits they set and the rest."""
        limits = cls(**{k: v for k, v in options.items() if k in LIMIT_NAMES})
        return limits, {k: v for k, v in options.items() if k not in LIMIT_NAMES}


#: The limits' fields (``name``, ``default``, ``metadata["help"]``), in declaration order.
LIMIT_FIELDS = dataclasses.fields(Limits)
LIMIT_NAMES = tuple(f.name for f in LIMIT_FIELDS)
