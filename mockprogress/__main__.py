"""``python -m mockprogress``: the same CLI as the ``mockprogress`` command."""

from __future__ import annotations

from .standalone.cli import main

raise SystemExit(main())
