"""Structured Field Values for HTTP (RFC 9651): strict parsing and serialising.

The IETF resumable-upload draft types its fields this way: ``Upload-Offset`` and
``Upload-Length`` are Items holding a non-negative Integer, ``Upload-Complete`` an Item holding
a Boolean, ``Upload-Limit`` a Dictionary. The draft says any other value makes the whole field
ignored, so parsing here is strict: a value that RFC 9651 §4.2 would fail raises
``StructuredFieldError`` and callers treat the field as absent.

Values map to Python as: Integer -> ``int``, Decimal -> ``decimal.Decimal``, String -> ``str``,
Token -> ``Token``, Byte Sequence -> ``bytes``, Boolean -> ``bool``, Date -> ``Date``, Display
String -> ``DisplayString``; an Inner List is an ``InnerList`` of items. Every item is a pair
``(value, parameters)`` with the parameters in a ``dict`` (in order).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TypeAlias


class StructuredFieldError(ValueError):
    """The text is not a valid structured field of the expected type (RFC 9651 §4.2)."""


class Token(str):
    """An sf-token, kept apart from an sf-string."""

    __slots__ = ()


class DisplayString(str):
    """An sf-displaystring (RFC 9651 §3.3.8)."""

    __slots__ = ()


class Date(int):
    """An sf-date: seconds since the epoch (RFC 9651 §3.3.7)."""

    __slots__ = ()


BareItem: TypeAlias = "int | Decimal | str | bytes | bool"
Parameters: TypeAlias = dict[str, BareItem]
Item: TypeAlias = tuple[BareItem, Parameters]


class InnerList(tuple[Item, ...]):
    """An inner list: ``(item, item, ...)``; its parameters are in the member's pair."""

    __slots__ = ()


Member: TypeAlias = "tuple[BareItem | InnerList, Parameters]"

_MAX_INTEGER = 999_999_999_999_999
_KEY_FIRST = re.compile(r"[a-z*]")
_KEY_REST = re.compile(r"[a-z0-9_\-.*]*")
_TOKEN_REST = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z:/]*")
_BASE64 = re.compile(r"[A-Za-z0-9+/=]*")


