"""The server holds what it sends to draft-wright-http-progress §3.2: across the messages of
one exchange the numerator never goes down, never disappears from a 102 once introduced, and
every value follows the grammar. A script that breaks this fails where it is written."""

from __future__ import annotations

import pytest
from support.recording_client import arequest

import mockprogress as mp

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("steps", "fragment"),
    [
        ([mp.processing((2, 3)), mp.processing((1, 3)), mp.respond()], "MUST NOT decrease"),
        (
            [mp.processing((1, 3)), mp.respond(200, headers={"Progress": "0/3"})],
            "step 1: Progress: 0/3 after step 0",
        ),
        ([mp.processing((1, 3)), mp.processing(location="/s"), mp.respond()], "disappear"),
        ([mp.interim(102, {"Progress": "five"}), mp.respond()], "invalid Progress"),
        ([mp.interim(102, {"Progress": "5/3"}), mp.respond()], "smaller than the numerator"),
    ],
)
def test_a_script_that_breaks_the_rule_fails_at_respond(
    steps: list[mp.Step], fragment: str
) -> None:
    with mp.MockServer() as srv, pytest.raises(mp.ScenarioError, match=fragment):
        srv.expect("POST", "/jobs").respond(*steps)
    with pytest.raises(mp.ScenarioError, match=fragment):
        mp.Expectation("POST", "/jobs").respond(*steps)


def test_what_the_rule_allows() -> None:
    mp.Expectation("POST", "/jobs").respond(
        mp.processing((0, 2)),
        mp.processing((0, 2, "still herding")),  # the same numerator again
        mp.processing((1, 5)),  # the denominator may grow
        mp.processing((2, 4)),  # or shrink, while it stays >= the numerator
        mp.processing("3/"),  # or go unknown
        mp.interim(103, {"Link": "</a>"}),  # other interims need no Progress
        mp.respond(200),  # nor does the final response
    )
    # Progress may start late; a 102 without it before any Progress is fine.
    mp.Expectation("POST", "/jobs").respond(mp.processing(), mp.processing((0, 1)), mp.respond())


def test_a_scenario_file_that_breaks_it_names_the_step(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "bad.toml"
    path.write_text(
        """
[[expect]]
method = "POST"
path = "/jobs"
  [[expect.steps]]
  processing = "2/3"
  [[expect.steps]]
  processing = "1/3"
  [[expect.steps]]
  respond = 200
"""
    )
    with pytest.raises(
        mp.ScenarioError, match=r"bad.toml: expect\[0\]\.steps: step 1: Progress: 1/3"
    ):
        mp.MockServer().load(path)


async def test_an_async_handler_cannot_send_progress_backwards(
    mockprogress_async_server: mp.MockServer,
) -> None:
    srv = mockprogress_async_server

    async def handler(ctl: mp.HandlerControl) -> None:
        await ctl.send(mp.processing((2, 3)), mp.processing((1, 3)), mp.processing((3, 3)))
        await ctl.send(mp.respond(200, b"ok"))

    srv.expect("POST", "/jobs").respond_with(handler)

    reply = await arequest(srv.port, "POST", "/jobs")

    assert [i.header("Progress") for i in reply.interims] == ["2/3", "3/3"]
    assert (reply.status, reply.body) == (200, b"ok")
    with pytest.raises(
        mp.ExpectationError, match=r"not sent: interim 102 Processing: Progress: 1/3"
    ):
        srv.check()
    srv.reset()
