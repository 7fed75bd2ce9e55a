"""The reference demo's test suite (awwright/http-progress ``demo-progress/httpd.js``), served
in its dialect so that its client and runner pass against mockprogress.

Endpoints, under ``path`` (``/test``) and ``jobs_path`` (``/job``):

- ``GET /test/``: the tests, ``["/test/0","/test/1","/test/2"]``;
- ``GET /test/data``: the test data, 1,000,000 bytes of ``%08d\\r\\n`` lines;
- ``POST /test/0`` (uninterrupted), ``/test/1`` (the first upload is cut), ``/test/2`` (every
  upload is cut): a resumable request, answered ``Finished job result!\\r\\n`` when the bytes
  received equal the test data, ``Test failed at byte <i>`` otherwise;
- ``GET /test/status``: each test's ``waiting``/``pass``/``fail``; ``POST /test/reset``;
- ``/job/N.req`` and ``/job/N.res``: the jobs' request content and response message.

Unlike the original, a cut lands at exactly ``interrupt_after`` body bytes, and none of the
paths that crash the original (a bad patch, GET or DELETE on ``.req``, ``POST /test/status``)
stop the server.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..engine.exchange import plain_response
from ..engine.resource import Resource
from ..errors import ScenarioError
from ..script.checks import check_count
from ..script.faults import Interrupt
from ..script.steps import CutHow, Respond, respond
from .resume_request import ResumableRequests
from .resume_request_jobs import JobTable, StoredRequest
from .upload_store import UploadStore
from .uploads import with_fields

if TYPE_CHECKING:
    from ..engine.actions import Program
    from ..engine.surface import ExchangeSurface

RESULT = b"Finished job result!\r\n"
_METHODS = ("HEAD", "GET", "POST", "PATCH", "DELETE")
_TEST = re.compile(r"[0-9]{1,9}")


#: The largest test data the demo builds: 100 MB, held in memory.
MAX_LINES = 10_000_000


def counter_lines(lines: int) -> bytes:
    """The demo's test data: ``lines`` lines of ``%08d\\r\\n`` (10 bytes each)."""
    return b"".join(b"%08d\r\n" % i for i in range(lines))


