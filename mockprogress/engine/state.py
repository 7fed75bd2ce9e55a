"""Everything one server knows: configuration, expectations, resources, journal, problems.

It lives on the server's event loop; the I/O layer and the public ``MockServer`` reach it from
there only. ``serve`` is the dispatch program: the server's own (reserved) resources first, then
expectations, then mounted resources, then the explained error for a request nobody expected.
"""

from __future__ import annotations

import itertools
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

from ..errors import ExpectationError, ScenarioError
from ..http.headers import Headers
from ..script.faults import HeadCut
from ..script.http2 import HTTP2
from ..script.steps import Script, Step
from .actions import CallHandler, PeerGone, Program
from .exchange import plain_response, run_script
from .expect_continue import begin_exchange
from .faults import HeadCutPlan
from .journal import Event, Exchange, ExchangeLog, Journal
from .limits import Limits, SetLimits
from .matching import Expectation, Registry, RequestView, Selection, never_answered
from .problems import Problem, problems_error
from .proxy import Forward, SetUpstream, UpstreamURL, forward_exchange
from .resource import Resource

if TYPE_CHECKING:
    from .surface import ExchangeSurface

EventListener = Callable[[ExchangeLog, Event], None]
SyncHandler = Callable[[Exchange], Step | Iterable[Step]]
#: What a scenario document defines.
ScenarioItem = Expectation | Resource | HeadCut | SetLimits | SetUpstream


#: How many exchanges of reserved resources are kept (they are not part of the journal).
RESERVED_LOG_SIZE = 100


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Limits and defaults of one server."""

    #: How much the server takes from its clients (``engine/limits.py``).
    limits: Limits = field(default_factory=Limits)
    #: The status of the answer to a request that matched nothing.
    unmatched_status: int = 500
    #: Write a final response past h11 when h11 would write the same bytes (faster; False
    #: sends every response through h11, as tests/core/test_responses_past_h11.py compares).
    responses_past_h11: bool = True
    #: Read simple request heads with ``engine.heads.simple_head`` before h11 (faster; False
    #: has h11 parse every head, as tests/core/test_simple_heads.py compares).
    simple_heads: bool = True
    #: Proxy mode: where requests that match nothing are forwarded (None: they get
    #: ``unmatched_status``), and where ``mp.forward()`` forwards by default.
    upstream: UpstreamURL | None = None
    #: Names a forwarded request's ``Host`` may carry besides the server's address, IP
    #: addresses and ``localhost`` (``http.origin.allowed_names``).
    allowed_hosts: tuple[str, ...] = ()
    #: HTTP/2 beside HTTP/1.1 (its SETTINGS), or None: HTTP/1.1 only.
    http2: HTTP2 | None = None

    def __post_init__(self) -> None:
        if not 400 <= self.unmatched_status <= 599:
            raise ScenarioError("unmatched_status must be a 4xx or 5xx status")

    @classmethod
    def of(cls, **options: Any) -> ServerConfig:
        """The configuration named by keyword options: each limit by its name (``Limits``),
        and this class's other fields."""
        limits, rest = Limits.pick(options)
        return cls(limits, **rest)


