"""Shared test set-up: pytester, and the hypothesis profiles the fuzz tests run under."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

pytest_plugins = ["pytester"]

#: ``make stress`` sets MOCKPROGRESS_STRESS=1: the fuzzers load the "stress" profile (50 times
#: the examples of "short") and the load tests run their long form. ``make test`` runs "short".
STRESS = os.environ.get("MOCKPROGRESS_STRESS", "") not in ("", "0")

settings.register_profile(
    "short",
    max_examples=100,
    deadline=None,  # a shared 2-core machine: timing is not what these tests are about
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("stress", settings.get_profile("short"), max_examples=5000)
settings.load_profile("stress" if STRESS else "short")
