"""The standalone server's demo set includes a ProgressJob (fixtures/lro.toml) and WebSocket
routes (fixtures/websocket.toml)."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest
from support.standalone import Standalone


@pytest.fixture
def demo() -> Iterator[Standalone]:
    with Standalone() as served:
        yield served


def curl(*args: str) -> str:
    done = subprocess.run(
        ["curl", "-sS", "-i", "--max-time", "10", *args], capture_output=True, check=True
    )
    return done.stdout.decode("latin-1")  # bytes: text mode would turn CRLF into LF


def test_the_demo_job_answers_202_and_serves_its_status_document(demo: Standalone) -> None:
    accepted = curl("-X", "POST", "-H", "Prefer: respond-async", demo.url + "/capture")
    assert accepted.startswith("HTTP/1.1 202 Accepted\r\n")
    [location] = [
        line.split(": ", 1)[1] for line in accepted.split("\r\n") if line.startswith("Location: ")
    ]
    assert location.startswith("/capture/status/")

    status = curl(demo.url + location)
    assert status.startswith("HTTP/1.1 200 OK\r\n")
    assert 'Progress: 0/3 "Herding cats"\r\n' in status

    assert curl("-X", "DELETE", demo.url + location).startswith("HTTP/1.1 204 No Content\r\n")
    assert curl(demo.url + location).startswith("HTTP/1.1 404 Not Found\r\n")


def test_the_demo_websocket_talks_first_and_closes(demo: Standalone) -> None:
    from wsproto import ConnectionType, WSConnection
    from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

    host, port = demo.url.removeprefix("http://").split(":")
    ws = WSConnection(ConnectionType.CLIENT)
    got: list[object] = []
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(ws.send(Request(host=f"{host}:{port}", target="/ws/hello")))
        while not any(isinstance(e, CloseConnection) for e in got):
            ws.receive_data(sock.recv(65536) or None)
            got.extend(ws.events())
    assert isinstance(got[0], AcceptConnection)
    texts = [e.data for e in got if isinstance(e, TextMessage)]
    assert texts == ["welcome"]
    assert isinstance(got[-1], CloseConnection) and got[-1].code == 4000