class ServerState:
    """The state of one server, owned by its event loop."""

    def __init__(self, config: ServerConfig | None = None, *, scheme: str = "http") -> None:
        self.config = config or ServerConfig()
        self.registry = Registry()
        self.resources: list[Resource] = []
        self.logs: list[ExchangeLog] = []
        self.problems: list[Problem] = []
        self.listeners: list[EventListener] = []
        #: Where the server listens, ``(host, port)``; set by the I/O layer once it does.
        self.address: tuple[str, int] | None = None
        #: ``http`` or ``https``: how clients reach it.
        self.scheme = scheme
        #: The server's own resources (``Resource.reserved``): tried before expectations, kept
        #: across ``reset()``.
        self.reserved: list[Resource] = []
        #: Their last exchanges: kept apart, so the journal holds the clients' only.
        self.reserved_logs: deque[ExchangeLog] = deque(maxlen=RESERVED_LOG_SIZE)
        self.head_cuts = HeadCutPlan()
        #: The journal's exchanges in progress (begun, not ended), oldest first: kept as they
        #: begin and end, whatever ``reset()`` forgets, so ``wait_idle`` can wait for them.
        self._in_progress: dict[ExchangeLog, None] = {}
        #: Called once, each, when no exchange is in progress any more.
        self._idle_waiters: list[Callable[[], None]] = []
        # One bound method for every exchange's ``on_end``, not a new one per request.
        self._on_exchange_end = self._exchange_ended
        self._connection_ids = itertools.count(1)
        self._reserved_ids = itertools.count(1)
        # Changes another thread posted (thread mode's expect() and respond()), applied in
        # order on the loop before anything reads the state: the next request, the next call.
        self._posted: deque[tuple[Callable[..., object], tuple[object, ...]]] = deque()

    # ---- changes from other threads --------------------------------------------------------

    def post(self, fn: Callable[..., object], *args: object) -> None:
        """Have ``fn(*args)`` applied before the state is next read (``apply_posted``); safe
        to call from any thread (a deque's append is atomic)."""
        self._posted.append((fn, args))

    def apply_posted(self) -> None:
        """Apply what was posted, in order, here (on the server's loop)."""
        posted = self._posted
        while posted:
            fn, args = posted.popleft()
            fn(*args)

    # ---- bookkeeping -----------------------------------------------------------------------

    def next_connection_id(self) -> int:
        return next(self._connection_ids)

    def new_exchange(
        self,
        *,
        connection: int,
        started: float,
        method: str,
        target: str,
        http_version: str,
        headers: Headers,
    ) -> ExchangeLog:
        reserved = (
            bool(self.reserved)
            and self._reserved_for(urllib.parse.urlsplit(target).path) is not None
        )
        log = ExchangeLog(
            next(self._reserved_ids) if reserved else len(self.logs) + 1,
            connection,
            started,
            method=method,
            target=target,
            http_version=http_version,
            headers=headers,
            spool_threshold=self.config.limits.spool_threshold,
        )
        log.reserved = reserved
        if not reserved:
            self._in_progress[log] = None
            log.on_end = self._on_exchange_end
        if self.listeners:
            log.listeners = self.listeners
        (self.reserved_logs if reserved else self.logs).append(log)
        return log

    # ---- exchanges in progress --------------------------------------------------------------

    def in_progress(self) -> list[ExchangeLog]:
        """The journal's exchanges begun and not yet ended (reserved resources' aside)."""
        return list(self._in_progress)

    def when_idle(self, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once when no exchange is in progress: now, if none is."""
        if self._in_progress:
            self._idle_waiters.append(callback)
        else:
            callback()

    def forget_idle_waiter(self, callback: Callable[[], None]) -> None:
        """Stop waiting with ``callback`` (the wait timed out)."""
        if callback in self._idle_waiters:
            self._idle_waiters.remove(callback)

    def _exchange_ended(self, log: ExchangeLog) -> None:
        self._in_progress.pop(log, None)
        if not self._in_progress and self._idle_waiters:
            waiters, self._idle_waiters = self._idle_waiters, []
            for callback in waiters:
                callback()

    def record(self, kind: str, message: str, exchange: int | None = None) -> None:
        self.problems.append(Problem(kind, message, exchange))

    def journal(self) -> Journal:
        return Journal([log.snapshot() for log in self.logs])

    def all_problems(self) -> list[Problem]:
        """The problems recorded so far, and the expectations not used as often as required."""
        problems = list(self.problems)
        problems.extend(
            Problem("scenario-error", never_answered(exp.describe()))
            for exp in self.registry.unanswered()
        )
        problems.extend(
            Problem(
                "unconsumed", f"{exp.describe()} expected {exp.times} request(s), got {exp.calls}"
            )
            for exp in self.registry.unconsumed()
        )
        return problems

    def check_error(self) -> ExpectationError | None:
        """The error ``check()`` raises, or None when all is well."""
        problems = self.all_problems()
        problems.extend(Problem("unconsumed", line) for line in self.head_cuts.unfired())
        if not problems:
            return None
        # The report shows the exchanges involved, else the last ten: only those are copied
        # (the live view in a browser asks for this report every second).
        involved = {p.exchange for p in problems if p.exchange is not None}
        shown = [log for log in self.logs if log.index in involved] or self.logs[-10:]
        return problems_error(problems, Journal([log.snapshot() for log in shown]))

    def free_storage(self) -> None:
        """Free the temporary files behind the journal's bodies and the resources' stores; the
        timelines stay readable, the bodies read empty."""
        for log in self.logs:
            log.close_storage()
        for resource in (*self.resources, *self.reserved):
            resource.free_storage()

    def reset(self) -> None:
        """Forget expectations, head cuts, resources and the journal; reserved resources stay."""
        self.registry.clear()
        self.head_cuts.clear()
        for resource in self.resources:
            resource.reset()
            resource.close()
        self.resources.clear()
        self.clear_journal()

    def clear_journal(self) -> None:
        """Forget the exchanges, the reserved resources' log and the problems, keep
        expectations and resources."""
        for log in self.logs:
            log.close_storage()
        for log in self.reserved_logs:
            if log.ended is not None:  # one still running (the request asking) reads its own
                log.close_storage()
        self.logs.clear()
        self.reserved_logs.clear()
        self.problems.clear()

    def close_resources(self) -> None:
        """Let every mounted resource release what it holds (the server is stopping)."""
        for resource in (*self.resources, *self.reserved):
            resource.close()

    def add_expectation(self, expectation: Expectation) -> None:
        self.registry.add(expectation)

    def mount(self, resource: Resource) -> None:
        """Serve every request under ``resource.path`` with it; a reserved resource goes with
        the server's own, which are tried before expectations."""
        mounted = self.reserved if resource.reserved else self.resources
        for other in mounted:
            if other.path == resource.path:
                raise ScenarioError(f"a resource is already mounted at {resource.path}")
        mounted.append(resource)
        resource.mounted(self)

    def _reserved_for(self, path: str) -> Resource | None:
        return next((r for r in self.reserved if r.handles(path)), None)

    def _reserved_serving(self, log: ExchangeLog) -> Resource | None:
        """The reserved resource the exchange of ``log`` went to, if it went to one."""
        if not log.reserved:
            return None
        return self._reserved_for(urllib.parse.urlsplit(log.target).path)

    def add_item(self, item: ScenarioItem) -> None:
        """Add what a scenario document defined: an expectation, a resource, a head cut, the
        server's limits or its upstream."""
        if isinstance(item, Resource):
            self.mount(item)
        elif isinstance(item, SetLimits):
            self.config = replace(self.config, limits=item.over(self.config.limits))
        elif isinstance(item, SetUpstream):
            self.config = replace(self.config, upstream=item.url)
        elif isinstance(item, HeadCut):
            self.head_cuts.add(item)
        else:
            self.add_expectation(item)

    # ---- dispatch --------------------------------------------------------------------------

    def serve(self, ctx: ExchangeSurface) -> Program[None]:
        """Answer one request."""
        if self._posted:
            self.apply_posted()  # an expectation added just before the request came
        refusal = self._refusal(ctx)
        if refusal is not None:
            yield from self._refuse(ctx, *refusal)
            return
        log = ctx.log
        reserved = self._reserved_serving(log)
        if reserved is not None:
            yield from _contained(ctx, reserved.serve(ctx))
            return
        view = _view(log, None)
        selection = self._select(view)
        if isinstance(selection, Selection) and selection.needs_body:
            yield from ctx.read_body()
            if ctx.closed:
                return
            view = _view(log, log.body.read())
            selection = self._select(view)
        if not isinstance(selection, Selection):
            yield from ctx.handler_failed(selection)  # a matcher raised
            return
        if selection.expectation is not None:
            exp = selection.expectation
            exp.calls += 1
            log.handled_by = exp.describe()
            yield from self._run_expectation(ctx, exp)
            return
        for resource in self.resources:
            if resource.handles(view.path):
                log.handled_by = resource.describe()
                yield from _contained(ctx, resource.serve(ctx))
                return
        if self.config.upstream is not None and selection.out_of_order is None:
            log.handled_by = f"upstream {self.config.upstream}"
            yield from _contained(ctx, forward_exchange(ctx, Forward()))
            return
        yield from self._unexpected(ctx, view, selection)

    def _select(self, view: RequestView) -> Selection | BaseException:
        """The expectation for ``view``, or what a matcher (a test's predicate) raised, which
        is that exchange's handler error, BaseException included."""
        try:
            return self.registry.select(view)
        except BaseException as exc:  # contained to the exchange, reported
            return exc

    def _refuse(
        self, ctx: ExchangeSurface, status: int, kind: str, problem: str, answer: str
    ) -> Program[None]:
        """Refuse a request over a limit, or framed both ways, before anything reads it."""
        reserved = self._reserved_serving(ctx.log)
        if reserved is not None:
            # Its number counts the reserved resource's exchanges, not the journal's.
            request = f"{ctx.log.method} {ctx.log.target}"
            self.record(kind, f"{reserved.describe()} request {request}: {problem}")
        else:
            self.record(kind, problem, ctx.log.index)
        yield from ctx.respond(plain_response(status, answer + "\n"), read_first=False)

    def _refusal(self, ctx: ExchangeSurface) -> tuple[int, str, str, str] | None:
        """(status, problem kind, problem, answer) for a request to refuse, else None."""
        limits = self.config.limits
        version = ctx.log.http_version
        if version != "1.1" and not version.startswith("1.") and version != "2":
            # h11 parses any HTTP/d.d; this server speaks HTTP/1 (RFC 9112 §2.6: a 505 refuses
            # the client's major version). HTTP/1.2 and the like are served as HTTP/1.1.
            message = (
                f"HTTP/{version} is not a version this server speaks "
                "(it speaks HTTP/1.1 and HTTP/1.0)"
            )
            return 505, "malformed-request", message, message
        if ctx.head_size > limits.max_header_size:
            message = (
                f"request head of {ctx.head_size} bytes exceeds max_header_size"
                f"={limits.max_header_size}"
            )
            return 431, "limit", message, message
        if len(ctx.headers) > limits.max_header_count:
            message = (
                f"request has {len(ctx.headers)} header lines, over max_header_count"
                f"={limits.max_header_count}"
            )
            return 431, "limit", message, message
        declared = ctx.declared_length
        if declared is None and "content-length" in ctx.headers:
            # Chunked (declared_length is None only then) and a length too. RFC 9112 §6.1: a
            # server may refuse such a request, and must close the connection after it
            # whatever it does; §6.2: a client MUST NOT send both.
            message = (
                "request has both Transfer-Encoding and Content-Length: its framing is "
                "ambiguous (RFC 9112 §6.1), a request-smuggling pattern"
            )
            return 400, "malformed-request", message, message
        limit = limits.max_body_size
        if declared is not None and declared > limit:
            return (
                413,
                "limit",
                f"Content-Length {declared} exceeds max_body_size={limit}",
                f"request body of {declared} bytes exceeds {limit}",
            )
        return None

    def _run_expectation(self, ctx: ExchangeSurface, exp: Expectation) -> Program[None]:
        if not (yield from begin_exchange(ctx, exp.continue_policy)):
            return
        handler = exp.handler
        if handler is None:
            yield from run_script(ctx, exp.script)
            return
        if exp.is_async_handler:
            failure = yield CallHandler(handler, ctx)  # type: ignore[arg-type]
            if failure is not None:
                yield from ctx.handler_failed(failure)
            return
        yield from ctx.read_body()
        if ctx.closed:
            return
        try:
            result = cast(SyncHandler, handler)(ctx.log.snapshot())
            steps = [result] if isinstance(result, Step) else list(result)
            script = Script.of(steps)
        except BaseException as exc:  # contained to the exchange, reported
            yield from ctx.handler_failed(exc)
            return
        yield from run_script(ctx, script)

    def _unexpected(self, ctx: ExchangeSurface, view: RequestView, sel: Selection) -> Program[None]:
        yield from ctx.read_body()
        if ctx.closed:
            return
        view = _view(ctx.log, ctx.log.body.read() if ctx.body_done else None)
        request = f"{view.method} {ctx.log.target}"
        if sel.out_of_order is not None and sel.waiting_for is not None:
            kind = "out-of-order"
            message = (
                f"{request} matched {sel.out_of_order.describe()}, but its ordered group is "
                f"waiting for {sel.waiting_for.describe()} first"
            )
        else:
            kind = "unmatched"
            message = f"{request} matched no expectation"
            try:
                closest = self.registry.closest(view)
            except BaseException as exc:  # a predicate the selection did not reach raised
                yield from ctx.handler_failed(exc)
                return
            if closest:
                message += "; closest:"
                for exp, reasons in closest:
                    message += f"\n    - {exp.describe()}: " + "; ".join(reasons or ["matched"])
            else:
                message += " (none are defined)"
        self.record(kind, message, ctx.log.index)
        yield from ctx.respond(
            plain_response(self.config.unmatched_status, f"mockprogress: {message}\n"),
            read_first=False,
        )


def _contained(ctx: ExchangeSurface, program: Program[None]) -> Program[None]:
    """Run a resource's ``program``: what it raises, BaseException included, is its
    exchange's error (a 500 while one can be sent, a problem for check()). The client going
    away (``PeerGone``) and closing this program (the server stopping) go through."""
    result: Any = None
    thrown: BaseException | None = None
    while True:
        try:
            action = program.throw(thrown) if thrown is not None else program.send(result)
        except StopIteration:
            return
        except BaseException as exc:  # contained to the exchange, reported
            if exc is thrown or isinstance(exc, PeerGone):
                raise  # the client went away (the driver's word or the engine's): not an error
            yield from ctx.handler_failed(exc)
            return
        result, thrown = None, None
        try:
            result = yield action
        except GeneratorExit:
            program.close()
            raise
        except BaseException as exc:  # passed on to the program
            thrown = exc


def _view(log: ExchangeLog, body: bytes | None) -> RequestView:
    # What the journal's Exchange.path, .raw_query and .query say, without a snapshot.
    parts = urllib.parse.urlsplit(log.target)
    raw_query = parts.query
    query = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True)) if raw_query else {}
    # Positional: keywords make a named tuple at half the speed (one is made per request).
    return RequestView(log.method, parts.path, query, raw_query, log.headers, body)
