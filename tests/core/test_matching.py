"""Which request gets which script: matchers, times, ordered groups, near misses."""

from __future__ import annotations

import re

import pytest
from support.sansio import Wire

import mockprogress as mp
from mockprogress.engine.matching import Expectation, Registry, RequestView


def view(
    method: str = "GET",
    path: str = "/x",
    query: dict[str, str] | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
) -> RequestView:
    q = query or {}
    return RequestView(
        method,
        path,
        q,
        "&".join(f"{k}={v}" for k, v in q.items()),
        mp.Headers(headers or []),
        body,
    )


def test_method_and_path() -> None:
    exp = Expectation("post", "/jobs")
    assert exp.mismatches(view("POST", "/jobs")) == []
    assert exp.mismatches(view("GET", "/jobs")) == ["method: wanted POST, got GET"]
    assert exp.mismatches(view("POST", "/job")) == ["path: wanted '/jobs', got '/job'"]
    assert Expectation(None, "/jobs").mismatches(view("DELETE", "/jobs")) == []
    assert Expectation("*", "/jobs").mismatches(view("DELETE", "/jobs")) == []


def test_path_regex_and_predicate() -> None:
    assert Expectation("GET", re.compile(r"/items/\d+")).mismatches(view(path="/items/42")) == []
    assert Expectation("GET", re.compile(r"/items/\d+")).mismatches(view(path="/items/4x"))
    assert Expectation("GET", lambda p: p.endswith(".css")).mismatches(view(path="/a.css")) == []


def test_query_forms() -> None:
    assert (
        Expectation("GET", "/x", query={"a": "1"}).mismatches(view(query={"a": "1", "b": "2"}))
        == []
    )
    assert Expectation("GET", "/x", query={"a": "1"}).mismatches(view(query={"a": "2"})) == [
        "query a: wanted '1', got '2'"
    ]
    assert Expectation("GET", "/x", query="a=1").mismatches(view(query={"a": "1"})) == []
    assert (
        Expectation("GET", "/x", query=lambda q: "a" in q).mismatches(view(query={"a": ""})) == []
    )
    assert (
        Expectation("GET", "/x", query={"n": re.compile(r"\d+")}).mismatches(
            view(query={"n": "12"})
        )
        == []
    )


def test_headers_ignore_case() -> None:
    exp = Expectation("POST", "/x", headers={"prefer": "processing"})
    assert exp.mismatches(view("POST", headers=[("Prefer", "processing")])) == []
    assert exp.mismatches(view("POST", headers=[("Prefer", "respond-async")])) == [
        "header prefer: wanted 'processing', got 'respond-async'"
    ]
    assert exp.mismatches(view("POST")) == ["header prefer: wanted 'processing', got None"]
    pred = Expectation("GET", "/x", headers=lambda h: "x-token" in h)
    assert pred.mismatches(view(headers=[("X-Token", "t")])) == []


def test_body_is_judged_only_once_read() -> None:
    exp = Expectation("POST", "/x", body=b"hello")
    assert exp.needs_body
    assert exp.mismatches(view("POST")) == []
    assert exp.mismatches(view("POST", body=b"hello")) == []
    assert exp.mismatches(view("POST", body=b"bye")) == ["body: wanted b'hello', got b'bye'"]
    assert Expectation("POST", "/x", json={"a": 1}).mismatches(view("POST", body=b'{"a": 1}')) == []
    assert Expectation("POST", "/x", json={"a": 1}).mismatches(view("POST", body=b"nope"))
    assert (
        Expectation("POST", "/x", body=lambda b: len(b) == 3).mismatches(view("POST", body=b"abc"))
        == []
    )


def test_body_regex_matches_the_whole_body_bytes() -> None:
    exp = Expectation("PUT", "/x", body=re.compile(rb"(?s)%PDF-.*"))
    assert exp.needs_body
    assert exp.mismatches(view("PUT", body=b"%PDF-1.7\n\xff")) == []
    assert exp.mismatches(view("PUT", body=b" %PDF-")) == [
        "body: wanted /(?s)%PDF-.*/, got b' %PDF-'"
    ]
    with pytest.raises(mp.ScenarioError, match="compile it from bytes"):
        Expectation("PUT", "/x", body=re.compile("text"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"times": 0},
        {"times": True},
        {"ordered": 3},
        {"query": 42},
        {"headers": 42},
        {"headers": {"a": 1}},
        {"body": 42},
        {"body": b"x", "json": {}},
    ],
)
def test_bad_expectations_raise_when_built(kwargs: dict[str, object]) -> None:
    with pytest.raises(mp.ScenarioError):
        Expectation("GET", "/x", **kwargs)  # type: ignore[arg-type]


def test_path_must_be_absolute() -> None:
    with pytest.raises(mp.ScenarioError, match="start with '/'"):
        Expectation("GET", "jobs")


def test_limited_expectations_win_over_permanent_ones_until_used_up() -> None:
    reg = Registry()
    fallback = Expectation("GET", "/x")
    twice = Expectation("GET", "/x", times=2)
    reg.add(fallback)
    reg.add(twice)
    chosen = []
    for _ in range(4):
        exp = reg.select(view()).expectation
        assert exp is not None
        exp.calls += 1
        chosen.append(exp)
    assert chosen == [twice, twice, fallback, fallback]
    assert reg.unconsumed() == []


