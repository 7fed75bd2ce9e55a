"""The package's version, read by the build (pyproject.toml) and ``mockprogress --version``."""

from __future__ import annotations

__version__ = "0.1.0"
