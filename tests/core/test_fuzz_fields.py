"""Bad input to the field parsers: Progress, Prefer, Content-Range, Range and structured fields.

Each parser is fed two kinds of input. Values built from the grammar must come back as built
(round trips). Arbitrary text, weighted towards the characters each grammar cares about, must
either parse into a value that obeys the grammar or raise the parser's own error: never
anything else, whatever the text.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.fuzzing import examples

from mockprogress.errors import ScenarioError
from mockprogress.http.content_range import (
    MAX_POSITION,
    ContentRange,
    RangeSyntaxError,
    format_content_range,
    parse_content_range,
    parse_range,
    satisfiable_ranges,
)
from mockprogress.http.field_reader import TOKEN
from mockprogress.http.prefer import Preferences
from mockprogress.http.progress import Comment, ExtValue, Fraction, Progress, Quoted
from mockprogress.http.structured import (
    Date,
    DisplayString,
    InnerList,
    StructuredFieldError,
    Token,
    item_boolean,
    item_integer,
    parse_dictionary,
    parse_item,
    serialize_bare_item,
)

T = TypeVar("T")
BIG = "9" * 5000  # more digits than int() converts (sys.get_int_max_str_digits)


def attempt(call: Callable[[], T], error: type[Exception]) -> T | Exception:
    """What ``call()`` returns, or the ``error`` it raises (any other exception propagates)."""
    try:
        return call()
    except error as exc:
        return exc


def soup(alphabet: str, max_size: int = 40) -> st.SearchStrategy[str]:
    """Text mostly made of a grammar's own characters, sometimes of anything at all."""
    return st.one_of(
        st.text(alphabet=st.sampled_from(alphabet), max_size=max_size),
        st.text(max_size=max_size),
    )


# ---- Progress (draft-wright-http-progress §3.2) ----------------------------------------------

PRINTABLE = "".join(chr(c) for c in range(0x21, 0x7F)) + " \t"
counts = st.integers(min_value=0, max_value=10**30)


@st.composite
def fractions(draw: st.DrawFn) -> Fraction:
    done = draw(counts)
    total = draw(st.none() | st.integers(min_value=done, max_value=done + 10**30))
    return Fraction(done, total)


remarks = st.one_of(
    fractions(),
    st.builds(Quoted, st.text(alphabet=PRINTABLE, max_size=20)),
    st.builds(Comment, st.text(alphabet=PRINTABLE, max_size=20)),
    st.builds(
        ExtValue,
        st.text(max_size=20),
        st.sampled_from(["", "en", "de-CH", "x-private-1"]),
        st.sampled_from(["UTF-8", "utf-8"]),
    ),
    st.builds(
        ExtValue,
        st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=20),
        st.just("fr"),
        st.just("ISO-8859-1"),
    ),
)


@st.composite
def progresses(draw: st.DrawFn) -> Progress:
    first = draw(fractions())
    return Progress(first.done, first.total, tuple(draw(st.lists(remarks, max_size=4))))


@examples(300)
@given(progresses())
def test_a_built_progress_value_round_trips(progress: Progress) -> None:
    assert Progress.parse(str(progress)) == progress


@examples(300)
@given(soup("0123456789/ \t\"()\\'%abcdeUTF-8én٣²"))
def test_any_text_is_a_progress_value_or_a_scenario_error_naming_the_position(text: str) -> None:
    progress = attempt(lambda: Progress.parse(text), ScenarioError)
    if isinstance(progress, ScenarioError):
        assert "position" in str(progress) or "denominator" in str(progress)
        return
    # What parsed obeys the grammar: 7-bit text, and it reads back as itself.
    assert text.isascii()
    assert Progress.parse(str(progress)) == progress
    assert progress.total is None or progress.total >= progress.done


@pytest.mark.parametrize("text", ["٣/٤", "1/3 ²/3", "1/٣", BIG + "/", "1/" + BIG])
def test_digits_are_ascii_and_convertible(text: str) -> None:
    with pytest.raises(ScenarioError, match="position"):
        Progress.parse(text)


# ---- Prefer (RFC 7240 §2) --------------------------------------------------------------------

