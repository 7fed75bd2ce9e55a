"""Structured field values (RFC 9651), as the resumable-upload draft types its fields: strict
parsing (anything invalid raises, so the field is ignored) and serialising."""

from __future__ import annotations

from decimal import Decimal

import pytest

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
    serialize_dictionary,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0", 0),
        ("25000000", 25000000),
        ("-7", -7),
        ("999999999999999", 999_999_999_999_999),
        ("1.5", Decimal("1.5")),
        ('"a \\"quoted\\" \\\\ string"', 'a "quoted" \\ string'),
        ("?1", True),
        ("?0", False),
        ("foo/bar:baz", Token("foo/bar:baz")),
        ("*star", Token("*star")),
        (":cHJldGVuZCB0aGlzIGlzIGJpbmFyeSBjb250ZW50Lg==:", b"pretend this is binary content."),
        ("@1659578233", Date(1659578233)),
        ('%"f%c3%bc%c3%bc"', DisplayString("füü")),
        ("  42  ", 42),
    ],
)
def test_bare_items_parse(text: str, value: object) -> None:
    parsed, params = parse_item(text)
    assert parsed == value
    assert type(parsed) is type(value)
    assert params == {}


def test_item_parameters_are_kept_in_order() -> None:
    assert parse_item('5;a;b=?0;c="x"') == (5, {"a": True, "b": False, "c": "x"})


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1000000000000000",  # 16 digits
        "1.2345",  # 4 fraction digits
        "1234567890123.5",  # 13 integer digits
        "1.",
        "- 1",
        "?2",
        "?",
        "1, 2",  # two lines of an Item field joined: not one Item
        '"unterminated',
        '"bad \\escape"',
        '"tab\there"',
        ":not base64!:",
        "5;A=1",  # keys are lower case
        "5 6",
        "ü",
        '%"F%C3"',  # display-string escapes are lower-case hex
        "@1.5",
    ],
)
def test_invalid_items_raise(text: str) -> None:
    with pytest.raises(StructuredFieldError):
        parse_item(text)


def test_dictionary_members_inner_lists_and_repeated_keys() -> None:
    parsed = parse_dictionary("max-size=1234567890, min-size=0, a, b=(1 2);p=3, max-size=5")
    assert list(parsed) == ["min-size", "a", "b", "max-size"]  # a repeated key moves last
    assert parsed["max-size"] == (5, {})
    assert parsed["a"] == (True, {})
    inner, params = parsed["b"]
    assert isinstance(inner, InnerList)
    assert list(inner) == [(1, {}), (2, {})]
    assert params == {"p": 3}


def test_empty_dictionary() -> None:
    assert parse_dictionary("") == {}


@pytest.mark.parametrize("text", ["a=1,", "a=1 b=2", "A=1", "a=(1 2", "a=,b=1", ",a=1"])
def test_invalid_dictionaries_raise(text: str) -> None:
    with pytest.raises(StructuredFieldError):
        parse_dictionary(text)


@pytest.mark.parametrize(
    ("text", "value"),
    [(None, None), ("12", 12), ("12;x=1", 12), ("-1", None), ("1.0", None), ("?1", None)],
)
def test_item_integer_ignores_what_is_not_a_non_negative_integer(
    text: str | None, value: int | None
) -> None:
    assert item_integer(text) == value


@pytest.mark.parametrize(
    ("text", "value"),
    # "true" is a valid Item (a Token), but not a Boolean
    [(None, None), ("?1", True), ("?0", False), ("1", None), ("?1, ?0", None), ("true", None)],
)
def test_item_boolean_ignores_what_is_not_a_boolean(text: str | None, value: bool | None) -> None:
    assert item_boolean(text) == value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "?1"),
        (False, "?0"),
        (42, "42"),
        (Decimal("1.5000"), "1.5"),
        (Decimal("2"), "2.0"),
        ('say "hi"', '"say \\"hi\\""'),
        (Token("gzip"), "gzip"),
        (b"\x00\x01", ":AAE=:"),
        (DisplayString("füü"), '%"f%c3%bc%c3%bc"'),
    ],
)
def test_serialize_round_trips(value: object, text: str) -> None:
    assert serialize_bare_item(value) == text  # type: ignore[arg-type]
    assert parse_item(text)[0] == value


def test_serialize_dictionary_as_upload_limit() -> None:
    text = serialize_dictionary({"max-size": 100, "min-size": 0, "flag": True})
    assert text == "max-size=100, min-size=0, flag"
    assert parse_dictionary(text) == {
        "max-size": (100, {}),
        "min-size": (0, {}),
        "flag": (True, {}),
    }


@pytest.mark.parametrize("value", [10**15, "tab\t", Token("1abc"), object()])
def test_serialize_refuses_what_cannot_be_written(value: object) -> None:
    with pytest.raises(StructuredFieldError):
        serialize_bare_item(value)  # type: ignore[arg-type]
