"""``ProgressJob``: the long-running operation of draft-wright-http-progress, with its status
document.

Strategy. Each job is a start time and a ``JobPlan``; its progress is a pure function of the
clock, so the request that started the job, any number of status-document requests and the
202 all read the same truth without sharing a timer. The programs below yield ``Sleep`` until
the plan's next change and never sleep themselves.

What the server says, and why (the draft's §2 and §3, RFC 7240):

- ``Prefer: processing`` on the starting request: a 102 on receipt carrying ``Location`` of
  the status document and ``Progress`` of the first stage (the draft's §2.4 example), then one
  102 per stage as it starts, then the final response. A 102 goes out for every stage, in
  order, even when the server woke late and several stages ended meanwhile.
- No preference: the same timing, no interims.
- ``Prefer: respond-async, wait=N``: a job still running N seconds after it started is left to
  run in the background and the request gets ``202 Accepted`` with ``Location`` and
  ``Content-Location`` (the status document, the URI of the 102s too). A job that ends by then
  answers normally. ``respond-async`` without ``wait`` means ``wait=0``; ``wait`` alone is
  ignored (RFC 7240 §4.3 leaves a server free to).
- The final response is the job's ``result`` plus ``Progress: n/n``, and ``Content-Location``
  of the status document (where the result can be fetched again, §2.1).
- ``Preference-Applied`` (RFC 7240 §3) names a preference when its effect would otherwise be
  ambiguous: ``processing`` on a final response after 102s went out for it (a 102 without the
  preference could be any RFC 2518 server's), ``respond-async`` (with ``wait=N`` when given)
  on the 202. A preference the server did not act on is not named.
- The status document (``<path>/status/<token>``, the token from ``secrets.token_urlsafe``,
  §4.1): GET or HEAD with ``Prefer: processing`` gets a 102 with the current progress, a 102
  per change, then ``200 OK`` with ``Progress: n/n`` and ``Status-URI: <code> <target>``
  (the result's status and the URI the job ran on, as in §2.4); without the preference it is
  answered at once with the current progress. ``respond-async`` and ``wait`` are ignored
  there (§3.4). DELETE removes it (``204``); afterwards it is ``404``.
"""

from __future__ import annotations

import secrets
import urllib.parse
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ..engine.actions import Sleep
from ..engine.resource import Resource
from ..errors import ScenarioError
from ..http.headers import Headers, HeadersInput, header_pairs
from ..http.prefer import Preferences, preference_applied
from ..http.progress_order import check_progress_order
from ..script.steps import Interim, Respond, respond
from .progress_job_plan import EPSILON, JobPlan, StageRemark

if TYPE_CHECKING:
    from ..engine.actions import Program
    from ..engine.surface import ExchangeSurface

#: The draft's §2.4 example, one second a stage.
DEFAULT_STAGES: tuple[tuple[str, float], ...] = (
    ("Herding cats", 1.0),
    ("Knitting sweaters", 1.0),
    ("Slaying dragons", 1.0),
)
JOB_METHODS = ("POST", "PUT", "PATCH", "DELETE")
#: Preferences named in ``Preference-Applied``, with their values.
Applied = list[tuple[str, str | int | None]]
_STATUS_METHODS = "GET, HEAD, DELETE"


@dataclass(frozen=True, slots=True)
class JobInfo:
    """One job a ``ProgressJob`` has started: where its status document is, what request
    started it, when (the server's clock), how long it runs, and whether its status document
    has been deleted."""

    status_uri: str
    target: str
    started: float
    duration: float
    deleted: bool = False


class _Job:
    __slots__ = ("deleted", "plan", "started", "target", "uri")

    def __init__(self, uri: str, target: str, started: float, plan: JobPlan) -> None:
        self.uri = uri
        self.target = target
        self.started = started
        self.plan = plan
        self.deleted = False

    def info(self) -> JobInfo:
        return JobInfo(self.uri, self.target, self.started, self.plan.duration, self.deleted)


