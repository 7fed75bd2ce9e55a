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
"""

from __future__ import annotations

import hashlib
import itertools
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ._byte_store import ByteStore, StoreFactory, fill_zeros, spooled
from ._byteranges import (
    PartHead,
    PatchFormatError,
    PatchOptions,
    accept_patch,
    patch_parser,
)
from ._completion import Completion, ProcessInput
from ._content_range import (
    RangeSyntaxError,
    format_content_range,
    parse_range,
    satisfiable_ranges,
)
from ._errors import ScenarioError
from ._interrupt import Interrupt, InterruptPlan
from ._prefer import Preferences
from ._resource import Resource
from ._steps import Respond, _check_count
from ._streaming import stream_body, text_response

if TYPE_CHECKING:
    from ._actions import Program
    from ._exchange import ExchangeContext

Sparse = Literal["refuse", "zero-fill"]
_ALLOW = "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"
_BOUNDARY = "mockprogress-byteranges"


@dataclass(frozen=True)
class StoredDocument:
    """One document of a ``ByteRangeResource`` (a snapshot): its bytes, its declared final
    length (from a ``Content-Range`` complete-length or a PUT), and whether it reached it."""

    path: str
    data: bytes
    length: int | None
    content_type: str | None
    etag: str

    @property
    def offset(self) -> int:
        """How many bytes the document has."""
        return len(self.data)

    @property
    def complete(self) -> bool:
        """True when the document has its declared final length."""
        return self.length is not None and len(self.data) == self.length

    @property
    def sha256(self) -> str:
        """The SHA-256 of the document, in hex."""
        return hashlib.sha256(self.data).hexdigest()


class _Document:
    def __init__(self, store: ByteStore, content_type: str | None, etag: str) -> None:
        self.store = store
        self.content_type = content_type
        self.length: int | None = None
        self.etag = etag

    @property
    def complete(self) -> bool:
        return self.length is not None and len(self.store) == self.length


class ByteRangeResource(Resource):
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
    :param spool_threshold: documents past this many bytes go to a temporary file (default:
        the server's ``spool_threshold``).
    :param store: a factory of ``ByteStore`` objects, to keep documents elsewhere.
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
        spool_threshold: int | None = None,
        store: StoreFactory | None = None,
    ) -> None:
        super().__init__(path)
        if sparse not in ("refuse", "zero-fill"):
            raise ScenarioError(f"sparse must be 'refuse' or 'zero-fill', got {sparse!r}")
        self.sparse: Sparse = sparse
        self.max_size = _check_count(max_size, "max_size")
        self.initial = dict(documents or {})
        for doc_path, data in self.initial.items():
            if not self.handles(doc_path):
                raise ScenarioError(f"document {doc_path!r} is not under {self.path}")
            if not isinstance(data, bytes):
                raise ScenarioError(f"document {doc_path!r} must be bytes, got {data!r}")
        self.completion = (
            None if process is None else Completion(process, "ByteRangeResource(process=...)")
        )
        self.plan = InterruptPlan(interrupts)
        if spool_threshold is not None:
            _check_count(spool_threshold, "spool_threshold")
        self.spool_threshold = spool_threshold
        self._store = store
        self._versions = itertools.count(1)
        self.documents: dict[str, _Document] = {}
        self._load_initial()

    # ---- public readers --------------------------------------------------------------------

    @property
    def uploads(self) -> dict[str, StoredDocument]:
        """Every document, by path: a snapshot with ``.data``, ``.offset``, ``.complete``."""
        return self._on_loop(
            lambda: {path: self._snapshot(path, doc) for path, doc in self.documents.items()}
        )

    def reset(self) -> None:
        for doc in self.documents.values():
            doc.store.close()
        self.documents.clear()
        self.plan.reset()
        self._load_initial()

    def _load_initial(self) -> None:
        threshold = 1 << 20 if self.spool_threshold is None else self.spool_threshold
        for doc_path, data in self.initial.items():
            store = (self._store or spooled(threshold))()
            store.write_at(0, data)
            doc = _Document(store, None, self._etag())
            doc.length = len(data)
            self.documents[doc_path] = doc

    def _snapshot(self, path: str, doc: _Document) -> StoredDocument:
        return StoredDocument(path, doc.store.read(), doc.length, doc.content_type, doc.etag)

    def _etag(self) -> str:
        return f'"v{next(self._versions)}"'

    def _new_store(self, ctx: ExchangeContext) -> ByteStore:
        threshold = self.spool_threshold
        if threshold is None:
            threshold = ctx.conn.state.config.spool_threshold
        return (self._store or spooled(threshold))()

    # ---- dispatch --------------------------------------------------------------------------

    def serve(self, ctx: ExchangeContext) -> Program[None]:
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
            step = text_response(405, f"{method} is not allowed here\n", (("Allow", _ALLOW),))
            yield from ctx.respond(step, read_first=False)

    def _refuse(self, ctx: ExchangeContext, exc: PatchFormatError) -> Program[None]:
        step = text_response(exc.status, exc.message + "\n", exc.headers)
        yield from ctx.respond(step, read_first=False)

    def _precondition(self, ctx: ExchangeContext, doc: _Document | None) -> PatchFormatError | None:
        """``If-Match`` / ``If-None-Match`` (RFC 9110 §13.1), against the document's ETag."""
        if_match = ctx.headers.get("if-match")
        if if_match is not None:
            tags = [t.strip() for t in if_match.split(",")]
            if doc is None or ("*" not in tags and doc.etag not in tags):
                return PatchFormatError(f"If-Match {if_match} does not hold", 412, "precondition")
        if_none = ctx.headers.get("if-none-match")
        if if_none is not None and doc is not None:
            tags = [t.strip() for t in if_none.split(",")]
            if "*" in tags or doc.etag in tags:
                return PatchFormatError(
                    f"If-None-Match {if_none} does not hold: the document exists",
                    412,
                    "precondition",
                )
        return None

    # ---- reading ---------------------------------------------------------------------------

    def _read(self, ctx: ExchangeContext, path: str) -> Program[None]:
        doc = self.documents.get(path)
        if doc is None:
            yield from ctx.respond(text_response(404, f"no document at {path}\n"), read_first=True)
            return
        size = len(doc.store)
        content_type = doc.content_type or "application/octet-stream"
        headers: tuple[tuple[str, str], ...] = (
            ("ETag", doc.etag),
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
            yield from ctx.respond(Respond(200, doc.store.read(), headers), read_first=True)

    def _read_ranges(
        self,
        ctx: ExchangeContext,
        doc: _Document,
        specs: list[tuple[int | None, int | None]],
        content_type: str,
        headers: tuple[tuple[str, str], ...],
    ) -> Program[None]:
        size = len(doc.store)
        ranges = satisfiable_ranges(specs, size)
        if not ranges:
            step = text_response(
                416,
                f"no range of {ctx.headers.get('range')} overlaps the {size}-byte document\n",
                (("Content-Range", f"bytes */{size}"), *headers),
            )
            yield from ctx.respond(step, read_first=True)
            return
        if len(ranges) == 1:
            first, last = ranges[0]
            step = Respond(
                206,
                doc.store.read(first, last + 1),
                (
                    ("Content-Type", content_type),
                    ("Content-Range", format_content_range(first, last, size)),
                    *headers,
                ),
            )
            yield from ctx.respond(step, read_first=True)
            return
        body = bytearray()
        for first, last in ranges:
            body += (
                f"--{_BOUNDARY}\r\nContent-Type: {content_type}\r\n"
                f"Content-Range: {format_content_range(first, last, size)}\r\n\r\n"
            ).encode("latin-1")
            body += doc.store.read(first, last + 1) + b"\r\n"
        body += f"--{_BOUNDARY}--\r\n".encode("latin-1")
        multipart = f"multipart/byteranges; boundary={_BOUNDARY}"
        step = Respond(206, bytes(body), (("Content-Type", multipart), *headers))
        yield from ctx.respond(step, read_first=True)

    # ---- writing ---------------------------------------------------------------------------

    def _patch(self, ctx: ExchangeContext, path: str) -> Program[None]:
        doc = self.documents.get(path)
        failed = self._precondition(ctx, doc)
        if failed is not None:
            yield from self._refuse(ctx, failed)
            return
        was_complete = doc is not None and doc.complete
        sink = _RangeSink(self, ctx, path)
        try:
            parser = patch_parser(ctx.headers.get("content-type"), sink, PatchOptions())
        except PatchFormatError as exc:
            yield from self._refuse(ctx, exc)
            return
        cut = self.plan.next_request()

        def feed(piece: bytes) -> Program[None]:
            parser.feed(piece)
            yield from ()

        try:
            end = yield from stream_body(ctx, cut, feed)
            if end != "complete":
                return
            parser.finish()
        except PatchFormatError as exc:
            refusal = text_response(exc.status, exc.message + "\n", exc.headers)
            doc = self.documents.get(path)
            if (
                self.completion is not None
                and doc is not None
                and doc.complete
                and not was_complete
            ):
                # The document is whole even though this request was refused: it is
                # processed all the same, and this request gets the refusal.
                ctx.on_respond = lambda _: refusal
                try:
                    yield from self.completion.run(ctx, self._snapshot(path, doc))
                finally:
                    ctx.on_respond = None
            else:
                yield from ctx.respond(refusal, read_first=False)
            return
        yield from self._written(ctx, path, was_complete)

    def _written(self, ctx: ExchangeContext, path: str, was_complete: bool) -> Program[None]:
        """Answer a successful write: the processing, when this write completed the
        document, else 200."""
        doc = self.documents[path]
        if self.completion is not None and doc.complete and not was_complete:
            yield from self.completion.run(ctx, self._snapshot(path, doc))
            return
        size = len(doc.store)
        total = "" if doc.length is None else f" of {doc.length}"
        headers: list[tuple[str, str]] = [("ETag", doc.etag)]
        if _transaction(ctx) == "persist":
            headers.append(("Preference-Applied", "transaction=persist"))
        step = text_response(200, f"{size}{total} bytes stored\n", tuple(headers))
        yield from ctx.respond(step, read_first=False)

    def _put(self, ctx: ExchangeContext, path: str) -> Program[None]:
        doc = self.documents.get(path)
        failed = self._precondition(ctx, doc)
        if failed is not None:
            yield from self._refuse(ctx, failed)
            return
        if ctx.declared_length is not None and ctx.declared_length > self.max_size:
            yield from self._refuse(
                ctx,
                PatchFormatError(
                    f"a {ctx.declared_length}-byte document exceeds max_size={self.max_size}",
                    400,
                    "too-large",
                ),
            )
            return
        persist = _transaction(ctx) == "persist"
        store = self._new_store(ctx)
        cut = self.plan.next_request()

        def append(piece: bytes) -> Program[None]:
            if len(store) + len(piece) > self.max_size:
                raise PatchFormatError(
                    f"the document exceeds max_size={self.max_size}", 400, "too-large"
                )
            store.write_at(len(store), piece)
            yield from ()

        end = "ended"
        try:
            end = yield from stream_body(ctx, cut, append)
        except PatchFormatError as exc:
            yield from self._refuse(ctx, exc)
            return
        finally:
            if end != "complete":
                if persist:
                    self._replace(path, store, ctx, ctx.declared_length)
                else:
                    store.close()
        if end != "complete":
            return
        created = doc is None
        self._replace(path, store, ctx, len(store))
        new = self.documents[path]
        if self.completion is not None:
            yield from self.completion.run(ctx, self._snapshot(path, new))
            return
        headers: list[tuple[str, str]] = [("ETag", new.etag)]
        if persist:
            headers.append(("Preference-Applied", "transaction=persist"))
        step = text_response(
            201 if created else 200, f"{len(store)} bytes stored\n", tuple(headers)
        )
        yield from ctx.respond(step, read_first=False)

    def _replace(
        self, path: str, store: ByteStore, ctx: ExchangeContext, length: int | None
    ) -> None:
        old = self.documents.get(path)
        if old is not None and old.store is not store:
            old.store.close()
        doc = _Document(store, ctx.headers.get("content-type"), self._etag())
        doc.length = length
        self.documents[path] = doc

    def _delete(self, ctx: ExchangeContext, path: str) -> Program[None]:
        doc = self.documents.pop(path, None)
        if doc is None:
            yield from ctx.respond(text_response(404, f"no document at {path}\n"), read_first=True)
            return
        doc.store.close()
        yield from ctx.respond(Respond(204), read_first=True)


def _transaction(ctx: ExchangeContext) -> str | None:
    preference = Preferences.parse(ctx.headers.getall("prefer")).get("transaction")
    return None if preference is None else preference.value


class _RangeSink:
    """Applies a PATCH's parts to one document, creating it on the first valid part."""

    def __init__(self, resource: ByteRangeResource, ctx: ExchangeContext, path: str) -> None:
        self.resource = resource
        self.ctx = ctx
        self.path = path
        self.doc: _Document | None = None
        self.position = 0
        self.limit = 0

    def _document(self) -> _Document:
        resource = self.resource
        doc = resource.documents.get(self.path)
        if doc is None:
            doc = _Document(resource._new_store(self.ctx), None, resource._etag())
            resource.documents[self.path] = doc
        self.doc = doc
        return doc

    def begin(self, head: PartHead) -> None:
        resource = self.resource
        content_range = head.content_range
        total = content_range.complete_length
        max_size = resource.max_size
        if total is not None and total > max_size:
            raise PatchFormatError(
                f"Content-Range {content_range}: a {total}-byte document exceeds "
                f"max_size={max_size}",
                400,
                "too-large",
            )
        existing = resource.documents.get(self.path)
        size = 0 if existing is None else len(existing.store)
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
                doc.store.truncate(total)
            else:
                fill_zeros(doc.store, total)
            doc.length = total
            doc.etag = resource._etag()
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
            fill_zeros(doc.store, first)
        if total is not None:
            doc.length = total
        content_type = head.fields.get("content-type")
        if content_type is not None:  # §2.3: as in a PUT of the whole document
            doc.content_type = content_type
        doc.etag = resource._etag()
        self.position, self.limit = first, limit

    def write(self, data: bytes) -> None:
        assert self.doc is not None
        room = self.limit - self.position
        take = data[:room]
        if take:
            self.doc.store.write_at(self.position, take)
            self.position += len(take)
        if len(data) > room:
            raise PatchFormatError(
                f"the part runs past byte {self.limit - 1}, the end its range allows",
                400,
                "over",
            )

    def end(self, head: PartHead, received: int) -> None:
        pass
