"""``mp.cut_sweep`` in a user's suite (run inside pytester): one test per cut, ids that name
the offset, and a failure that says which byte broke the client."""

from __future__ import annotations

import pytest

SUITE = """
import socket
import pytest
import mockprogress as mp

RESPONSE = mp.respond(200, b"0123456789")


def fetch(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"GET /r HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass
        return data


@mp.cut_sweep(RESPONSE, unit="body", how=["close", "reset"])
def test_client_gets_exactly_the_cut(mockprogress_server, cut):
    mockprogress_server.expect("GET", "/r").respond(cut.response)
    assert fetch(mockprogress_server.port) == cut.expected
    # A client bug that only shows at one offset:
    assert cut.body_bytes != 7, "the client mishandles a cut after byte 7"
"""


def test_a_sweep_runs_one_test_per_cut_and_names_the_failing_offset(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("-q")
    result.assert_outcomes(passed=20, failed=2)
    # The summary line may append " - <message>" (how much depends on the terminal width).
    failed = [
        line.split("::", 1)[1].split(" - ", 1)[0]
        for line in result.stdout.lines
        if line.startswith("FAILED")
    ]
    assert failed == [
        "test_client_gets_exactly_the_cut[body-7-in-body-close]",
        "test_client_gets_exactly_the_cut[body-7-in-body-reset]",
    ]


def test_collected_ids_name_unit_offset_place_and_kind(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--collect-only", "-q")
    ids = [line.split("[", 1)[1].rstrip("]") for line in result.stdout.lines if "[" in line]
    assert ids[:4] == [
        "body-0-no-body-close",
        "body-0-no-body-reset",
        "body-1-after-first-body-byte-close",
        "body-1-after-first-body-byte-reset",
    ]
    assert ids[-2:] == ["body-10-all-body-close", "body-10-all-body-reset"]
