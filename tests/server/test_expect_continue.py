"""100-continue policies over the sans-IO core: what goes out, when, and what the journal says.

The real clients (curl, aiohttp, Node) against each policy are in
tests/clients/test_clients_continue.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.sansio import Wire

import mockprogress as mp
from mockprogress.engine.matching import Expectation
from mockprogress.scenario.document import parse_scenario
from mockprogress.script.continue_policy import ContinuePolicy

BODY = b"0123456789"


def head(extra: str = "Expect: 100-continue\r\n", version: str = "1.1") -> bytes:
    return (
        f"POST /up HTTP/{version}\r\nHost: x\r\nContent-Length: {len(BODY)}\r\n{extra}\r\n"
    ).encode()


def serve(policy: object, *steps: mp.Step) -> Wire:
    wire = Wire()
    exp = Expectation("POST", "/up", expect_continue=policy)  # type: ignore[arg-type]
    exp.respond(*(steps or (mp.respond(200, b"ok"),)))
    wire.state.add_expectation(exp)
    return wire


CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class TestPolicies:
    def test_auto_sends_the_100_when_the_script_first_reads(self) -> None:
        wire = serve("auto", mp.processing((0, 1)), mp.pause(0.2), mp.respond(200, b"ok"))
        out = wire.run([head()], eof=False)
        assert out.startswith(b"HTTP/1.1 102 Processing\r\n")
        assert out.endswith(CONTINUE)  # after the pause, as the body is needed
        assert wire.sleeps == [0.2]

    def test_immediate_sends_it_before_the_script(self) -> None:
        wire = serve("immediate", mp.processing((0, 1)), mp.respond(200, b"ok"))
        out = wire.run([head()], eof=False)
        assert out.startswith(CONTINUE + b"HTTP/1.1 102 Processing\r\n")

    def test_immediate_with_headers(self) -> None:
        policy = mp.continue_immediate({"Request-Content-Location": "/up/1.request"})
        wire = serve(policy)
        out = wire.run([head(), BODY])
        assert out.startswith(
            b"HTTP/1.1 100 Continue\r\nRequest-Content-Location: /up/1.request\r\n\r\n"
            b"HTTP/1.1 200 OK\r\n"
        )
        ex = wire.state.journal().last
        assert ex.interims[0].headers["request-content-location"] == "/up/1.request"
        assert ex.body == BODY

    def test_auto_with_headers_is_still_lazy(self) -> None:
        wire = serve(mp.continue_auto({"X-Hint": "1"}), mp.processing((0, 1)), mp.respond())
        out = wire.run([head(), BODY])
        assert out.index(b"102 Processing") < out.index(b"100 Continue\r\nX-Hint: 1\r\n")

    def test_delay_waits_then_sends_it_then_runs_the_script(self) -> None:
        wire = serve(mp.continue_delay(0.3), mp.respond(200, b"ok"))
        out = wire.run([head()], eof=False)
        assert out == CONTINUE
        assert wire.sleeps == [0.3]
        ex = wire.state.journal().last
        assert ex.interims[0].at == pytest.approx(0.3)

    def test_never_sends_no_100_and_reads_the_body_when_it_comes(self) -> None:
        wire = serve("never")
        assert wire.run([head()], eof=False) == b""  # waiting for the client's own timer
        wire = serve("never")
        out = wire.run([head(), BODY])
        assert out.startswith(b"HTTP/1.1 200 OK\r\n") and b" 100 " not in out
        ex = wire.state.journal().last
        assert ex.body == BODY and ex.interims == ()
        assert ex.body_before_continue is None

    @pytest.mark.parametrize(
        ("policy", "status"),
        [(mp.continue_reject(), 417), (mp.continue_reject(413, "too big\n"), 413)],
    )
    def test_reject_answers_before_the_body_and_closes(
        self, policy: ContinuePolicy, status: int
    ) -> None:
        wire = serve(policy, mp.respond(200, b"the script"))
        out = wire.run([head()], eof=False)
        assert out.startswith(f"HTTP/1.1 {status} ".encode())
        assert b"Connection: close\r\n" in out
        assert b"100 Continue" not in out and b"the script" not in out
        assert wire.closed == "close"
        ex = wire.state.journal().last
        assert ex.body == b"" and not ex.body_complete
        assert ex.response is not None and ex.response.status == status
        assert wire.state.check_error() is None  # the expectation answered: it was used

    def test_policies_only_apply_to_expect_requests(self) -> None:
        for policy in ("immediate", mp.continue_delay(0.5), mp.continue_reject(), "never"):
            wire = serve(policy)
            out = wire.run([head(extra=""), BODY])
            assert out.startswith(b"HTTP/1.1 200 OK\r\n"), policy
            assert wire.sleeps == []

    def test_no_100_for_http10(self) -> None:
        wire = serve("immediate")
        out = wire.run([head(version="1.0"), BODY])
        assert out.startswith(b"HTTP/1.1 200 OK\r\n")


class TestBodyBeforeContinue:
    def test_none_had_arrived(self) -> None:
        wire = serve("immediate")
        wire.run([head(), BODY])
        ex = wire.state.journal().last
        assert ex.body_before_continue == 0
        assert ".. 0 body bytes had arrived when the 100 went out" in ex.timeline()

    def test_bytes_that_came_with_the_head_count(self) -> None:
        wire = serve("auto")
        wire.run([head() + BODY[:4], BODY[4:]])
        assert wire.state.journal().last.body_before_continue == 4

    def test_bytes_still_in_the_socket_count(self) -> None:
        wire = serve(mp.continue_delay(1.0))
        wire.unread = 6  # the client's timer fired during the delay
        wire.run([head(), BODY])
        assert wire.state.journal().last.body_before_continue == 6

    def test_never_more_than_the_body(self) -> None:
        wire = serve("auto")
        wire.unread = 500
        wire.run([head(), BODY])
        assert wire.state.journal().last.body_before_continue == len(BODY)


class TestBuilding:
    @pytest.mark.parametrize("value", ["sometimes", 1, None, "delay", "reject"])
    def test_unknown_policies_fail(self, value: object) -> None:
        with pytest.raises(mp.ScenarioError, match="expect_continue"):
            Expectation("POST", "/up", expect_continue=value)  # type: ignore[arg-type]

    def test_bad_arguments_fail(self) -> None:
        with pytest.raises(mp.ScenarioError, match="seconds"):
            mp.continue_delay(-1)
        with pytest.raises(mp.ScenarioError, match="final response"):
            mp.continue_reject(101)
        with pytest.raises(mp.ScenarioError, match="header"):
            mp.continue_immediate({"Bad Name": "x"})

    def test_server_expect_takes_the_policy(self) -> None:
        with mp.MockServer() as srv:
            exp = srv.expect("PUT", "/x", expect_continue=mp.continue_delay(0.25))
            assert exp.continue_policy == mp.continue_delay(0.25)
            assert srv.expect("PUT", "/y").continue_policy.mode == "auto"

    def test_scenario_files(self, tmp_path: Path) -> None:
        def policy(value: object) -> ContinuePolicy:
            doc = {"expect": [{"path": "/", "steps": [{"respond": 200}], "expect_continue": value}]}
            [exp] = parse_scenario(doc, "s.toml")
            assert isinstance(exp, Expectation)
            return exp.continue_policy

        assert policy("never") == mp.continue_never()
        assert policy({"mode": "delay", "seconds": 0.5}) == mp.continue_delay(0.5)
        assert policy({"mode": "immediate", "headers": {"A": "b"}}) == mp.continue_immediate(
            {"A": "b"}
        )
        assert policy({"mode": "reject", "status": 413}).reject == mp.respond(413)
        with pytest.raises(mp.ScenarioError, match=r"s.toml: expect\[0\].expect_continue.seconds"):
            policy({"mode": "delay"})
        with pytest.raises(mp.ScenarioError, match=r"expect_continue.status: only applies"):
            policy({"mode": "immediate", "status": 1})
        with pytest.raises(mp.ScenarioError, match=r"expect_continue.mode"):
            policy({"mode": "later"})
