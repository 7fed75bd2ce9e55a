"""ProgressJob over the sans-IO core: the draft's workflow as exact messages and exact sleeps.

The fake clock advances only by the sleeps the core asks for, so the timing of every 102, the
202 and the final response is checked exactly, without sockets (the real-time, real-client
version is tests/clients/test_lro_workflow.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import h11
import pytest
from support.paths import ROOT
from support.sansio import Wire

import mockprogress as mp
from mockprogress.engine.actions import Program
from mockprogress.engine.exchange import ExchangeContext
from mockprogress.http.headers import Headers
from mockprogress.resources.progress_job_plan import JobPlan
from mockprogress.scenario.document import load_scenario, parse_scenario

STAGES = [("Herding cats", 0.5), ("Knitting sweaters", 0.5), ("Slaying dragons", 0.5)]
RESULT = mp.respond(201, "uploaded\n", {"Location": "/photos/42"})
STATUS_URI = re.compile(r"^/capture/status/[A-Za-z0-9_-]{22}$")


@dataclass
class Message:
    status: int
    headers: dict[str, str]
    body: bytes = b""
    lines: list[tuple[str, str]] = field(default_factory=list)


def messages(out: bytes, method: str = "POST") -> list[Message]:
    """What a client reads from ``out``: every interim, then the final response with body."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(out)
    found: list[Message] = []
    while True:
        event = client.next_event()
        if event is h11.NEED_DATA or isinstance(event, h11.ConnectionClosed | h11.EndOfMessage):
            return found
        if isinstance(event, h11.InformationalResponse | h11.Response):
            lines = [(n.decode(), v.decode()) for n, v in event.headers.raw_items()]
            found.append(Message(event.status_code, {n.lower(): v for n, v in lines}, b"", lines))
        elif isinstance(event, h11.Data):
            found[-1].body += bytes(event.data)


def request(
    method: str, target: str, *headers: str, version: str = "1.1", body: bytes = b""
) -> bytes:
    lines = "".join(f"{h}\r\n" for h in headers)
    length = f"Content-Length: {len(body)}\r\n" if body or method in ("POST", "PUT") else ""
    return f"{method} {target} HTTP/{version}\r\nHost: x\r\n{length}{lines}\r\n".encode() + body


def mounted(**kwargs: object) -> tuple[Wire, mp.ProgressJob]:
    wire = Wire()
    job = mp.ProgressJob(
        "/capture",
        kwargs.pop("stages", STAGES),  # type: ignore[arg-type]
        kwargs.pop("result", RESULT),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )
    wire.state.mount(job)
    return wire, job


def run(wire: Wire, raw: bytes, method: str = "POST") -> list[Message]:
    wire.out.clear()
    return messages(wire.run([raw]), method)