class HttpProgressDemo(Resource):
    """The reference demo's endpoints and its three upload tests (demo-progress's httpd.js).

    :param path: where the tests live (``/test``).
    :param jobs_path: where the jobs live (``/job``).
    :param interrupt_after: the body bytes after which tests 1 and 2 cut an upload.
    :param how: how they cut it: ``reset`` (RST), ``close`` (FIN) or ``stall``.
    :param lines: how many ``%08d\\r\\n`` lines the test data has.
    """

    def __init__(
        self,
        path: str = "/test",
        *,
        jobs_path: str = "/job",
        interrupt_after: int = 100_000,
        how: CutHow = "reset",
        lines: int = 100_000,
    ) -> None:
        super().__init__(path)
        if self.path == "/":
            raise ScenarioError("the demo's tests need a path of their own, e.g. '/test'")
        check_count(interrupt_after, "interrupt_after")
        check_count(lines, "lines", minimum=1)
        if lines > MAX_LINES:
            raise ScenarioError(f"lines must be at most {MAX_LINES:,} (the data is held in memory)")
        self.data = counter_lines(lines)
        self.table = JobTable(UploadStore())
        self.status = ["waiting"] * 3
        self.messages: list[str | None] = [None] * 3
        cut = Interrupt(interrupt_after, 1, how)
        every = Interrupt(interrupt_after, None, how)
        self.tests = [
            ResumableRequests(
                f"{self.path}/{i}",
                jobs_path=jobs_path,
                dialect="demo",
                interrupts=interrupts,
                process=self._checker(i),
            )
            for i, interrupts in enumerate(((), (cut,), (every,)))
        ]
        siblings: dict[str, ResumableRequests] = {}
        for test in self.tests:
            test._share_jobs(self.table, siblings)
        self.jobs_path = self.tests[0].jobs_path

    def _attach(self, call_on_loop: Callable[[Callable[[], Any]], Any]) -> None:
        super()._attach(call_on_loop)
        for test in self.tests:
            test._attach(call_on_loop)

    @property
    def uploads(self) -> dict[str, StoredRequest]:
        """Every job of the three tests, by id (``"1"``, ``"2"``, ...)."""
        test = self.tests[0]
        return self._on_loop(lambda: {job.id: test.snapshot(job) for job in self.table.jobs()})

    @property
    def results(self) -> list[str]:
        """Each test's status: ``waiting``, ``pass`` or ``fail``."""
        return self._on_loop(lambda: list(self.status))

    def reset(self) -> None:
        self._reset_suite()
        self.table.clear()

    def free_storage(self) -> None:
        self.table.store.free_storage()

    def _reset_suite(self) -> None:
        self.status = ["waiting"] * 3
        self.messages = [None] * 3
        for test in self.tests:
            test.plan.reset()

    def _checker(self, index: int) -> Callable[[StoredRequest], Respond]:
        def check(upload: StoredRequest) -> Respond:
            data = upload.data
            if data == self.data:
                self.status[index], self.messages[index] = "pass", None
                return respond(200, RESULT, {"Content-Type": "text/plain"})
            at = next(
                (i for i, (a, b) in enumerate(zip(data, self.data, strict=False)) if a != b),
                min(len(data), len(self.data)),
            )
            message = f"Test failed at byte {at}"
            self.status[index], self.messages[index] = "fail", message
            return respond(200, f"{message}\r\n", {"Content-Type": "text/plain"})

        return check

    # ---- dispatch --------------------------------------------------------------------------

    def handles(self, path: str) -> bool:
        return super().handles(path) or path.startswith(self.jobs_path + "/")

    def serve(self, ctx: ExchangeSurface) -> Program[None]:
        path = urllib.parse.urlsplit(ctx.log.target).path
        method = ctx.method
        if method not in _METHODS:
            yield from self._text(ctx, 501, f"{method} is not implemented\r\n")
            return
        if path.startswith(self.jobs_path + "/"):
            yield from self.tests[0].serve(ctx)
            return
        rest = path[len(self.path) :].strip("/")
        if rest == "":
            body = json.dumps([t.path for t in self.tests], indent="\t") + "\n"
            yield from self._get_only(ctx, body.encode(), "application/json")
        elif rest == "data":
            yield from self._get_only(ctx, self.data, "text/plain")
        elif rest == "status":
            yield from self._get_only(ctx, self._status_document(), "application/json")
        elif rest == "reset":
            if method == "POST":
                self._reset_suite()
                yield from ctx.respond(Respond(200), read_first=True)
            else:
                yield from self._get_only(
                    ctx, b"Call POST to reset test suite.\r\n", "text/plain", "GET, HEAD, POST"
                )
        elif _TEST.fullmatch(rest) and int(rest) < len(self.tests):
            if method == "POST":
                yield from self.tests[int(rest)].serve(ctx)
            else:
                text = b"Stream /test/data to a POST request on this resource to begin test.\r\n"
                yield from self._get_only(ctx, text, "text/plain", "GET, HEAD, POST")
        else:
            yield from self._text(ctx, 404, f"no such test resource: {path}\r\n")

    def _status_document(self) -> bytes:
        entries: list[dict[str, object]] = []
        for i, test in enumerate(self.tests):
            entry: dict[str, object] = {"href": test.path, "status": self.status[i], "warn": []}
            if self.messages[i] is not None:
                entry["message"] = self.messages[i]
            entries.append(entry)
        return (json.dumps(entries, indent="\t") + "\n").encode()

    def _get_only(
        self, ctx: ExchangeSurface, body: bytes, content_type: str, allow: str = "GET, HEAD"
    ) -> Program[None]:
        if ctx.method not in ("GET", "HEAD"):
            step = with_fields(
                plain_response(405, f"{ctx.method} is not allowed here\r\n"), (("Allow", allow),)
            )
            yield from ctx.respond(step, read_first=False)
            return
        yield from ctx.respond(
            Respond(200, body, (("Content-Type", content_type),)), read_first=True
        )

    def _text(self, ctx: ExchangeSurface, status: int, text: str) -> Program[None]:
        yield from ctx.respond(plain_response(status, text), read_first=False)
