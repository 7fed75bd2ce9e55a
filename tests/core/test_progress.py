"""The Progress field of draft-wright-http-progress §3.2: build, format, parse, reject."""

from __future__ import annotations

import pytest

import mockprogress as mp
from mockprogress import Comment, ExtValue, Fraction, Progress, Quoted

DRAFT_EXAMPLES = [
    "0/1",
    "66/ (tries) utf-8'en'Generating%20prime%20number",
    "5/16 UTF-8'ja-JP'%e9%a3%9f%e3%81%b9%e3%81%a6",
    '3/20 "POST http://example.com/item/3" 8020/8591489 (bytes)',
]


@pytest.mark.parametrize("text", DRAFT_EXAMPLES)
def test_the_drafts_examples_parse_and_round_trip(text: str) -> None:
    parsed = Progress.parse(text)
    assert Progress.parse(str(parsed)) == parsed


def test_parsed_parts() -> None:
    p = Progress.parse('3/20 "POST http://example.com/item/3" 8020/8591489 (bytes)')
    assert (p.done, p.total) == (3, 20)
    assert p.remarks == (
        Quoted("POST http://example.com/item/3"),
        Fraction(8020, 8591489),
        Comment("bytes"),
    )
    assert p.remark == "POST http://example.com/item/3"


def test_ext_value_decodes_its_charset() -> None:
    p = Progress.parse("5/16 UTF-8'ja-JP'%e9%a3%9f%e3%81%b9%e3%81%a6")
    assert p.remarks == (ExtValue("食べて", "ja-JP", "UTF-8"),)
    assert str(p) == "5/16 UTF-8'ja-JP'%E9%A3%9F%E3%81%B9%E3%81%A6"


def test_unknown_total() -> None:
    p = Progress.parse("66/")
    assert (p.done, p.total) == (66, None)
    assert str(p) == "66/"


def test_tuple_form_matches_string_form() -> None:
    assert Progress.of((1, 3, "Knitting sweaters")) == Progress.parse('1/3 "Knitting sweaters"')
    assert str(Progress.of((1, 3, "Knitting sweaters"))) == '1/3 "Knitting sweaters"'


def test_tuple_with_non_ascii_remark_becomes_an_ext_value() -> None:
    p = Progress.of((2, 5, "Stricken Pullover"))
    assert isinstance(p.remarks[0], Quoted)
    p = Progress.of((2, 5, "Pullöver"))
    assert p.remarks == (ExtValue("Pullöver"),)
    assert str(p) == "2/5 UTF-8''Pull%C3%B6ver"


def test_tuple_with_sub_fraction_and_objects() -> None:
    p = Progress.of((1, 4, "copying", (512, 1024), Comment("bytes")))
    assert str(p) == '1/4 "copying" 512/1024 (bytes)'


def test_quoted_string_escapes_round_trip() -> None:
    p = Progress.of((0, 1, 'say "hi" \\ bye'))
    assert str(p) == '0/1 "say \\"hi\\" \\\\ bye"'
    assert Progress.parse(str(p)) == p


def test_nested_comment_round_trips() -> None:
    p = Progress.parse("1/2 (outer (inner) text)")
    assert p.remarks == (Comment("outer (inner) text"),)
    assert Progress.parse(str(p)) == p


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "a fraction"),
        ("abc", "a fraction"),
        ("1", "a fraction"),
        ("/3", "a fraction"),
        ("4/3", "smaller than the numerator"),
        ("1/3 ", "a remark after the whitespace"),
        ('1/3"x"', "whitespace before a remark"),
        ('1/3 "unterminated', "a closing quote"),
        ("1/3 (open", "a closing parenthesis"),
        ("1/3 bare-word", "a fraction, a comment, a quoted-string or an ext-value"),
        ("1/3 utf-8'en'%zz", "whitespace before a remark"),
        ("-1/3", "a fraction"),
    ],
)
def test_rejects_values_outside_the_grammar(text: str, fragment: str) -> None:
    with pytest.raises(mp.ScenarioError, match=r"Progress|smaller") as info:
        Progress.parse(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "value",
    [(3, 2), (-1, 3), ("1", 3), (True, 3), (1,), "nonsense", (1, 3, 42)],
)
def test_rejects_bad_tuples(value: object) -> None:
    with pytest.raises(mp.ScenarioError):
        Progress.of(value)  # type: ignore[arg-type]


def test_quoted_remark_must_be_ascii() -> None:
    with pytest.raises(mp.ScenarioError, match="7-bit ASCII"):
        Quoted("naïve")


def test_processing_step_carries_the_formatted_field() -> None:
    step = mp.processing('0/3 "Herding cats"', location="/jobs/1/status")
    assert step.status == 102
    assert step.reason == "Processing"
    assert step.headers == (("Progress", '0/3 "Herding cats"'), ("Location", "/jobs/1/status"))


def test_processing_step_rejects_bad_progress_when_built() -> None:
    with pytest.raises(mp.ScenarioError, match="smaller than the numerator"):
        mp.processing((5, 3))
