"""The ``Prefer`` request header and ``Preference-Applied`` (RFC 7240): the one parser that
every resource uses.

Grammar (RFC 7240 §2, with RFC 9110's list rules)::

    Prefer     = 1#preference
    preference = token [ BWS "=" BWS word ] *( OWS ";" [ OWS parameter ] )
    parameter  = token [ BWS "=" BWS word ]
    word       = token / quoted-string

What the parser does with real-world input, following §2:

- Several ``Prefer`` lines are one list, in order (RFC 9110 §5.3).
- Preference and parameter names compare case-insensitively (kept lower-cased); values are
  kept as sent.
- An empty value (``foo=`` or ``foo=""``) is the same as no value (§2).
- A preference named twice counts once: the first instance wins; likewise a parameter.
- A syntax error costs only its own list element: that element is ignored, the others still
  count. §2 has a recipient ignore preferences it does not understand rather than fail the
  request, so no resource answers an error for a malformed ``Prefer``. An unterminated quoted
  string runs to the end of its line, so the rest of that line is one ignored element.

``wait`` (§4.3) is delta-seconds: an integer, read as 2^31 when larger (RFC 9111 §1.2.2). Any
other value makes ``wait`` absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from .field_reader import FieldReader, FieldSyntaxError

_DELTA_SECONDS = re.compile(r"[0-9]+")
#: RFC 9111 §1.2.2: a delta-seconds value too large to represent is taken as 2^31.
_MAX_DELTA_SECONDS = 2**31


@dataclass(frozen=True, slots=True)
class Preference:
    """One preference: its lower-cased name, its value (None when absent or empty) and its
    parameters as ``(name, value)`` pairs in order."""

    name: str
    value: str | None = None
    parameters: tuple[tuple[str, str | None], ...] = ()


def _name_value(reader: FieldReader) -> tuple[str, str | None]:
    """``token [ BWS "=" BWS word ]``; an empty word counts as no value."""
    name = reader.token().lower()
    reader.skip_ws()
    if reader.peek() != "=":
        return name, None
    reader.pos += 1
    reader.skip_ws()
    if reader.peek() in ("", ";"):
        return name, None  # "foo=" is foo without a value
    return name, reader.word() or None


def _parse_element(element: str) -> Preference:
    """One list element. :raises FieldSyntaxError: where the grammar breaks."""
    reader = FieldReader(element.strip(" \t"), "Prefer")
    name, value = _name_value(reader)
    parameters: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    reader.skip_ws()
    while not reader.at_end():
        if reader.peek() != ";":
            raise reader.error("expected ';' or ','")
        reader.pos += 1
        reader.skip_ws()
        if reader.peek() in ("", ";"):
            continue  # "; ;" is an empty parameter
        parameter = _name_value(reader)
        if parameter[0] not in seen:
            seen.add(parameter[0])
            parameters.append(parameter)
        reader.skip_ws()
    return Preference(name, value, tuple(parameters))


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
                try:
                    items.append(_parse_element(element))
                except FieldSyntaxError:
                    continue  # RFC 7240 §2: ignored, the other elements still count
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
        digits = item.value.lstrip("0") or "0"  # int() refuses thousands of digits
        if len(digits) > len(str(_MAX_DELTA_SECONDS)):
            return _MAX_DELTA_SECONDS
        return min(int(digits), _MAX_DELTA_SECONDS)


def preference_applied(*applied: tuple[str, str | int | None]) -> str:
    """A ``Preference-Applied`` value (RFC 7240 §3) for these ``(name, value)`` pairs."""
    parts = []
    for name, value in applied:
        parts.append(name if value is None else f"{name}={value}")
    return ", ".join(parts)
