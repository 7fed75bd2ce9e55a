"""The README and docs/ point only at things that exist: every relative link resolves, every
``#anchor`` names a heading of its page (as GitHub spells anchors), and every file the prose
cites is in the repository (specifications are cited by name and section instead)."""

from __future__ import annotations

import os
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from support.doc_examples import FENCE, pages
from support.paths import ROOT

#: Also held to the no-missing-citations rule.
MORE = [ROOT / "benchmarks" / "README.md"]
LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\s]+)\)")
URL = re.compile(r"https?://[^\s)>`]+")
#: A file named in prose: a path with a folder, or a Markdown or Python file.
CITED = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)+[\w.-]+\.[A-Za-z]\w*|[\w.-]+\.(?:md|py))(?![\w/-])")
SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache"}


def prose(page: Path) -> str:
    """The page without its fenced blocks (their text is checked by running it)."""
    return FENCE.sub("", page.read_text())


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip()).lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    seen: Counter[str] = Counter()
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", prose(page), re.M):
        base = slug(heading)
        found.add(base if not seen[base] else f"{base}-{seen[base]}")
        seen[base] += 1
    return found


@cache
def files() -> frozenset[str]:
    """Every file and folder of the repository, as paths relative to its root."""
    found = set()
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        here = Path(folder).relative_to(ROOT)
        for name in [*dirs, *names]:
            found.add((here / name).as_posix())
    return frozenset(found)


def exists(cited: str, page: Path = ROOT / "README.md") -> bool:
    """Whether a cited path names a file of the repository: from the page's folder, from the
    root, or as the tail of a path (``engine/wire.py`` is ``mockprogress/engine/wire.py``)."""
    if (page.parent / cited).exists():
        return True
    cited = cited.rstrip("/")
    return any(f == cited or f.endswith("/" + cited) for f in files())


def test_the_slugs_are_githubs() -> None:
    assert slug("Expect: 100-continue") == "expect-100-continue"
    assert (
        slug("The reference demo's suite (fixtures/http-progress-demo.toml)")
        == "the-reference-demos-suite-fixtureshttp-progress-demotoml"
    )
    assert slug("Options of `serve`") == "options-of-serve"


@pytest.mark.parametrize("page", pages(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_resolves(page: Path) -> None:
    broken = []
    for text, target in LINK.findall(prose(page)):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            broken.append(f"[{text}]({target}): no {path}")
        elif anchor and anchor not in anchors(resolved):
            broken.append(f"[{text}]({target}): no heading #{anchor} in {resolved.name}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


@pytest.mark.parametrize("page", [*pages(), *MORE], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cited_file_exists(page: Path) -> None:
    text = URL.sub("", prose(page))
    missing = sorted({c for c in CITED.findall(text) if not exists(c, page)})
    assert not missing, (
        f"{page.relative_to(ROOT)} cites files that are not in the repository: {missing}"
    )


def test_the_checks_catch_a_missing_file_and_anchor() -> None:
    assert not exists("DESIGN.md") and not exists("PROTOCOLS.md")
    assert exists("engine/wire.py") and exists("tests/docs/") and exists("fixtures/lro.toml")
    assert CITED.findall("see DESIGN.md and `tests/core/test_layers.py`, not 1.5 s") == [
        "DESIGN.md",
        "tests/core/test_layers.py",
    ]
    assert "the-control-api" in anchors(ROOT / "docs" / "standalone.md")


def test_the_architecture_tree_names_every_module_and_no_other() -> None:
    """docs/architecture.md's tree of mockprogress/ lists exactly the modules that exist."""
    page = (ROOT / "docs" / "architecture.md").read_text()
    tree = page.split("## The tree", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    named: set[str] = set()
    folder = ""
    for line in tree.splitlines()[1:]:
        head = re.match(r"^  (\w+/|\w+\.py)", line)
        if head:
            folder = head.group(1) if head.group(1).endswith("/") else ""
        for module in re.findall(r"\b(\w+\.py)\b", line):
            named.add(folder + module)
    package = ROOT / "mockprogress"
    present = {
        str(p.relative_to(package))
        for p in package.rglob("*.py")
        if p.name != "__init__.py" or p.parent == package
    } - {"_version.py"}
    assert named == present, (
        f"named but missing: {sorted(named - present)}; present but not named: "
        f"{sorted(present - named)}"
    )


#: A test cited by its node id: ``tests/.../test_x.py::test_name``.
CITED_TEST = re.compile(r"((?:[\w.-]+/)+test_\w+\.py)::(\w+)")


@pytest.mark.parametrize("page", [*pages(), *MORE], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cited_test_exists(page: Path) -> None:
    missing = [
        f"{path}::{name}"
        for path, name in CITED_TEST.findall(prose(page))
        if not re.search(rf"^(async )?def {name}\(", (ROOT / path).read_text(), re.M)
    ]
    assert not missing, f"{page.relative_to(ROOT)} cites tests that do not exist: {missing}"
