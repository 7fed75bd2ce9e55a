"""``mp.ByteRangeResource``: documents written with byte-range PATCH
(draft-wright-http-patch-byterange §2-§4), read with ``Range``.

Every path under the resource's path is a document. ``PATCH`` with ``message/byterange``,
``multipart/byteranges`` or ``application/byteranges`` writes ranges (creating the document
on its first write); ``PUT`` replaces it; ``GET``/``HEAD`` read it (``Range`` → 206 or 416);
``DELETE`` removes it.

What the draft asks, and what this answers:

- a part with no range → 422; a malformed ``Content-Range`` → 400; a unit other than
  ``bytes`` → 422 (§2);
- a part ``Content-Length`` that disagrees with its range → 400 (§2.2);
- a write that starts past the end (sparse) → 416 with ``Content-Range: bytes */<size>``, or
  zero-filled with ``sparse="zero-fill"`` (§2.5, §6.1); ``bytes */N`` truncates, and grows
  only when zero-filling;
- a complete length over ``max_size`` → 400, not 413 (§6.2);
- a body shorter than its fields say is kept as far as it came (an interruption, §2.5) and
  answered 400; a longer one keeps the declared bytes and is answered 400;
- another media type → 415 with ``Accept-Patch`` (§3: the client then falls back to PUT).

Every byte is stored as it arrives (``Prefer: transaction=persist`` semantics, confirmed with
``Preference-Applied`` when asked for); an interrupted PUT is kept only when it asked for
``transaction=persist``, so that the client can finish it with PATCH (Appendix A.4).

The documents live in an ``UploadStore`` (``store=``), each under its path as its id: in
memory by default, or a ``DirectoryUploadStore`` so that they survive a restart. A PUT
writes a new upload of its own and takes the document's place once it is stored.
"""

from __future__ import annotations

import itertools
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..engine.exchange import plain_response
from ..errors import ScenarioError
from ..http.byteranges import (
    PartHead,
    PatchFormatError,
    PatchOptions,
    accept_patch,
    patch_parser,
)
from ..http.content_range import (
    RangeSyntaxError,
    format_content_range,
    multipart_sections,
    parse_range,
    plan_ranges,
)
from ..http.prefer import Preferences
from ..script.checks import check_count
from ..script.faults import Interrupt
from ..script.steps import Respond
from .upload_completion import Completion, ProcessInput
from .upload_store import ByteStorage, StoredUpload, Upload, UploadStore
from .uploads import DEFAULT_MAX_PENDING, BodyEnd, UploadResource, refusal, with_fields

if TYPE_CHECKING:
    from ..engine.actions import Program
    from ..engine.surface import ExchangeSurface

Sparse = Literal["refuse", "zero-fill"]
_ALLOW = "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"
_BOUNDARY = "mockprogress-byteranges"


_ETAG = re.compile(r'"v([0-9]+)"')
#: ``extra`` of an upload that a PUT is still writing: the document it will replace.
_PUT_FOR = "put_for"
#: ``extra`` of a document: the ``[start, end)`` gaps zero-filled and not written since.
_ZEROS = "zero_filled"


@dataclass(frozen=True, slots=True)
class StoredDocument(Upload):
    """One document of a ``ByteRangeResource`` (a snapshot): an ``Upload`` whose ``id`` is the
    document's path, ``length`` its declared final length (from a ``Content-Range``
    complete-length or a PUT) and ``complete`` whether it has it; besides, its content type and
    ETag."""

    content_type: str | None
    etag: str

    @property
    def path(self) -> str:
        """The document's path (its id)."""
        return self.id


def _is_complete(upload: StoredUpload) -> bool:
    return upload.length is not None and len(upload.data) == upload.length


def fill_zeros(upload: StoredUpload, size: int) -> None:
    """Grow ``upload`` to ``size`` bytes with zeros (draft-wright-http-patch-byterange §6.1:
    sparse regions must never show old storage): a hole in its file, so that no gap costs
    time, memory or disk. The gap is noted: until a client has written it, the document
    counts as unfinished (``max_pending``)."""
    start = len(upload.data)
    if size > start:
        upload.data.grow(size)
        upload.commit()
        upload.extra.setdefault(_ZEROS, []).append([start, size])


