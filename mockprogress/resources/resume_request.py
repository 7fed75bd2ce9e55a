"""``mp.ResumableRequests``: draft-wright-http-resume-request with partial uploads.

The flow (draft-wright-http-resume-request §2, draft-wright-http-partial-upload, and the
reference demo):

1. The client sends a request with ``Expect: 100-continue`` and ``Prefer: resume``. The server
   creates a job and answers ``100 Continue`` carrying ``Request-Content-Location`` (the request
   content as a resource) and ``Response-Message-Location`` (where the final response will be
   kept), then reads the body, storing every byte as it arrives.
2. The upload is cut (the resource's ``interrupts`` script that). ``HEAD`` on the
   request-content resource answers the incomplete status (default ``299 Incomplete Resource``,
   the reference demo's stand-in for the drafts' ``2__``), or ``200`` once complete, with
   ``Content-Length`` = the bytes stored.
3. The client ``PATCH``es the missing range as ``message/byterange`` (or
   ``multipart/byteranges`` / ``application/byteranges``). Each mistake gets a 4xx with a
   plain message, and bytes read before it stay stored.
4. The request that completes the content gets the processing: scripted steps (102s, a final
   response), a function of the upload, or an object with a ``process(ctx)`` program (a
   progress job). The final response is kept; ``GET`` on ``Response-Message-Location``
   returns it as ``message/http``. ``DELETE`` on either location forgets the job.

Two dialects. ``"draft"`` follows the drafts: ``Prefer: resume`` (``=ignore-incomplete``
discards an interrupted upload), acknowledgements as ``100 Continue`` + ``Acknowledge: N``
when the client sent ``Prefer: acknowledge``, ``Content-Range`` with its ``bytes`` unit,
overwrites of stored bytes allowed, a gap refused with 416. ``"demo"`` speaks like the
reference Node.js demo (awwright/http-progress demo-progress): any ``Prefer``
asks for resumption, ``Expect: 100-continue`` is required, every stored 64 KiB is
acknowledged with a raw ``199 Acknowledge <N>B``, ``Content-Range: a-b/total`` needs no
unit, a resume must start exactly where the content ends, errors are 400 with the demo's
texts, and the PATCH that completes the content gets an empty ``200`` (the result is only
at ``Response-Message-Location``).

Job URIs. In the draft dialect a job's id is unguessable (``secrets.token_urlsafe``: the
request content of a job is nobody else's to read or overwrite). The demo dialect keeps the
reference demo's sequential ``/job/N.req`` and ``/job/N.res``, which its client and runner
expect: use it for that interop suite only.

The jobs live in an ``UploadStore`` (``store=``): in memory by default, or a
``DirectoryUploadStore`` so that interrupted uploads survive a restart.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Literal

from ..engine.exchange import plain_response
from ..errors import ScenarioError
from ..http.byteranges import (
    MESSAGE_BYTERANGE,
    PATCH_MEDIA_TYPES,
    PartHead,
    PatchFormatError,
    PatchOptions,
    PatchParser,
    accept_patch,
    patch_parser,
)
from ..http.prefer import Preferences
from ..script.checks import check_count, check_reason, check_status
from ..script.faults import Interrupt
from ..script.steps import Interim, Respond, respond
from .resume_request_jobs import Job, JobTable, StoredRequest, job_extra
from .upload_completion import Completion, ProcessInput
from .upload_store import StoredResponse, StoredUpload, UploadStore
from .uploads import DEFAULT_MAX_PENDING, BodyEnd, UploadResource, refusal, with_fields

if TYPE_CHECKING:
    from ..engine.actions import Program
    from ..engine.surface import ExchangeSurface

Dialect = Literal["draft", "demo"]

_JOB_REF = re.compile(r"([A-Za-z0-9_-]+)\.(req|res)")
_REQ_ALLOW = "GET, HEAD, PATCH, DELETE"
_RES_ALLOW = "GET, HEAD, DELETE"

# The reference demo's texts (httpd.js), by failure kind.
_DEMO_TEXT = {
    "no-length": "Expected patch to contain a Content-Length field.",
    "bad-length": "Expected patch to contain a Content-Length field.",
    "no-range": "Expected patch to contain a Content-Range field.",
    "bad-range": "Expected patch to contain a Content-Range field.",
    "unit": "Expected patch to contain a Content-Range field.",
    "range-form": "Expected patch to contain a Content-Range field.",
    "end": "Incorrect Content-Range ending index.",
    "total": "Incorrect Content-Range total length.",
    "length-mismatch": "Mismatch between Content-Length and Content-Range.",
    "session": "Upload interrupted by another session.",
    "too-long": "Patch longer than declared length.",
    "over": "Over-long patch body.",
    "short": "Under-size patch body.",
}


def _default_result(upload: StoredRequest) -> Respond:
    return respond(
        200,
        f"received {upload.offset} bytes, sha256 {upload.sha256}\n",
    )


class ResumableRequests(UploadResource):
    """Resumable requests and partial uploads (draft-wright-http-resume-request).

    .. code-block:: python

        uploads = srv.mount(mp.ResumableRequests(
            "/upload",
            process=[mp.processing('0/1 "Checking"'), mp.respond(201, b"stored\\n")],
            interrupts=[mp.interrupt(after=4096)],          # cut the first upload at 4096 bytes
        ))
        # POST /upload with Expect: 100-continue and Prefer: resume
        #   -> 100 Continue, Request-Content-Location: /upload/<id>.req,
        #                    Response-Message-Location: /upload/<id>.res
        # HEAD /upload/<id>.req -> 299 Incomplete Resource, Content-Length: 4096
        # PATCH /upload/<id>.req (message/byterange, Content-Range: bytes 4096-9999/10000)
        #   -> 102 Processing ..., 201 Created
        [job] = uploads.uploads.values()
        assert job.complete

    :param path: where requests are sent (``POST`` or ``PUT``) to create jobs.
    :param jobs_path: where the jobs' resources live (default: ``path``): a job's request
        content is ``{jobs_path}/<id>.req``, its response message ``{jobs_path}/<id>.res``;
        the id is unguessable, or ``1``, ``2``, ... in the demo dialect.
    :param process: what answers the request that completes the content: steps, an object
        with a ``process(ctx)`` program (e.g. a progress job), or a function of the
        ``StoredRequest`` returning either. Default: ``200`` naming the bytes and their SHA-256.
    :param dialect: ``"draft"`` (the drafts) or ``"demo"`` (the reference Node.js demo).
    :param incomplete_status: the status of HEAD and GET on incomplete content, and of a
        PATCH that leaves it incomplete (the drafts' ``2__``; any 2xx).
    :param incomplete_reason: its reason phrase (default: ``Incomplete Resource`` for 299).
    :param acknowledge_every: acknowledge stored bytes after every this many (0: never).
    :param interrupts: cut upload requests (creations and PATCHes, counted together) after
        K body bytes: ``mp.interrupt(after=K, request=N)``; ``request=None`` cuts every one.
        For a PATCH, K counts the whole body, its ``message/byterange`` fields included.
    :param store: where the jobs are kept (default: ``mp.UploadStore()``, in memory and
        spooled to disk past 1 MiB); ``mp.DirectoryUploadStore(directory)`` keeps them across
        a restart.
    :param max_pending: the most unfinished jobs kept at once (content neither complete nor
        discarded); a request that would start one more is answered 507 (default 1,000;
        None: no limit).
    """

    def __init__(
        self,
        path: str,
        *,
        jobs_path: str | None = None,
        process: ProcessInput | None = None,
        dialect: Dialect = "draft",
        incomplete_status: int = 299,
        incomplete_reason: str | None = None,
        acknowledge_every: int = 65536,
        interrupts: Iterable[Interrupt] = (),
        store: UploadStore | None = None,
        max_pending: int | None = DEFAULT_MAX_PENDING,
    ) -> None:
        super().__init__(
            path, store=store, interrupts=interrupts, max_size=None, max_pending=max_pending
        )
        if jobs_path is None:
            jobs_path = self.path
        if not isinstance(jobs_path, str) or not jobs_path.startswith("/"):
            raise ScenarioError(f"jobs_path must start with '/', got {jobs_path!r}")
        self.jobs_path = jobs_path.rstrip("/")
        if dialect not in ("draft", "demo"):
            raise ScenarioError(f"dialect must be 'draft' or 'demo', got {dialect!r}")
        self.dialect: Dialect = dialect
        check_status(incomplete_status, 200, 299, "incomplete_status")
        self.incomplete_status = incomplete_status
        self.incomplete_reason = check_reason(incomplete_reason or "", incomplete_status)
        self.acknowledge_every = check_count(acknowledge_every, "acknowledge_every")
        self.completion = Completion(
            _default_result if process is None else process, "ResumableRequests(process=...)"
        )
        self._table = JobTable(self.store)
        self._siblings: dict[str, ResumableRequests] = {self.path: self}

    # ---- public readers --------------------------------------------------------------------

    @property
    def uploads(self) -> dict[str, StoredRequest]:  # type: ignore[override]
        """Every job this resource created, by id: a ``StoredRequest`` snapshot with
        ``.data``, ``.offset``, ``.complete``."""
        return self._on_loop(
            lambda: {job.id: self.snapshot(job) for job in self._table.jobs(self.path)}
        )

    def snapshot(self, job: Job) -> StoredRequest:
        """The request ``job`` holds, as a ``StoredRequest`` with its locations."""
        return job.snapshot(self.locations(job.id))

    def reset(self) -> None:
        self._table.clear(self.path)
        self.plan.reset()
        self._active.clear()

    def _share_jobs(self, table: JobTable, siblings: dict[str, ResumableRequests]) -> None:
        """Keep jobs in ``table`` with ``siblings``, so that several resources share one job
        URL space."""
        self._table = table
        self.store = table.store
        self._siblings = siblings
        siblings[self.path] = self

    # ---- dispatch --------------------------------------------------------------------------

    def handles(self, path: str) -> bool:
        return super().handles(path) or path.startswith(self.jobs_path + "/")

    def locations(self, id: str) -> tuple[str, str]:
        """The request-content and response-message locations of job ``id``."""
        return f"{self.jobs_path}/{id}.req", f"{self.jobs_path}/{id}.res"

    def serve(self, ctx: ExchangeSurface) -> Program[None]:
        path = urllib.parse.urlsplit(ctx.log.target).path
        if path == self.path or path.rstrip("/") == self.path:
            if ctx.method in ("POST", "PUT"):
                yield from self._start(ctx)
            else:
                yield from self._answer(ctx, 405, "send the request with POST or PUT", "POST, PUT")
            return
        match = None
        if path.startswith(self.jobs_path + "/"):
            match = _JOB_REF.fullmatch(path[len(self.jobs_path) + 1 :])
        if match is None:
            yield from self._answer(ctx, 404, f"no resumable request at {path}")
            return
        job = self._table.get(match.group(1))
        if job is None:
            yield from self._answer(ctx, 404, f"no resumable request {match.group(1)}")
            return
        owner = self._siblings.get(job.owner, self)
        if match.group(2) == "req":
            yield from owner._serve_content(ctx, job)
        else:
            yield from owner._serve_response(ctx, job)

    # ---- creation --------------------------------------------------------------------------

    def _start(self, ctx: ExchangeSurface) -> Program[None]:
        demo = self.dialect == "demo"
        length = ctx.declared_length
        if length is None:
            yield from self._answer(
                ctx, 411, "a resumable request needs a Content-Length (not a chunked body)"
            )
            return
        expect = ctx.headers.get("expect")
        if expect is not None and expect.lower() != "100-continue":
            yield from self._answer(ctx, 417, f"unsupported expectation {expect!r}")
            return
        if demo and expect is None:
            yield from ctx.respond(
                plain_response(400, "Expected 100-continue\r\n"), read_first=False
            )
            return
        prefs = Preferences.parse(ctx.headers.getall("prefer"))
        if demo:
            resume, keep, wants_ack = "prefer" in ctx.headers, True, True
        else:
            preference = prefs.get("resume")
            resume = preference is not None
            value = None if preference is None else preference.value
            if value not in (None, "save-incomplete", "ignore-incomplete"):
                yield from self._answer(
                    ctx,
                    400,
                    f"Prefer: resume={value} is not save-incomplete or ignore-incomplete",
                )
                return
            keep = value != "ignore-incomplete"
            wants_ack = "acknowledge" in prefs
        full = self.pending_refusal(ctx)
        if full is not None:
            yield from ctx.respond(full, read_first=False)
            return
        job = self._create(ctx, length, keep_incomplete=resume and keep)
        if resume:
            rcl, rml = self.locations(job.id)
            yield from ctx.send_interim(
                Interim(
                    100, (("Request-Content-Location", rcl), ("Response-Message-Location", rml))
                )
            )
        self.claim(ctx, job.upload)
        acks = [0]

        def store_piece(piece: bytes) -> Program[None]:
            self._check_writer(ctx, job)
            job.upload.append(piece)
            if wants_ack:
                yield from self._acknowledge(ctx, job, acks)

        end = BodyEnd.ENDED
        try:
            end = yield from self.read_body(ctx, store_piece, refuse=self._refusal)
        finally:
            # Only the request still writing may throw the content away.
            if self._writing(ctx, job):
                if end is not BodyEnd.COMPLETE and not job.keep_incomplete:
                    job.discard()
                self.store.save(job.upload)
            self.release(ctx, job.upload)
        if end is BodyEnd.COMPLETE:
            yield from self._complete(ctx, job)

    def is_pending(self, upload: StoredUpload) -> bool:
        """A job whose content is neither complete nor thrown away."""
        return super().is_pending(upload) and not Job(upload).discarded

    def _create(self, ctx: ExchangeSurface, length: int, *, keep_incomplete: bool) -> Job:
        extra = job_extra(self.path, ctx.method, ctx.log.target, ctx.headers, keep_incomplete)
        number = self._table.next_number() if self.dialect == "demo" else None
        return Job(self.store.create(length=length, metadata={}, id=number, extra=extra))

    def _writing(self, ctx: ExchangeSurface, job: Job) -> bool:
        """True while ``ctx`` is the request writing the job's content, and the job exists."""
        return self.store.get(job.id) is job.upload and self._active.get(job.id) is ctx

    def _check_writer(self, ctx: ExchangeSurface, job: Job) -> None:
        if self.store.get(job.id) is not job.upload:
            raise PatchFormatError(f"resumable request {job.id} was deleted", 410, "deleted")
        if self._active.get(job.id) is not ctx:
            raise PatchFormatError(
                f"another request took over resumable request {job.id}; this one stops here",
                409,
                "session",
            )

    def _acknowledge(self, ctx: ExchangeSurface, job: Job, acks: list[int]) -> Program[None]:
        """Confirm stored bytes every ``acknowledge_every`` (not once the content is done)."""
        stored = job.stored
        if not self.acknowledge_every or stored >= job.length:
            return
        if stored - acks[0] < self.acknowledge_every:
            return
        acks[0] = stored
        if self.dialect == "demo":
            yield from ctx.send_interim(Interim(199, (), f"Acknowledge {stored}B"))
        else:
            yield from ctx.send_interim(Interim(100, (("Acknowledge", str(stored)),)))

    def _complete(
        self,
        ctx: ExchangeSurface,
        job: Job,
        *,
        via_patch: bool = False,
        answer: Respond | None = None,
    ) -> Program[None]:
        """Run the processing on the exchange that completed the content and keep its final
        response; the exchange gets ``answer`` instead when one is given."""
        job.upload.complete = True
        self.store.save(job.upload)

        def keep(step: Respond) -> Respond:
            job.upload.final = StoredResponse.of(step)
            if self.store.get(job.id) is job.upload:
                self.store.save(job.upload)
            if answer is not None:
                return answer
            if via_patch and self.dialect == "demo":
                return Respond(200)
            return step

        ctx.on_final_response(keep)
        try:
            yield from self.completion.run(ctx, self.snapshot(job))
        finally:
            ctx.on_final_response(None)

    # ---- the request-content resource ------------------------------------------------------

    def _serve_content(self, ctx: ExchangeSurface, job: Job) -> Program[None]:
        if ctx.method in ("HEAD", "GET"):
            yield from self._describe_content(ctx, job)
        elif ctx.method == "PATCH":
            yield from self._resume(ctx, job)
        elif ctx.method == "DELETE":
            yield from self._delete(ctx, job)
        else:
            yield from self._answer(ctx, 405, f"{ctx.method} is not allowed here", _REQ_ALLOW)

    def _describe_content(self, ctx: ExchangeSurface, job: Job) -> Program[None]:
        if job.discarded:
            yield from self._gone(ctx, job)
            return
        complete = job.complete
        status = 200 if complete else self.incomplete_status
        reason = "" if complete else self.incomplete_reason
        content_type = job.headers.get("content-type") or "application/octet-stream"
        headers = (
            ("Content-Type", content_type),
            ("Allow", _REQ_ALLOW),
            ("Accept-Patch", self._accept_patch()),
        )
        if ctx.method == "HEAD":
            step = Respond(status, b"", headers, reason)
            yield from ctx.respond(step, read_first=True, head_length=job.stored)
        else:
            yield from ctx.respond(
                Respond(status, job.upload.data.read(), headers, reason), read_first=True
            )

    def _accept_patch(self) -> str:
        if self.dialect == "demo":
            return accept_patch((MESSAGE_BYTERANGE,))
        return accept_patch(PATCH_MEDIA_TYPES)

    def _resume(self, ctx: ExchangeSurface, job: Job) -> Program[None]:
        demo = self.dialect == "demo"
        if job.discarded:
            yield from self._gone(ctx, job)
            return
        if job.complete:
            yield from self._refuse(
                ctx,
                PatchFormatError(
                    f"resumable request {job.id} is complete ({job.length} bytes); fetch its "
                    f"response at {self.locations(job.id)[1]}",
                    409,
                    "complete",
                ),
            )
            return
        sink = _ResumeSink(self, ctx, job)
        options = PatchOptions(unit_optional=demo, require_length=demo)
        media_types = (MESSAGE_BYTERANGE,) if demo else PATCH_MEDIA_TYPES
        try:
            parser = patch_parser(ctx.headers.get("content-type"), sink, options, media_types)
        except PatchFormatError as exc:
            yield from self._refuse(ctx, exc)
            return
        wants_ack = demo or _prefers(ctx, "acknowledge")
        self.claim(ctx, job.upload)
        try:
            yield from self._apply_patch(ctx, job, parser, wants_ack)
        finally:
            if self._writing(ctx, job):
                self.store.save(job.upload)
            self.release(ctx, job.upload)

    def _apply_patch(
        self, ctx: ExchangeSurface, job: Job, parser: PatchParser, wants_ack: bool
    ) -> Program[None]:
        acks = [job.stored]

        def feed(piece: bytes) -> Program[None]:
            parser.feed(piece)
            if wants_ack:
                yield from self._acknowledge(ctx, job, acks)

        try:
            end = yield from self.read_body(ctx, feed)
            if end is not BodyEnd.COMPLETE:
                return
            parser.finish()
        except PatchFormatError as exc:
            refusal = self._refusal(exc)
            if job.stored >= job.length and exc.kind not in ("session", "deleted"):
                # The content is whole even though this request was refused: the job is
                # processed and keeps its response; this request gets the refusal.
                yield from self._complete(ctx, job, answer=refusal)
            else:
                yield from ctx.respond(refusal, read_first=False)
            return
        if job.stored >= job.length:
            yield from self._complete(ctx, job, via_patch=True)
            return
        text = f"{job.stored}/{job.length} bytes\r\n"
        step = replace(plain_response(self.incomplete_status, text), reason=self.incomplete_reason)
        yield from ctx.respond(step, read_first=False)

    def _delete(self, ctx: ExchangeSurface, job: Job) -> Program[None]:
        self._table.remove(job)
        yield from ctx.respond(Respond(204), read_first=True)

    # ---- the response-message resource -----------------------------------------------------

    def _serve_response(self, ctx: ExchangeSurface, job: Job) -> Program[None]:
        if ctx.method == "DELETE":
            yield from self._delete(ctx, job)
            return
        if ctx.method not in ("GET", "HEAD"):
            yield from self._answer(ctx, 405, f"{ctx.method} is not allowed here", _RES_ALLOW)
            return
        if job.response is None:
            if job.discarded:
                yield from self._gone(ctx, job)
                return
            state = (
                "is still being processed"
                if job.complete
                else f"is incomplete ({job.stored} of {job.length} bytes)"
            )
            yield from self._answer(
                ctx, 404, f"no response is stored for request {job.id} yet: its content {state}"
            )
            return
        headers = (("Content-Type", "message/http"),)
        yield from ctx.respond(Respond(200, job.response.message(), headers), read_first=True)

    # ---- answers ---------------------------------------------------------------------------

    def _answer(
        self, ctx: ExchangeSurface, status: int, text: str, allow: str | None = None
    ) -> Program[None]:
        headers = () if allow is None else (("Allow", allow),)
        yield from ctx.respond(
            with_fields(plain_response(status, text + "\n"), headers), read_first=False
        )

    def _gone(self, ctx: ExchangeSurface, job: Job) -> Program[None]:
        yield from self._answer(
            ctx,
            410,
            f"the content of request {job.id} was discarded when its upload was interrupted "
            "(it did not ask for Prefer: resume, or asked resume=ignore-incomplete)",
        )

    def _refuse(self, ctx: ExchangeSurface, exc: PatchFormatError) -> Program[None]:
        """Answer a refused upload; the connection closes if the body was not all read."""
        yield from ctx.respond(self._refusal(exc), read_first=False)

    def _refusal(self, exc: PatchFormatError) -> Respond:
        if self.dialect == "demo" and exc.status != 415:
            text = _DEMO_TEXT.get(exc.kind, exc.message)
            return plain_response(400, text + "\r\n")
        return refusal(exc)


def _prefers(ctx: ExchangeSurface, name: str) -> bool:
    return name in Preferences.parse(ctx.headers.getall("prefer"))


class _ResumeSink:
    """Applies a resuming PATCH's parts to a job's content, checking each range."""

    def __init__(self, resource: ResumableRequests, ctx: ExchangeSurface, job: Job) -> None:
        self.resource = resource
        self.ctx = ctx
        self.job = job
        self.position = 0
        self.limit = 0

    def begin(self, head: PartHead) -> None:
        job = self.job
        demo = self.resource.dialect == "demo"
        content_range = head.content_range
        first = content_range.first
        if first is None:
            raise PatchFormatError(
                f"Content-Range {content_range} sets a length; a resumable request's length "
                f"is fixed by its Content-Length ({job.length})",
                400,
                "range-form",
            )
        total = content_range.complete_length
        if total is not None and total != job.length:
            raise PatchFormatError(
                f"Content-Range {content_range}: the complete length {total} is not the "
                f"request's Content-Length {job.length}",
                400,
                "total",
            )
        last = content_range.last
        if last is not None and last >= job.length:
            raise PatchFormatError(
                f"Content-Range {content_range} ends past the request's {job.length} bytes",
                400,
                "end",
            )
        stored = job.stored
        if first > stored or (demo and first != stored):
            if demo:
                raise PatchFormatError(
                    f"Incorrect Content-Range starting index: Have {first}, expect {stored}",
                    400,
                    "start",
                )
            raise PatchFormatError(
                f"Content-Range {content_range} starts at byte {first}, but only {stored} "
                f"bytes are stored: resume at {stored}",
                416,
                "start",
                (("Content-Range", f"bytes */{stored}"),),
            )
        self.position = first
        self.limit = job.length if last is None else last + 1

    def write(self, data: bytes) -> None:
        self.resource._check_writer(self.ctx, self.job)
        room = self.limit - self.position
        take = data[:room]
        if take:
            self.job.upload.write_at(self.position, take)
            self.position += len(take)
        if len(data) > room:
            raise PatchFormatError(
                f"the part runs past the request's {self.job.length} bytes", 400, "over"
            )

    def end(self, head: PartHead, received: int) -> None:
        pass
