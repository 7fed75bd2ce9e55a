"""The upload framework: the base every upload resource builds on, its one body reader, and its
answers.

Every upload resource is an ``UploadResource`` (``tus``: tus 1.0; ``resumable_upload``: the
IETF draft; ``resume_request``: draft-wright resume-request, which the reference demo's
suite in ``reference_demo`` runs; ``byterange_patch``: draft-wright patch-byterange) and
reads every request body through ``UploadResource.read_body``, which ends in one ``BodyEnd``.
Plain-text answers are the engine's ``plain_response`` (``with_fields`` adds header fields).

**Which requests count towards ``mp.interrupt(request=N)``.** A request counts when its
resource begins to read its body as upload data: after every check that answers it without
reading the body (a refusal, a 404, a failed precondition, a full store), and only when it
does not declare an empty body (``Content-Length: 0``). Creations, appends, PATCHes and PUTs
of one resource count together, from 1. ``read_body`` is the only place that counts, so every
resource keeps this rule.

**Never lose a byte that was read.** ``read_body`` hands each piece the exchange reads
(``read_body_chunk`` also puts it in the journal) to the resource before it reads the next,
so a cut, a client that goes away or a stopped server leaves the store holding exactly the
bytes read. Two cases keep bytes out of the store on purpose, both because the protocol says
so: content that must be verified first (tus ``Upload-Checksum``: all or nothing) and bytes
that arrive on a request superseded by a newer one for the same upload (the IETF draft §4.6:
a new request terminates the one in flight).
"""

from __future__ import annotations

import errno
import os
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import replace
from enum import Enum
from typing import TYPE_CHECKING

from ..engine.actions import Program
from ..engine.exchange import plain_response
from ..engine.faults import InterruptPlan
from ..engine.resource import Resource
from ..errors import ScenarioError
from ..http.byteranges import PatchFormatError
from ..script.checks import check_count
from ..script.faults import Interrupt
from ..script.steps import Interim, Respond
from .upload_store import Upload, UploadStore

if TYPE_CHECKING:
    from ..engine.surface import ExchangeSurface
    from .upload_store import StoredUpload

