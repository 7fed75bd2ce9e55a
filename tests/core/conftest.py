"""tests/core holds the sans-IO tests: parsers, steps, the engine driven through
``support.sansio.Wire``. No test here may open a network socket; one that tries fails."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: socket.socket, *args: object) -> None:
        raise AssertionError(
            "tests/core is sans-IO: move a test that needs a socket to tests/server"
        )

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "bind", refuse)
