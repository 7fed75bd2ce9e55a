"""Headers look up case-insensitively and iterate in wire order."""

from __future__ import annotations

from mockprogress import Headers


def test_lookup_ignores_case_and_joins_repeats() -> None:
    h = Headers([("Link", "</a>"), ("Progress", "1/2"), ("link", "</b>")])
    assert h["progress"] == "1/2"
    assert h["LINK"] == "</a>, </b>"
    assert h.getall("Link") == ["</a>", "</b>"]
    assert h.get("missing") is None
    assert h.get("missing", "x") == "x"
    assert "PROGRESS" in h
    assert "nope" not in h


def test_iterates_pairs_in_wire_order_with_original_spelling() -> None:
    pairs = [("Link", "</a>"), ("Progress", "1/2"), ("link", "</b>")]
    h = Headers(pairs)
    assert list(h) == pairs
    assert len(h) == 3
    assert h.names() == ["Link", "Progress"]
    assert dict(h) == {"Link": "</a>", "Progress": "1/2", "link": "</b>"}


def test_equality_with_headers_and_mappings() -> None:
    h = Headers([("Content-Type", "text/plain")])
    assert h == Headers([("content-type", "text/plain")])
    assert h == {"CONTENT-TYPE": "text/plain"}
    assert h != {"content-type": "text/html"}


def test_raw_round_trip() -> None:
    h = Headers.from_raw([(b"X-A", b"\xe9")])
    assert h["x-a"] == "é"
    assert h.raw() == [(b"X-A", b"\xe9")]
