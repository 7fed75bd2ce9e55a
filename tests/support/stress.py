"""``make stress`` sets MOCKPROGRESS_STRESS=1: the fuzzers load the "stress" hypothesis profile
(50 times the examples of "short") and the load tests run their long form."""

from __future__ import annotations

import os

STRESS = os.environ.get("MOCKPROGRESS_STRESS", "") not in ("", "0")
