"""One fault spec: every way to write a fault validates its "how" and "seconds" in one place
(``script.faults.FaultSpec``), so each says a mistake the same way; one planner
(``engine.faults.FaultPlan``) decides which request a planned fault fires on."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import mockprogress as mp
from mockprogress.engine.faults import FaultPlan, HeadCutPlan, InterruptPlan
from mockprogress.script.faults import Cut, FaultSpec, HeadCut, Interrupt, WsCut

#: Each public way to write a fault, with the name its messages use, built with a given how
#: and seconds.
BUILDERS: dict[str, tuple[str, Callable[[str, float | None], object]]] = {
    "respond().cut": ("cut", lambda how, s: mp.respond(200, b"abc").cut(1, how=how, seconds=s)),  # type: ignore[arg-type]
    "cut_request_head": ("cut_request_head", lambda how, s: HeadCut(3, how, s)),  # type: ignore[arg-type]
    "interrupt": ("interrupt", lambda how, s: mp.interrupt(3, how=how, seconds=s)),  # type: ignore[arg-type]
}


@pytest.mark.parametrize("builder", BUILDERS)
def test_a_wrong_how_reads_the_same_everywhere(builder: str) -> None:
    where, build = BUILDERS[builder]
    message = f"{where} how must be 'close', 'reset' or 'stall', got 'explode'"
    with pytest.raises(mp.ScenarioError, match=f"^{message}$"):
        build("explode", None)


@pytest.mark.parametrize("builder", BUILDERS)
def test_seconds_only_with_stall_reads_the_same_everywhere(builder: str) -> None:
    where, build = BUILDERS[builder]
    with pytest.raises(mp.ScenarioError, match=rf"^{where}\(seconds=\.\.\.\) only applies"):
        build("close", 2.0)
    with pytest.raises(mp.ScenarioError, match=rf"^{where}\(seconds=\.\.\.\) must be a finite"):
        build("stall", -1.0)


def test_faults_that_cannot_stall_say_so_the_same_way() -> None:
    with pytest.raises(mp.ScenarioError, match=r"^drop how must be 'close' or 'reset', got 'x'$"):
        mp.drop("x")  # type: ignore[arg-type]
    with pytest.raises(mp.ScenarioError, match=r"^cut how must be 'close' or 'reset', got 'stall'"):
        mp.ws_send("abc").cut(2, "stall")  # type: ignore[arg-type]
    with pytest.raises(mp.ScenarioError, match=r"^stall must be a finite number >= 0, got -2$"):
        mp.stall(-2)


def test_every_spec_type_carries_the_one_spec() -> None:
    stall = FaultSpec("stall", 1.0)
    assert Cut(1, how="stall", seconds=1).spec == stall
    assert HeadCut(1, "stall", 1).spec == stall
    assert Interrupt(1, how="stall", seconds=1).spec == stall
    assert mp.stall(1).spec == stall
    assert mp.drop("reset").spec == FaultSpec("reset")
    assert WsCut(3, "reset").spec == FaultSpec("reset")
    # Seconds are kept as floats, whichever type wrote them.
    assert HeadCut(1, "stall", 2).seconds == 2.0 and isinstance(
        HeadCut(1, "stall", 2).seconds, float
    )
    # The spec takes no part in equality: a spec type compares by what the test wrote.
    assert Cut(1, how="stall", seconds=1) == Cut(1, how="stall", seconds=1.0)


def test_the_plan_fires_each_fault_as_often_as_planned_in_order() -> None:
    plan: FaultPlan[str] = FaultPlan()
    plan.add("twice", times=2)
    plan.add("then always", times=None)
    fired = []
    for _ in range(4):
        item = plan.next()
        assert item is not None and plan.claim(item)
        fired.append(item)
    assert fired == ["twice", "twice", "then always", "then always"]
    assert plan.unfired(str) == []


def test_the_plan_gives_back_a_fault_that_could_not_fire() -> None:
    plan: FaultPlan[str] = FaultPlan()
    plan.add("once")
    assert plan.claim("once") and not plan.claim("once")
    plan.release("once")
    assert plan.next() == "once"
    assert plan.unfired(lambda s: s.upper()) == ["ONCE fired 0 time(s)"]


def test_the_plan_fires_on_a_numbered_request_only() -> None:
    plan: FaultPlan[str] = FaultPlan()
    plan.add("second", request=2, times=None)
    seen = [plan.next(request=plan.count_request()) for _ in range(3)]
    assert seen == [None, "second", None]
    plan.rewind()
    assert plan.count == 0 and plan.next(request=plan.count_request()) is None


def test_head_cuts_and_interrupts_are_both_fault_plans() -> None:
    heads = HeadCutPlan()
    at_zero, later = HeadCut(0), HeadCut(5, times=None)
    heads.add(at_zero)
    heads.add(later)
    assert heads.next_cut(fresh_connection=False) is later  # byte 0: fresh connections only
    assert heads.next_cut(fresh_connection=True) is at_zero
    assert heads.unfired() == [f"{at_zero.describe()} fired 0 time(s)"]
    assert isinstance(heads._plan, FaultPlan)

    interrupts = InterruptPlan([mp.interrupt(10, request=2), mp.interrupt(99, request=None)])
    assert [i and i.after for i in (interrupts.next_request() for _ in range(3))] == [99, 10, 99]
    assert interrupts.count == 3
    interrupts.reset()
    assert interrupts.count == 0
    assert isinstance(interrupts._plan, FaultPlan)
