"""The ``Progress`` header field of draft-wright-http-progress §3.2.

Grammar (the draft's ABNF)::

    Progress        = fraction *( WS progress-remark )
    progress-remark = fraction / comment / quoted-string / ext-value
    fraction        = 1*DIGIT "/" [ 1*DIGIT ]

A quoted-string is 7-bit ASCII (filenames, methods and URIs); an ext-value (RFC 8187) is a
localised label; a comment is not meant for end users; an extra fraction is the progress of a
sub-operation. The denominator may be omitted when unknown and must not be smaller than the
numerator.

``Progress.of`` accepts a string (parsed), a tuple ``(done, total, *remarks)`` or a ``Progress``.
In a tuple a plain ``str`` remark becomes a quoted-string when it is printable ASCII and a UTF-8
ext-value otherwise.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import TypeAlias

from ..errors import ScenarioError

# DIGIT is ASCII (RFC 5234); ``\d`` and ``str.isdigit`` would also take "٣" and "²".
_FRACTION = re.compile(r"([0-9]+)/([0-9]*)")
_WS = re.compile(r"[ \t]+")
# RFC 8187 §3.2.1
_EXT_VALUE = re.compile(
    r"([A-Za-z0-9!#$%&+\-^_`{}~]+)'([A-Za-z0-9\-]*)'"
    r"((?:%[0-9A-Fa-f]{2}|[A-Za-z0-9!#$&+\-.^_`|~])*)"
)
_ATTR_CHARS = "!#$&+-.^_`|~"
_LANGUAGE = re.compile(r"^(?:[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*)?$")
_CHARSET = re.compile(r"^[A-Za-z0-9!#$%&+\-^_`{}~]+$")


def _printable_ascii(text: str) -> bool:
    return all(c in "\t " or "\x21" <= c <= "\x7e" for c in text)


@dataclass(frozen=True, slots=True)
class Fraction:
    """``done/total``; ``total`` is None when unknown (``66/``)."""

    done: int
    total: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.done, bool) or not isinstance(self.done, int) or self.done < 0:
            raise ScenarioError(f"progress numerator must be an integer >= 0, got {self.done!r}")
        if self.total is not None:
            if isinstance(self.total, bool) or not isinstance(self.total, int):
                raise ScenarioError(f"progress denominator must be an integer, got {self.total!r}")
            if self.total < self.done:
                raise ScenarioError(
                    f"progress denominator {self.total} is smaller than the numerator "
                    f"{self.done} (draft-wright-http-progress §3.2)"
                )

    def __str__(self) -> str:
        return f"{self.done}/{'' if self.total is None else self.total}"


@dataclass(frozen=True, slots=True)
class Quoted:
    """A quoted-string remark: 7-bit printable ASCII."""

    text: str

    def __post_init__(self) -> None:
        if not _printable_ascii(self.text):
            raise ScenarioError(
                f"a quoted-string remark must be printable 7-bit ASCII, got {self.text!r} "
                "(use ExtValue for other text)"
            )

    def __str__(self) -> str:
        return '"' + self.text.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class Comment:
    """A comment remark ``( ... )``: information not meant for end users."""

    text: str

    def __post_init__(self) -> None:
        if not _printable_ascii(self.text):
            raise ScenarioError(f"a comment remark must be printable ASCII, got {self.text!r}")

    def __str__(self) -> str:
        escaped = self.text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        return f"({escaped})"


@dataclass(frozen=True, slots=True)
class ExtValue:
    """An RFC 8187 ext-value remark: a localised label, e.g. ``utf-8'en'Knitting%20sweaters``."""

    text: str
    language: str = ""
    charset: str = "UTF-8"

    def __post_init__(self) -> None:
        if not _CHARSET.match(self.charset):
            raise ScenarioError(f"invalid ext-value charset {self.charset!r}")
        if not _LANGUAGE.match(self.language):
            raise ScenarioError(f"invalid ext-value language tag {self.language!r}")
        try:
            self.text.encode(self.charset)
        except (LookupError, UnicodeEncodeError) as exc:
            raise ScenarioError(f"cannot encode {self.text!r} as {self.charset}: {exc}") from None

    def __str__(self) -> str:
        encoded = urllib.parse.quote(self.text.encode(self.charset), safe=_ATTR_CHARS)
        return f"{self.charset}'{self.language}'{encoded}"


Remark: TypeAlias = Fraction | Quoted | Comment | ExtValue
RemarkInput: TypeAlias = "Remark | str | tuple[int, int | None]"
ProgressInput: TypeAlias = "Progress | str | tuple[object, ...]"


def _remark(value: object) -> Remark:
    if isinstance(value, Fraction | Quoted | Comment | ExtValue):
        return value
    if isinstance(value, str):
        return Quoted(value) if _printable_ascii(value) else ExtValue(value)
    if isinstance(value, tuple) and len(value) == 2:
        done, total = value
        return Fraction(done, total)
    raise ScenarioError(
        f"a progress remark must be a str, a (done, total) tuple or a remark object, got {value!r}"
    )


@dataclass(frozen=True, slots=True)
class Progress:
    """A parsed or built ``Progress`` field value.

    .. code-block:: python

        Progress.of('1/3 "Knitting sweaters"') == Progress.of((1, 3, "Knitting sweaters"))
    """

    done: int
    total: int | None = None
    remarks: tuple[Remark, ...] = ()

    def __post_init__(self) -> None:
        Fraction(self.done, self.total)  # validates
        for remark in self.remarks:
            if not isinstance(remark, Fraction | Quoted | Comment | ExtValue):
                raise ScenarioError(f"not a progress remark: {remark!r}")

    @property
    def fraction(self) -> Fraction:
        """``done/total`` as a ``Fraction``."""
        return Fraction(self.done, self.total)

    @property
    def remark(self) -> str | None:
        """The text of the first quoted-string or ext-value remark, if any."""
        for r in self.remarks:
            if isinstance(r, Quoted | ExtValue):
                return r.text
        return None

    def __str__(self) -> str:
        return " ".join([str(self.fraction), *(str(r) for r in self.remarks)])

    @classmethod
    def of(cls, value: ProgressInput) -> Progress:
        """Build from a string, a tuple ``(done, total, *remarks)`` or a ``Progress``."""
        if isinstance(value, Progress):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        if isinstance(value, tuple) and len(value) >= 2:
            done, total, *remarks = value
            if isinstance(done, bool) or not isinstance(done, int):
                raise ScenarioError(f"progress numerator must be an integer, got {done!r}")
            if total is not None and (isinstance(total, bool) or not isinstance(total, int)):
                raise ScenarioError(f"progress denominator must be an integer, got {total!r}")
            return cls(done, total, tuple(_remark(r) for r in remarks))
        raise ScenarioError(
            f"Progress must be a string or a (done, total, *remarks) tuple, got {value!r}"
        )

    @classmethod
    def parse(cls, value: str) -> Progress:
        """Parse a ``Progress`` field value.

        :raises ScenarioError: naming the position where the value stops matching the grammar.
        """
        return _Parser(value).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, expected: str) -> ScenarioError:
        return ScenarioError(
            f"invalid Progress value {self.text!r}: expected {expected} at position {self.pos}"
        )

    def parse(self) -> Progress:
        first = self.fraction()
        if first is None:
            raise self.fail("a fraction such as 1/3")
        remarks: list[Remark] = []
        while self.pos < len(self.text):
            ws = _WS.match(self.text, self.pos)
            if ws is None:
                raise self.fail("whitespace before a remark")
            self.pos = ws.end()
            if self.pos == len(self.text):
                raise self.fail("a remark after the whitespace")
            remarks.append(self.remark())
        return Progress(first.done, first.total, tuple(remarks))

    def fraction(self) -> Fraction | None:
        m = _FRACTION.match(self.text, self.pos)
        if m is None:
            return None
        try:
            done = int(m.group(1))
            total = int(m.group(2)) if m.group(2) else None
        except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
            raise self.fail("a number of fewer digits") from None
        self.pos = m.end()
        return Fraction(done, total)

    def remark(self) -> Remark:
        c = self.text[self.pos]
        if c == "(":
            return Comment(self.comment())
        if c == '"':
            return Quoted(self.quoted())
        if "0" <= c <= "9":
            fraction = self.fraction()
            if fraction is None:
                raise self.fail("a fraction")
            return fraction
        m = _EXT_VALUE.match(self.text, self.pos)
        if m is None:
            raise self.fail("a fraction, a comment, a quoted-string or an ext-value")
        self.pos = m.end()
        charset, language, encoded = m.groups()
        try:
            text = urllib.parse.unquote_to_bytes(encoded).decode(charset)
        except (LookupError, UnicodeDecodeError):
            raise self.fail(f"ext-value text that decodes as {charset}") from None
        return ExtValue(text, language, charset)

    def quoted(self) -> str:
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c == '"':
                self.pos += 1
                return "".join(out)
            if c == "\\":
                self.pos += 1
                if self.pos >= len(self.text):
                    break
                c = self.text[self.pos]
            if not (c in "\t " or "\x21" <= c <= "\x7e"):
                raise self.fail("printable ASCII inside the quoted-string")
            out.append(c)
            self.pos += 1
        raise self.fail("a closing quote")

    def comment(self) -> str:
        # Nested comments are kept as text; quoted-pairs are unescaped.
        depth = 0
        out: list[str] = []
        while self.pos < len(self.text):
            c = self.text[self.pos]
            self.pos += 1
            if c == "\\":
                if self.pos >= len(self.text):
                    break
                out.append(self.text[self.pos])
                self.pos += 1
                continue
            if c == "(":
                depth += 1
                if depth == 1:
                    continue
            elif c == ")":
                depth -= 1
                if depth == 0:
                    return "".join(out)
            elif not (c in "\t " or "\x21" <= c <= "\x7e"):
                raise self.fail("printable ASCII inside the comment")
            out.append(c)
        raise self.fail("a closing parenthesis")
