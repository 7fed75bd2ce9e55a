"""What an upload resource runs once an upload is complete, and the response it keeps.

The processing is one of:

- script steps (``[mp.processing(...), mp.pause(1), mp.respond(201, ...)]``), run on the
  exchange that completed the upload;
- any object with a ``process(ctx)`` program method (duck-typed), such as a progress job:
  it drives the exchange itself, sending its 102s and its final response;
- a function of the completed upload (a snapshot with ``.data``) returning either of the
  above, for answers that depend on what was uploaded.

The resources keep whatever final response the processing sends (``StoredResponse``), so that
a client whose response was lost can fetch it again (draft-wright-http-resume-request §3.2:
``message/http``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from ..engine.exchange import run_script
from ..errors import ScenarioError
from ..script.steps import Script, Step

if TYPE_CHECKING:
    from ..engine.actions import Program
    from ..engine.surface import ExchangeSurface


class Processor(Protocol):
    """Anything that can answer the completing exchange, e.g. a progress job."""

    def process(self, ctx: ExchangeSurface) -> Program[None]: ...


ProcessResult: TypeAlias = "Step | Sequence[Step] | Processor"
ProcessInput: TypeAlias = "ProcessResult | Callable[[Any], ProcessResult]"


def _is_processor(value: object) -> bool:
    return callable(getattr(value, "process", None))


def as_runnable(value: object, what: str) -> Script | Processor:
    """Steps become a validated script; a processor stays as it is.

    :raises ScenarioError: for anything else.
    """
    if _is_processor(value):
        return value  # type: ignore[return-value]
    if isinstance(value, Step):
        return Script.of([value])
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return Script.of(value)
    raise ScenarioError(
        f"{what} takes steps (e.g. [mp.respond(201)]), an object with a process(ctx) method, "
        f"or a function of the upload returning either; got {value!r}"
    )


class Completion:
    """The processing of one resource, validated when the resource is built."""

    def __init__(self, process: object, what: str) -> None:
        self.what = what
        self._function: Callable[[Any], object] | None = None
        self._runnable: Script | Processor | None = None
        if not _is_processor(process) and callable(process) and not isinstance(process, Step):
            self._function = process
        else:
            self._runnable = as_runnable(process, what)

    def run(self, ctx: ExchangeSurface, upload: object) -> Program[None]:
        """Answer ``ctx``, the exchange that completed ``upload``."""
        runnable = self._runnable
        if self._function is not None:
            try:
                runnable = as_runnable(self._function(upload), self.what)
            except Exception as exc:
                yield from ctx.handler_failed(exc)
                return
        if isinstance(runnable, Script):
            yield from run_script(ctx, runnable)
        elif runnable is not None:
            yield from runnable.process(ctx)
