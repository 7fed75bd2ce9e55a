"""A cursor over one header field value: RFC 9110 tokens, quoted strings and ``name=value``.

``Prefer`` (RFC 7240) and media-type parameters (RFC 9110 §8.3.1) are both built from these
pieces. Every method raises ``FieldSyntaxError`` naming what it expected and where, so each
caller decides what a syntax error means (``Prefer`` ignores the element, a ``Content-Type``
is refused).
"""

from __future__ import annotations

import re

TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_WS = " \t"


class FieldSyntaxError(ValueError):
    """A field value that does not follow its grammar."""


class FieldReader:
    """Reads ``text`` from ``pos`` on; ``field`` names the field in error messages."""

    __slots__ = ("field", "pos", "text")

    def __init__(self, text: str, field: str = "field") -> None:
        self.text = text
        self.field = field
        self.pos = 0

    def error(self, what: str) -> FieldSyntaxError:
        return FieldSyntaxError(f"{self.field} {self.text!r}: {what} at character {self.pos}")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _WS:
            self.pos += 1

    def peek(self) -> str:
        """The next character, or '' at the end."""
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def token(self) -> str:
        match = TOKEN.match(self.text, self.pos)
        if match is None:
            raise self.error("expected a token")
        self.pos = match.end()
        return match.group()

    def word(self) -> str:
        """``token / quoted-string``; a quoted string comes back unescaped."""
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
