"""A real browser for the tests of the live view: Debian's Chromium, headless, driven by
``tests/node/browser.js`` (playwright-core, pinned in tests/node/package-lock.json). The
Makefile installs both (`make test`: apt-get install chromium, npm ci). One browser serves a
whole test module: each command is one JSON line to the script and one back."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from support.paths import NODE_DIR

CHROMIUM = Path("/usr/bin/chromium")


class BrowserError(AssertionError):
    """A command the browser could not carry out (a wait that timed out, a page that failed)."""


class Browser:
    """One headless Chromium; ``call(op, ...)`` runs a command of browser.js in its page."""

    def __init__(self) -> None:
        node = shutil.which("node")
        missing = [
            what
            for what, present in (
                ("node", node is not None),
                (str(CHROMIUM), CHROMIUM.exists()),
                ("playwright-core", (NODE_DIR / "node_modules" / "playwright-core").is_dir()),
            )
            if not present
        ]
        if missing:
            pytest.fail(
                f"the browser tests need {', '.join(missing)}: run `make test` (it installs "
                "Debian's chromium and runs npm ci in tests/node)"
            )
        assert node is not None
        self.proc = subprocess.Popen(
            [node, str(NODE_DIR / "browser.js")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=NODE_DIR,
        )

    def call(self, op: str, **args: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            stderr = self.proc.stderr.read() if self.proc.stderr else ""
            raise BrowserError(f"browser.js stopped ({self.proc.returncode}): {stderr}")
        answer = json.loads(line)
        if not answer["ok"]:
            raise BrowserError(f"{op} {args}: {answer['error']}")
        return answer["value"]

    def wait(self, expression: str, timeout_ms: int = 10000) -> Any:
        """The value of ``expression`` in the page once it is truthy."""
        return self.call("wait", expression=expression, timeout=timeout_ms)

    def text(self, selector: str) -> list[str]:
        """The text of every element matching ``selector`` that is shown."""
        return list(
            self.call(
                "eval",
                expression=f"[...document.querySelectorAll({json.dumps(selector)})]"
                ".filter((e) => !e.closest('[hidden]')).map((e) => e.textContent)",
            )
        )

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
