"""The ``Prefer`` request header (RFC 7240 §2): parse it into preferences.

.. code-block:: text

    Prefer     = 1#preference
    preference = token [ BWS "=" BWS word ] *( OWS ";" [ OWS parameter ] )
    parameter  = token [ BWS "=" BWS word ]
    word       = token / quoted-string

Names compare case-insensitively; when a preference appears more than once only the first
counts (RFC 7240 §2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_WS = " \t"


class PreferSyntaxError(ValueError):
    """A ``Prefer`` value that does not follow RFC 7240's grammar."""


@dataclass(frozen=True, slots=True)
class Preference:
    """One preference: its value (None when it has none) and its parameters."""

    value: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def error(self, what: str) -> PreferSyntaxError:
        return PreferSyntaxError(f"Prefer {self.text!r}: {what} at character {self.pos}")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WS:
            self.pos += 1

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def token(self) -> str:
        match = _TOKEN.match(self.text, self.pos)
        if match is None:
            raise self.error("expected a token")
        self.pos = match.end()
        return match.group()

    def word(self) -> str:
        if self.peek() != '"':
            return self.token()
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            self.pos += 1
            if char == '"':
                return "".join(out)
            if char == "\\":
                if self.pos >= len(self.text):
                    break
                char = self.text[self.pos]
                self.pos += 1
            out.append(char)
        raise self.error("unterminated quoted string")

    def name_value(self) -> tuple[str, str | None]:
        name = self.token().lower()
        self.skip_ws()
        if self.peek() != "=":
            return name, None
        self.pos += 1
        self.skip_ws()
        return name, self.word()


def parse_prefer(value: str) -> dict[str, Preference]:
    """Parse one or more ``Prefer`` values (joined with commas) into ``{name: Preference}``.

    :raises PreferSyntaxError: naming the character where the grammar breaks.
    """
    reader = _Reader(value)
    result: dict[str, Preference] = {}
    while True:
        reader.skip_ws()
        if reader.peek() == ",":  # empty list elements are allowed (RFC 9110 §5.6.1)
            reader.pos += 1
            continue
        if reader.peek() == "":
            return result
        name, pref_value = reader.name_value()
        params: dict[str, str | None] = {}
        reader.skip_ws()
        while reader.peek() == ";":
            reader.pos += 1
            reader.skip_ws()
            if reader.peek() in (";", ",", ""):
                continue
            param, param_value = reader.name_value()
            params.setdefault(param, param_value)
            reader.skip_ws()
        if reader.peek() not in (",", ""):
            raise reader.error("expected ',' or ';'")
        result.setdefault(name, Preference(pref_value, params))
