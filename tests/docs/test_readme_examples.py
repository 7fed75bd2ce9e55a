"""The README's examples for long-running operations, 100-continue, WebSocket and interims
run as written: each Python block of those sections is executed on its own."""

from __future__ import annotations

import re

import pytest
from support.paths import ROOT

README = ROOT / "README.md"
SECTIONS = (
    "Long-running operations",
    "Expect: 100-continue",
    "WebSocket",
    "Early Hints and other interims",
)


def examples() -> list[tuple[str, str]]:
    text = README.read_text()
    found = []
    for title in SECTIONS:
        start = text.index(f"\n## {title}\n")
        end = text.find("\n## ", start + 1)
        section = text[start : end if end != -1 else None]
        blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
        assert blocks, f"the README section {title!r} lost its example"
        found.extend((f"{title} #{i}", code) for i, code in enumerate(blocks))
    return found


@pytest.mark.parametrize(("name", "code"), examples(), ids=[n for n, _ in examples()])
def test_readme_example_runs(name: str, code: str) -> None:
    exec(compile(code, f"README.md ({name})", "exec"), {"__name__": "readme_example"})