class _Parser:
    """RFC 9651 §4.2 over one field value."""

    def __init__(self, text: str) -> None:
        try:
            text.encode("ascii")
        except UnicodeEncodeError:
            raise StructuredFieldError("structured fields are ASCII") from None
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> StructuredFieldError:
        return StructuredFieldError(f"{what} at character {self.pos} of {self.text!r}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_sp(self) -> None:
        while self.peek() == " ":
            self.pos += 1

    def skip_ows(self) -> None:
        while self.peek() in (" ", "\t") and self.peek():
            self.pos += 1

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    # ---- top-level types -------------------------------------------------------------------

    def item(self) -> Item:
        value = self.bare_item()
        return value, self.parameters()

    def dictionary(self) -> dict[str, Member]:
        members: dict[str, Member] = {}
        while not self.at_end():
            key = self.key()
            if self.peek() == "=":
                self.pos += 1
                member = self.item_or_inner_list()
            else:
                member = (True, self.parameters())
            members.pop(key, None)  # a repeated key takes the last value (§4.2.2)
            members[key] = member
            self.skip_ows()
            if self.at_end():
                return members
            if self.peek() != ",":
                raise self.fail("expected ',' between dictionary members")
            self.pos += 1
            self.skip_ows()
            if self.at_end():
                raise self.fail("trailing ',' in a dictionary")
        return members

    def item_or_inner_list(self) -> Member:
        if self.peek() == "(":
            return self.inner_list()
        return self.item()

    def inner_list(self) -> Member:
        self.pos += 1  # "("
        items: list[Item] = []
        while not self.at_end():
            self.skip_sp()
            if self.peek() == ")":
                self.pos += 1
                return InnerList(items), self.parameters()
            items.append(self.item())
            if self.peek() not in (" ", ")"):
                raise self.fail("expected a space or ')' in an inner list")
        raise self.fail("unterminated inner list")

    def parameters(self) -> Parameters:
        params: Parameters = {}
        while self.peek() == ";":
            self.pos += 1
            self.skip_sp()
            key = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.pos += 1
                value = self.bare_item()
            params.pop(key, None)
            params[key] = value
        return params

    def key(self) -> str:
        if not _KEY_FIRST.fullmatch(self.peek()):
            raise self.fail("a key starts with a lower-case letter or '*'")
        match = _KEY_REST.match(self.text, self.pos + 1)
        assert match is not None
        key = self.text[self.pos : match.end()]
        self.pos = match.end()
        return key

    # ---- bare items ------------------------------------------------------------------------

    def bare_item(self) -> BareItem:
        c = self.peek()
        if c == "-" or c.isdigit():
            return self.number()
        if c == '"':
            return self.string()
        if c == "*" or c.isalpha():
            return self.token()
        if c == ":":
            return self.byte_sequence()
        if c == "?":
            return self.boolean()
        if c == "@":
            return self.date()
        if c == "%":
            return self.display_string()
        raise self.fail("expected an item")

    def number(self) -> int | Decimal:
        start = self.pos
        sign = 1
        if self.peek() == "-":
            sign = -1
            self.pos += 1
        digits_start = self.pos
        if not self.peek().isdigit():
            raise self.fail("expected a digit")
        while self.peek().isdigit() or self.peek() == ".":
            self.pos += 1
        number = self.text[digits_start : self.pos]
        if "." not in number:
            if len(number) > 15:
                raise self.fail("an integer has at most 15 digits")
            return sign * int(number)
        whole, _, fraction = number.partition(".")
        if "." in fraction or not fraction or len(whole) > 12 or len(fraction) > 3:
            self.pos = start
            raise self.fail("a decimal has 1-12 digits, '.', and 1-3 digits")
        return sign * Decimal(number)

    def string(self) -> str:
        self.pos += 1
        out: list[str] = []
        while not self.at_end():
            c = self.text[self.pos]
            self.pos += 1
            if c == "\\":
                nxt = self.peek()
                if nxt not in ('"', "\\"):
                    raise self.fail('only \\" and \\\\ are escapes in a string')
                out.append(nxt)
                self.pos += 1
            elif c == '"':
                return "".join(out)
            elif not " " <= c <= "~":
                raise self.fail("a string holds printable ASCII only")
            else:
                out.append(c)
        raise self.fail("unterminated string")

    def token(self) -> Token:
        match = _TOKEN_REST.match(self.text, self.pos + 1)
        assert match is not None
        value = self.text[self.pos : match.end()]
        self.pos = match.end()
        return Token(value)

    def byte_sequence(self) -> bytes:
        end = self.text.find(":", self.pos + 1)
        if end < 0:
            raise self.fail("unterminated byte sequence")
        encoded = self.text[self.pos + 1 : end]
        if not _BASE64.fullmatch(encoded):
            raise self.fail("a byte sequence is base64")
        self.pos = end + 1
        try:
            return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except binascii.Error:
            raise self.fail("invalid base64 in a byte sequence") from None

    def boolean(self) -> bool:
        value = self.text[self.pos + 1 : self.pos + 2]
        if value not in ("0", "1"):
            raise self.fail("a boolean is ?0 or ?1")
        self.pos += 2
        return value == "1"

    def date(self) -> Date:
        self.pos += 1
        value = self.number()
        if not isinstance(value, int):
            raise self.fail("a date is an integer")
        return Date(value)

    def display_string(self) -> DisplayString:
        if self.text[self.pos : self.pos + 2] != '%"':
            raise self.fail('a display string starts with %"')
        self.pos += 2
        raw = bytearray()
        while not self.at_end():
            c = self.text[self.pos]
            self.pos += 1
            if c == "%":
                hex_digits = self.text[self.pos : self.pos + 2]
                if not re.fullmatch(r"[0-9a-f]{2}", hex_digits):
                    raise self.fail("a display string escape is % and two lower-case hex digits")
                raw.append(int(hex_digits, 16))
                self.pos += 2
            elif c == '"':
                try:
                    return DisplayString(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    raise self.fail("a display string is UTF-8") from None
            elif not " " <= c <= "~":
                raise self.fail("a display string holds printable ASCII only")
            else:
                raw.append(ord(c))
        raise self.fail("unterminated display string")


def _whole(text: str) -> _Parser:
    parser = _Parser(text.strip(" "))
    return parser


def parse_item(text: str) -> Item:
    """Parse an Item field value.

    :raises StructuredFieldError: if ``text`` is not exactly one valid Item.
    """
    parser = _whole(text)
    value = parser.item()
    if not parser.at_end():
        raise parser.fail("unexpected text after the item")
    return value


def parse_dictionary(text: str) -> dict[str, Member]:
    """Parse a Dictionary field value (an empty value is an empty dictionary).

    :raises StructuredFieldError: if ``text`` is not a valid Dictionary.
    """
    return _whole(text).dictionary()


def _item_value(text: str | None) -> object:
    """The bare value of an Item field; None when the field is absent or not an Item."""
    if text is None:
        return None
    try:
        value, _ = parse_item(text)
    except StructuredFieldError:
        return None
    return value


def item_integer(text: str | None, *, minimum: int | None = 0) -> int | None:
    """The Integer of an Item field, or None when the field is absent or not an Integer (at
    least ``minimum``): the resumable-upload draft ignores such fields."""
    value = _item_value(text)
    if isinstance(value, bool) or not isinstance(value, int) or isinstance(value, Date):
        return None
    if minimum is not None and value < minimum:
        return None
    return value


def item_boolean(text: str | None) -> bool | None:
    """The Boolean of an Item field, or None when absent or not a Boolean."""
    value = _item_value(text)
    return value if isinstance(value, bool) else None


# ---- serialising ----------------------------------------------------------------------------


def serialize_bare_item(value: BareItem) -> str:
    """One bare item as RFC 9651 §4.1.3 writes it."""
    if isinstance(value, bool):
        return "?1" if value else "?0"
    if isinstance(value, Date):
        return "@" + serialize_bare_item(int(value))
    if isinstance(value, int):
        if abs(value) > _MAX_INTEGER:
            raise StructuredFieldError(f"integer {value} is out of range")
        return str(value)
    if isinstance(value, Decimal):
        rounded = value.quantize(Decimal("0.001"))
        if abs(rounded) >= Decimal(10**12):
            raise StructuredFieldError(f"decimal {value} is out of range")
        text = format(rounded, "f").rstrip("0")
        return text + "0" if text.endswith(".") else text
    if isinstance(value, bytes):
        return ":" + base64.b64encode(value).decode("ascii") + ":"
    if isinstance(value, Token):
        if not re.fullmatch(r"[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*", value):
            raise StructuredFieldError(f"{value!r} is not a token")
        return str(value)
    if isinstance(value, DisplayString):
        encoded = "".join(
            chr(b) if 0x20 <= b <= 0x7E and b not in (0x25, 0x22) else f"%{b:02x}"
            for b in value.encode("utf-8")
        )
        return f'%"{encoded}"'
    if isinstance(value, str):
        if any(not " " <= c <= "~" for c in value):
            raise StructuredFieldError(f"{value!r} has characters a string cannot hold")
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise StructuredFieldError(f"{value!r} is not a structured-field value")


def serialize_dictionary(members: Mapping[str, BareItem]) -> str:
    """A Dictionary of bare items (no parameters), e.g. ``min-size=0, max-size=100``."""
    parts = []
    for key, value in members.items():
        if not re.fullmatch(r"[a-z*][a-z0-9_\-.*]*", key):
            raise StructuredFieldError(f"{key!r} is not a dictionary key")
        parts.append(key if value is True else f"{key}={serialize_bare_item(value)}")
    return ", ".join(parts)
