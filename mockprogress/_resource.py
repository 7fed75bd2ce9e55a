"""The base of stateful protocol resources (progress jobs, uploads) mounted under a path."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import ScenarioError

if TYPE_CHECKING:
    from ._actions import Program
    from ._exchange import ExchangeContext

T = TypeVar("T")


def _direct(fn: Callable[[], Any]) -> Any:
    return fn()


class Resource:
    """A stateful resource: every request under ``path`` goes to ``serve``.

    Subclasses implement ``serve(ctx)`` as a program (see ``mockprogress._actions``) using the
    exchange context's steps. Their state belongs to the server's event loop; public readers
    (``.uploads`` and the like) go through ``_on_loop`` so that thread-mode tests read a
    consistent copy.
    """

    def __init__(self, path: str) -> None:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ScenarioError(f"a resource path must start with '/', got {path!r}")
        self.path = path.rstrip("/") or "/"
        self._call_on_loop: Callable[[Callable[[], Any]], Any] = _direct

    def handles(self, path: str) -> bool:
        """True for the resource's own path and everything below it."""
        if self.path == "/":
            return True
        return path == self.path or path.startswith(self.path + "/")

    def serve(self, ctx: ExchangeContext) -> Program[None]:
        """Answer one request: a program over ``ctx``."""
        raise NotImplementedError

    def describe(self) -> str:
        return f"{type(self).__name__} {self.path}"

    def reset(self) -> None:
        """Forget all state (the server calls this on ``reset()``)."""

    def free_storage(self) -> None:
        """Let go of open files and temporary storage once nobody will read the resource again
        (the pytest fixtures call it after each test). Persistent stores keep their files."""

    def _attach(self, call_on_loop: Callable[[Callable[[], Any]], Any]) -> None:
        self._call_on_loop = call_on_loop

    def _on_loop(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the server's loop and return its result."""
        result: T = self._call_on_loop(fn)
        return result