def _clip_zeros(upload: StoredUpload, start: int, end: int) -> None:
    """Bytes ``[start, end)`` are no longer zeros the server made up (written, or cut off)."""
    gaps = upload.extra.get(_ZEROS)
    if not gaps:
        return
    left: list[list[int]] = []
    for a, b in gaps:
        if a < start:
            left.append([a, min(b, start)])
        if b > end:
            left.append([max(a, end), b])
    if left:
        upload.extra[_ZEROS] = left
    else:
        del upload.extra[_ZEROS]


class ByteRangeResource(UploadResource):
    """Documents written with byte-range PATCH (draft-wright-http-patch-byterange).

    .. code-block:: python

        files = srv.mount(mp.ByteRangeResource("/files"))
        # PATCH /files/a.txt  Content-Type: message/byterange
        #   Content-Range: bytes 0-4/10 ... hello        -> 200 (creates the document)
        # PATCH /files/a.txt  ... bytes 5-9/10 ... world  -> 200
        # GET /files/a.txt  Range: bytes=3-6             -> 206 "lowo"
        assert files.uploads["/files/a.txt"].data == b"helloworld"

    :param path: documents live at this path and below it.
    :param sparse: ``"refuse"`` (416) writes that start past the end, or ``"zero-fill"`` the gap.
    :param max_size: the largest document; a larger complete length is answered 400 (§6.2).
    :param documents: documents to start with, by path.
    :param process: what answers the request that brings a document to its declared final
        length: steps, an object with a ``process(ctx)`` program, or a function of the
        ``StoredDocument`` returning either. Default: a plain 200.
    :param interrupts: cut upload requests (PATCH and PUT, counted together) after K body
        bytes (``mp.interrupt(after=K, request=N)``; ``request=None`` cuts every one).
    :param store: where the documents are kept (default: ``mp.UploadStore()``, in memory and
        spooled to disk past 1 MiB); ``mp.DirectoryUploadStore(directory)`` keeps them across
        a restart (documents found there win over ``documents``).
    :param max_pending: the most unfinished documents kept at once (without their declared
        length yet, or a PUT still arriving); a request that would start one more is
        answered 507 (default 1,000; None: no limit).
    """

    def __init__(
        self,
        path: str,
        *,
        sparse: Sparse = "refuse",
        max_size: int = 1 << 30,
        documents: Mapping[str, bytes] | None = None,
        process: ProcessInput | None = None,
        interrupts: Iterable[Interrupt] = (),
        store: UploadStore | None = None,
        max_pending: int | None = DEFAULT_MAX_PENDING,
    ) -> None:
        super().__init__(
            path, store=store, interrupts=interrupts, max_size=max_size, max_pending=max_pending
        )
        if sparse not in ("refuse", "zero-fill"):
            raise ScenarioError(f"sparse must be 'refuse' or 'zero-fill', got {sparse!r}")
        self.sparse: Sparse = sparse
        self._max_size = check_count(max_size, "max_size")
        self.initial = dict(documents or {})
        for doc_path, data in self.initial.items():
            if not self.handles(doc_path):
                raise ScenarioError(f"document {doc_path!r} is not under {self.path}")
            if not isinstance(data, bytes):
                raise ScenarioError(f"document {doc_path!r} must be bytes, got {data!r}")
        self.completion = (
            None if process is None else Completion(process, "ByteRangeResource(process=...)")
        )
        versions = [0]
        for upload in self.store:
            if _PUT_FOR in upload.extra:
                self.store.delete(upload.id, remember=False)  # a PUT the server stopped in
            elif match := _ETAG.fullmatch(str(upload.extra.get("etag"))):
                versions.append(int(match.group(1)))
        # ETags of documents kept across a restart are never given again.
        self._versions = itertools.count(max(versions) + 1)
        self._load_initial()

    # ---- public readers --------------------------------------------------------------------

    @property
    def uploads(self) -> dict[str, StoredDocument]:  # type: ignore[override]
        """Every document, by path: a ``StoredDocument`` snapshot with ``.data``, ``.offset``,
        ``.complete``."""
        return self._on_loop(
            lambda: {doc.id: self._snapshot(doc) for doc in self.store if self._is_document(doc)}
        )

    def reset(self) -> None:
        super().reset()
        self._load_initial()

    def _load_initial(self) -> None:
        for doc_path, data in self.initial.items():
            if self.store.get(doc_path) is None:
                doc = self._create(doc_path, None)
                doc.write_at(0, data)
                doc.length = len(data)
                self._save(doc)

    def is_pending(self, upload: StoredUpload) -> bool:
        """Unfinished: without its declared length yet, or with zero-filled gaps that no
        client has written (a sparse write must not make a large document for free)."""
        return super().is_pending(upload) or bool(upload.extra.get(_ZEROS))

    def _is_document(self, upload: StoredUpload) -> bool:
        return _PUT_FOR not in upload.extra

    def _document(self, path: str) -> StoredUpload | None:
        return self.store.get(path)

    def _create(self, path: str | None, content_type: str | None) -> StoredUpload:
        """A new, empty upload: the document at ``path``, or (None) one that a PUT writes."""
        metadata = {} if content_type is None else {"Content-Type": content_type}
        return self.store.create(
            length=None, metadata=metadata, id=path, extra={"etag": self._etag()}
        )

    def _save(self, doc: StoredUpload) -> None:
        doc.complete = _is_complete(doc)
        if self.store.get(doc.id) is doc:
            self.store.save(doc)

    def _snapshot(self, doc: StoredUpload) -> StoredDocument:
        return StoredDocument(
            **doc.snapshot_fields(),
            content_type=doc.metadata.get("Content-Type"),
            etag=_etag_of(doc),
        )

    def _etag(self) -> str:
        return f'"v{next(self._versions)}"'

    # ---- dispatch --------------------------------------------------------------------------

    def serve(self, ctx: ExchangeSurface) -> Program[None]:
        path = urllib.parse.urlsplit(ctx.log.target).path
        method = ctx.method
        if method in ("GET", "HEAD"):
            yield from self._read(ctx, path)
        elif method == "PATCH":
            yield from self._patch(ctx, path)
        elif method == "PUT":
            yield from self._put(ctx, path)
        elif method == "DELETE":
            yield from self._delete(ctx, path)
        elif method == "OPTIONS":
            headers = (("Allow", _ALLOW), ("Accept-Patch", accept_patch()))
            yield from ctx.respond(Respond(204, b"", headers), read_first=True)
        else:
            step = with_fields(
                plain_response(405, f"{method} is not allowed here\n"), (("Allow", _ALLOW),)
            )
            yield from ctx.respond(step, read_first=False)

    def _refuse(self, ctx: ExchangeSurface, exc: PatchFormatError) -> Program[None]:
        yield from ctx.respond(refusal(exc), read_first=False)

    def _precondition(
        self, ctx: ExchangeSurface, doc: StoredUpload | None
    ) -> PatchFormatError | None:
        """``If-Match`` / ``If-None-Match`` (RFC 9110 §13.1), against the document's ETag."""
        if_match = ctx.headers.get("if-match")
        if if_match is not None:
            tags = [t.strip() for t in if_match.split(",")]
            if doc is None or ("*" not in tags and _etag_of(doc) not in tags):
                return PatchFormatError(f"If-Match {if_match} does not hold", 412, "precondition")
        if_none = ctx.headers.get("if-none-match")
        if if_none is not None and doc is not None:
            tags = [t.strip() for t in if_none.split(",")]
            if "*" in tags or _etag_of(doc) in tags:
                return PatchFormatError(
                    f"If-None-Match {if_none} does not hold: the document exists",
                    412,
                    "precondition",
                )
        return None

    # ---- reading ---------------------------------------------------------------------------

    def _read(self, ctx: ExchangeSurface, path: str) -> Program[None]:
        doc = self._document(path)
        if doc is None:
            yield from ctx.respond(plain_response(404, f"no document at {path}\n"), read_first=True)
            return
        size = len(doc.data)
        content_type = doc.metadata.get("Content-Type") or "application/octet-stream"
        headers: tuple[tuple[str, str], ...] = (
            ("ETag", _etag_of(doc)),
            ("Accept-Ranges", "bytes"),
            ("Accept-Patch", accept_patch()),
        )
        range_value = ctx.headers.get("range")
        if ctx.method == "GET" and range_value is not None:
            try:
                specs = parse_range(range_value)
            except RangeSyntaxError:
                specs = None  # RFC 9110 §14.2: an invalid Range is ignored
            if specs is not None:
                yield from self._read_ranges(ctx, doc, specs, content_type, headers)
                return
        headers = (("Content-Type", content_type), *headers)
        if ctx.method == "HEAD":
            step = Respond(200, b"", headers)
            yield from ctx.respond(step, read_first=True, head_length=size)
        else:
            body = _DocumentBody(doc.data, [(0, size - 1)] if size else [])
            yield from ctx.respond(Respond(200, b"", headers), read_first=True, stream=body)

    def _read_ranges(
        self,
        ctx: ExchangeSurface,
        doc: StoredUpload,
        specs: list[tuple[int | None, int | None]],
        content_type: str,
        headers: tuple[tuple[str, str], ...],
    ) -> Program[None]:
        """206 for the ranges, 416 for none that overlaps, or 200 with the whole document
        for a range set that would cost more than it (``plan_ranges``); every body is read
        from the store as it is sent."""
        size = len(doc.data)
        plan = plan_ranges(specs, size)
        if plan.status == 416:
            step = with_fields(
                plain_response(
                    416,
                    f"no range of {ctx.headers.get('range')} overlaps the {size}-byte document\n",
                ),
                (("Content-Range", f"bytes */{size}"), *headers),
            )
            yield from ctx.respond(step, read_first=True)
            return
        if plan.status == 200:
            ctx.log.event(ctx.now, "range", "", f"Range ignored: {plan.why}")
            body = _DocumentBody(doc.data, [(0, size - 1)])
            step = Respond(200, b"", (("Content-Type", content_type), *headers))
            yield from ctx.respond(step, read_first=True, stream=body)
            return
        if len(plan.ranges) == 1:
            first, last = plan.ranges[0]
            fields = (
                ("Content-Type", content_type),
                ("Content-Range", format_content_range(first, last, size)),
                *headers,
            )
            body = _DocumentBody(doc.data, [plan.ranges[0]])
            yield from ctx.respond(Respond(206, b"", fields), read_first=True, stream=body)
            return
        multipart = f"multipart/byteranges; boundary={_BOUNDARY}"
        body = _DocumentBody(
            doc.data, multipart_sections(plan.ranges, size, content_type, _BOUNDARY)
        )
        step = Respond(206, b"", (("Content-Type", multipart), *headers))
        yield from ctx.respond(step, read_first=True, stream=body)

    # ---- writing ---------------------------------------------------------------------------

    def _patch(self, ctx: ExchangeSurface, path: str) -> Program[None]:
        doc = self._document(path)
        failed = self._precondition(ctx, doc)
        if failed is not None:
            yield from self._refuse(ctx, failed)
            return
        full = None if doc is not None else self.pending_refusal(ctx)
        if full is not None:
            yield from ctx.respond(full, read_first=False)
            return
        was_complete = doc is not None and _is_complete(doc)
        sink = _RangeSink(self, path)
        try:
            parser = patch_parser(ctx.headers.get("content-type"), sink, PatchOptions())
        except PatchFormatError as exc:
            yield from self._refuse(ctx, exc)
            return

        def feed(piece: bytes) -> Program[None]:
            parser.feed(piece)
            yield from ()

        try:
            end = yield from self.read_body(ctx, feed)
            if end is not BodyEnd.COMPLETE:
                return
            parser.finish()
        except PatchFormatError as exc:
            refused = refusal(exc)
            doc = self._document(path)
            if (
                self.completion is not None
                and doc is not None
                and _is_complete(doc)
                and not was_complete
            ):
                # The document is whole even though this request was refused: it is
                # processed all the same, and this request gets the refusal.
                ctx.on_final_response(lambda _: refused)
                try:
                    yield from self.completion.run(ctx, self._snapshot(doc))
                finally:
                    ctx.on_final_response(None)
            else:
                yield from ctx.respond(refused, read_first=False)
            return
        finally:
            if sink.doc is not None:
                self._save(sink.doc)  # what was written, even if the request was cut
        yield from self._written(ctx, path, was_complete)

    def _written(self, ctx: ExchangeSurface, path: str, was_complete: bool) -> Program[None]:
        """Answer a successful write: the processing, when this write completed the
        document, else 200."""
        doc = self._document(path)
        assert doc is not None
        if self.completion is not None and _is_complete(doc) and not was_complete:
            yield from self.completion.run(ctx, self._snapshot(doc))
            return
        size = len(doc.data)
        total = "" if doc.length is None else f" of {doc.length}"
        headers: list[tuple[str, str]] = [("ETag", _etag_of(doc))]
        if _transaction(ctx) == "persist":
            headers.append(("Preference-Applied", "transaction=persist"))
        step = with_fields(plain_response(200, f"{size}{total} bytes stored\n"), tuple(headers))
        yield from ctx.respond(step, read_first=False)

    def _put(self, ctx: ExchangeSurface, path: str) -> Program[None]:
        doc = self._document(path)
        failed = self._precondition(ctx, doc)
        if failed is not None:
            yield from self._refuse(ctx, failed)
            return
        max_size = self._max_size
        if ctx.declared_length is not None and ctx.declared_length > max_size:
            yield from self._refuse(
                ctx,
                PatchFormatError(
                    f"a {ctx.declared_length}-byte document exceeds max_size={max_size}",
                    400,
                    "too-large",
                ),
            )
            return
        full = self.pending_refusal(ctx)
        if full is not None:
            yield from ctx.respond(full, read_first=False)
            return
        persist = _transaction(ctx) == "persist"
        new = self._create(None, ctx.headers.get("content-type"))
        new.extra[_PUT_FOR] = path

        def append(piece: bytes) -> Program[None]:
            if len(new.data) + len(piece) > max_size:
                raise PatchFormatError(
                    f"the document exceeds max_size={max_size}", 400, "too-large"
                )
            new.append(piece)
            yield from ()

        end = BodyEnd.ENDED
        try:
            end = yield from self.read_body(ctx, append, refuse=refusal)
        finally:
            if end is not BodyEnd.COMPLETE:
                if persist:
                    self._replace(path, new, ctx.declared_length)
                else:
                    self.store.delete(new.id, remember=False)
        if end is not BodyEnd.COMPLETE:
            return
        self._replace(path, new, len(new.data))
        if self.completion is not None:
            yield from self.completion.run(ctx, self._snapshot(new))
            return
        headers: list[tuple[str, str]] = [("ETag", _etag_of(new))]
        if persist:
            headers.append(("Preference-Applied", "transaction=persist"))
        step = with_fields(
            plain_response(201 if doc is None else 200, f"{len(new.data)} bytes stored\n"),
            tuple(headers),
        )
        yield from ctx.respond(step, read_first=False)

    def _replace(self, path: str, new: StoredUpload, length: int | None) -> None:
        """The upload a PUT wrote becomes the document at ``path``."""
        del new.extra[_PUT_FOR]
        new.extra["etag"] = self._etag()
        new.length = length
        self.store.rename(new.id, path)
        self._save(new)

    def _delete(self, ctx: ExchangeSurface, path: str) -> Program[None]:
        if self._document(path) is None:
            yield from ctx.respond(plain_response(404, f"no document at {path}\n"), read_first=True)
            return
        self.store.delete(path, remember=False)
        yield from ctx.respond(Respond(204), read_first=True)


