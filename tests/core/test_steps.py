"""Script steps are validated when built, where the mistake was written."""

from __future__ import annotations

import pytest

import mockprogress as mp
from mockprogress.script.steps import Cut, Drip, Script


def test_interim_reason_phrases_default_from_the_status() -> None:
    assert mp.interim(100).reason == "Continue"
    assert mp.interim(102).reason == "Processing"
    assert mp.interim(103).reason == "Early Hints"
    assert mp.interim(104).reason == "Upload Resumption Supported"
    assert mp.interim(150).reason == "Informational"
    assert mp.interim(199, reason="Acknowledge 10B").reason == "Acknowledge 10B"


@pytest.mark.parametrize("status", [99, 101, 200, 1000, "102", True])
def test_interim_rejects_non_interim_statuses(status: object) -> None:
    with pytest.raises(mp.ScenarioError):
        mp.interim(status)  # type: ignore[arg-type]


def test_101_points_to_the_right_tools() -> None:
    with pytest.raises(mp.ScenarioError, match="upgrade_websocket"):
        mp.interim(101)


@pytest.mark.parametrize(
    "headers",
    [
        {"Bad Name": "x"},
        {"X-Ok": "line\r\nInjected: yes"},
        {"X-Ok": " padded"},
        [("only-one",)],
        {"X-Ok": 3.5},
    ],
)
def test_headers_are_validated(headers: object) -> None:
    with pytest.raises(mp.ScenarioError):
        mp.interim(103, headers)  # type: ignore[arg-type]


def test_early_hints_one_link_line_each() -> None:
    step = mp.early_hints("</a.css>; rel=preload", "</b.js>; rel=preload")
    assert step.status == 103
    assert step.headers == (("Link", "</a.css>; rel=preload"), ("Link", "</b.js>; rel=preload"))


@pytest.mark.parametrize("links", [["</a>; rel=preload"], ("</a>; rel=preload", "</b>")])
def test_early_hints_says_links_are_separate_arguments(links: list[str]) -> None:
    spread = ", ".join(repr(link) for link in links)
    message = (
        "early_hints takes each link as a separate argument: "
        f"mp.early_hints({spread}), not a {type(links).__name__} of them"
    )
    with pytest.raises(mp.ScenarioError) as caught:
        mp.early_hints(links)  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_processing_status_uri_pairs() -> None:
    step = mp.processing((3, 3), status_uri=[(201, "/capture"), (507, "/photo/41")])
    assert ("Status-URI", "201 </capture>") in step.headers
    assert ("Status-URI", "507 </photo/41>") in step.headers
    with pytest.raises(mp.ScenarioError):
        mp.processing(status_uri=(201, "/with space"))


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf"), "1", None])
def test_pause_needs_a_finite_non_negative_number(seconds: object) -> None:
    with pytest.raises(mp.ScenarioError):
        mp.pause(seconds)  # type: ignore[arg-type]


def test_respond_bodies() -> None:
    assert mp.respond(200, "héllo").content == "héllo".encode()
    assert ("Content-Type", "text/plain; charset=utf-8") in mp.respond(200, "x").headers
    assert mp.respond(200, json={"a": 1}).content == b'{"a": 1}'
    chunked = mp.respond(200, [b"ab", b"c"])
    assert chunked.chunked and chunked.content == b"abc"
    assert mp.respond(200, None).content == b""


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: mp.respond(199), "200..999"),
        (lambda: mp.respond(204, b"x"), "cannot carry a body"),
        (lambda: mp.respond(200, b"abc", {"Content-Length": "5"}), "mp.raw"),
        (lambda: mp.respond(200, b"abc", {"Transfer-Encoding": "chunked"}), "chunked=True"),
        (lambda: mp.respond(200, [b"a", b""]), "empty chunk"),
        (lambda: mp.respond(200, b"x", json=[1]), "not both"),
        (lambda: mp.respond(200, b"abc").cut(4), "body has 3 bytes"),
        (lambda: mp.respond(200, b"abc").cut(-1), ">= 0"),
        (lambda: mp.respond(200, b"abc").cut(1, unit="bits"), "unit"),  # type: ignore[arg-type]
        (lambda: mp.respond(200, b"abc").cut(1, how="explode"), "how"),  # type: ignore[arg-type]
        (lambda: mp.respond(200, b"abc").cut(1, seconds=2), "how='stall'"),
        (lambda: mp.respond(200, b"abc").drip(), "needs"),
        (lambda: mp.respond(200, b"abc").drip(0), "> 0"),
    ],
)
def test_respond_rejects_mistakes(build: object, fragment: str) -> None:
    with pytest.raises(mp.ScenarioError) as info:
        build()  # type: ignore[operator]
    assert fragment in str(info.value)


