"""Helpers for test suites: cut sweeps, the gauntlet of malformed responses, pytest
parametrisation.

An adapter over the core and the server: it may import every layer but ``standalone``
and the pytest plugin (docs/architecture.md).
"""
