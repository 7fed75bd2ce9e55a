"""Run ``mockprogress serve`` as a user does, in a subprocess, and watch what it prints.

A thread reads the server's output line by line as it comes, so the test never blocks the
server on a full pipe and can wait for a line (with a deadline) instead of sleeping.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from typing import Any

READY = re.compile(r"^mockprogress listening on (https?://127\.0\.0\.1:(\d+))$")


class Standalone:
    """One ``python -m mockprogress serve --port 0 ...`` process (``command="proxy"``: the
    proxy)."""

    def __init__(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        ready: bool = True,
        command: str = "serve",
    ) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mockprogress", command, "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.lines), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.errors), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self.url = ""
        if ready:
            # The readiness line comes first; with --tls, the line naming the CA before it.
            first = self.wait_for(r".", timeout=20)
            if "--tls" in args:
                assert first.startswith("the CA to trust: "), first
                first = self.wait_for(r".", timeout=20, start=1)
            match = READY.match(first)
            assert match, f"first line {first!r}; stderr: {''.join(self.errors)}"
            self.url = match.group(1)

    def _read(self, stream: Any, into: list[str]) -> None:
        for line in stream:
            with self._changed:
                into.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = 10.0, start: int = 0) -> str:
        """The first output line from ``start`` on that matches ``pattern``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[start:]:
                    if regex.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._alive()):
                    raise AssertionError(
                        f"no line matching {pattern!r} in {self.lines!r}; stderr {self.errors!r}"
                    )
                self._changed.wait(min(left, 0.1))

    def _alive(self) -> bool:
        return any(reader.is_alive() for reader in self._readers)

    def control(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """Call the control API; returns the status and the parsed JSON."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}/__mockprogress/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout)
        return code

    def __enter__(self) -> Standalone:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for reader in self._readers:
            reader.join(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