class TestStartingRequest:
    def test_processing_streams_a_102_per_stage_then_the_result(self) -> None:
        wire, job = mounted(done_remark="Available")
        found = run(wire, request("POST", "/capture", "Prefer: processing", body=b"photo"))

        assert [m.status for m in found] == [102, 102, 102, 201]
        first, second, third, final = found
        assert first.lines[0] == ("Progress", '0/3 "Herding cats"')
        assert STATUS_URI.match(first.headers["location"])
        assert second.lines == [("Progress", '1/3 "Knitting sweaters"')]
        assert third.lines == [("Progress", '2/3 "Slaying dragons"')]
        assert final.headers["progress"] == '3/3 "Available"'
        assert final.headers["location"] == "/photos/42"
        assert final.headers["content-location"] == first.headers["location"]
        assert final.headers["preference-applied"] == "processing"
        assert final.body == b"uploaded\n"
        assert wire.sleeps == [0.5, 0.5, 0.5]
        [info] = job.jobs
        assert (info.status_uri, info.target, info.duration) == (
            first.headers["location"],
            "/capture",
            1.5,
        )
        ex = wire.state.journal().last
        assert [round(i.at, 6) for i in ex.interims] == [0.0, 0.5, 1.0]
        assert ex.body == b"photo" and ex.handled_by == "ProgressJob /capture"
        assert wire.state.check_error() is None

    def test_without_a_preference_the_same_timing_and_no_interims(self) -> None:
        wire, _ = mounted()
        found = run(wire, request("POST", "/capture"))

        assert [m.status for m in found] == [201]
        assert found[0].headers["progress"] == "3/3"
        assert STATUS_URI.match(found[0].headers["content-location"])
        assert "preference-applied" not in found[0].headers
        assert sum(wire.sleeps) == pytest.approx(1.5)
        assert wire.state.journal().last.response.at == pytest.approx(1.5)  # type: ignore[union-attr]

    def test_respond_async_answers_202_once_the_job_runs_past_wait(self) -> None:
        wire, job = mounted()
        found = run(wire, request("POST", "/capture", "Prefer: respond-async, wait=1"))

        [accepted] = found
        assert accepted.status == 202
        assert accepted.headers["location"] == accepted.headers["content-location"]
        assert accepted.headers["location"] == job.jobs[0].status_uri
        assert accepted.headers["progress"] == '2/3 "Slaying dragons"'
        assert accepted.headers["preference-applied"] == "respond-async, wait=1"
        assert accepted.body == b"step 3 of 3: Slaying dragons\n"
        assert wire.sleeps == [0.5, 0.5]  # 202 at t=1, while stage 3 runs

    def test_processing_and_respond_async_together_as_in_the_draft(self) -> None:
        wire, _ = mounted(stages=[("Herding cats", 0.5), ("Knitting sweaters", 2.0), ("x", 1)])
        found = run(wire, request("POST", "/capture", "Prefer: processing, respond-async, wait=1"))

        assert [m.status for m in found] == [102, 102, 202]
        assert found[0].headers["location"] == found[2].headers["location"]
        assert found[1].headers["progress"] == '1/3 "Knitting sweaters"'
        assert found[2].headers["preference-applied"] == "processing, respond-async, wait=1"
        assert found[2].headers["progress"] == '1/3 "Knitting sweaters"'
        assert wire.sleeps == [0.5, 0.5]

    @pytest.mark.parametrize(
        ("prefer", "statuses"),
        [
            ("respond-async, wait=2", [201]),
            ("wait=2, respond-async", [201]),
            # Here wait is a parameter of respond-async, not a preference: no wait at all.
            ("respond-async; wait=2", [202]),
        ],
    )
    def test_a_job_that_ends_before_the_wait_answers_normally(
        self, prefer: str, statuses: list[int]
    ) -> None:
        wire, _ = mounted()
        found = run(wire, request("POST", "/capture", f"Prefer: {prefer}"))
        assert [m.status for m in found] == statuses
        if statuses == [201]:
            assert "preference-applied" not in found[0].headers

    def test_the_job_ending_exactly_at_the_wait_is_not_past_it(self) -> None:
        wire, _ = mounted()
        found = run(wire, request("POST", "/capture", "Prefer: respond-async, wait=1"))
        assert found[0].status == 202
        wire2, _ = mounted(stages=[("a", 0.5), ("b", 0.5)])
        found = run(wire2, request("POST", "/capture", "Prefer: respond-async, wait=1"))
        assert [m.status for m in found] == [201]

    def test_respond_async_without_wait_answers_202_at_once(self) -> None:
        wire, _ = mounted()
        found = run(wire, request("POST", "/capture", "Prefer: respond-async"))
        assert found[0].status == 202
        assert found[0].headers["preference-applied"] == "respond-async"
        assert wire.sleeps == []

    def test_wait_alone_is_ignored(self) -> None:
        wire, _ = mounted()
        found = run(wire, request("POST", "/capture", "Prefer: wait=1"))
        assert [m.status for m in found] == [201]

    def test_a_late_wake_still_announces_every_stage_in_order(self) -> None:
        wire, _ = mounted()
        wire.oversleep = 1.2  # the first sleep ends after all three stages
        found = run(wire, request("POST", "/capture", "Prefer: processing"))

        assert [m.headers.get("progress") for m in found] == [
            '0/3 "Herding cats"',
            '1/3 "Knitting sweaters"',
            '2/3 "Slaying dragons"',
            "3/3",
        ]
        assert len(wire.sleeps) == 1

    def test_no_interim_for_an_http10_client_and_no_preference_applied(self) -> None:
        wire, _ = mounted()
        found = run(wire, request("POST", "/capture", "Prefer: processing", version="1.0"))
        assert [m.status for m in found] == [201]
        assert "preference-applied" not in found[0].headers
        ex = wire.state.journal().last
        assert [(i.status, i.skipped) for i in ex.interims] == [(102, True)] * 3

    def test_preferences_parse_case_insensitively_across_lines(self) -> None:
        wire, _ = mounted()
        found = run(
            wire,
            request(
                "POST",
                "/capture",
                'Prefer: PROCESSING; note="a, b"',
                "Prefer: Respond-Async",
                "Prefer: WAIT = 1",
            ),
        )
        assert [m.status for m in found] == [102, 102, 102, 202]

    def test_each_job_gets_its_own_unguessable_status_document(self) -> None:
        wire, job = mounted()
        for _ in range(3):
            run(wire, request("POST", "/capture", "Prefer: respond-async"))
        uris = [info.status_uri for info in job.jobs]
        assert len(set(uris)) == 3
        assert all(STATUS_URI.match(uri) for uri in uris)

    def test_methods_that_do_not_start_a_job_get_405(self) -> None:
        wire, _ = mounted(methods=["POST"])
        [found] = run(wire, request("GET", "/capture"), "GET")
        assert (found.status, found.headers["allow"]) == (405, "POST")
        [found] = run(wire, request("GET", "/capture/elsewhere"), "GET")
        assert found.status == 404