def test_cut_and_drip_are_recorded_on_a_new_step() -> None:
    base = mp.respond(200, b"x" * 100)
    cut = base.cut(10, how="reset")
    assert base.fault is None
    assert cut.fault == Cut(10, "body", "reset")
    assert base.drip(1000).pacing == Drip(10, 0.01)
    assert base.drip(chunk=5, interval=0.2).pacing == Drip(5, 0.2)
    assert base.drip(100, chunk=20).pacing == Drip(20, 0.2)
    assert base.drip(interval=0.5).pacing == Drip(1, 0.5)


def test_script_needs_a_final_step() -> None:
    with pytest.raises(mp.ScenarioError, match="never answers"):
        Script.of([mp.processing(), mp.pause(1)])
    with pytest.raises(mp.ScenarioError, match="at least one"):
        Script.of([])
    with pytest.raises(mp.ScenarioError, match="not a step"):
        Script.of(["respond"])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "steps",
    [
        [mp.respond(200), mp.processing()],
        [mp.respond(200), mp.respond(200)],
        [mp.drop(), mp.respond(200)],
        [mp.stall(1), mp.pause(1)],
        [mp.respond(200, b"abc").cut(1), mp.pause(1)],
        [mp.raw(b"x"), mp.respond(200)],
    ],
)
def test_script_order_rules(steps: list[mp.Step]) -> None:
    with pytest.raises(mp.ScenarioError):
        Script.of(steps)


def test_script_allows_draining_and_faults_after_the_response() -> None:
    Script.of([mp.respond(200), mp.read_body(), mp.pause(0.1), mp.drop("reset")])
    Script.of([mp.raw(b"HTTP/1.1 200 OK\r\n"), mp.pause(0.1), mp.raw(b"\r\n"), mp.stall()])


def test_steps_are_frozen() -> None:
    step = mp.respond(200)
    with pytest.raises(AttributeError):
        step.status = 500  # type: ignore[misc]


@pytest.mark.parametrize(
    "build",
    [
        lambda: mp.drop("fin"),
        lambda: mp.stall(-1),
        lambda: mp.raw("text"),
        lambda: mp.read_body(-1),
    ],
)
def test_fault_steps_validate(build: object) -> None:
    with pytest.raises(mp.ScenarioError):
        build()  # type: ignore[operator]


def test_interrupt_plan_counts_upload_requests() -> None:
    from mockprogress.engine.faults import InterruptPlan

    plan = InterruptPlan([mp.interrupt(10, request=2, how="close")])
    assert plan.next_request() is None
    assert plan.next_request() == mp.Interrupt(10, 2, "close")
    assert plan.next_request() is None
    every = InterruptPlan([mp.interrupt(100, request=None)])
    assert [every.next_request() for _ in range(3)] == [mp.Interrupt(100, None, "reset")] * 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"after": -1},
        {"after": 1, "request": 0},
        {"after": 1, "how": "fin"},
        {"after": 1, "seconds": 2},
    ],
)
def test_interrupt_validates(kwargs: dict[str, object]) -> None:
    with pytest.raises(mp.ScenarioError):
        mp.interrupt(**kwargs)  # type: ignore[arg-type]
