"""Reading an upload request's body piece by piece, with the resource's interruption.

Each piece the exchange reads lands in the journal (``read_body_chunk``) and is handed to the
resource at once, so a cut after K bytes leaves exactly K bytes in both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

from ..http.byteranges import PatchFormatError
from ..script.steps import Respond

if TYPE_CHECKING:
    from ..engine.actions import Program
    from ..engine.exchange import ExchangeContext
    from ..script.faults import Interrupt

BodyEnd = Literal["complete", "cut", "ended", "refused"]


def stream_body(
    ctx: ExchangeContext,
    cut: Interrupt | None,
    on_piece: Callable[[bytes], Program[None]],
) -> Program[BodyEnd]:
    """Read the body, handing each piece to ``on_piece`` (a program: it may send interims).

    With ``cut``, the connection is cut once ``cut.after`` body bytes have been read, unless
    the body is complete by then. Returns ``"complete"``, ``"cut"``, or ``"ended"`` (the
    client went away or the exchange was already answered).
    """
    while True:
        room: int | None = None
        read = len(ctx.log.body)
        fully_read = ctx.declared_length is not None and read >= ctx.declared_length
        if cut is not None and not fully_read:
            room = cut.after - read
            if room <= 0:
                yield from ctx.fault(cut.how, cut.seconds)
                return "cut"
        piece = yield from ctx.read_body_chunk(room)
        if piece:
            yield from on_piece(piece)
        elif ctx.body_done:
            return "complete"
        else:
            return "ended"


def stream_or_refuse(
    ctx: ExchangeContext,
    cut: Interrupt | None,
    on_piece: Callable[[bytes], Program[None]],
    refuse: Callable[[PatchFormatError], Respond],
) -> Program[BodyEnd]:
    """``stream_body``, answering ``refuse(exc)`` when ``on_piece`` refuses the upload with a
    ``PatchFormatError`` (the connection closes if the body was not all read): then
    ``"refused"``."""
    try:
        return (yield from stream_body(ctx, cut, on_piece))
    except PatchFormatError as exc:
        yield from ctx.respond(refuse(exc), read_first=False)
        return "refused"


def text_response(
    status: int,
    text: str,
    headers: tuple[tuple[str, str], ...] = (),
    reason: str = "",
) -> Respond:
    """A ``text/plain`` answer of an upload resource."""
    return Respond(
        status, text.encode(), (("Content-Type", "text/plain; charset=utf-8"), *headers), reason
    )


def refusal(exc: PatchFormatError) -> Respond:
    """The plain-text answer to a refused patch or upload request: its status, its message and
    its headers (a 416's ``Content-Range``, a 415's ``Accept-Patch``)."""
    return text_response(exc.status, exc.message + "\n", exc.headers)
