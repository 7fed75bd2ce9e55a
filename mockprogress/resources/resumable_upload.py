"""``ResumableUploads``: the IETF resumable-upload draft (draft-ietf-httpbis-resumable-upload).

Strategy. Requests to the resource's own path create uploads; each upload lives at
``path/<id>`` (draft-ietf-httpbis-resumable-upload):

- Creation (§4.2): POST, PUT or PATCH with ``Upload-Complete``. The server announces the upload
  with ``104 Upload Resumption Supported`` (``Location``, ``Upload-Limit``, the client's
  ``Upload-Draft-Interop-Version`` echoed), stores the content as it arrives, and answers
  ``201 Created`` (``?0``) or, once the representation is complete (``?1``), the scripted final
  response with ``Upload-Complete: ?1``. A request without a valid ``Upload-Complete`` is a
  conventional upload: stored and answered, no 104, no upload URL.
- Offset retrieval (§4.3): HEAD (or GET) → ``204`` with ``Upload-Offset``,
  ``Upload-Complete``, ``Upload-Length`` (when known), ``Upload-Limit``,
  ``Cache-Control: no-store``.
- Append (§4.4): PATCH ``application/partial-upload`` with ``Upload-Offset`` and
  ``Upload-Complete``; ``409`` with the right offset on a mismatch; ``400`` for inconsistent
  lengths; ``413`` (with ``Upload-Limit``) over a limit. An append to a completed upload that
  repeats its end (``Upload-Offset`` + content = the length, ``?1``) gets the final response
  replayed: the client lost it.
- Cancellation (§4.5): DELETE → ``204``; later requests get ``410 Gone``.
- Concurrency (§4.6): a new request for an upload terminates one still in flight for it.

Interop versions. Draft revisions name themselves in ``Upload-Draft-Interop-Version``; the
server sends 104s only to a client whose version it speaks (§5: never on a missing or other
version), and otherwise answers with the current semantics. Version 5 (draft -03, what
tus-js-client 4.x sends in its ``ietf-draft-03`` mode) appends without a media type; versions 6
(drafts -04/-05, ``ietf-draft-05`` mode) and 8 (the current draft) require
``application/partial-upload``.

Structured fields are parsed strictly (RFC 9651): a field with any other value is ignored, as
the draft says, which for the fields an append requires means a 400 that names the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, TypeAlias

from ..engine.actions import Program
from ..engine.exchange import plain_response
from ..errors import ScenarioError
from ..http.headers import has_header
from ..http.structured import item_boolean, item_integer, serialize_dictionary
from ..script.faults import Interrupt
from ..script.steps import Interim, Pause, Respond, Step, respond
from .upload_store import StoredResponse, StoredUpload, Upload, UploadStore
from .uploads import (
    DEFAULT_MAX_PENDING,
    BodyEnd,
    UploadResource,
    check_limit,
    with_fields,
)

if TYPE_CHECKING:
    from ..engine.surface import ExchangeSurface

#: The interop versions this server speaks: drafts -03 (5), -04/-05 (6) and the current one (8).
INTEROP_VERSIONS = (5, 6, 8)
CURRENT_INTEROP_VERSION = 8
PARTIAL_UPLOAD = "application/partial-upload"

ResultInput: TypeAlias = "Step | Sequence[Step] | Callable[[Upload], Step | Sequence[Step]] | None"


def _default_result(upload: Upload) -> Respond:
    return respond(200, json={"upload": upload.id, "length": upload.offset})


def result_steps(value: Step | Sequence[Step]) -> tuple[Step, ...]:
    """Validate a completion script: interims and pauses, then one response.

    :raises ScenarioError: on anything else.
    """
    steps = (value,) if isinstance(value, Step) else tuple(value)
    if not steps or not isinstance(steps[-1], Respond):
        raise ScenarioError(
            "an upload's result ends with mp.respond(...) (interims and pauses may come first)"
        )
    for step in steps[:-1]:
        if not isinstance(step, Interim | Pause):
            raise ScenarioError(
                f"an upload's result may hold interims and pauses before its response, not {step!r}"
            )
    return steps


class ResumableUploads(UploadResource):
    """Uploads by the IETF resumable-upload draft, created at ``path`` and kept at
    ``path/<id>``.

    .. code-block:: python

        uploads = srv.mount(mp.ResumableUploads(
            "/uploads",
            result=mp.respond(201, b"stored\\n"),
            interrupts=[mp.interrupt(after=65536, request=1)],
        ))
        ...  # the client creates an upload at srv.url("/uploads"), is cut, resumes
        [upload] = uploads.uploads.values()
        assert upload.complete and upload.data == source

    :param path: where uploads are created; each upload lives at ``path/<id>``.
    :param result: the response to the request that completes an upload (the target
        resource's answer): a ``mp.respond(...)``, interims and pauses followed by one, or a
        function of the ``Upload`` returning either. The server adds ``Upload-Complete: ?1``,
        ``Upload-Offset`` and (on a creation request) ``Location``. Default: 200 with
        ``{"upload": id, "length": n}``.
    :param interrupts: ``mp.interrupt(...)`` cuts: the Nth request that carries upload data
        (creation or append) is cut after K body bytes, all of which are stored.
    :param max_size: the largest upload (``Upload-Limit: max-size``); larger gets 413.
    :param min_size: the smallest announced length accepted (``min-size``); smaller gets 400.
    :param max_append_size: the most content one request may carry (``max-append-size``).
    :param min_append_size: announced as ``min-append-size`` (not enforced: the draft lets a
        server reject such requests, and a test double should not guess how).
    :param interop_versions: the ``Upload-Draft-Interop-Version`` values answered with 104s.
    :param progress_every: send a ``104`` with ``Upload-Offset`` each time this many more bytes
        are stored (default: never).
    :param store: where uploads are kept (default: in memory, spooled to disk past 1 MiB).
    :param max_pending: the most unfinished uploads kept at once; a request that would
        start one more is answered 507 (default 1,000; None: no limit).
    """

    def __init__(
        self,
        path: str = "/uploads",
        *,
        result: ResultInput = None,
        interrupts: Iterable[Interrupt] = (),
        max_size: int | None = None,
        min_size: int | None = None,
        max_append_size: int | None = None,
        min_append_size: int | None = None,
        interop_versions: Iterable[int] = INTEROP_VERSIONS,
        progress_every: int | None = None,
        store: UploadStore | None = None,
        max_pending: int | None = DEFAULT_MAX_PENDING,
    ) -> None:
        super().__init__(
            path, store=store, interrupts=interrupts, max_size=max_size, max_pending=max_pending
        )
        if result is None:
            self._result: Callable[[Upload], Step | Sequence[Step]] = _default_result
        elif callable(result) and not isinstance(result, Step):
            self._result = result
        else:
            fixed = result_steps(result)
            self._result = lambda upload: fixed
        self.min_size = check_limit(min_size, "min_size")
        self.max_append_size = check_limit(max_append_size, "max_append_size")
        self.min_append_size = check_limit(min_append_size, "min_append_size")
        self.interop_versions = tuple(interop_versions)
        for version in self.interop_versions:
            if version not in INTEROP_VERSIONS:
                raise ScenarioError(
                    f"interop version {version!r} is not one mockprogress speaks "
                    f"(it speaks {', '.join(map(str, INTEROP_VERSIONS))})"
                )
        self.progress_every = check_limit(progress_every, "progress_every")
        if self.progress_every == 0:
            raise ScenarioError("progress_every must be at least 1 byte")

    # ---- fields ----------------------------------------------------------------------------

    @property
    def upload_limit(self) -> str:
        """The ``Upload-Limit`` field value (``min-size=0`` when no limit applies)."""
        limits: dict[str, int] = {}
        if self.max_size is not None:
            limits["max-size"] = self.max_size
        limits["min-size"] = self.min_size or 0
        if self.max_append_size is not None:
            limits["max-append-size"] = self.max_append_size
        if self.min_append_size is not None:
            limits["min-append-size"] = self.min_append_size
        return serialize_dictionary(limits)

    def _interop(self, ctx: ExchangeSurface) -> int | None:
        """The client's interop version when this server speaks it (104s allowed), else None."""
        version = item_integer(ctx.headers.get("upload-draft-interop-version"))
        return version if version in self.interop_versions else None

    def _state_headers(self, upload: StoredUpload) -> list[tuple[str, str]]:
        headers = [
            ("Upload-Offset", str(upload.offset)),
            ("Upload-Complete", "?1" if upload.complete else "?0"),
        ]
        if upload.length is not None:
            headers.append(("Upload-Length", str(upload.length)))
        headers.append(("Upload-Limit", self.upload_limit))
        return headers

    # ---- dispatch --------------------------------------------------------------------------

    def serve(self, ctx: ExchangeSurface) -> Program[None]:
        upload_id = self.target(ctx)
        method = ctx.method
        if upload_id is None:
            if method == "OPTIONS":
                yield from ctx.respond(self._options(creation=True), read_first=False)
            elif method in ("POST", "PUT", "PATCH"):
                yield from self._create(ctx)
            else:
                yield from ctx.respond(
                    with_fields(
                        plain_response(
                            405,
                            f"{method} is not how uploads are created at {self.path}: POST, PUT or "
                            "PATCH with Upload-Complete\n",
                        ),
                        [("Allow", "OPTIONS, POST, PUT, PATCH")],
                    ),
                    read_first=False,
                )
            return
        upload = self.store.get(upload_id)
        if method == "OPTIONS":
            yield from ctx.respond(self._options(creation=False), read_first=False)
            return
        if upload is None:
            gone = upload_id in self.store.gone
            status = 410 if gone else 404
            why = "was cancelled (DELETE)" if gone else "does not exist"
            yield from ctx.respond(
                plain_response(status, f"upload {upload_id or '(none)'} {why}\n"),
                read_first=False,
            )
            return
        if upload.invalid:
            yield from ctx.respond(
                plain_response(
                    410,
                    f"upload {upload.id} was invalidated: its content went past its length "
                    f"({upload.length} bytes)\n",
                ),
                read_first=False,
            )
            return
        self.claim(ctx, upload)
        try:
            if method in ("HEAD", "GET"):
                yield from ctx.respond(
                    Respond(
                        204, headers=(*self._state_headers(upload), ("Cache-Control", "no-store"))
                    ),
                    read_first=False,
                )
            elif method == "PATCH":
                yield from self._append(ctx, upload)
            elif method == "DELETE":
                self.store.delete(upload.id)
                yield from ctx.respond(Respond(204), read_first=False)
            else:
                yield from ctx.respond(
                    with_fields(
                        plain_response(
                            405,
                            f"{method} does not apply to an upload: HEAD, GET, PATCH or DELETE\n",
                        ),
                        [("Allow", "OPTIONS, HEAD, GET, PATCH, DELETE")],
                    ),
                    read_first=False,
                )
        finally:
            self.release(ctx, upload)
            if self.store.get(upload.id) is upload:
                self.store.save(upload)

    def _options(self, *, creation: bool) -> Respond:
        allow = "OPTIONS, POST, PUT, PATCH" if creation else "OPTIONS, HEAD, GET, PATCH, DELETE"
        return Respond(
            204,
            headers=(
                ("Allow", allow),
                ("Accept-Patch", PARTIAL_UPLOAD),
                ("Upload-Limit", self.upload_limit),
            ),
        )

    # ---- creation (§4.2) -------------------------------------------------------------------

    def _create(self, ctx: ExchangeSurface) -> Program[None]:
        headers = ctx.headers
        complete = self._boolean(ctx, "Upload-Complete")
        resumable = complete is not None
        if complete is None:
            complete = True  # a conventional upload: the content is the whole representation
        length = yield from self._length(ctx, None, 0, complete)
        if ctx.closed or ctx.final_started:
            return
        refusal = self._limits_refusal(ctx, 0, length) or self.pending_refusal(ctx)
        if refusal is not None:
            yield from ctx.respond(refusal, read_first=False)
            return
        metadata = {
            name: value
            for name in ("Content-Type", "Content-Disposition", "Content-Encoding")
            if (value := headers.get(name)) is not None
        }
        upload = self.store.create(length=length, metadata=metadata)
        ctx.log.event(ctx.now, "upload", "", f"created upload {upload.id}")
        version = self._interop(ctx) if resumable else None
        self.claim(ctx, upload)
        try:
            if version is not None:
                yield from ctx.send_interim(
                    Interim(
                        104,
                        (
                            ("Location", self.location(upload.id)),
                            ("Upload-Limit", self.upload_limit),
                            ("Upload-Draft-Interop-Version", str(version)),
                        ),
                    )
                )
            if not (yield from self._receive(ctx, upload, version)):
                return
            if complete:
                yield from self._complete(ctx, upload, creation=resumable)
                return
            yield from ctx.respond(
                Respond(
                    201,
                    headers=(
                        ("Location", self.location(upload.id)),
                        ("Upload-Limit", self.upload_limit),
                        ("Upload-Complete", "?0"),
                        ("Upload-Offset", str(upload.offset)),
                    ),
                ),
                read_first=False,
            )
        finally:
            self.release(ctx, upload)
            if self.store.get(upload.id) is upload:
                self.store.save(upload)

    # ---- append (§4.4) ---------------------------------------------------------------------

    def _append(self, ctx: ExchangeSurface, upload: StoredUpload) -> Program[None]:
        version = self._interop(ctx)
        declared = item_integer(ctx.headers.get("upload-draft-interop-version"))
        media_type = (ctx.headers.get("content-type") or "").split(";")[0].strip().lower()
        if declared != 5 and media_type != PARTIAL_UPLOAD:
            yield from ctx.respond(
                with_fields(
                    plain_response(
                        415,
                        f"an append is a PATCH with Content-Type: {PARTIAL_UPLOAD}, got "
                        f"{media_type or 'no Content-Type'}\n",
                    ),
                    [("Accept-Patch", PARTIAL_UPLOAD)],
                ),
                read_first=False,
            )
            return
        offset = self._integer(ctx, "Upload-Offset")
        complete = self._boolean(ctx, "Upload-Complete")
        for name, value in (("Upload-Offset", offset), ("Upload-Complete", complete)):
            if value is None:
                kind = "an Integer" if name == "Upload-Offset" else "a Boolean (?0 or ?1)"
                yield from ctx.respond(
                    plain_response(
                        400,
                        f"an append needs {name}, a structured-field {kind}; got "
                        f"{ctx.headers.get(name)!r}\n",
                    ),
                    read_first=False,
                )
                return
        assert offset is not None and complete is not None
        if upload.complete:
            yield from self._late_append(ctx, upload, offset, complete)
            return
        if offset != upload.offset:
            yield from ctx.respond(
                problem_response(
                    409,
                    "mismatching-upload-offset",
                    "offset from request does not match offset of resource",
                    [("Upload-Offset", str(upload.offset)), ("Upload-Complete", "?0")],
                    **{"expected-offset": upload.offset, "provided-offset": offset},
                ),
                read_first=False,
            )
            return
        length = yield from self._length(ctx, upload, offset, complete)
        if ctx.closed or ctx.final_started:
            return
        refusal = self._limits_refusal(ctx, offset, length)
        if refusal is not None:
            yield from ctx.respond(refusal, read_first=False)
            return
        upload.length = length
        if not (yield from self._receive(ctx, upload, version)):
            return
        if complete:
            yield from self._complete(ctx, upload, creation=False)
            return
        yield from ctx.respond(
            Respond(
                204, headers=(("Upload-Complete", "?0"), ("Upload-Offset", str(upload.offset)))
            ),
            read_first=False,
        )

    def _late_append(
        self, ctx: ExchangeSurface, upload: StoredUpload, offset: int, complete: bool
    ) -> Program[None]:
        """An append to a completed upload: it must not change it (§4.4)."""
        content = ctx.declared_length
        repeats_end = complete and content is not None and offset + content == upload.offset
        if repeats_end and upload.final is not None:
            # The client lost the final response and repeats the request that completed the
            # upload: answer it again (the content goes to the journal, not the store).
            yield from ctx.read_body()
            if ctx.closed:
                return
            final = upload.final
            ctx.log.event(ctx.now, "upload", "", f"replayed the final response of {upload.id}")
            yield from ctx.respond(
                Respond(final.status, final.body, final.headers, final.reason), read_first=False
            )
            return
        yield from ctx.respond(
            problem_response(
                400,
                "inconsistent-upload-length",
                "upload is already complete",
                [("Upload-Offset", str(upload.offset)), ("Upload-Complete", "?1")],
            ),
            read_first=False,
        )

    # ---- shared steps ----------------------------------------------------------------------

    def _boolean(self, ctx: ExchangeSurface, name: str) -> bool | None:
        raw = ctx.headers.get(name)
        value = item_boolean(raw)
        if raw is not None and value is None:
            self._ignored(ctx, name, raw, "a Boolean")
        return value

    def _integer(self, ctx: ExchangeSurface, name: str) -> int | None:
        raw = ctx.headers.get(name)
        value = item_integer(raw)
        if raw is not None and value is None:
            self._ignored(ctx, name, raw, "a non-negative Integer")
        return value

    def _ignored(self, ctx: ExchangeSurface, name: str, raw: str, kind: str) -> None:
        ctx.log.event(
            ctx.now, "error", "in", f"{name}: {raw!r} is not {kind} (RFC 9651): field ignored"
        )

    def _length(
        self, ctx: ExchangeSurface, upload: StoredUpload | None, offset: int, complete: bool
    ) -> Program[int | None]:
        """The upload's length after this request (§4.1.3), or a 400 when indicators disagree."""
        known = None if upload is None else upload.length
        announced = self._integer(ctx, "Upload-Length")
        content = ctx.declared_length
        implied = offset + content if complete and content is not None else None
        values = {v for v in (known, announced, implied) if v is not None}
        problem = None
        if len(values) > 1:
            problem = (
                f"the upload's length indicators disagree: known {known}, Upload-Length "
                f"{announced}, offset + Content-Length with Upload-Complete: ?1 {implied}"
            )
        elif values and content is not None and offset + content > min(values):
            problem = f"{offset} + {content} content bytes pass the upload's length {min(values)}"
        if problem is not None:
            yield from ctx.respond(
                problem_response(
                    400,
                    "inconsistent-upload-length",
                    "inconsistent length values for upload",
                    detail=problem,
                ),
                read_first=False,
            )
            return None
        return min(values) if values else None

    def _limits_refusal(
        self, ctx: ExchangeSurface, offset: int, length: int | None
    ) -> Respond | None:
        content = ctx.declared_length
        limit_header = [("Upload-Limit", self.upload_limit)]
        if self.max_size is not None:
            if length is not None and length > self.max_size:
                return with_fields(
                    plain_response(
                        413, f"the upload's length {length} exceeds max-size={self.max_size}\n"
                    ),
                    limit_header,
                )
            if content is not None and offset + content > self.max_size:
                return with_fields(
                    plain_response(
                        413,
                        f"{offset} + {content} bytes would exceed max-size={self.max_size}\n",
                    ),
                    limit_header,
                )
        if self.max_append_size is not None and content is not None:
            if content > self.max_append_size:
                return with_fields(
                    plain_response(
                        413,
                        f"{content} content bytes exceed max-append-size={self.max_append_size}\n",
                    ),
                    limit_header,
                )
        if self.min_size is not None and offset == 0 and (length is None or length < self.min_size):
            return with_fields(
                plain_response(
                    400,
                    f"the upload's length ({length}) is below min-size={self.min_size} "
                    "or unknown\n",
                ),
                limit_header,
            )
        return None

    def _receive(
        self, ctx: ExchangeSurface, upload: StoredUpload, version: int | None
    ) -> Program[bool]:
        """Store the content; True when all of it arrived and the request is to be answered."""
        bounds = [b - upload.offset for b in (upload.length, self.max_size) if b is not None]
        if self.max_append_size is not None:
            bounds.append(self.max_append_size)
        limit = min(bounds) if bounds else None
        progress = None
        if version is not None and self.progress_every is not None:
            every, start = self.progress_every, upload.offset

            def progress(offset: int) -> Interim | None:
                nonlocal start
                if offset - start < every:
                    return None
                start = offset - (offset - start) % every
                return Interim(104, (("Upload-Offset", str(offset)),))

        outcome = yield from self.read_into(ctx, upload, limit=limit, progress=progress)
        if outcome is BodyEnd.TOO_LONG:
            upload.invalid = upload.length is not None and upload.offset >= upload.length
            yield from ctx.respond(
                problem_response(
                    400 if upload.invalid else 413,
                    "inconsistent-upload-length",
                    "content passed the upload's length or limits",
                    [("Upload-Limit", self.upload_limit)],
                    detail=f"the content went past {upload.offset} bytes, where the upload ends",
                ),
                read_first=False,
            )
            return False
        return outcome is BodyEnd.COMPLETE

    def _complete(
        self, ctx: ExchangeSurface, upload: StoredUpload, *, creation: bool
    ) -> Program[None]:
        """Mark the upload complete and answer with the scripted result."""
        upload.complete = True
        upload.length = upload.offset
        try:
            steps = result_steps(self._result(upload.snapshot()))
        except (ScenarioError, TypeError, ValueError) as exc:
            ctx.problem("scenario-error", f"{self.describe()}: the result function failed: {exc}")
            steps = (plain_response(500, f"mockprogress: the upload's result failed: {exc}\n"),)
        final = steps[-1]
        assert isinstance(final, Respond)
        extra = [("Upload-Complete", "?1"), ("Upload-Offset", str(upload.offset))]
        if creation:
            extra.append(("Location", self.location(upload.id)))
        added = tuple((n, v) for n, v in extra if not has_header(final.headers, n))
        final = with_fields(final, added)
        upload.final = StoredResponse.of(final)
        self.store.save(upload)
        ctx.log.event(ctx.now, "upload", "", f"upload {upload.id} complete: {upload.offset} bytes")
        for step in steps[:-1]:
            yield from ctx.run(step)
        yield from ctx.respond(final, read_first=False)


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
