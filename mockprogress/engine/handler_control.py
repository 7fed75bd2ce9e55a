"""What an async handler receives: the request so far, and awaitable steps.

.. code-block:: python

    async def handler(ctl: mp.HandlerControl) -> None:
        body = await ctl.read_body()
        await ctl.send(mp.processing((0, 1)), mp.pause(0.1))
        await ctl.send(mp.respond(200, body[::-1]))

    srv.expect("POST", "/reverse").respond_with(handler)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..script.steps import Step
    from .actions import Program
    from .journal import Exchange
    from .surface import ExchangeSurface


class HandlerControl:
    """The handle an async handler drives its exchange with. Each awaitable carries out steps
    exactly as a script would, on the server's loop."""

    def __init__(self, ctx: ExchangeSurface, run: Callable[[Program[Any]], Awaitable[Any]]) -> None:
        self._ctx = ctx
        self._run = run

    @property
    def request(self) -> Exchange:
        """The exchange as recorded so far: method, path, headers, the body read so far."""
        return self._ctx.log.snapshot()

    @property
    def closed(self) -> bool:
        """True once a fault or a cut has ended the connection."""
        return self._ctx.closed

    async def read_body(self, upto: int | None = None) -> bytes:
        """Read the body (or up to ``upto`` bytes of it) and return what has been read."""
        await self._run(self._ctx.read_body(upto))
        return self._ctx.log.body.read()

    async def send(self, *steps: Step) -> None:
        """Carry out these steps in order: interims, pauses, the response, faults."""
        for step in steps:
            await self._run(self._ctx.run(step))
