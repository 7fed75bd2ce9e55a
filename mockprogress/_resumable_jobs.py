"""The state of resumable requests (draft-wright-http-resume-request): one job per request.

A job holds the request's content as far as it arrived, the final response once processing
answered, and which request is writing now. Jobs live in a ``JobTable``; several resources can
share one table, so that their jobs share one URL space (the reference demo's ``/job/N``).
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ._headers import Headers

if TYPE_CHECKING:
    from ._byte_store import ByteStore
    from ._completion import StoredResponse

JobState = Literal["receiving", "complete", "discarded"]


@dataclass(frozen=True)
class StoredRequest:
    """One resumable request as the server holds it (a snapshot).

    ``data`` is the request content stored so far, ``offset`` its length, ``complete`` whether
    it reached the request's ``Content-Length``; ``discarded`` is True for an interrupted
    request that asked for ``Prefer: resume=ignore-incomplete`` (or did not ask to resume);
    ``response`` is the final response as ``message/http`` once processing answered.
    """

    id: int
    method: str
    target: str
    headers: Headers
    length: int
    data: bytes
    complete: bool
    discarded: bool
    request_content_location: str
    response_message_location: str
    response: bytes | None

    @property
    def offset(self) -> int:
        """How many bytes of the content are stored."""
        return len(self.data)

    @property
    def sha256(self) -> str:
        """The SHA-256 of the stored content, in hex."""
        return hashlib.sha256(self.data).hexdigest()


class Job:
    """A resumable request in progress (lives on the server's loop)."""

    def __init__(
        self,
        id: int,
        owner: object,
        *,
        method: str,
        target: str,
        headers: Headers,
        length: int,
        store: ByteStore,
        locations: tuple[str, str],
        keep_incomplete: bool,
    ) -> None:
        self.id = id
        self.owner = owner
        self.method = method
        self.target = target
        self.headers = headers
        self.length = length
        self.store = store
        self.request_content_location, self.response_message_location = locations
        self.keep_incomplete = keep_incomplete
        self.state: JobState = "receiving"
        self.response: StoredResponse | None = None
        self.writer = 0
        self.deleted = False

    @property
    def stored(self) -> int:
        return len(self.store)

    def take_over(self) -> int:
        """A new request starts writing; the previous one must stop at its next piece."""
        self.writer += 1
        return self.writer

    def discard(self) -> None:
        self.state = "discarded"
        self.store.close()

    def snapshot(self) -> StoredRequest:
        return StoredRequest(
            id=self.id,
            method=self.method,
            target=self.target,
            headers=self.headers,
            length=self.length,
            data=self.store.read(),
            complete=self.state == "complete",
            discarded=self.state == "discarded",
            request_content_location=self.request_content_location,
            response_message_location=self.response_message_location,
            response=None if self.response is None else self.response.message(),
        )


class JobTable:
    """Jobs by id, with ids counted from 1."""

    def __init__(self) -> None:
        self.jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)

    def add(self, job: Job) -> None:
        self.jobs[job.id] = job

    def get(self, id: int) -> Job | None:
        return self.jobs.get(id)

    def remove(self, job: Job) -> None:
        job.deleted = True
        job.take_over()
        job.store.close()
        self.jobs.pop(job.id, None)

    def owned_by(self, owner: object) -> list[Job]:
        return [job for job in self.jobs.values() if job.owner is owner]

    def clear(self, owner: object | None = None) -> None:
        for job in list(self.jobs.values()):
            if owner is None or job.owner is owner:
                self.remove(job)
        if not self.jobs:
            self._ids = itertools.count(1)