class TestStatusDocument:
    def start(self, **kwargs: object) -> tuple[Wire, str]:
        wire, job = mounted(**kwargs)
        run(wire, request("POST", "/capture", "Prefer: respond-async, wait=1", body=b"photo"))
        return wire, job.jobs[0].status_uri

    def test_get_with_processing_streams_to_the_end(self) -> None:
        wire, uri = self.start(done_remark="Available")  # the 202 went out at t=1
        found = run(wire, request("GET", uri, "Prefer: processing, respond-async, wait=20"), "GET")

        assert [m.status for m in found] == [102, 200]
        assert found[0].lines == [("Progress", '2/3 "Slaying dragons"')]
        done = found[1]
        assert done.headers["progress"] == '3/3 "Available"'
        assert done.headers["status-uri"] == "201 </capture>"
        assert done.headers["preference-applied"] == "processing"
        assert done.headers["content-type"] == "text/plain; charset=utf-8"
        assert done.body == b"uploaded\n"
        assert wire.clock == pytest.approx(1.5)

    def test_get_without_the_preference_answers_at_once(self) -> None:
        wire, uri = self.start()
        [now] = run(wire, request("GET", uri), "GET")
        assert (now.status, now.headers["progress"]) == (200, '2/3 "Slaying dragons"')
        assert now.body == b"step 3 of 3: Slaying dragons\n"
        assert "status-uri" not in now.headers
        assert wire.clock == pytest.approx(1.0)

    def test_head_gives_the_headers_without_a_body(self) -> None:
        wire, uri = self.start()
        found = run(wire, request("HEAD", uri, "Prefer: processing"), "HEAD")
        assert [m.status for m in found] == [102, 200]
        assert found[1].headers["status-uri"] == "201 </capture>"
        assert found[1].body == b""
        assert found[1].headers["content-length"] == str(len(b"uploaded\n"))

    def test_after_the_end_there_is_nothing_to_stream(self) -> None:
        wire, uri = self.start()
        wire.clock += 5
        found = run(wire, request("GET", uri, "Prefer: processing"), "GET")
        assert [m.status for m in found] == [200]
        assert found[0].headers["progress"] == "3/3"
        assert "preference-applied" not in found[0].headers

    def test_delete_removes_it(self) -> None:
        wire, uri = self.start()
        [gone] = run(wire, request("DELETE", uri), "DELETE")
        assert gone.status == 204
        [missing] = run(wire, request("GET", uri), "GET")
        assert missing.status == 404
        job = wire.state.resources[0]
        assert isinstance(job, mp.ProgressJob)
        assert job.jobs[0].deleted

    def test_other_methods_get_405(self) -> None:
        wire, uri = self.start()
        [found] = run(wire, request("POST", uri))
        assert (found.status, found.headers["allow"]) == (405, "GET, HEAD, DELETE")


class Upload(mp.Resource):
    """A stand-in for an upload resource that hands the completed request to a job."""

    def __init__(self, path: str, job: mp.ProgressJob) -> None:
        super().__init__(path)
        self.job = job

    def serve(self, ctx: ExchangeContext) -> Program[None]:
        yield from ctx.read_body()
        yield from self.job.process(ctx, headers={"Upload-Complete": "?1"})


def test_another_resource_runs_a_job_inside_its_own_exchange() -> None:
    wire = Wire()
    job = mp.ProgressJob("/jobs", [("Checking", 0.25), ("Storing", 0.25)], mp.respond(204))
    upload = Upload("/uploads", job)
    wire.state.mount(upload)
    wire.state.mount(job)

    found = run(wire, request("PUT", "/uploads/7", "Prefer: processing", body=b"all of it"))
    assert [m.status for m in found] == [102, 102, 204]
    assert found[0].headers["location"].startswith("/jobs/status/")
    assert found[2].headers["upload-complete"] == "?1"
    [info] = job.jobs
    assert info.target == "/uploads/7" and info.status_uri == found[0].headers["location"]

    [done] = run(wire, request("GET", found[0].headers["location"]), "GET")
    assert (done.status, done.headers["status-uri"]) == (200, "204 </uploads/7>")


