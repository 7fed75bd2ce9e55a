"""What the upload resources share: routing, the store, interruptions, and the append loop.

The append loop is where the rule "never lose a byte that was read" is kept: every piece the
exchange reads (``read_body_chunk`` also puts it in the journal) goes into the store before the
next piece is read, so a cut, a client that goes away or a stopped server leaves the store
holding exactly the bytes read. Two cases keep bytes out of the store on purpose, both because
the protocol says so: content that must be verified first (tus ``Upload-Checksum``: all or
nothing) and bytes that arrive on a request superseded by a newer one for the same upload (the
IETF draft §4.6: a new request terminates the one in flight).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ..engine.actions import Program
from ..engine.faults import InterruptPlan
from ..engine.resource import Resource
from ..errors import ScenarioError
from ..script.checks import check_count
from ..script.faults import Interrupt
from ..script.steps import Interim, Respond
from .upload_store import Upload, UploadStore

if TYPE_CHECKING:
    from ..engine.exchange import ExchangeContext
    from .upload_store import StoredUpload

#: How ``receive`` ended.
DONE, CUT, CLOSED, SUPERSEDED, TOO_LONG = "done", "cut", "closed", "superseded", "too-long"
#: How many unfinished uploads a resource keeps before it refuses to start another (507).
DEFAULT_MAX_PENDING = 1000


class UploadResource(Resource):
    """Base of the upload resources: uploads under ``path/<id>``, kept in ``store``."""

    def __init__(
        self,
        path: str,
        *,
        store: UploadStore | None,
        interrupts: Iterable[Interrupt],
        max_size: int | None,
        max_pending: int | None = DEFAULT_MAX_PENDING,
    ) -> None:
        super().__init__(path)
        if store is not None and not isinstance(store, UploadStore):
            raise ScenarioError(f"store must be an mp.UploadStore, got {store!r}")
        self.store = store if store is not None else UploadStore()
        self.plan = InterruptPlan(interrupts)
        self.max_size = None if max_size is None else check_count(max_size, "max_size")
        self.max_pending = check_limit(max_pending, "max_pending")
        #: The exchange currently working on each upload (a newer one supersedes it).
        self._active: dict[str, ExchangeContext] = {}

    # ---- public readers --------------------------------------------------------------------

    @property
    def uploads(self) -> dict[str, Upload]:
        """Every upload by id: ``.data`` (the bytes stored), ``.offset``, ``.complete``,
        ``.length``, ``.metadata``. A snapshot taken on the server's loop."""
        return self._on_loop(lambda: {u.id: u.snapshot() for u in self.store})

    def reset(self) -> None:
        self.store.clear()
        self.plan.reset()
        self._active.clear()

    def free_storage(self) -> None:
        self.store.free_storage()

    def describe(self) -> str:
        return f"{type(self).__name__} {self.path}"

    # ---- routing ---------------------------------------------------------------------------

    def target(self, ctx: ExchangeContext) -> str | None:
        """None for the resource's own path, else the upload id the path names ('' for a
        path that names nothing)."""
        path = urllib.parse.urlsplit(ctx.log.target).path
        base = "" if self.path == "/" else self.path
        if path in (base, base + "/"):
            return None
        rest = path[len(base) + 1 :]
        return "" if "/" in rest.rstrip("/") else rest.rstrip("/")

    def location(self, upload_id: str) -> str:
        """The upload's URL as a path-absolute reference."""
        return f"{'' if self.path == '/' else self.path}/{upload_id}"

    # ---- how many may be unfinished --------------------------------------------------------

    def is_pending(self, upload: StoredUpload) -> bool:
        """True for an upload that is not finished: not complete, and not refused for good."""
        return not upload.complete and not upload.invalid

    def pending_refusal(self, ctx: ExchangeContext) -> Respond | None:
        """A 507 for a request that would start one more unfinished upload than
        ``max_pending`` allows (recorded as a ``limit`` problem, as the server's own limits
        are); None when there is room."""
        if self.max_pending is None:
            return None
        pending = sum(1 for upload in self.store if self.is_pending(upload))
        if pending < self.max_pending:
            return None
        message = (
            f"{self.describe()} keeps {pending} unfinished uploads, as many as its "
            f"max_pending={self.max_pending} allows: finish or delete one first"
        )
        ctx.problem("limit", message)
        return text_response(507, message)

    # ---- the upload in flight --------------------------------------------------------------

    def claim(self, ctx: ExchangeContext, upload: StoredUpload) -> None:
        """Make ``ctx`` the exchange working on ``upload``; one still reading is superseded."""
        self._active[upload.id] = ctx

    def release(self, ctx: ExchangeContext, upload: StoredUpload) -> None:
        if self._active.get(upload.id) is ctx:
            del self._active[upload.id]

    def next_cut(self, ctx: ExchangeContext) -> Interrupt | None:
        """Count an upload request; the interruption that applies to it, if any."""
        if ctx.declared_length == 0:
            return None  # carries no upload data
        return self.plan.next_request()

    def receive(
        self,
        ctx: ExchangeContext,
        upload: StoredUpload,
        *,
        cut: Interrupt | None,
        limit: int | None = None,
        commit: bool = True,
        observe: Callable[[bytes], None] | None = None,
        progress: Callable[[int], Interim | None] | None = None,
    ) -> Program[str]:
        """Read the request body into ``upload``, piece by piece.

        :param cut: cut the request after this many body bytes (then fire the fault).
        :param limit: at most this many bytes may be stored; more is ``TOO_LONG``.
        :param commit: False holds the bytes back until the caller verifies them.
        :param observe: sees every stored piece (a checksum).
        :param progress: given the new offset after each piece, an interim to send, if any.
        :return: ``DONE``, ``CUT``, ``CLOSED`` (the exchange was closed for us),
            ``SUPERSEDED`` or ``TOO_LONG``.
        """
        if cut is not None and ctx.declared_length is not None and ctx.declared_length <= cut.after:
            cut = None  # the body ends at or before the cut: it is not interrupted
        received = 0
        while True:
            if self._active.get(upload.id) is not ctx:
                yield from self._superseded(ctx, upload)
                return SUPERSEDED
            room: int | None = None
            if cut is not None:
                room = cut.after - received
                if room <= 0:
                    break
            if limit is not None:
                over = limit - received + 1  # read one byte past the limit to notice it
                room = over if room is None else min(room, over)
            chunk = yield from ctx.read_body_chunk(room)
            if not chunk:
                if ctx.body_done:
                    return DONE
                return CLOSED
            if self._active.get(upload.id) is not ctx:
                yield from self._superseded(ctx, upload)
                return SUPERSEDED
            if limit is not None and received + len(chunk) > limit:
                keep = chunk[: limit - received]
                if keep:
                    upload.append(keep, commit=commit)
                    if observe is not None:
                        observe(keep)
                return TOO_LONG
            start = len(upload.data)
            upload.append(chunk, commit=commit)
            # The store now holds the piece as read: the journal reads it there.
            ctx.log.body.share(chunk, upload.data, start)
            if observe is not None:
                observe(chunk)
            received += len(chunk)
            if progress is not None and not ctx.body_done:
                interim = progress(len(upload.data))
                if interim is not None:
                    yield from ctx.send_interim(interim)
        assert cut is not None
        detail = (
            f"{cut.how} after {len(ctx.log.body)} body bytes read "
            f"(mp.interrupt(after={cut.after}), upload request {self.plan.count})"
        )
        yield from ctx.fault(cut.how, cut.seconds, detail=detail)
        return CUT

    def _superseded(self, ctx: ExchangeContext, upload: StoredUpload) -> Program[None]:
        newer = self._active.get(upload.id)
        by = f" by exchange #{newer.log.index}" if newer is not None else ""
        detail = (
            f"reset after {len(ctx.log.body)} body bytes read: superseded{by}, a newer request "
            f"for upload {upload.id}"
        )
        yield from ctx.fault("reset", detail=detail)


def check_limit(value: int | None, name: str) -> int | None:
    return None if value is None else check_count(value, name)


def text_response(status: int, message: str, headers: Iterable[tuple[str, str]] = ()) -> Respond:
    """A plain-text error answer that says what was wrong."""
    return Respond(
        status,
        (message.rstrip("\n") + "\n").encode(),
        (*headers, ("Content-Type", "text/plain; charset=utf-8")),
    )


def problem_response(
    status: int,
    problem: str,
    title: str,
    headers: Iterable[tuple[str, str]] = (),
    **members: object,
) -> Respond:
    """An ``application/problem+json`` answer (RFC 9457) with an IANA problem type."""
    document = {"type": f"https://iana.org/assignments/http-problem-types#{problem}"}
    document["title"] = title
    body = json.dumps({**document, **members}).encode()
    return Respond(status, body, (*headers, ("Content-Type", "application/problem+json")))