#: How many unfinished uploads a resource keeps before it refuses to start another (507).
DEFAULT_MAX_PENDING = 1000
#: The errors of a store with no room left: answered 507 Insufficient Storage.
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class BodyEnd(Enum):
    """How ``UploadResource.read_body`` ended."""

    #: The whole body was read and handed over.
    COMPLETE = "complete"
    #: The resource's interruption cut the connection after ``mp.interrupt(after=K)`` bytes.
    CUT = "cut"
    #: The client went away, or the exchange was closed or answered already.
    ENDED = "ended"
    #: A newer request claimed the same upload; this connection was reset.
    SUPERSEDED = "superseded"
    #: The body went past ``limit``; the bytes within it were handed over.
    TOO_LONG = "too long"
    #: A piece was refused (``PatchFormatError``) and the refusal was sent.
    REFUSED = "refused"


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
        self._active: dict[str, ExchangeSurface] = {}

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

    def target(self, ctx: ExchangeSurface) -> str | None:
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

    def pending_refusal(self, ctx: ExchangeSurface) -> Respond | None:
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
        return plain_response(507, message + "\n")

    # ---- the upload in flight --------------------------------------------------------------

    def claim(self, ctx: ExchangeSurface, upload: StoredUpload) -> None:
        """Make ``ctx`` the exchange working on ``upload``; one still reading is superseded."""
        self._active[upload.id] = ctx

    def release(self, ctx: ExchangeSurface, upload: StoredUpload) -> None:
        """The exchange ``ctx`` no longer appends to ``upload``."""
        if self._active.get(upload.id) is ctx:
            del self._active[upload.id]

    def _count_request(self, ctx: ExchangeSurface) -> Interrupt | None:
        """Count an upload request (the rule of the module's docstring); the interruption
        that applies to it, if any."""
        if ctx.declared_length == 0:
            return None  # carries no upload data
        return self.plan.next_request()

    def read_body(
        self,
        ctx: ExchangeSurface,
        on_piece: Callable[[bytes], Program[None]],
        *,
        claimed: StoredUpload | None = None,
        limit: int | None = None,
        refuse: Callable[[PatchFormatError], Respond] | None = None,
    ) -> Program[BodyEnd]:
        """The one body reader: count the request, read its body piece by piece, hand each
        piece to ``on_piece`` (a program: it may send interims), and cut the connection where
        the resource's interruption says.

        :param claimed: the upload this exchange claimed: once a newer request claims it,
            this connection is reset (``SUPERSEDED``), before or after any read.
        :param limit: hand over at most this many bytes; more is ``TOO_LONG``.
        :param refuse: the answer when ``on_piece`` raises ``PatchFormatError`` (then
            ``REFUSED``; the connection closes if the body was not all read). Without it the
            error propagates.
        """
        cut = self._count_request(ctx)
        if cut is not None and ctx.declared_length is not None and ctx.declared_length <= cut.after:
            cut = None  # the body ends at or before the cut: it is not interrupted
        handed = 0
        try:
            while True:
                if claimed is not None and self._active.get(claimed.id) is not ctx:
                    yield from self._superseded(ctx, claimed)
                    return BodyEnd.SUPERSEDED
                room: int | None = None
                if cut is not None:
                    room = cut.after - len(ctx.log.body)
                    if room <= 0:
                        break
                if limit is not None:
                    over = limit - handed + 1  # read one byte past the limit to notice it
                    room = over if room is None else min(room, over)
                piece = yield from ctx.read_body_chunk(room)
                if not piece:
                    return BodyEnd.COMPLETE if ctx.body_done else BodyEnd.ENDED
                if claimed is not None and self._active.get(claimed.id) is not ctx:
                    yield from self._superseded(ctx, claimed)
                    return BodyEnd.SUPERSEDED
                if limit is not None and handed + len(piece) > limit:
                    if limit > handed:
                        yield from on_piece(piece[: limit - handed])
                    return BodyEnd.TOO_LONG
                handed += len(piece)
                yield from on_piece(piece)
        except PatchFormatError as exc:
            if refuse is None:
                raise
            yield from ctx.respond(refuse(exc), read_first=False)
            return BodyEnd.REFUSED
        except OSError as exc:
            if exc.errno not in _NO_SPACE:
                raise
            # The store kept every byte before the piece it could not write (StoredUpload
            # rolls that one back): offset, stored bytes and state agree; the client resumes.
            message = (
                f"{self.describe()} ran out of storage with {len(ctx.log.body)} body bytes "
                f"read: {os.strerror(exc.errno)}"
            )
            ctx.problem("limit", message)
            yield from ctx.respond(self.insufficient_storage(message + "\n"), read_first=False)
            return BodyEnd.REFUSED
        detail = (
            f"{cut.how} after {len(ctx.log.body)} body bytes read "
            f"(mp.interrupt(after={cut.after}), upload request {self.plan.count})"
        )
        yield from ctx.fault(cut.spec, detail=detail)
        return BodyEnd.CUT

    def read_into(
        self,
        ctx: ExchangeSurface,
        upload: StoredUpload,
        *,
        limit: int | None = None,
        commit: bool = True,
        observe: Callable[[bytes], None] | None = None,
        progress: Callable[[int], Interim | None] | None = None,
    ) -> Program[BodyEnd]:
        """``read_body`` appending to ``upload``, which ``ctx`` has claimed.

        :param commit: False holds the bytes back until the caller verifies them.
        :param observe: sees every stored piece (a checksum).
        :param progress: given the new offset after each piece, an interim to send, if any.
        """

        def store(piece: bytes) -> Program[None]:
            start = len(upload.data)
            upload.append(piece, commit=commit)
            # The store now holds the piece as read: the journal reads it there.
            ctx.log.body.share(piece, upload.data, start)
            if observe is not None:
                observe(piece)
            if progress is not None and not ctx.body_done:
                interim = progress(len(upload.data))
                if interim is not None:
                    yield from ctx.send_interim(interim)

        return (yield from self.read_body(ctx, store, claimed=upload, limit=limit))

    def insufficient_storage(self, message: str) -> Respond:
        """The 507 for a body the store had no room for (a full disk)."""
        return plain_response(507, message)

    def _superseded(self, ctx: ExchangeSurface, upload: StoredUpload) -> Program[None]:
        newer = self._active.get(upload.id)
        by = f" by exchange #{newer.log.index}" if newer is not None else ""
        detail = (
            f"reset after {len(ctx.log.body)} body bytes read: superseded{by}, a newer request "
            f"for upload {upload.id}"
        )
        yield from ctx.fault("reset", detail=detail)


def check_limit(value: int | None, name: str) -> int | None:
    return None if value is None else check_count(value, name)


def with_fields(step: Respond, fields: Iterable[tuple[str, str]]) -> Respond:
    """``step`` with ``fields`` after its own header fields (``plain_response`` gives only
    ``Content-Type``)."""
    return replace(step, headers=(*step.headers, *fields))


def refusal(exc: PatchFormatError) -> Respond:
    """The plain-text answer to a refused upload: its status, its message and its header
    fields (a 416's ``Content-Range``, a 415's ``Accept-Patch``)."""
    return with_fields(plain_response(exc.status, exc.message + "\n"), exc.headers)
