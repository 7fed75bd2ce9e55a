"""A reserved resource (``Resource.reserved``) is the server's own: it answers before any
expectation, its exchanges stay out of the journal, and ``reset()`` keeps it mounted. The
control API is one; the engine knows only this flag."""

from __future__ import annotations

from support.sansio import Wire, config, parse_responses

import mockprogress as mp
from mockprogress.engine.actions import Program
from mockprogress.engine.exchange import ExchangeContext, plain_response
from mockprogress.engine.matching import Expectation
from mockprogress.engine.resource import Resource


class Stamp(Resource):
    reserved = True

    def serve(self, ctx: ExchangeContext) -> Program[None]:
        yield from ctx.respond(plain_response(200, "stamp\n"), read_first=True)


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()


def test_a_reserved_resource_answers_before_expectations_and_stays_out_of_the_journal() -> None:
    wire = Wire()
    wire.state.add_expectation(Expectation("GET", "/own/x").respond(mp.respond(204)))
    wire.state.mount(Stamp("/own"))

    responses = parse_responses(wire.run([get("/own/x"), get("/other")]))

    assert responses[0].status_code == 200  # not the expectation's 204
    assert wire.state.registry.expectations[0].calls == 0
    assert wire.state.resources == []  # not among the test's resources
    assert [log.target for log in wire.state.reserved_logs] == ["/own/x"]
    assert [log.index for log in wire.state.reserved_logs] == [1]
    assert [log.target for log in wire.state.logs] == ["/other"]  # the journal: clients' only


def test_reset_keeps_a_reserved_resource_and_forgets_the_others() -> None:
    wire = Wire()
    wire.state.mount(Stamp("/own"))
    wire.state.mount(mp.ProgressJob("/jobs"))
    wire.state.reset()

    assert wire.state.resources == []
    assert parse_responses(wire.run([get("/own")]))[0].status_code == 200


def test_a_reserved_request_over_a_limit_is_recorded_under_the_resource_name() -> None:
    state = config(max_header_count=2)
    state.mount(Stamp("/own"))
    wire = Wire(state)
    request = b"GET /own HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n"

    assert parse_responses(wire.run([request]))[0].status_code == 431
    assert state.logs == []
    [problem] = state.problems
    assert problem.exchange is None  # its number is not a journal number
    assert problem.message.startswith("Stamp /own request GET /own: request has 3 header lines")
