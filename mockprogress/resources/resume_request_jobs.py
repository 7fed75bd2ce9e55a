"""The state of resumable requests (draft-wright-http-resume-request): one job per request.

A job is an upload in an ``UploadStore``: its bytes are the request content as far as it
arrived, its final response is the one processing answered, and ``extra`` keeps the request's
method, target and headers, whether an interrupted upload is kept, and which resource owns
it. So jobs live in any store, a ``DirectoryUploadStore`` included, and survive a restart with
it. Several resources can share one ``JobTable`` (one store), so that their jobs share one URL
space (the reference demo's ``/job/N``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..http.headers import Headers
from .upload_store import StoredResponse, StoredUpload, Upload, UploadStore

if TYPE_CHECKING:
    from collections.abc import Iterator


@dataclass(frozen=True, slots=True)
class StoredRequest(Upload):
    """One resumable request as the server holds it (a snapshot): an ``Upload`` whose
    ``data`` is the request content stored so far, ``offset`` its length and ``complete``
    whether it reached the request's ``Content-Length``; besides, the request's ``method``,
    ``target`` and ``headers``; ``discarded``, True for an interrupted request that asked for
    ``Prefer: resume=ignore-incomplete`` (or did not ask to resume); its two locations; and
    ``response``, the final response as ``message/http`` once processing answered.
    """

    method: str
    target: str
    headers: Headers
    discarded: bool
    request_content_location: str
    response_message_location: str
    response: bytes | None


class Job:
    """A view of one resumable request's upload (lives on the server's loop)."""

    __slots__ = ("upload",)

    def __init__(self, upload: StoredUpload) -> None:
        self.upload = upload

    @property
    def id(self) -> str:
        return self.upload.id

    @property
    def owner(self) -> str:
        """The path of the resource that created the job."""
        return str(self.upload.extra.get("owner", ""))

    @property
    def headers(self) -> Headers:
        return Headers((n, v) for n, v in self.upload.extra.get("headers", ()))

    @property
    def length(self) -> int:
        return self.upload.length or 0

    @property
    def stored(self) -> int:
        return len(self.upload.data)

    @property
    def keep_incomplete(self) -> bool:
        return bool(self.upload.extra.get("keep_incomplete"))

    @property
    def complete(self) -> bool:
        return self.upload.complete

    @property
    def discarded(self) -> bool:
        return bool(self.upload.extra.get("discarded"))

    @property
    def response(self) -> StoredResponse | None:
        return self.upload.final

    def discard(self) -> None:
        """Throw the content away (the job answers 410 from now on)."""
        self.upload.truncate(0)
        self.upload.extra["discarded"] = True

    def snapshot(self, locations: tuple[str, str]) -> StoredRequest:
        extra = self.upload.extra
        return StoredRequest(
            **self.upload.snapshot_fields(),
            method=str(extra.get("method", "")),
            target=str(extra.get("target", "")),
            headers=self.headers,
            discarded=self.discarded,
            request_content_location=locations[0],
            response_message_location=locations[1],
            response=None if self.response is None else self.response.message(),
        )


def job_extra(owner: str, method: str, target: str, headers: Headers, keep: bool) -> dict[str, Any]:
    """What a job keeps in its upload's ``extra``."""
    return {
        "owner": owner,
        "method": method,
        "target": target,
        "headers": [list(pair) for pair in headers],
        "keep_incomplete": keep,
        "discarded": False,
    }


class JobTable:
    """The jobs of the resources sharing one URL space: their store, and the demo's numbers."""

    def __init__(self, store: UploadStore) -> None:
        self.store = store

    def get(self, id: str) -> Job | None:
        upload = self.store.get(id)
        return None if upload is None else Job(upload)

    def jobs(self, owner: str | None = None) -> Iterator[Job]:
        """Every job, or those of the resource at path ``owner``."""
        for upload in self.store:
            job = Job(upload)
            if owner is None or job.owner == owner:
                yield job

    def next_number(self) -> str:
        """The reference demo's ids count from 1; a number once used (even if deleted since)
        is not given again until the store is cleared."""
        ids = [u.id for u in self.store] + list(self.store.gone)
        used = [int(i) for i in ids if i.isascii() and i.isdigit()]
        return str(max(used, default=0) + 1)

    def remove(self, job: Job) -> None:
        self.store.delete(job.id)

    def clear(self, owner: str | None = None) -> None:
        if owner is None:
            self.store.clear()
            return
        for job in list(self.jobs(owner)):
            self.remove(job)
        if not len(self.store):
            self.store.clear()  # the demo's numbers start again at 1
