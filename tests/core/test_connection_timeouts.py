"""Connection timing in the core: the idle keep-alive close (``keep_alive_timeout``) and the
request-head timeout (``head_timeout``), driven without sockets or clocks. The core asks for
a read with a timeout; ``Wire`` plays the client's silences."""

from __future__ import annotations

import pytest
from support.sansio import Silence, Wire, config, parse_responses

import mockprogress as mp
from mockprogress.engine.actions import Close, Receive
from mockprogress.engine.matching import Expectation
from mockprogress.script.faults import HeadCut

GET = b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def serving_ok(**options: object) -> Wire:
    wire = Wire(state=config(**options))
    exp = Expectation("GET", "/ok")
    exp.respond(mp.respond(200, b"ok"))
    wire.state.add_expectation(exp)
    return wire


def test_an_idle_keep_alive_connection_is_closed_after_keep_alive_timeout() -> None:
    wire = serving_ok()  # the default: 5 s
    out = wire.run([GET, Silence(60.0)])
    assert out == OK
    assert wire.closed == "close"
    assert wire.clock == 5.0
    # The wait for the next request asked for the timeout; the first one did not.
    reads = [a for a in wire.actions if isinstance(a, Receive)]
    assert reads[-1].timeout == 5.0
    assert isinstance(wire.actions[-1], Close)
    ex = wire.state.journal().last
    assert ex.events[-1].kind == "closed"
    assert ex.events[-1].direction == "out"
    assert ex.events[-1].detail == (
        "idle for 5 s: server closed the connection (keep_alive_timeout)"
    )
    assert ex.events[-1].at == 5.0
    assert len(wire.state.journal()) == 1
    assert wire.state.problems == []


def test_a_connection_reused_within_the_timeout_stays_open() -> None:
    wire = serving_ok(keep_alive_timeout=2.0)
    out = wire.run([GET, Silence(1.9), GET, Silence(1.9), GET])
    assert out == OK * 3
    assert [ex.connection for ex in wire.state.journal()] == [1, 1, 1]
    assert all(e.kind != "closed" for ex in wire.state.journal() for e in ex.events)


def test_keep_alive_timeout_none_never_closes() -> None:
    wire = serving_ok(keep_alive_timeout=None)
    out = wire.run([GET, Silence(3600.0), GET])
    assert out == OK * 2
    reads = [a.timeout for a in wire.actions if isinstance(a, Receive)]
    assert reads == [60.0, None, None]  # the first head's timeout, then idle waits without


def test_a_head_that_never_ends_is_answered_408_and_closed() -> None:
    wire = serving_ok(head_timeout=10.0)
    out = wire.run([b"GET /ok HTTP/1.1\r\nHost: x\r\n", Silence(60.0)])
    [response] = parse_responses(out)[:1]
    assert response.status_code == 408
    assert b"Connection: close" in out
    assert out.endswith(b"mockprogress: request head not complete after 10 s (head_timeout=10)\n")
    assert wire.closed == "close"
    assert wire.clock == 10.0
    ex = wire.state.journal().last
    assert ex.request_line == "GET /ok HTTP/1.1"
    assert ex.bytes_received == len(b"GET /ok HTTP/1.1\r\nHost: x\r\n")
    assert ex.response is not None and ex.response.status == 408
    assert [(e.kind, e.at) for e in ex.events] == [
        ("request", 0.0),
        ("error", 10.0),
        ("response", 10.0),
    ]
    assert [(p.kind, p.message) for p in wire.state.problems] == [
        ("limit", "request head not complete after 10 s (head_timeout=10)")
    ]


def test_the_head_timeout_is_one_deadline_not_a_pause_between_bytes() -> None:
    # A client trickling a byte every 4 s never pauses for 10 s, yet its head times out 10 s
    # after it began (Node's headersTimeout, nginx's client_header_timeout do the same).
    wire = serving_ok(head_timeout=10.0)
    trickle: list[bytes | Silence] = []
    for byte in b"GET /ok HTTP/1.1\r\n":
        trickle += [bytes([byte]), Silence(4.0)]
    out = wire.run(trickle)
    assert out.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert wire.clock == 10.0
    assert wire.state.journal().last.bytes_received == 3  # G, E, T: at 0, 4 and 8 s


def test_on_a_kept_alive_connection_the_head_timeout_starts_at_its_first_byte() -> None:
    wire = serving_ok(keep_alive_timeout=30.0, head_timeout=10.0)
    out = wire.run([GET, Silence(20.0), b"GET /ok HT", Silence(60.0)])
    assert out.startswith(OK + b"HTTP/1.1 408 Request Timeout\r\n")
    assert wire.clock == 30.0  # 20 s idle, then 10 s of a head
    first, second = wire.state.journal()
    assert second.bytes_received == 10 and second.connection == first.connection


def test_a_fresh_connection_that_sends_nothing_is_closed_quietly_after_the_head_timeout() -> None:
    wire = serving_ok(head_timeout=10.0)
    assert wire.run([Silence(60.0)]) == b""
    assert wire.closed == "close" and wire.clock == 10.0
    assert len(wire.state.journal()) == 0 and wire.state.problems == []


def test_head_timeout_none_waits_forever() -> None:
    wire = serving_ok(head_timeout=None)
    out = wire.run([b"GET /ok HTTP/1.1\r\n", Silence(3600.0), b"Host: x\r\n\r\n"])
    assert out == OK


def test_a_head_cut_waiting_for_its_bytes_still_times_out() -> None:
    wire = serving_ok(head_timeout=10.0)
    wire.state.head_cuts.add(HeadCut(20))
    out = wire.run([b"GET /ok", Silence(60.0)])
    assert out.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert wire.state.head_cuts.unfired() != []


@pytest.mark.parametrize("name", ["keep_alive_timeout", "head_timeout"])
@pytest.mark.parametrize("value", [0, -1.0, "5", True, float("inf")])
def test_a_timeout_is_a_number_of_seconds_or_none(name: str, value: object) -> None:
    with pytest.raises(mp.ScenarioError, match=f"{name} must be a number of seconds > 0"):
        mp.MockServer(**{name: value})  # type: ignore[arg-type]