def test_unconsumed_times() -> None:
    reg = Registry()
    exp = Expectation("GET", "/x", times=3)
    reg.add(exp)
    exp.calls = 1
    assert reg.unconsumed() == [exp]


def test_ordered_group_accepts_only_its_head() -> None:
    reg = Registry()
    first = Expectation("POST", "/a", ordered=True)
    second = Expectation("GET", "/b", ordered=True)
    reg.add(first)
    reg.add(second)
    early = reg.select(view("GET", "/b"))
    assert early.expectation is None
    assert early.out_of_order is second and early.waiting_for is first
    sel = reg.select(view("POST", "/a"))
    assert sel.expectation is first
    first.calls += 1
    assert reg.select(view("GET", "/b")).expectation is second


def test_independent_ordered_groups() -> None:
    reg = Registry()
    a1 = Expectation("GET", "/a1", ordered="a")
    b1 = Expectation("GET", "/b1", ordered="b")
    reg.add(a1)
    reg.add(b1)
    assert reg.select(view("GET", "/b1")).expectation is b1


def test_needs_body_when_a_candidate_matches_on_it() -> None:
    reg = Registry()
    reg.add(Expectation("POST", "/x", body=b"a"))
    assert reg.select(view("POST")).needs_body
    assert not reg.select(view("POST", "/other")).needs_body


def test_closest_lists_reasons_fewest_first() -> None:
    reg = Registry()
    far = Expectation("PUT", "/elsewhere")
    near = Expectation("POST", "/jobs", headers={"Prefer": "processing"})
    reg.add(far)
    reg.add(near)
    closest = reg.closest(view("POST", "/jobs"))
    assert closest[0] == (near, ["header Prefer: wanted 'processing', got None"])
    assert closest[1][0] is far


def test_closest_puts_the_same_path_then_the_same_method_first() -> None:
    # Ranking by the number of failed criteria alone listed /a, /b and /c (one miss each, the
    # first added) and hid the two on /target that the request meant.
    reg = Registry()
    for path in ("/a", "/b", "/c"):
        reg.add(Expectation("GET", path))
    post_target = Expectation("POST", "/target")
    get_target = Expectation("GET", "/target", headers={"Authorization": "Bearer t"})
    reg.add(post_target)
    reg.add(get_target)
    closest = reg.closest(view("GET", "/target"))
    assert closest == [
        (get_target, ["header Authorization: wanted 'Bearer t', got None"]),
        (post_target, ["method: wanted POST, got GET"]),
        (reg.expectations[0], ["path: wanted '/a', got '/target'"]),
    ]


def test_closest_ranks_a_path_miss_below_any_same_path_expectation() -> None:
    reg = Registry()
    wrong_path = Expectation("GET", "/jobs/2")
    many_misses = Expectation(
        "PUT", re.compile(r"/jobs/\d+"), query={"dry": "1"}, headers={"Prefer": "processing"}
    )
    reg.add(wrong_path)
    reg.add(many_misses)
    assert [exp for exp, _ in reg.closest(view("GET", "/jobs/1"))] == [many_misses, wrong_path]


def test_a_path_with_a_query_is_refused_pointing_at_query() -> None:
    # A request's path is matched without its query, so "/jobs?x=1" could never match.
    with pytest.raises(mp.ScenarioError) as caught:
        Expectation("GET", "/jobs?x=1")
    message = str(caught.value)
    assert "'/jobs?x=1'" in message
    assert "path='/jobs', query={'x': '1'}" in message


def test_an_expectation_whose_answer_failed_to_build_leaves_the_registry() -> None:
    reg = Registry()
    kept = Expectation("GET", "/x").respond(mp.respond(200))
    reg.add(kept)
    broken = Expectation("GET", "/x")
    reg.add(broken)
    with pytest.raises(mp.ScenarioError):
        broken.respond(mp.respond(200), mp.interim(103))
    assert reg.expectations == [kept]
    with pytest.raises(mp.ScenarioError):
        kept.respond()  # a later mistake keeps the answer it had
    assert reg.expectations == [kept]
    assert reg.select(view("GET", "/x")).expectation is kept


def test_a_get_expectation_answers_head_after_any_for_head_itself() -> None:
    reg = Registry()
    get_once = Expectation("GET", "/x", times=1)
    get_always = Expectation("GET", "/x")
    reg.add(get_once)
    reg.add(get_always)
    assert reg.select(view("HEAD", "/x")).expectation is get_once  # times=N first, as for GET
    head = Expectation("HEAD", "/x")
    reg.add(head)  # added last, still first: it is for HEAD itself
    assert reg.select(view("HEAD", "/x")).expectation is head
    assert reg.select(view("GET", "/x")).expectation is get_once
    assert Expectation("POST", "/x").mismatches(view("HEAD", "/x")) == [
        "method: wanted POST, got HEAD"
    ]
    assert Expectation("HEAD", "/x").mismatches(view("GET", "/x")) == [
        "method: wanted HEAD, got GET"
    ]


def test_head_on_a_get_script_sends_its_head_with_the_same_length_and_no_content() -> None:
    wire = Wire()
    wire.state.add_expectation(Expectation("GET", "/x").respond(mp.respond(200, b"hello")))
    out = wire.run([b"HEAD /x HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n"])
    head = out[: out.index(b"\r\n\r\n") + 4]
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 5\r\n" in head
    assert out == head + head + b"hello"  # the HEAD's head, then the GET's, then its content
    assert [ex.handled_by for ex in wire.state.journal()] == ["expect GET /x", "expect GET /x"]