class TestBuilding:
    def test_result_cannot_be_202(self) -> None:
        with pytest.raises(mp.ScenarioError, match="202"):
            mp.ProgressJob("/j", STAGES, mp.respond(202))

    def test_result_progress_must_not_go_back(self) -> None:
        with pytest.raises(mp.ScenarioError, match="MUST NOT decrease"):
            mp.ProgressJob("/j", STAGES, mp.respond(200, headers={"Progress": "1/3"}))
        job = mp.ProgressJob("/j", STAGES, mp.respond(200, headers={"Progress": "3/4 (more)"}))
        assert job.final_progress == "3/4 (more)"

    def test_result_progress_must_follow_the_grammar(self) -> None:
        with pytest.raises(mp.ScenarioError, match="invalid Progress"):
            mp.ProgressJob("/j", STAGES, mp.respond(200, headers={"Progress": "three"}))

    @pytest.mark.parametrize(
        ("stages", "message"),
        [
            ([], "needs stages"),
            ([("a", -1)], "finite number >= 0"),
            ([("a",)], "must be"),
            ("abc", "needs stages"),
            ([(42, 1)], "progress remark must be"),
        ],
    )
    def test_bad_stages_fail_when_built(self, stages: object, message: str) -> None:
        with pytest.raises(mp.ScenarioError, match=message):
            mp.ProgressJob("/j", stages)  # type: ignore[arg-type]

    def test_remarks_follow_the_grammar(self) -> None:
        job = mp.ProgressJob("/j", [("Café", 1), (mp.Comment("internal"), 1), (None, 1)])
        assert [str(p) for p in job.plan.progress] == [
            "0/3 UTF-8''Caf%C3%A9",
            "1/3 (internal)",
            "2/3",
        ]


class TestPlan:
    plan = JobPlan.build([("a", 1.0), ("b", 0.0), ("c", 2.0)])

    def test_progress_is_a_function_of_elapsed_time(self) -> None:
        assert [self.plan.stage_at(t) for t in (0, 0.999, 1.0, 2.5, 3.0, 99)] == [0, 0, 2, 2, 3, 3]
        assert str(self.plan.progress_at(0.5)) == '0/3 "a"'
        assert str(self.plan.progress_at(1.0)) == '2/3 "c"'
        assert str(self.plan.progress_at(3.0)) == "3/3"

    def test_next_change(self) -> None:
        assert self.plan.next_change(0) == 1.0
        assert self.plan.next_change(1.0) == 3.0
        assert self.plan.next_change(3.0) is None

    def test_a_boundary_reached_a_hair_early_counts(self) -> None:
        plan = JobPlan.build([("a", 0.1), ("b", 0.2)])
        assert plan.stage_at(0.1 + 0.2 - 1e-9) == 2


class TestScenarioFile:
    def test_the_demo_job(self) -> None:
        [job] = load_scenario(ROOT / "fixtures" / "lro.toml")
        assert isinstance(job, mp.ProgressJob)
        assert job.path == "/capture" and job.methods == ("POST",)
        assert [str(p) for p in job.plan.progress] == [
            '0/3 "Herding cats"',
            '1/3 "Knitting sweaters"',
            '2/3 "Slaying dragons"',
        ]
        assert job.final_progress == '3/3 "Available"'
        assert (job.result.status, Headers(job.result.headers)["location"]) == (201, "/photos/42")

    @pytest.mark.parametrize(
        ("spec", "message"),
        [
            ({}, r"progress_job\[0\].path: missing"),
            ({"path": "/j", "stages": "fast"}, r"progress_job\[0\].stages: expected a list"),
            ({"path": "/j", "stages": [["a", -1]]}, r"progress_job\[0\]: stage 0 seconds"),
            ({"path": "/j", "result": {"status": 202}}, r"progress_job\[0\]: .*202"),
            ({"path": "/j", "speed": 2}, r"progress_job\[0\].speed: unknown key"),
        ],
    )
    def test_mistakes_name_the_key(self, spec: dict[str, object], message: str) -> None:
        with pytest.raises(mp.ScenarioError, match=message):
            parse_scenario({"progress_job": [spec]}, "jobs.toml")


def test_process_after_the_final_response_is_reported() -> None:
    class Late(mp.Resource):
        def serve(self, ctx: ExchangeContext) -> Program[None]:
            yield from ctx.respond(mp.respond(200), read_first=True)
            yield from job.process(ctx)

    wire = Wire()
    job = mp.ProgressJob("/jobs")
    wire.state.mount(Late("/late"))
    wire.run([request("POST", "/late")])
    error = wire.state.check_error()
    assert error is not None and "process() after the final response" in str(error)
    assert job.jobs == []