def _transaction(ctx: ExchangeSurface) -> str | None:
    preference = Preferences.parse(ctx.headers.getall("prefer")).get("transaction")
    return None if preference is None else preference.value


def _etag_of(doc: StoredUpload) -> str:
    return str(doc.extra.get("etag", ""))


class _DocumentBody:
    """A response body laid out in sections (bytes, or the ``(first, last)`` of the document's
    bytes to read there), read from the store piece by piece as it is sent: a range response
    never holds the document, nor its parts, in memory whole."""

    def __init__(self, data: ByteStorage, sections: list[bytes | tuple[int, int]]) -> None:
        self._data = data
        self._sections = sections
        self._length = sum(_section_size(s) for s in sections)

    def __len__(self) -> int:
        return self._length

    def read(self, start: int, end: int) -> bytes:
        out: list[bytes] = []
        offset = 0
        for section in self._sections:
            size = _section_size(section)
            a, b = max(start - offset, 0), min(end - offset, size)
            if a < b:
                if isinstance(section, bytes):
                    out.append(section[a:b])
                else:
                    out.append(self._data.read(section[0] + a, section[0] + b))
            offset += size
            if offset >= end:
                break
        return b"".join(out)


def _section_size(section: bytes | tuple[int, int]) -> int:
    return len(section) if isinstance(section, bytes) else section[1] - section[0] + 1


