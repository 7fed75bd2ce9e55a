"""One place fires a fault and journals it (``engine.faults.fire``): every kind of fault (a
response cut, ``mp.drop``, ``mp.stall``, a head cut, an upload interrupt, a WebSocket cut, a
proxy's request cut) leaves the same record, one ``fault`` event whose detail is the record's
(a stall's seconds said once), and the same actions (``Hold`` for a stall, then ``Close``)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

import pytest
from support.sansio import FakeUpstream, Wire, config

import mockprogress
import mockprogress as mp
from mockprogress.engine.actions import Close, Hold, UpstreamClose
from mockprogress.engine.matching import Expectation
from mockprogress.engine.proxy import UpstreamURL
from mockprogress.script.faults import HeadCut

GET = b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n"
WS = (
    b"GET /r HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
PUT = b"PUT /up/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n01234567"


def proxied_with_a_request_cut(wire: Wire) -> None:
    wire.state = config(upstream=UpstreamURL.parse("http://10.0.0.7:8080"))
    wire.upstream = FakeUpstream()
    cut = mp.forward().cut_request(4, "stall", seconds=2)
    wire.state.add_expectation(Expectation("PUT", "/r").respond(cut))


#: name: (how the server is set up, the client's bytes, how, seconds, side)
KINDS: dict[str, tuple[Callable[[Wire], object], bytes, str, float | None, str]] = {
    "response cut": (
        lambda w: w.state.add_expectation(
            Expectation("GET", "/r").respond(mp.respond(200, b"abcdef").cut(3, how="stall"))
        ),
        GET,
        "stall",
        None,
        "response",
    ),
    "drop": (
        lambda w: w.state.add_expectation(Expectation("GET", "/r").respond(mp.drop("reset"))),
        GET,
        "reset",
        None,
        "response",  # the request (without a body) was read whole
    ),
    "drop mid-body": (
        lambda w: w.state.add_expectation(
            Expectation("PUT", "/r").respond(mp.read_body(upto=2), mp.drop())
        ),
        PUT.replace(b"/up/1", b"/r"),
        "close",
        None,
        "request",
    ),
    "stall": (
        lambda w: w.state.add_expectation(Expectation("GET", "/r").respond(mp.stall(1.5))),
        GET,
        "stall",
        1.5,
        "response",
    ),
    "head cut": (
        lambda w: w.state.head_cuts.add(HeadCut(9, "stall", 2)),
        GET,
        "stall",
        2.0,
        "request",
    ),
    "websocket cut": (
        lambda w: w.state.add_expectation(
            Expectation("GET", "/r").respond(mp.upgrade_websocket(mp.ws_send("hi").cut(2, "reset")))
        ),
        WS,
        "reset",
        None,
        "response",
    ),
    "upload interrupt": (
        lambda w: w.state.mount(
            mp.ByteRangeResource("/up", interrupts=[mp.interrupt(4, how="close")])
        ),
        PUT,
        "close",
        None,
        "request",
    ),
    "proxy request cut": (
        proxied_with_a_request_cut,
        PUT.replace(b"/up/1", b"/r").replace(b"Host: x", b"Host: localhost"),
        "stall",
        2.0,
        "request",
    ),
}


@pytest.mark.parametrize("kind", KINDS)
def test_every_fault_is_journaled_and_carried_out_the_same_way(kind: str) -> None:
    setup, inbound, how, seconds, side = KINDS[kind]
    wire = Wire()
    setup(wire)
    wire.run([inbound], eof=False)
    ex = wire.state.journal().last
    assert ex.fault is not None, kind
    assert (ex.fault.kind, ex.fault.side) == (how, side)
    faults = [e for e in ex.events if e.kind == "fault"]
    assert [e.detail for e in faults] == [ex.fault.detail]
    assert faults[0].at == ex.fault.at
    if seconds is not None:  # said once, at the end
        assert ex.fault.detail.endswith(f", for {seconds:g} s")
        assert ex.fault.detail.count(f"{seconds:g} s") == 1, ex.fault.detail
    # The client's side (a proxy closes its upstream connection after the fault).
    actions = [a for a in wire.actions if not isinstance(a, UpstreamClose)]
    tail = actions[-2:] if how == "stall" else actions[-1:]
    expected_close = Close("reset" if how == "reset" else "close")
    assert tail == ([Hold(seconds), expected_close] if how == "stall" else [expected_close])


def test_only_engine_faults_builds_a_fault_record_or_a_fault_event() -> None:
    package = Path(mockprogress.__file__).parent
    builders = set()
    for path in package.rglob("*.py"):
        if path.name == "journal_json.py":
            continue  # reads records back from JSON: builds what was fired elsewhere
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = ast.unparse(node.func)
            fault_event = (
                name.endswith(".event")
                and len(node.args) > 1
                and isinstance(node.args[1], ast.Constant)
                and node.args[1].value == "fault"
            )
            if name == "Fault" or fault_event:
                builders.add(path.relative_to(package).as_posix())
    assert builders == {"engine/faults.py"}
