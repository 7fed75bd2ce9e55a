"""Header fields as the journal and the steps hold them.

``Headers`` is a read-only, ordered multi-map: look-ups ignore case, iteration yields
``(name, value)`` pairs in wire order with their original spelling, so ``dict(h)`` and
``list(h)`` both work. Values are ``str`` (decoded as ISO-8859-1, which maps every byte).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import TypeAlias

from ..errors import ScenarioError

HeaderPairs: TypeAlias = tuple[tuple[str, str], ...]
HeadersInput: TypeAlias = (
    "Mapping[str, str | bytes] | Iterable[tuple[str | bytes, str | bytes]] | Headers | None"
)

# RFC 9110 §5.1: field-name = token
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# RFC 9110 §5.5: no CR, LF or NUL in a field value; we also refuse leading/trailing whitespace
# because h11 would strip it and the journal would then disagree with the script.
_BAD_VALUE = re.compile(r"[\r\n\x00]")


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


class Headers:
    """An ordered, case-insensitive, read-only multi-map of header fields."""

    __slots__ = ("_index", "_pairs")

    def __init__(self, pairs: Iterable[tuple[str, str]] = ()) -> None:
        self._pairs: HeaderPairs = tuple((str(n), str(v)) for n, v in pairs)
        # Values by lower-case name, built on the first look-up (a request's fields are
        # looked up a few times each: framing, Expect, the matchers, the resources).
        # Tuples, not lists: the journal keeps every request's fields, and a dict of tuples of
        # str is left out of the garbage collector's rounds.
        self._index: dict[str, tuple[str, ...]] | None = None

    @classmethod
    def from_raw(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        """Build from ``(name, value)`` byte pairs as h11 delivers them."""
        # Decoded pairs are str already: no second pass through __init__'s str().
        headers = cls.__new__(cls)
        headers._pairs = tuple([(n.decode("latin-1"), v.decode("latin-1")) for n, v in raw])
        headers._index = None
        return headers

    def _lookup(self) -> dict[str, tuple[str, ...]]:
        index = self._index
        if index is None:
            index = {}
            for n, v in self._pairs:
                key = n.lower()
                index[key] = (*index[key], v) if key in index else (v,)
            self._index = index
        return index

    def getall(self, name: str) -> list[str]:
        """Every value of ``name`` in wire order (empty if absent)."""
        index = self._index if self._index is not None else self._lookup()
        return list(index.get(name.lower(), ()))

    def get(self, name: str, default: str | None = None) -> str | None:
        """The value of ``name`` (several lines joined with ``", "``), or ``default``."""
        index = self._index if self._index is not None else self._lookup()
        values = index.get(name.lower())
        return ", ".join(values) if values else default

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        index = self._index if self._index is not None else self._lookup()
        return name.lower() in index

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def items(self) -> list[tuple[str, str]]:
        """All ``(name, value)`` pairs in wire order."""
        return list(self._pairs)

    def names(self) -> list[str]:
        """The distinct field names in wire order, as first spelled."""
        seen: dict[str, str] = {}
        for n, _ in self._pairs:
            seen.setdefault(n.lower(), n)
        return list(seen.values())

    def raw(self) -> list[tuple[bytes, bytes]]:
        """The pairs encoded as bytes, for h11."""
        return [(n.encode("latin-1"), v.encode("latin-1")) for n, v in self._pairs]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Headers):
            return [(n.lower(), v) for n, v in self._pairs] == [
                (n.lower(), v) for n, v in other._pairs
            ]
        if isinstance(other, Mapping):
            mine = {n.lower(): self[n] for n in self.names()}
            return mine == {str(k).lower(): v for k, v in other.items()}
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple((n.lower(), v) for n, v in self._pairs))

    def __repr__(self) -> str:
        return f"Headers({list(self._pairs)!r})"


def header_pairs(headers: HeadersInput, *, where: str = "headers") -> HeaderPairs:
    """Validate user-supplied headers and return them as ``str`` pairs in order.

    :raises ScenarioError: on a name that is not a token or a value with CR, LF or NUL.
    """
    if headers is None:
        return ()
    items: Iterable[tuple[str | bytes, str | bytes]]
    if isinstance(headers, Headers):
        items = headers.items()
    elif isinstance(headers, Mapping):
        items = headers.items()
    else:
        items = headers
    pairs: list[tuple[str, str]] = []
    for item in items:
        try:
            raw_name, raw_value = item
        except (TypeError, ValueError):
            raise ScenarioError(f"{where}: expected (name, value) pairs, got {item!r}") from None
        if not isinstance(raw_name, str | bytes) or not isinstance(raw_value, str | bytes | int):
            raise ScenarioError(f"{where}: header {raw_name!r} must map a string to a string")
        name = _text(raw_name)
        value = str(raw_value) if isinstance(raw_value, int) else _text(raw_value)
        if not _TOKEN.match(name):
            raise ScenarioError(f"{where}: {name!r} is not a valid header name")
        if _BAD_VALUE.search(value):
            raise ScenarioError(f"{where}: value of {name!r} contains CR, LF or NUL")
        if value != value.strip(" \t"):
            raise ScenarioError(f"{where}: value of {name!r} has leading or trailing whitespace")
        pairs.append((name, value))
    return tuple(pairs)


def has_header(pairs: HeaderPairs, name: str) -> bool:
    key = name.lower()
    return any(n.lower() == key for n, _ in pairs)
