"""``TusUploads``: tus 1.0 (core, creation, creation-with-upload, creation-defer-length,
termination, checksum), the resumable-upload protocol most upload clients speak today.

Strategy. ``POST path`` creates an upload at ``path/<id>``; ``HEAD`` reports its offset;
``PATCH`` with ``application/offset+octet-stream`` appends at ``Upload-Offset``; ``DELETE``
terminates it. The answers follow the tus 1.0.0 specification:

- Every request but OPTIONS carries ``Tus-Resumable: 1.0.0``, else ``412 Precondition
  Failed`` with ``Tus-Version``; every response but OPTIONS carries ``Tus-Resumable``.
- ``OPTIONS`` → ``204`` with ``Tus-Version``, ``Tus-Extension``, ``Tus-Max-Size`` (when set)
  and ``Tus-Checksum-Algorithm``.
- ``POST`` needs ``Upload-Length`` (or ``Upload-Defer-Length: 1``); over ``Tus-Max-Size`` →
  ``413``; ``Upload-Metadata`` must be ``key base64,...`` with unique keys. With content of type
  ``application/offset+octet-stream`` the first chunk is stored at once (creation-with-upload).
- ``HEAD`` → ``200`` with ``Upload-Offset``, ``Upload-Length`` (or ``Upload-Defer-Length``),
  ``Upload-Metadata`` and ``Cache-Control: no-store``.
- ``PATCH``: wrong media type → ``415``; missing or invalid ``Upload-Offset`` → ``400``; an
  offset that is not the upload's → ``409``; content past ``Upload-Length`` → ``413``; an
  ``Upload-Checksum`` in an unsupported algorithm → ``400``, one that does not match → ``460``
  and the chunk is discarded (it is all or nothing, so an interrupted checksummed chunk is
  discarded too); otherwise ``204`` with the new ``Upload-Offset``.
- Unknown uploads → ``404``; terminated ones → ``410``.
- ``X-HTTP-Method-Override`` on a POST is honoured, as the core protocol asks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ..engine.actions import Program
from ..engine.exchange import plain_response
from ..errors import ScenarioError
from ..script.faults import Interrupt
from ..script.steps import Respond
from .upload_store import StoredUpload, UploadStore
from .uploads import DEFAULT_MAX_PENDING, BodyEnd, UploadResource, with_fields

if TYPE_CHECKING:
    from ..engine.surface import ExchangeSurface

TUS_VERSION = "1.0.0"
OFFSET_STREAM = "application/offset+octet-stream"
#: Checksum algorithms offered by default (names as tus clients send them).
CHECKSUM_ALGORITHMS = ("sha1", "md5", "sha256", "sha512")
_DIGITS = re.compile(r"[0-9]{1,18}")
_METADATA_KEY = re.compile(r"[^\s,]+")


class TusUploads(UploadResource):
    """Uploads by tus 1.0, created at ``path`` and kept at ``path/<id>``.

    .. code-block:: python

        files = srv.mount(mp.TusUploads(
            "/files", interrupts=[mp.interrupt(after=4096, request=1, how="reset")]
        ))
        ...  # the client uploads to srv.url("/files"), is cut after 4096 bytes, resumes
        [upload] = files.uploads.values()
        assert upload.complete and upload.hexdigest() == hashlib.sha256(source).hexdigest()

    :param path: where uploads are created (POST); each upload lives at ``path/<id>``.
    :param interrupts: ``mp.interrupt(...)`` cuts: the Nth request that carries upload data
        (a PATCH, or a POST with its first chunk) is cut after K body bytes, all stored.
    :param max_size: ``Tus-Max-Size``: the largest upload accepted (413 above).
    :param checksum_algorithms: the ``Upload-Checksum`` algorithms offered (the checksum
        extension); empty to leave the extension out.
    :param store: where uploads are kept (default: in memory, spooled to disk past 1 MiB).
    :param max_pending: the most unfinished uploads kept at once; a request that would
        start one more is answered 507 (default 1,000; None: no limit).
    """

    def __init__(
        self,
        path: str = "/files",
        *,
        interrupts: Iterable[Interrupt] = (),
        max_size: int | None = None,
        checksum_algorithms: Iterable[str] = CHECKSUM_ALGORITHMS,
        store: UploadStore | None = None,
        max_pending: int | None = DEFAULT_MAX_PENDING,
    ) -> None:
        super().__init__(
            path, store=store, interrupts=interrupts, max_size=max_size, max_pending=max_pending
        )
        if isinstance(checksum_algorithms, str):
            raise ScenarioError("checksum_algorithms takes a list of names, e.g. ['sha1']")
        self.checksum_algorithms = tuple(checksum_algorithms)
        for name in self.checksum_algorithms:
            if not isinstance(name, str) or name not in hashlib.algorithms_available:
                raise ScenarioError(f"checksum algorithm {name!r} is not available in hashlib")

    @property
    def extensions(self) -> str:
        """The ``Tus-Extension`` value."""
        names = ["creation", "creation-with-upload", "creation-defer-length", "termination"]
        if self.checksum_algorithms:
            names.append("checksum")
        return ",".join(names)

    # ---- dispatch --------------------------------------------------------------------------

    def serve(self, ctx: ExchangeSurface) -> Program[None]:
        method = ctx.method
        override = ctx.headers.get("x-http-method-override")
        if method == "POST" and override:
            method = override.strip().upper()
        if method == "OPTIONS":
            yield from ctx.respond(self._options(), read_first=False)
            return
        if ctx.headers.get("tus-resumable") != TUS_VERSION:
            yield from self._answer(
                ctx,
                412,
                f"this server speaks tus {TUS_VERSION}: send Tus-Resumable: {TUS_VERSION} "
                f"(got {ctx.headers.get('tus-resumable')!r})",
                [("Tus-Version", TUS_VERSION)],
            )
            return
        upload_id = self.target(ctx)
        if upload_id is None:
            if method == "POST":
                yield from self._create(ctx)
            else:
                yield from self._answer(
                    ctx,
                    405,
                    f"{method} {self.path}: uploads are created with POST",
                    [("Allow", "OPTIONS, POST")],
                )
            return
        upload = self.store.get(upload_id)
        if upload is None:
            gone = upload_id in self.store.gone
            why = "was terminated (DELETE)" if gone else "does not exist"
            yield from self._answer(ctx, 410 if gone else 404, f"upload {upload_id} {why}")
            return
        self.claim(ctx, upload)
        try:
            if method == "HEAD":
                yield from self._head(ctx, upload)
            elif method == "PATCH":
                yield from self._patch(ctx, upload)
            elif method == "DELETE":
                self.store.delete(upload.id)
                yield from self._respond(ctx, Respond(204))
            else:
                yield from self._answer(
                    ctx,
                    405,
                    f"{method} does not apply to a tus upload",
                    [("Allow", "OPTIONS, HEAD, PATCH, DELETE")],
                )
        finally:
            self.release(ctx, upload)
            if self.store.get(upload.id) is upload:
                self.store.save(upload)

    def _respond(self, ctx: ExchangeSurface, step: Respond) -> Program[None]:
        step = Respond(
            step.status, step.body, (("Tus-Resumable", TUS_VERSION), *step.headers), step.reason
        )
        yield from ctx.respond(step, read_first=False)

    def insufficient_storage(self, message: str) -> Respond:
        return with_fields(super().insufficient_storage(message), (("Tus-Resumable", TUS_VERSION),))

    def _answer(
        self,
        ctx: ExchangeSurface,
        status: int,
        message: str,
        headers: Iterable[tuple[str, str]] = (),
    ) -> Program[None]:
        yield from self._respond(ctx, with_fields(plain_response(status, message + "\n"), headers))

    def _options(self) -> Respond:
        headers = [("Tus-Version", TUS_VERSION), ("Tus-Extension", self.extensions)]
        if self.max_size is not None:
            headers.append(("Tus-Max-Size", str(self.max_size)))
        if self.checksum_algorithms:
            headers.append(("Tus-Checksum-Algorithm", ",".join(self.checksum_algorithms)))
        return Respond(204, headers=tuple(headers))

    # ---- creation --------------------------------------------------------------------------

    def _create(self, ctx: ExchangeSurface) -> Program[None]:
        headers = ctx.headers
        raw_length = headers.get("upload-length")
        deferred = headers.get("upload-defer-length")
        length: int | None = None
        if raw_length is not None and deferred is not None:
            yield from self._answer(ctx, 400, "send Upload-Length or Upload-Defer-Length, not both")
            return
        if deferred is not None:
            if deferred.strip() != "1":
                yield from self._answer(
                    ctx, 400, f"Upload-Defer-Length must be 1, got {deferred!r}"
                )
                return
        else:
            length = _non_negative(raw_length)
            if length is None:
                yield from self._answer(
                    ctx,
                    400,
                    "creating an upload needs Upload-Length (a non-negative integer) or "
                    f"Upload-Defer-Length: 1; got Upload-Length {raw_length!r}",
                )
                return
            if self.max_size is not None and length > self.max_size:
                yield from self._answer(
                    ctx, 413, f"Upload-Length {length} exceeds Tus-Max-Size {self.max_size}"
                )
                return
        metadata = parse_metadata(headers.get("upload-metadata"))
        if metadata is None:
            yield from self._answer(
                ctx,
                400,
                "Upload-Metadata must be comma-separated 'key base64value' pairs with unique "
                f"keys; got {headers.get('upload-metadata')!r}",
            )
            return
        with_upload = _media_type(ctx) == OFFSET_STREAM and ctx.declared_length != 0
        if with_upload and length is not None and ctx.declared_length is not None:
            if ctx.declared_length > length:
                yield from self._answer(
                    ctx, 413, f"{ctx.declared_length} content bytes pass Upload-Length {length}"
                )
                return
        full = self.pending_refusal(ctx)
        if full is not None:
            yield from self._respond(ctx, full)
            return
        upload = self.store.create(length=length, metadata=metadata)
        ctx.log.event(ctx.now, "upload", "", f"created upload {upload.id}")
        location = ("Location", self.location(upload.id))
        if not with_upload:
            self._maybe_complete(upload)
            yield from self._respond(ctx, Respond(201, headers=(location,)))
            return
        self.claim(ctx, upload)
        try:
            if not (yield from self._receive(ctx, upload)):
                return
            yield from self._respond(
                ctx, Respond(201, headers=(location, ("Upload-Offset", str(upload.offset))))
            )
        finally:
            self.release(ctx, upload)
            self.store.save(upload)

    # ---- core ------------------------------------------------------------------------------

    def _head(self, ctx: ExchangeSurface, upload: StoredUpload) -> Program[None]:
        headers = [("Upload-Offset", str(upload.offset))]
        if upload.length is None:
            headers.append(("Upload-Defer-Length", "1"))
        else:
            headers.append(("Upload-Length", str(upload.length)))
        if upload.metadata:
            headers.append(("Upload-Metadata", format_metadata(upload.metadata)))
        headers.append(("Cache-Control", "no-store"))
        yield from self._respond(ctx, Respond(200, headers=tuple(headers)))

    def _patch(self, ctx: ExchangeSurface, upload: StoredUpload) -> Program[None]:
        media_type = _media_type(ctx)
        if media_type != OFFSET_STREAM:
            yield from self._answer(
                ctx, 415, f"a tus PATCH carries {OFFSET_STREAM}, got {media_type or 'none'}"
            )
            return
        raw_offset = ctx.headers.get("upload-offset")
        offset = _non_negative(raw_offset)
        if offset is None:
            yield from self._answer(
                ctx, 400, f"Upload-Offset must be a non-negative integer, got {raw_offset!r}"
            )
            return
        if offset != upload.offset:
            yield from self._answer(
                ctx,
                409,
                f"Upload-Offset {offset} does not match the upload's offset {upload.offset}",
            )
            return
        raw_length = ctx.headers.get("upload-length")
        if raw_length is not None:
            length = _non_negative(raw_length)
            if length is None or (upload.length is not None and length != upload.length):
                yield from self._answer(
                    ctx,
                    400,
                    f"Upload-Length {raw_length!r} is invalid or changes the upload's length "
                    f"{upload.length}",
                )
                return
            if length < upload.offset or (self.max_size is not None and length > self.max_size):
                yield from self._answer(
                    ctx,
                    413 if length > upload.offset else 400,
                    f"Upload-Length {length} is below the offset or above Tus-Max-Size",
                )
                return
            upload.length = length
        content = ctx.declared_length
        if upload.length is not None and content is not None and offset + content > upload.length:
            yield from self._answer(
                ctx, 413, f"{offset} + {content} bytes pass Upload-Length {upload.length}"
            )
            return
        if not (yield from self._receive(ctx, upload)):
            return
        yield from self._respond(
            ctx, Respond(204, headers=(("Upload-Offset", str(upload.offset)),))
        )

    def _receive(self, ctx: ExchangeSurface, upload: StoredUpload) -> Program[bool]:
        """Store the chunk (verifying its checksum when one came); True to answer 2xx."""
        checksum = ctx.headers.get("upload-checksum")
        expected: bytes | None = None
        hasher = None
        if checksum is not None:
            parsed = self._parse_checksum(checksum)
            if isinstance(parsed, str):
                yield from self._answer(ctx, 400, parsed)
                return False
            hasher, expected = parsed
        bounds = [b - upload.offset for b in (upload.length, self.max_size) if b is not None]
        limit = min(bounds) if bounds else None
        verifying = hasher is not None
        if verifying:
            upload.verifying_from = upload.offset
            self.store.save(upload)
        try:
            outcome = yield from self.read_into(
                ctx,
                upload,
                limit=limit,
                commit=not verifying,
                observe=None if hasher is None else hasher.update,
            )
            if verifying and outcome is BodyEnd.COMPLETE:
                assert hasher is not None
                if hasher.digest() != expected:
                    ctx.log.event(ctx.now, "upload", "", "checksum mismatch: chunk discarded")
                    yield from self._answer(
                        ctx, 460, "Upload-Checksum does not match the chunk: it was discarded"
                    )
                    return False
                upload.commit()
        finally:
            if verifying:
                upload.discard_uncommitted()  # a no-op once committed
                upload.verifying_from = -1
        if outcome is BodyEnd.TOO_LONG:
            yield from self._answer(
                ctx, 413, f"the chunk went past the upload's length {upload.length}"
            )
            return False
        if outcome is not BodyEnd.COMPLETE:
            return False
        self._maybe_complete(upload)
        return True

    def _parse_checksum(self, value: str) -> tuple[hashlib._Hash, bytes] | str:
        name, _, encoded = value.strip().partition(" ")
        if name not in self.checksum_algorithms:
            offered = ",".join(self.checksum_algorithms) or "none"
            return f"Upload-Checksum algorithm {name!r} is not supported (offered: {offered})"
        try:
            expected = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return f"Upload-Checksum {value!r} does not carry a base64 digest"
        return hashlib.new(name), expected

    def _maybe_complete(self, upload: StoredUpload) -> None:
        if upload.length is not None and upload.offset == upload.length:
            upload.complete = True


def _non_negative(value: str | None) -> int | None:
    if value is None or not _DIGITS.fullmatch(value.strip()):
        return None
    return int(value)


def _media_type(ctx: ExchangeSurface) -> str:
    return (ctx.headers.get("content-type") or "").split(";")[0].strip().lower()


def parse_metadata(value: str | None) -> dict[str, str] | None:
    """tus ``Upload-Metadata``: ``key base64value`` pairs (the value may be absent); None when
    malformed. Bytes that are not UTF-8 survive as surrogate escapes."""
    metadata: dict[str, str] = {}
    if value is None or not value.strip():
        return metadata
    for pair in value.split(","):
        parts = pair.strip().split(" ")
        if not parts[0] or len(parts) > 2 or not _METADATA_KEY.fullmatch(parts[0]):
            return None
        key = parts[0]
        if key in metadata:
            return None
        text = ""
        if len(parts) == 2:
            try:
                raw = base64.b64decode(parts[1], validate=True)
            except (binascii.Error, ValueError):
                return None
            text = raw.decode("utf-8", "surrogateescape")
        metadata[key] = text
    return metadata


def format_metadata(metadata: dict[str, str]) -> str:
    return ",".join(
        f"{key} {base64.b64encode(value.encode('utf-8', 'surrogateescape')).decode('ascii')}"
        if value
        else key
        for key, value in metadata.items()
    )