tokens = st.text(alphabet=string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~", min_size=1)
quoted_words = st.text(alphabet=PRINTABLE, max_size=12)


def word(value: str, quoted: bool) -> str:
    if not quoted and TOKEN.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@st.composite
def preference_lists(draw: st.DrawFn) -> tuple[str, list[tuple[str, str | None, dict[str, Any]]]]:
    """A valid Prefer value and what the parser should make of it."""
    elements = []
    expected: dict[str, tuple[str, str | None, dict[str, Any]]] = {}
    for _ in range(draw(st.integers(0, 5))):
        name = draw(tokens)
        value = draw(st.none() | tokens | quoted_words)
        text = name if value is None else f"{name}={word(value, draw(st.booleans()))}"
        params: dict[str, str | None] = {}
        for _ in range(draw(st.integers(0, 3))):
            pname = draw(tokens)
            pvalue = draw(st.none() | tokens | quoted_words)
            text += f" ; {pname}" if pvalue is None else f";{pname}={word(pvalue, False)}"
            params.setdefault(pname.lower(), pvalue or None)  # the first instance wins
        elements.append(text)
        expected.setdefault(name.lower(), (name.lower(), value or None, params))
    return ", ".join(elements), list(expected.values())


@examples(150)
@given(preference_lists(), st.lists(soup("@[]{}/?= \t;"), max_size=3))
def test_preferences_parse_as_built_and_a_malformed_element_costs_only_itself(
    built: tuple[str, list[tuple[str, str | None, dict[str, Any]]]], garbage: list[str]
) -> None:
    text, expected = built
    # Elements that break the grammar at their first character ("@..."), without commas or
    # quotes (which would split or join list elements), are ignored one by one.
    broken = ["@" + g.replace(",", "").replace('"', "") for g in garbage]
    prefs = Preferences.parse([", ".join([*broken, text]), *broken])
    got = [(p.name, p.value, dict(p.parameters)) for p in prefs]
    assert got == expected


@examples(300)
@given(st.lists(soup('abc=;, \t"\\wait0129'), max_size=3))
def test_any_prefer_lines_parse_into_token_names(lines: list[str]) -> None:
    prefs = Preferences.parse(lines)
    for preference in prefs:
        assert TOKEN.fullmatch(preference.name) and preference.name == preference.name.lower()
    assert prefs.wait is None or 0 <= prefs.wait <= 2**31


@pytest.mark.parametrize(
    ("value", "wait"),
    [("wait=" + BIG, 2**31), ("wait=" + "0" * 5000 + "7", 7), ("wait=4294967296", 2**31)],
)
def test_an_enormous_wait_is_read_as_2_to_the_31(value: str, wait: int) -> None:
    """RFC 9111 §1.2.2, which RFC 7240 §4.3's delta-seconds refers to."""
    assert Preferences.parse(value).wait == wait


# ---- Content-Range and Range (RFC 9110 §14) --------------------------------------------------

positions = st.integers(min_value=0, max_value=MAX_POSITION)


@st.composite
def content_ranges(draw: st.DrawFn) -> ContentRange:
    kind = draw(st.sampled_from(["range", "open", "unsatisfied"]))
    if kind == "unsatisfied":
        return ContentRange("bytes", None, None, draw(positions))
    first = draw(st.integers(min_value=0, max_value=MAX_POSITION - 1))
    last = draw(st.integers(min_value=first, max_value=MAX_POSITION - 1))
    end = last if kind == "range" else first - 1
    total = draw(st.none() | st.integers(min_value=end + 1, max_value=MAX_POSITION))
    return ContentRange("bytes", first, last if kind == "range" else None, total)


@examples(300)
@given(content_ranges())
def test_a_built_content_range_round_trips(value: ContentRange) -> None:
    assert parse_content_range(str(value)) == value
    if value.first is not None and value.last is not None:
        assert format_content_range(value.first, value.last, value.complete_length) == str(value)


@examples(300)
@given(soup("bytes 0123456789-/*,= \t"), st.booleans())
def test_any_content_range_is_valid_or_a_range_syntax_error(text: str, unit_optional: bool) -> None:
    value = attempt(
        lambda: parse_content_range(text, unit_optional=unit_optional), RangeSyntaxError
    )
    if isinstance(value, RangeSyntaxError):
        assert value.kind in ("syntax", "end")
        return
    numbers = [n for n in (value.first, value.last, value.complete_length) if n is not None]
    assert all(0 <= n <= MAX_POSITION for n in numbers)
    if value.first is not None and value.last is not None:
        assert value.first <= value.last
    end = value.last if value.last is not None else (value.first or 0) - 1
    assert value.complete_length is None or value.complete_length > end
    assert parse_content_range(str(value)) == value


specs = st.one_of(
    st.tuples(positions, st.none()),
    st.tuples(st.none(), positions),
    positions.flatmap(lambda a: st.tuples(st.just(a), st.integers(a, MAX_POSITION))),
)


def spec_text(first: int | None, last: int | None) -> str:
    return f"{'' if first is None else first}-{'' if last is None else last}"


@examples(300)
@given(st.lists(specs, min_size=1, max_size=5), st.integers(min_value=0, max_value=10**6))
def test_a_built_range_parses_as_built_and_resolves_inside_the_representation(
    built: list[tuple[int | None, int | None]], size: int
) -> None:
    text = "bytes=" + ", ".join(spec_text(*s) for s in built)
    assert parse_range(text) == built
    for first, last in satisfiable_ranges(built, size):
        assert 0 <= first <= last < size


@examples(300)
@given(soup("bytes=0123456789-, \t"))
def test_any_range_is_a_list_of_specs_or_a_range_syntax_error(text: str) -> None:
    try:
        parsed = parse_range(text)
    except RangeSyntaxError:
        return
    assert parsed
    for first, last in parsed:
        assert first is not None or last is not None
        if first is not None and last is not None:
            assert first <= last


@pytest.mark.parametrize(
    "call",
    [
        lambda: parse_range("bytes=0-" + BIG),
        lambda: parse_range("bytes=-" + BIG),
        lambda: parse_content_range("bytes 0-1/" + BIG),
        lambda: parse_content_range(f"bytes {BIG}-/*"),
        lambda: parse_content_range(f"bytes 0-{MAX_POSITION + 1}/*"),
    ],
)
def test_numbers_too_large_are_range_syntax_errors(call: Any) -> None:
    """Not the plain ValueError int() raises past 4,300 digits: callers catch only
    RangeSyntaxError, so that one reached a resource as an internal error."""
    with pytest.raises(RangeSyntaxError, match="too large"):
        call()


def test_leading_zeros_do_not_count_against_a_number() -> None:
    assert parse_range("bytes=0-" + "0" * 5000 + "5") == [(0, 5)]


# ---- structured fields (RFC 9651) ------------------------------------------------------------

keys = st.from_regex(r"[a-z*][a-z0-9_\-.*]{0,6}", fullmatch=True)
bare_items = st.one_of(
    st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1),
    st.decimals(
        min_value=Decimal(-(10**12)) + Decimal("0.001"),
        max_value=Decimal(10**12) - Decimal("0.001"),
        places=3,
    ),
    st.text(alphabet=" !#$%&'()*+,-./0123456789:;<=>?@ABZ[\\]^_`az{|}~\"", max_size=12),
    st.from_regex(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]{0,8}", fullmatch=True).map(Token),
    st.binary(max_size=12),
    st.booleans(),
    st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1).map(Date),
    st.text(max_size=8).map(DisplayString),
)
parameters = st.dictionaries(keys, bare_items, max_size=3)
items = st.tuples(bare_items, parameters)
members = st.one_of(items, st.tuples(st.lists(items, max_size=3).map(InnerList), parameters))