class ProgressJob(Resource):
    """A long-running operation that reports its progress (draft-wright-http-progress).

    Each request to ``path`` with one of ``methods`` starts a job that runs ``stages`` one
    after another and ends with ``result``. The client's ``Prefer`` header decides what it
    sees on the way: 102s with ``Progress``, a ``202 Accepted`` after ``wait`` seconds, or
    nothing until the result. Every job gets a status document at an unguessable URI under
    ``path``. See the module's docstring for the exact rules.

    .. code-block:: python

        job = srv.mount(mp.ProgressJob(
            "/capture",
            stages=[("Herding cats", 0.5), ("Knitting sweaters", 0.5), ("Slaying dragons", 0.5)],
            result=mp.respond(201, "uploaded\\n", {"Location": "/photos/42"}),
            done_remark="Available",
        ))
        # POST /capture  with  Prefer: processing, respond-async, wait=1
        #   -> 102 (Location: /capture/status/...; Progress: 0/3 "Herding cats")
        #   -> 102 (Progress: 1/3 "Knitting sweaters")
        #   -> 202 Accepted (Location, Content-Location: the status document)
        job.jobs[0].status_uri

    :param path: where jobs are started; status documents live under ``<path>/status/``.
    :param stages: ``(remark, seconds)`` for each stage; a remark is text (a quoted-string
        when it is printable ASCII, else a UTF-8 ext-value), an ``mp.Comment``, an
        ``mp.ExtValue`` or None.
    :param result: the final response of every job (not 1xx, not 202). A ``Progress`` header
        of its own replaces ``n/n`` and must not go back (§3.2).
    :param done_remark: the remark of the final ``Progress: n/n``.
    :param methods: the methods that start a job; others get ``405``.
    :raises ScenarioError: when any of these is invalid.
    """

    def __init__(
        self,
        path: str,
        stages: Sequence[tuple[StageRemark, float]] = DEFAULT_STAGES,
        result: Respond | None = None,
        *,
        done_remark: StageRemark = None,
        methods: Iterable[str] = JOB_METHODS,
    ) -> None:
        super().__init__(path)
        self.plan = JobPlan.build(stages, done_remark)
        if result is None:
            result = respond(200, "done\n")
        if not isinstance(result, Respond):
            raise ScenarioError(f"result must be mp.respond(...), got {result!r}")
        if result.status == 202:
            raise ScenarioError("a job's result is its final response, which cannot be a 202")
        own = [v for n, v in result.headers if n.lower() == "progress"]
        last = self.plan.progress[-1]
        check_progress_order(
            [(102, [str(last)], f"stage {self.plan.stages - 1}"), (result.status, own, "result")]
        )
        self.result = result
        self.final_progress = own[0] if own else str(self.plan.final)
        if isinstance(methods, str) or not isinstance(methods, Iterable):
            raise ScenarioError(f"methods must be a list of method names, got {methods!r}")
        names = list(methods)
        if not names or not all(isinstance(m, str) and m for m in names):
            raise ScenarioError(f"methods must be method names, got {methods!r}")
        self.methods = tuple(m.upper() for m in names)
        # The 102 of each stage, built (and validated) once; the first also gets a Location.
        self._interims = [Interim(102, (("Progress", str(p)),)) for p in self.plan.progress]
        self._base = "" if self.path == "/" else self.path
        self._jobs: dict[str, _Job] = {}  # status documents by token
        self._started: list[_Job] = []

    # ---- what tests read -------------------------------------------------------------------

    @property
    def jobs(self) -> list[JobInfo]:
        """Every job started so far, oldest first."""
        return self._on_loop(lambda: [job.info() for job in self._started])

    def reset(self) -> None:
        self._jobs.clear()
        self._started.clear()

    # ---- serving ---------------------------------------------------------------------------

    def serve(self, ctx: ExchangeSurface) -> Program[None]:
        """Start a job (a request to ``path``), or answer for a status document."""
        path = urllib.parse.urlsplit(ctx.log.target).path
        prefix = f"{self._base}/status/"
        if path.rstrip("/") == self._base:
            if ctx.method not in self.methods:
                allow = {"Allow": ", ".join(self.methods)}
                yield from _plain(ctx, 405, f"{ctx.method} does not start a job here\n", allow)
                return
            yield from self.process(ctx)
        elif path.startswith(prefix) and path[len(prefix) :] in self._jobs:
            yield from self._status_document(ctx, self._jobs[path[len(prefix) :]])
        else:
            yield from _plain(ctx, 404, f"no job or status document at {path}\n")

    def process(self, ctx: ExchangeSurface, *, headers: HeadersInput = None) -> Program[None]:
        """Run one job inside an exchange that is already under way, honouring that request's
        ``Prefer``; the same program ``serve`` runs for a request to ``path``.

        This is how another resource finishes its own request with a long-running operation
        (an upload resource, say, once the last byte has arrived). The rest of the body is
        read first; the job starts then. Its status document is created under this job's
        ``path``, so mount this resource too (``srv.mount(job)``) for the status document to
        be served.

        .. code-block:: python

            def serve(self, ctx):
                ...  # store the upload's last bytes
                yield from self.processing.process(ctx, headers={"Upload-Complete": "?1"})

        The job it starts is the last of ``jobs``. (The program returns None, so that any
        "object with a ``process(ctx)`` program" fits where upload resources take one.)

        :param ctx: the exchange to answer.
        :param headers: extra header fields for the final response (or the 202).
        """
        extra = header_pairs(headers, where="ProgressJob.process")
        yield from ctx.read_body()
        if ctx.final_started and not ctx.closed:
            ctx.problem("scenario-error", f"{self.describe()}: process() after the final response")
        if ctx.closed or ctx.final_started:
            return
        job = self._start(ctx)
        prefs = Preferences.parse(ctx.headers.getall("prefer"))
        processing = "processing" in prefs
        deadline = None
        async_wait = prefs.wait or 0
        if "respond-async" in prefs:
            deadline = job.started + async_wait
        done = yield from self._follow(ctx, job, 0, processing=processing, deadline=deadline)
        if ctx.closed:
            return
        applied: Applied = []
        if processing and not ctx.is_http10:
            applied.append(("processing", None))
        if done:
            yield from ctx.respond(self._final(job, applied, extra), read_first=False)
        else:
            applied.append(("respond-async", None))
            if prefs.wait is not None:
                applied.append(("wait", prefs.wait))
            yield from ctx.respond(self._accepted(ctx, job, applied, extra), read_first=False)

    # ---- the pieces ------------------------------------------------------------------------

    def _start(self, ctx: ExchangeSurface) -> _Job:
        token = secrets.token_urlsafe(16)
        while token in self._jobs:
            token = secrets.token_urlsafe(16)
        job = _Job(f"{self._base}/status/{token}", ctx.log.target, ctx.now, self.plan)
        self._jobs[token] = job
        self._started.append(job)
        return job

    def _follow(
        self,
        ctx: ExchangeSurface,
        job: _Job,
        announce_from: int,
        *,
        processing: bool,
        deadline: float | None,
        location: bool = True,
    ) -> Program[bool]:
        """Stay with the job on this exchange: a 102 per stage from ``announce_from`` when
        ``processing``, until the job is done (True) or ``deadline`` passes (False)."""
        plan = job.plan
        announced = announce_from
        while not ctx.closed:
            elapsed = ctx.now - job.started
            index = plan.stage_at(elapsed)
            if processing:
                while announced <= min(index, plan.stages - 1):
                    interim = self._interims[announced]
                    if announced == announce_from and location:
                        interim = Interim(102, (*interim.headers, ("Location", job.uri)))
                    yield from ctx.send_interim(interim)
                    announced += 1
            change = plan.next_change(elapsed)
            if change is None:
                return True
            wake = job.started + change
            if deadline is not None and deadline < wake - EPSILON:
                if ctx.now + EPSILON >= deadline:
                    return False
                wake = deadline
            yield Sleep(max(0.0, wake - ctx.now))
        return False

    def _final(self, job: _Job, applied: Applied, extra: tuple[tuple[str, str], ...]) -> Respond:
        fields = list(self.result.headers)
        if not any(n.lower() == "progress" for n, _ in fields):
            fields.append(("Progress", self.final_progress))
        fields.append(("Content-Location", job.uri))
        if applied:
            fields.append(("Preference-Applied", preference_applied(*applied)))
        return replace(self.result, headers=(*fields, *extra))

    def _accepted(
        self,
        ctx: ExchangeSurface,
        job: _Job,
        applied: Applied,
        extra: tuple[tuple[str, str], ...],
    ) -> Respond:
        elapsed = ctx.now - job.started
        fields = (
            ("Location", job.uri),
            ("Content-Location", job.uri),
            ("Progress", str(job.plan.progress_at(elapsed))),
            ("Preference-Applied", preference_applied(*applied)),
            *extra,
        )
        return respond(202, job.plan.describe(elapsed) + "\n", fields)

    def _status_document(self, ctx: ExchangeSurface, job: _Job) -> Program[None]:
        if ctx.method == "DELETE":
            del self._jobs[job.uri.rsplit("/", 1)[1]]
            job.deleted = True
            yield from ctx.respond(respond(204), read_first=True)
            return
        if ctx.method not in ("GET", "HEAD"):
            allow = {"Allow": _STATUS_METHODS}
            yield from _plain(ctx, 405, f"a status document answers {_STATUS_METHODS}\n", allow)
            return
        yield from ctx.read_body()
        prefs = Preferences.parse(ctx.headers.getall("prefer"))
        processing = "processing" in prefs
        elapsed = ctx.now - job.started
        index = job.plan.stage_at(elapsed)
        if processing and index < job.plan.stages:
            yield from self._follow(ctx, job, index, processing=True, deadline=None, location=False)
            if ctx.closed:
                return
            applied: Applied = [] if ctx.is_http10 else [("processing", None)]
        else:
            applied = []
        elapsed = ctx.now - job.started
        if job.plan.stage_at(elapsed) < job.plan.stages:
            fields: list[tuple[str, str]] = [
                ("Progress", str(job.plan.progress_at(elapsed))),
                ("Content-Type", "text/plain; charset=utf-8"),
            ]
            body = (job.plan.describe(elapsed) + "\n").encode()
        else:
            fields = [("Progress", self.final_progress)]
            fields.append(("Status-URI", f"{self.result.status} <{job.target}>"))
            content_type = Headers(self.result.headers).get("content-type")
            if content_type is not None:
                fields.append(("Content-Type", content_type))
            body = self.result.content
        if applied:
            fields.append(("Preference-Applied", preference_applied(*applied)))
        yield from ctx.respond(respond(200, body, fields), read_first=False)


def _plain(
    ctx: ExchangeSurface, status: int, text: str, headers: dict[str, str] | None = None
) -> Program[None]:
    fields = {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}
    yield from ctx.respond(respond(status, text.encode(), fields), read_first=True)
