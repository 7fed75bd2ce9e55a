"""The RFC 7240 ``Prefer`` parser that every resource uses: the grammar of §2 and how a server
reads odd input (a malformed element is ignored alone)."""

from __future__ import annotations

import pytest

from mockprogress import Preference, Preferences
from mockprogress.http.prefer import preference_applied


def test_the_drafts_example() -> None:
    prefs = Preferences.parse("processing, respond-async, wait=20")
    assert [p.name for p in prefs] == ["processing", "respond-async", "wait"]
    assert "processing" in prefs and "respond-async" in prefs
    assert prefs.wait == 20


def test_several_lines_are_one_list_in_order() -> None:
    prefs = Preferences.parse(["respond-async", "wait=5, processing"])
    assert [p.name for p in prefs] == ["respond-async", "wait", "processing"]
    assert prefs.wait == 5


def test_names_ignore_case_and_values_keep_it() -> None:
    prefs = Preferences.parse('PROCESSING, Return=Minimal; Charset="UTF-8"')
    assert "processing" in prefs and "Processing" in prefs
    assert prefs.get("RETURN") == Preference("return", "Minimal", (("charset", "UTF-8"),))


def test_the_first_instance_wins() -> None:
    prefs = Preferences.parse(["wait=1, wait=2", "wait=3"])
    assert prefs.wait == 1
    assert len(prefs) == 1


def test_parameters_belong_to_their_preference() -> None:
    prefs = Preferences.parse("respond-async; wait=10, handling=lenient; a; b=2; a=3")
    assert prefs.get("respond-async") == Preference("respond-async", None, (("wait", "10"),))
    assert prefs.wait is None  # wait is a parameter above, not a preference
    assert prefs.get("handling") == Preference("handling", "lenient", (("a", None), ("b", "2")))


@pytest.mark.parametrize(
    "value", ['foo=""', "foo=", "foo= ", "foo = ", 'foo; bar=""', "foo;;", "foo; ;"]
)
def test_empty_values_and_parameters_mean_nothing(value: str) -> None:
    [item] = Preferences.parse(value)
    assert item.name == "foo" and item.value is None
    assert all(v is None for _, v in item.parameters)


def test_whitespace_around_equals_and_semicolons() -> None:
    [item] = Preferences.parse("  wait \t=\t 7 ;  unit = s  ")
    assert item == Preference("wait", "7", (("unit", "s"),))


def test_quoted_strings_keep_commas_semicolons_and_escapes() -> None:
    prefs = Preferences.parse(r'foo="a, b; c \"d\"", bar')
    assert prefs.get("foo") == Preference("foo", 'a, b; c "d"')
    assert "bar" in prefs


@pytest.mark.parametrize(
    "value",
    [
        "ä=1, processing",  # not a token
        '"quoted", processing',
        'foo="unterminated, processing',  # the rest of the field is one bad element
        "foo bar, processing",
        "=1, processing",
    ],
)
def test_an_element_that_does_not_parse_is_ignored_alone(value: str) -> None:
    prefs = Preferences.parse(value)
    assert "foo" not in prefs
    if "unterminated" in value:
        assert "processing" not in prefs
    else:
        assert [p.name for p in prefs] == ["processing"]


def test_the_wright_uploads_preferences_with_parameters_and_quoted_commas() -> None:
    prefs = Preferences.parse(
        'resume, processing, respond-async, wait=20, Resume=ignore-incomplete, x="a, b";p;q=1'
    )
    assert [p.name for p in prefs] == ["resume", "processing", "respond-async", "wait", "x"]
    assert prefs.get("resume") == Preference("resume")  # the first instance wins
    assert prefs.get("x") == Preference("x", "a, b", (("p", None), ("q", "1")))
    assert Preferences.parse("resume = ignore-incomplete").get("resume") == Preference(
        "resume", "ignore-incomplete"
    )
    assert Preferences.parse("transaction=persist; a=1; A=2").get("transaction") == Preference(
        "transaction", "persist", (("a", "1"),)
    )


@pytest.mark.parametrize(
    "value", ['x="open', "a b", "=1", "resume;=2", "@", "resume; a b", "resume=a b"]
)
def test_a_malformed_element_alone_is_ignored_and_never_raises(value: str) -> None:
    assert len(Preferences.parse(value)) == 0
    # The same element beside good ones on other lines costs only itself.
    prefs = Preferences.parse(["acknowledge", value, "processing"])
    assert [p.name for p in prefs] == ["acknowledge", "processing"]


def test_empty_elements_are_allowed() -> None:
    assert [p.name for p in Preferences.parse(", ,processing,,")] == ["processing"]
    assert len(Preferences.parse("")) == 0


@pytest.mark.parametrize("value", ["wait=1.5", "wait=-1", "wait=soon", "wait", 'wait=""'])
def test_wait_is_delta_seconds_or_absent(value: str) -> None:
    assert Preferences.parse(value).wait is None


def test_wait_in_quotes_is_still_a_number() -> None:
    assert Preferences.parse('wait="12"').wait == 12


def test_preference_applied() -> None:
    assert preference_applied(("respond-async", None), ("wait", 10)) == "respond-async, wait=10"
