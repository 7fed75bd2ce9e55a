"""The README and docs/ are true: every ``$`` line of their ``console`` blocks is run, in order
(the README, then the pages of docs/, the walkthrough last: ``support.doc_examples.pages``),
against one server with the demo set (what ``make serve`` serves), on a pseudo-terminal as a
reader would run it, and must print what the page says it prints.

The pages' address ``http://127.0.0.1:8765`` stands for the server's real one. In the
expected text, ``...`` stands for anything (a duration, a connection number); the terminal's
styling (curl's bold header names and links) is taken off before comparing.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.doc_examples import README, console_examples
from support.standalone import Standalone

ADDRESS = "http://127.0.0.1:8765"
# CSI sequences (colours, bold) and OSC 8 hyperlinks, which curl writes on a terminal.
STYLING = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\]8;[^\x1b\x07]*(?:\x1b\\|\x07)")


def commands() -> list[tuple[str, str, str]]:
    """Each ``$`` line of the console blocks, where it is, and the text that follows it."""
    found: list[tuple[str, str, str]] = []
    for block in console_examples():
        command: str | None = None
        output: list[str] = []
        for line in block.text.splitlines():
            if command is not None and not output and command.endswith("\\"):
                command = command[:-1].rstrip() + " " + line.strip()  # continued on the next line
                continue
            if line.startswith("$ "):
                if command is not None:
                    found.append((block.where, command, "\n".join(output)))
                command, output = line[2:], []
            else:
                assert command is not None, f"{block.where}: output before any command: {line!r}"
                output.append(line)
        assert command is not None, f"{block.where}: a console block without a command"
        found.append((block.where, command, "\n".join(output)))
    return found


def on_a_terminal(command: str, cwd: Path) -> str:
    """Run ``command`` with a shell whose output is a pseudo-terminal; what it showed."""
    master, slave = pty.openpty()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen(
        ["sh", "-c", command], stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env
    )
    os.close(slave)
    shown = b""
    try:
        while True:
            readable, _, _ = select.select([master], [], [], 20)
            if not readable:
                raise AssertionError(f"{command!r} printed nothing for 20 s: {shown!r}")
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not data:
                break
            shown += data
    finally:
        proc.wait(timeout=20)
        os.close(master)
    # The terminal turns each \n into \r\n, so curl's \r\n arrives as \r\r\n.
    return re.sub(r"\r+\n", "\n", STYLING.sub("", shown.decode("utf-8", "replace")))


def matches(expected: str, shown: str) -> bool:
    pattern = ".*?".join(re.escape(part) for part in expected.rstrip("\n").split("..."))
    return re.fullmatch(pattern, shown.rstrip("\n"), re.S) is not None


@pytest.fixture(scope="module")
def demo() -> Iterator[Standalone]:
    with Standalone() as served:
        yield served
        served.stop()


def test_the_docs_have_a_walkthrough() -> None:
    found = commands()
    assert len(found) >= 20
    assert any("/faults/reset" in command for _, command, _ in found)
    assert any("__mockprogress/expectations" in command for _, command, _ in found)
    assert found[0][0].startswith("README.md:"), "the README's quick start comes first"


def test_every_command_prints_what_the_docs_say(demo: Standalone, tmp_path: Path) -> None:
    # Commands run in a scratch directory (they write files) that sees the repository's tests/
    # as the pages' "from the repository's root" commands expect.
    (tmp_path / "tests").symlink_to(README.parent / "tests")
    for where, command, expected in commands():
        shown = on_a_terminal(command.replace(ADDRESS, demo.url), tmp_path)
        expected = expected.replace(ADDRESS, demo.url)
        assert matches(expected, shown), (
            f"{where}\n$ {command}\n--- the page says:\n{expected}\n--- it printed:\n{shown}"
        )


def test_the_matcher_is_strict() -> None:
    assert matches("a\nb", "a\nb\n")
    assert matches("took ... ms", "took 1001 ms")
    assert not matches("a\nb", "a\nb\nc")
    assert not matches("took ... ms", "took 1001 s")
