"""What a user sees when an expectation is mistyped or misses: the unmatched answer names the
expectation meant, a path with a query is refused where it is written, and a failed
``respond()`` leaves nothing registered. Driven through real clients (requests, httpx)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import requests

import mockprogress as mp


def test_an_unmatched_answer_names_the_expectation_meant_first() -> None:
    with mp.MockServer() as srv:
        for path in ("/a", "/b", "/c"):
            srv.expect("GET", path).respond(mp.respond(200))
        srv.expect("POST", "/target").respond(mp.respond(201))
        srv.expect("GET", "/target", headers={"X-Token": "t"}).respond(mp.respond(200))
        reply = requests.get(srv.url("/target"), timeout=10)
        assert reply.status_code == 500
        lines = reply.text.splitlines()
        assert lines == [
            "mockprogress: GET /target matched no expectation; closest:",
            "    - expect GET /target: header X-Token: wanted 't', got None",
            "    - expect POST /target: method: wanted POST, got GET",
            "    - expect GET /a: path: wanted '/a', got '/target'",
        ]
        srv.reset()


def test_a_path_with_a_query_is_refused_where_it_is_written(tmp_path: Path) -> None:
    with mp.MockServer() as srv:
        with pytest.raises(mp.ScenarioError, match=r"query=\{'x': '1'\}"):
            srv.expect("GET", "/jobs?x=1")
        scenario = tmp_path / "jobs.toml"
        scenario.write_text(
            '[[expect]]\nmethod = "GET"\npath = "/jobs?x=1"\nsteps = [{ respond = 200 }]\n'
        )
        with pytest.raises(mp.ScenarioError) as caught:
            srv.load(scenario)
        message = str(caught.value)
        assert message.startswith(f"{scenario}: expect[0]: path '/jobs?x=1' has a query")
        srv.expect("GET", "/jobs", query={"x": "1"}).respond(mp.respond(200, b"job"))
        assert requests.get(srv.url("/jobs?x=1"), timeout=10).text == "job"
        srv.check()


def test_an_expectation_whose_respond_raised_is_not_registered() -> None:
    with mp.MockServer() as srv:
        with pytest.raises(mp.ScenarioError, match="follows the final response"):
            srv.expect("GET", "/late").respond(mp.respond(200), mp.interim(103))
        with pytest.raises(mp.ScenarioError, match="takes a callable"):
            srv.expect("GET", "/handler").respond_with("not a function")  # type: ignore[arg-type]
        for path in ("/late", "/handler"):
            reply = httpx.get(srv.url(path), timeout=10)
            assert reply.status_code == 500
            assert (
                reply.text
                == f"mockprogress: GET {path} matched no expectation (none are defined)\n"
            )
        srv.reset()


@pytest.mark.anyio
async def test_a_failed_respond_registers_nothing_in_loop_mode_too() -> None:
    async with mp.MockServer() as srv:
        with pytest.raises(mp.ScenarioError, match="at least one step"):
            srv.expect("GET", "/empty").respond()
        async with httpx.AsyncClient() as client:
            reply = await client.get(srv.url("/empty"), timeout=10)
        assert reply.status_code == 500 and "(none are defined)" in reply.text
        srv.reset()


def test_a_failed_respond_keeps_an_answer_already_given() -> None:
    with mp.MockServer() as srv:
        exp = srv.expect("GET", "/kept").respond(mp.respond(200, b"first"))
        with pytest.raises(mp.ScenarioError):
            exp.respond()
        assert httpx.get(srv.url("/kept"), timeout=10).text == "first"


def test_an_expectation_never_given_a_response_says_so() -> None:
    # A bare srv.expect(...), or one whose step raised while respond()'s arguments were built
    # (respond() was never called): a request gets a 500 that says so, not an empty 200 the
    # client would take for the answer meant, and check() names it even if no request came.
    with mp.MockServer() as srv:
        srv.expect("GET", "/bare")
        with pytest.raises(mp.ScenarioError):
            srv.expect("GET", "/built").respond(mp.respond(200, body=123))  # type: ignore[arg-type]
        srv.expect("GET", "/unused", name="forgotten")
        for path in ("/bare", "/built"):
            reply = requests.get(srv.url(path), timeout=10)
            assert reply.status_code == 500
            assert reply.text == (
                f"mockprogress: expect GET {path} was never given a response: "
                "add .respond(...) or .respond_with(...)\n"
            )
        with pytest.raises(mp.ExpectationError) as caught:
            srv.check()
        srv.reset()
    report = str(caught.value)
    assert report.startswith("mockprogress recorded 3 problem(s):\n")
    for described in ("expect GET /bare", "expect GET /built", "expect GET /unused (forgotten)"):
        assert (
            f"[scenario-error] {described} was never given a response: "
            "add .respond(...) or .respond_with(...)"
        ) in report
