"""Shared test set-up: pytester, and the hypothesis profiles the fuzz tests run under."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from support.stress import STRESS

pytest_plugins = ["pytester"]

settings.register_profile(
    "short",
    max_examples=100,
    deadline=None,  # a shared 2-core machine: timing is not what these tests are about
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("stress", settings.get_profile("short"), max_examples=5000)
settings.load_profile("stress" if STRESS else "short")
