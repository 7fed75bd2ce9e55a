"""No example silently stops being run: every ``python``, ``console``, ``toml`` and ``json`` block
of README.md and docs/*.md is selected by one of the functions the tests of ``tests/docs/``
parametrize over, or says in an HTML comment just before it why it is not run."""

from __future__ import annotations

from support.doc_examples import (
    RUNNABLE,
    Block,
    all_blocks,
    console_examples,
    pages,
    python_examples,
    scenario_page_examples,
    toml_examples,
)

#: Each selector, and the test that runs what it selects.
RUNNERS = {
    "test_python_examples.py": python_examples,
    "test_toml_examples.py": toml_examples,
    "test_console_examples.py": console_examples,
    "test_docs_scenarios.py": scenario_page_examples,
}


def test_every_example_is_run_or_says_why_not() -> None:
    run: set[Block] = set()
    for select in RUNNERS.values():
        run.update(select())
    silent = [
        f"{b.where} ({b.lang})"
        for b in all_blocks()
        if b.lang in RUNNABLE and b not in run and not b.not_run
    ]
    assert not silent, "examples that no test runs and that do not say why: " + ", ".join(silent)


def test_a_block_that_is_not_run_is_not_run() -> None:
    """``not run`` means it: no selector picks such a block up, and every note is one of the
    known forms."""
    run = {b for select in RUNNERS.values() for b in select() if b.page.name != "scenarios.md"}
    for block in all_blocks():
        if block.not_run is not None:
            assert block not in run, block.where
        if block.note is not None:
            assert block.not_run or block.run in ("pytest", "srv"), (
                f"{block.where}: unknown note {block.note!r}"
            )


def test_the_pages_are_the_readme_and_docs() -> None:
    names = [p.name for p in pages()]
    assert names[0] == "README.md" and names[-1] == "walkthrough.md"
    assert {"architecture.md", "scenarios.md", "uploads.md", "README.md"} <= set(names[1:])
    assert sum(b.lang in RUNNABLE for b in all_blocks()) > 80
