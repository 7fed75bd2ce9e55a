"""The examples of README.md and docs/*.md: every fenced block, where it is, and how it is run.

A block is run by one of the tests in ``tests/docs/``, chosen here by page, language and the
HTML comment written just before the block (invisible on GitHub):

- ``<!-- not run: REASON -->``: not run, for the reason given (a signature, a sketch);
- ``<!-- run: pytest -->``: a Python block that is a pytest module, run by pytest with the
  stand-ins of ``support.doc_stand_ins`` for the code under test;
- ``<!-- run: srv -->``: a Python block run with ``srv``, a running ``mp.MockServer()``;
- no comment: run as written, by the test for its language.

``tests/docs/test_every_example_runs.py`` checks that each ``python``, ``console``, ``toml`` and
``json`` block is selected by one of the functions below, or says why it is not run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from support.paths import ROOT

DOCS = ROOT / "docs"
README = ROOT / "README.md"
SCENARIOS = DOCS / "scenarios.md"
#: The languages whose blocks must each be run (or say why not).
RUNNABLE = ("python", "console", "toml", "json")

FENCE = re.compile(r"^```([A-Za-z]*)([^\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)
HEADING = re.compile(r"^(#{1,6}) (.+)$", re.M)


@dataclass(frozen=True)
class Block:
    """One fenced block of a page."""

    page: Path
    lang: str
    info: str  # what follows the language on the fence line ("broken")
    text: str
    line: int  # of the opening fence, 1-based
    section: str  # the nearest heading above it
    note: str | None  # the HTML comment just before it, if any

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def run(self) -> str | None:
        """``pytest`` or ``srv`` for ``<!-- run: ... -->``, else None."""
        if self.note is not None and self.note.startswith("run:"):
            return self.note.removeprefix("run:").strip()
        return None

    @property
    def not_run(self) -> str | None:
        """The reason of ``<!-- not run: REASON -->``, else None."""
        if self.note is not None and self.note.startswith("not run:"):
            return self.note.removeprefix("not run:").strip()
        return None


def pages() -> list[Path]:
    """README.md, then every page of docs/ (in name order, the walkthrough last: it ends with
    a reset of the control API, and the console examples share one server in this order)."""
    docs = sorted(DOCS.glob("*.md"), key=lambda p: (p.name == "walkthrough.md", p.name))
    return [README, *docs]


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()]
        headings = HEADING.findall(before)
        found.append(
            Block(
                page=page,
                lang=match.group(1),
                info=match.group(2).strip(),
                text=match.group(3),
                line=before.count("\n") + 1,
                section=headings[-1][1] if headings else "",
                note=_note(before),
            )
        )
    return found


def _note(before: str) -> str | None:
    """The HTML comment that ends ``before`` (blank lines aside), without its markers."""
    stripped = before.rstrip()
    if not stripped.endswith("-->"):
        return None
    return stripped[stripped.rfind("<!--") + 4 : -3].strip()


def all_blocks() -> list[Block]:
    return [block for page in pages() for block in blocks(page)]


def scenario_page_examples() -> list[Block]:
    """docs/scenarios.md, whose blocks ``test_docs_scenarios.py`` runs in pairs (TOML, then the
    Python or JSON it stands for; a broken TOML, then its message)."""
    return blocks(SCENARIOS)


def python_examples() -> list[Block]:
    """Every Python block outside docs/scenarios.md that is run (as written, as a pytest
    module, or with a server)."""
    return [
        block
        for block in all_blocks()
        if block.lang == "python"
        and block.page != SCENARIOS
        and block.not_run is None
        and block.run in (None, "pytest", "srv")
    ]


def toml_examples() -> list[Block]:
    """Every TOML block outside docs/scenarios.md: each is a scenario document that loads."""
    return [
        block
        for block in all_blocks()
        if block.lang == "toml" and block.page != SCENARIOS and block.not_run is None
    ]


def console_examples() -> list[Block]:
    """Every console block, in page order: run against the demo set."""
    return [block for block in all_blocks() if block.lang == "console" and block.not_run is None]
