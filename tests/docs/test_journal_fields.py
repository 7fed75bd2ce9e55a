"""docs/journal.md lists every field of ``mp.Exchange``, its properties and its methods."""

from __future__ import annotations

import dataclasses
import inspect

from support.paths import ROOT

import mockprogress as mp


def test_the_journal_page_names_every_field_of_an_exchange() -> None:
    page = (ROOT / "docs" / "journal.md").read_text()
    public = {name: value for name, value in vars(mp.Exchange).items() if name[0] != "_"}
    names = [f.name for f in dataclasses.fields(mp.Exchange) if not f.name.startswith("_")]
    names += [name for name, value in public.items() if isinstance(value, property)]
    names += [f"{name}()" for name, value in public.items() if inspect.isfunction(value)]
    assert {"index", "duration", "bytes_sent", "path", "timeline()"} <= set(names)
    missing = [name for name in names if f"`{name}`" not in page]
    assert not missing, f"docs/journal.md does not name {missing}"