def typed(value: Any) -> Any:
    """A value with its structured type spelled out: True == 1 and Token("a") == "a" in
    Python, but not in a field."""
    if isinstance(value, InnerList | tuple | list):
        return (type(value).__name__, [typed(v) for v in value])
    if isinstance(value, dict):
        return [(k, typed(v)) for k, v in value.items()]
    if isinstance(value, Decimal):
        return ("Decimal", value.normalize())
    return (type(value).__name__, value)


def serialize_parameters(params: dict[str, Any]) -> str:
    return "".join(
        f";{k}" if v is True else f";{k}={serialize_bare_item(v)}" for k, v in params.items()
    )


def serialize_member(member: Any) -> str:
    value, params = member
    if isinstance(value, InnerList):
        inner = " ".join(serialize_member(i) for i in value)
        return f"({inner})" + serialize_parameters(params)
    return serialize_bare_item(value) + serialize_parameters(params)


@examples(200)
@given(items)
def test_a_built_item_round_trips(item: Any) -> None:
    assert typed(parse_item(serialize_member(item))) == typed(item)


@examples(100)
@given(st.dictionaries(keys, members, max_size=4))
def test_a_built_dictionary_round_trips(members_: dict[str, Any]) -> None:
    text = ", ".join(
        k + serialize_parameters(m[1]) if m[0] is True else f"{k}={serialize_member(m)}"
        for k, m in members_.items()
    )
    assert typed(parse_dictionary(text)) == typed(members_)


@examples(300)
@given(soup('?01-.:"%@*();=, abcAZ=\\\t'))
def test_any_text_is_a_structured_field_or_a_structured_field_error(text: str) -> None:
    for parse in (parse_item, parse_dictionary):
        try:
            value = parse(text)
        except StructuredFieldError:
            continue
        # What parsed serialises to a canonical form that parses to the same thing.
        if parse is parse_item:
            assert typed(parse_item(serialize_member(value))) == typed(value)
    # The helpers the upload resources use never raise: a field they cannot read is absent.
    integer = item_integer(text)
    assert integer is None or (type(integer) is int and integer >= 0)
    assert item_boolean(text) in (None, True, False)
