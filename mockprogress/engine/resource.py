"""The base of stateful protocol resources (progress jobs, uploads) mounted under a path."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ScenarioError

if TYPE_CHECKING:
    from .actions import Program
    from .state import ServerState
    from .surface import ExchangeSurface

T = TypeVar("T")


def _direct(fn: Callable[[], Any]) -> Any:
    return fn()


class Resource:
    """A stateful resource: every request under ``path`` goes to ``serve``.

    Subclasses implement ``serve(ctx)`` as a program (see ``mockprogress.engine.actions``) using the
    exchange context's steps. Their state belongs to the server's event loop; public readers
    (``.uploads`` and the like) go through ``_on_loop`` so that thread-mode tests read a
    consistent copy.
    """

    #: What the resource shows and the command that shows it, for the standalone server's
    #: index (scenario files set them; ``{url}`` in ``curl`` stands for the server's URL).
    description: str | None = None
    curl: str | None = None
    #: A reserved resource is the server's own, not the test's (the control API is one): it
    #: answers before expectations, its exchanges are kept apart from the journal, and
    #: ``reset()`` keeps it mounted.
    reserved: bool = False
    #: A page for people that the resource serves, as a path (the control API's live view in
    #: a browser); the index links it.
    page: str | None = None

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

    def serve(self, ctx: ExchangeSurface) -> Program[None]:
        """Answer one request: a program over ``ctx``."""
        raise NotImplementedError

    def mounted(self, state: ServerState) -> None:
        """Called as the server mounts the resource. A resource about the server itself (the
        control API) keeps ``state``; the protocol resources need nothing of it."""

    def describe(self) -> str:
        """How reports and the journal's ``handled_by`` name it: ``TusUploads /files``."""
        return f"{type(self).__name__} {self.path}"

    def reset(self) -> None:
        """Forget all state (the server calls this on ``reset()``)."""

    def free_storage(self) -> None:
        """Let go of open files and temporary storage once nobody will read the resource again
        (the pytest fixtures call it after each test). Persistent stores keep their files."""

    def close(self) -> None:
        """Release what the resource holds (flush a store to disk, close files). The server
        calls it when the resource is forgotten (``reset()``, a control-API delete) and when
        the server stops, after every connection has closed."""

    def _attach(self, call_on_loop: Callable[[Callable[[], Any]], Any]) -> None:
        self._call_on_loop = call_on_loop

    def _on_loop(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the server's loop and return its result."""
        result: T = self._call_on_loop(fn)
        return result
