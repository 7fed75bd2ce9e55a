"""The ``Prefer`` request header and ``Preference-Applied`` (RFC 7240).

Grammar (RFC 7240 §2, with RFC 9110's list rules)::

    Prefer     = 1#preference
    preference = token [ BWS "=" BWS word ] *( OWS ";" [ OWS parameter ] )
    parameter  = token [ BWS "=" BWS word ]
    word       = token / quoted-string

What the parser does with real-world input, following §2:

- Several ``Prefer`` lines are one list, in order (RFC 9110 §5.3).
- Preference and parameter names compare case-insensitively (kept lower-cased); values are
  kept as sent.
- An empty value (``foo=`` or ``foo=""``) is the same as no value.
- A preference named twice counts once: the first instance wins.
- A list element that does not parse is ignored, as a server ignores preferences it does not
  understand; the others still count.

``wait`` (§4.3) is delta-seconds: an integer. Any other value makes ``wait`` absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_OWS = re.compile(r"[ \t]*")
_DELTA_SECONDS = re.compile(r"[0-9]+")


@dataclass(frozen=True, slots=True)
class Preference:
    """One preference: its lower-cased name, its value (None when absent or empty) and its
    parameters as ``(name, value)`` pairs in order."""

    name: str
    value: str | None = None
    parameters: tuple[tuple[str, str | None], ...] = ()


class _Cursor:
    """Walks one list element; every method returns None (or False) on a syntax error."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip_ows(self) -> None:
        m = _OWS.match(self.text, self.pos)
        assert m is not None
        self.pos = m.end()

    def token(self) -> str | None:
        m = _TOKEN.match(self.text, self.pos)
        if m is None:
            return None
        self.pos = m.end()
        return m.group()

    def at(self, char: str) -> bool:
        return self.text.startswith(char, self.pos)

    def word(self) -> str | None:
        if not self.at('"'):
            return self.token()
        out: list[str] = []
        self.pos += 1
        while self.pos < len(self.text):
            c = self.text[self.pos]
            self.pos += 1
            if c == '"':
                return "".join(out)
            if c == "\\":
                if self.pos >= len(self.text):
                    return None
                c = self.text[self.pos]
                self.pos += 1
            out.append(c)
        return None

    def name_value(self) -> tuple[str, str | None] | None:
        """``token [ BWS "=" BWS word ]``; an empty word counts as no value."""
        name = self.token()
        if name is None:
            return None
        self.skip_ows()
        if not self.at("="):
            return name.lower(), None
        self.pos += 1
        self.skip_ows()
        if self.pos == len(self.text) or self.at(";"):
            return name.lower(), None  # "foo=" is foo without a value
        value = self.word()
        if value is None:
            return None
        return name.lower(), value or None

    def done(self) -> bool:
        self.skip_ows()
        return self.pos == len(self.text)


def _parse_element(element: str) -> Preference | None:
    cursor = _Cursor(element.strip(" \t"))
    head = cursor.name_value()
    if head is None:
        return None
    parameters: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    while not cursor.done():
        if not cursor.at(";"):
            return None
        cursor.pos += 1
        cursor.skip_ows()
        if cursor.done() or cursor.at(";"):
            continue  # "; ;" is an empty parameter
        parameter = cursor.name_value()
        if parameter is None:
            return None
        if parameter[0] not in seen:
            seen.add(parameter[0])
            parameters.append(parameter)
    return Preference(head[0], head[1], tuple(parameters))


def _split_list(value: str) -> Iterator[str]:
    """Split a field value at the commas that are outside quoted strings."""
    start = 0
    quoted = False
    escaped = False
    for i, c in enumerate(value):
        if escaped:
            escaped = False
        elif quoted and c == "\\":
            escaped = True
        elif c == '"':
            quoted = not quoted
        elif c == "," and not quoted:
            yield value[start:i]
            start = i + 1
    yield value[start:]


class Preferences:
    """The preferences of one request, parsed from all its ``Prefer`` lines.

    .. code-block:: python

        prefs = Preferences.parse(["processing, respond-async", "wait=20"])
        "processing" in prefs    # True
        prefs.wait               # 20
    """

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[Preference] = ()) -> None:
        self._items: dict[str, Preference] = {}
        for item in items:
            self._items.setdefault(item.name, item)  # RFC 7240 §2: the first instance wins

    @classmethod
    def parse(cls, lines: Sequence[str] | str) -> Preferences:
        """Parse the values of every ``Prefer`` line of a request, in order."""
        if isinstance(lines, str):
            lines = [lines]
        items = []
        for line in lines:
            for element in _split_list(line):
                if not element.strip(" \t"):
                    continue  # empty list elements are allowed and mean nothing
                item = _parse_element(element)
                if item is not None:
                    items.append(item)
        return cls(items)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def get(self, name: str) -> Preference | None:
        """The preference called ``name`` (any case), or None."""
        return self._items.get(name.lower())

    def __iter__(self) -> Iterator[Preference]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Preferences({list(self._items.values())!r})"

    @property
    def wait(self) -> int | None:
        """``wait=N`` in seconds (RFC 7240 §4.3), or None when absent or not delta-seconds."""
        item = self._items.get("wait")
        if item is None or item.value is None or not _DELTA_SECONDS.fullmatch(item.value):
            return None
        return int(item.value)


def preference_applied(*applied: tuple[str, str | int | None]) -> str:
    """A ``Preference-Applied`` value (RFC 7240 §3) for these ``(name, value)`` pairs."""
    parts = []
    for name, value in applied:
        parts.append(name if value is None else f"{name}={value}")
    return ", ".join(parts)