class _RangeSink:
    """Applies a PATCH's parts to one document, creating it on the first valid part."""

    def __init__(self, resource: ByteRangeResource, path: str) -> None:
        self.resource = resource
        self.path = path
        self.doc: StoredUpload | None = None
        self.position = 0
        self.limit = 0

    def _document(self) -> StoredUpload:
        resource = self.resource
        doc = resource._document(self.path)
        if doc is None:
            doc = resource._create(self.path, None)
        self.doc = doc
        return doc

    def begin(self, head: PartHead) -> None:
        resource = self.resource
        content_range = head.content_range
        total = content_range.complete_length
        max_size = resource._max_size
        if total is not None and total > max_size:
            raise PatchFormatError(
                f"Content-Range {content_range}: a {total}-byte document exceeds "
                f"max_size={max_size}",
                400,
                "too-large",
            )
        existing = resource._document(self.path)
        size = 0 if existing is None else len(existing.data)
        zero_fill = resource.sparse == "zero-fill"
        first = content_range.first
        if first is None:
            assert total is not None
            if total > size and not zero_fill:
                raise PatchFormatError(
                    f"Content-Range {content_range} would grow the {size}-byte document with "
                    "undefined bytes; this resource refuses sparse writes",
                    400,
                    "grow",
                )
            doc = self._document()
            if total < size:
                doc.truncate(total)
                _clip_zeros(doc, total, size)
            else:
                fill_zeros(doc, total)
            doc.length = total
            doc.extra["etag"] = resource._etag()
            self.position = self.limit = total
            return
        last = content_range.last
        limit = last + 1 if last is not None else (total if total is not None else max_size)
        if limit > max_size:
            raise PatchFormatError(
                f"Content-Range {content_range} reaches past max_size={max_size}", 400, "too-large"
            )
        if first > size and not zero_fill:
            raise PatchFormatError(
                f"Content-Range {content_range} starts past the end of the {size}-byte "
                "document (a sparse write); write from a byte at most "
                f"{size}",
                416,
                "sparse",
                (("Content-Range", f"bytes */{size}"),),
            )
        doc = self._document()
        if first > size:
            fill_zeros(doc, first)
        if total is not None:
            doc.length = total
        content_type = head.fields.get("content-type")
        if content_type is not None:  # §2.3: as in a PUT of the whole document
            doc.metadata["Content-Type"] = content_type
        doc.extra["etag"] = resource._etag()
        self.position, self.limit = first, limit

    def write(self, data: bytes) -> None:
        assert self.doc is not None
        room = self.limit - self.position
        take = data[:room]
        if take:
            self.doc.write_at(self.position, take)
            _clip_zeros(self.doc, self.position, self.position + len(take))
            self.position += len(take)
        if len(data) > room:
            raise PatchFormatError(
                f"the part runs past byte {self.limit - 1}, the end its range allows",
                400,
                "over",
            )

    def end(self, head: PartHead, received: int) -> None:
        pass
