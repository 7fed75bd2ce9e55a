"""What the fuzz tests share: example counts that follow the profile (tests/conftest.py)."""

from __future__ import annotations

from hypothesis import settings

_SHORT = 100  # max_examples of the "short" profile


def examples(n: int) -> settings:
    """``n`` examples under the short profile (``make test``), 50 times as many under the
    stress profile (``make stress``)."""
    return settings(max_examples=max(1, n * settings.default.max_examples // _SHORT))
