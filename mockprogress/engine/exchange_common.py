"""What every protocol's exchange has in common (``ExchangeContext`` over h11, ``H2Exchange``
over h2): the request's facts as the journal holds them, the bookkeeping a resource or a
continue policy does, and the programs that touch no framing (a pause, a handler's failure).
Each protocol's class adds its own state and framing on top."""

from __future__ import annotations

import traceback
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from ..errors import ScenarioError
from ..http.headers import HeaderPairs, Headers
from ..http.progress_order import ProgressOrder
from ..script.steps import Interim, Respond
from .actions import Program, Sleep
from .journal import ExchangeLog

if TYPE_CHECKING:
    from .state import ServerState
    from .wire import BodySource, UnsizedSource

#: The ``100 Continue`` the first body read sends by default (steps are frozen: one serves all).
LAZY_CONTINUE = Interim(100)


class BodyTooLarge(Exception):
    pass


class Carrier(Protocol):
    """What an exchange needs of its connection (or of the connection its stream is on)."""

    state: ServerState
    clock: Callable[[], float]
    peer: str


class CommonExchange:
    """The part of an exchange that is the same whatever protocol carries it."""

    def __init__(self, conn: Carrier, log: ExchangeLog) -> None:
        self._carrier = conn
        self._log = log
        self._headers = log.headers
        #: The 100 the first body read sends while the client waits (None: never).
        self._lazy_continue: Interim | None = LAZY_CONTINUE
        #: The Progress values sent so far (draft-wright-http-progress §3.2); made when the
        #: first one is checked (most exchanges send none).
        self._progress_order: ProgressOrder | None = None
        #: Sees each scripted final response before it goes out and returns the one to send.
        self._response_filter: Callable[[Respond], Respond] | None = None

    # ---- facts ----------------------------------------------------------------------------

    @property
    def log(self) -> ExchangeLog:
        """The journal entry of this exchange."""
        return self._log

    @property
    def state(self) -> ServerState:
        """The server's state (engine use only: resources and handlers see
        ``ExchangeSurface``)."""
        return self._carrier.state

    @property
    def method(self) -> str:
        return self._log.method

    @property
    def target(self) -> str:
        return self._log.target

    @property
    def path(self) -> str:
        """The target's path, percent-decoding left as sent."""
        return urllib.parse.urlsplit(self._log.target).path

    @property
    def headers(self) -> Headers:
        return self._headers

    @property
    def http_version(self) -> str:
        return self._log.http_version

    @property
    def peer(self) -> str:
        """The client's address, as the I/O layer wrote it (``""`` when unknown)."""
        return self._carrier.peer

    @property
    def max_body_size(self) -> int:
        """The largest body (or WebSocket message) the server takes."""
        return self._carrier.state.config.limits.max_body_size

    @property
    def now(self) -> float:
        return self._carrier.clock()

    # ---- what each protocol says ----------------------------------------------------------

    @property
    def closed(self) -> bool:
        raise NotImplementedError

    @property
    def final_started(self) -> bool:
        raise NotImplementedError

    @property
    def body_started(self) -> bool:
        raise NotImplementedError

    @property
    def raw_mode(self) -> bool:
        """Raw bytes were written: the exchange's framing is the script's now."""
        raise NotImplementedError

    def read_body(self, upto: int | None = None) -> Program[None]:
        raise NotImplementedError

    def respond(
        self,
        step: Respond,
        *,
        read_first: bool,
        drains_after: bool = False,
        head_length: int | None = None,
        stream: BodySource | None = None,
    ) -> Program[None]:
        raise NotImplementedError

    def respond_unsized(self, step: Respond, source: UnsizedSource) -> Program[None]:
        raise NotImplementedError

    # ---- bookkeeping -----------------------------------------------------------------------

    def on_final_response(self, fn: Callable[[Respond], Respond] | None) -> None:
        """Have ``fn`` see each scripted final response before it goes out and return the one
        to send (upload resources store the scripted response this way, and may answer
        otherwise); None stops it."""
        self._response_filter = fn

    def continue_on_first_read(self, interim: Interim | None) -> None:
        """The ``100 Continue`` the first body read sends while the client waits for one (None:
        never); set by the expectation's continue policy (``expect_continue``)."""
        self._lazy_continue = interim

    def problem(self, kind: str, message: str) -> None:
        self._carrier.state.record(kind, message, self._log.index)

    def _progress_in_order(self, status: int, headers: HeaderPairs, where: str) -> bool:
        """Hold what an async handler sends to draft-wright-http-progress §3.2 (scripts are
        checked when built); a message that breaks it is not sent."""
        values = [v for n, v in headers if n.lower() == "progress"]
        order = self._progress_order
        if not values and (status != 102 or order is None or order.last is None):
            return True  # nothing to check or to remember
        if order is None:
            order = self._progress_order = ProgressOrder()
        try:
            order.admit(status, values, where)
        except ScenarioError as exc:
            self.problem("scenario-error", f"not sent: {exc}")
            return False
        return True

    def _store(self, data: bytes, limit: int) -> None:
        """Keep body bytes in the journal, up to ``limit`` in all (past it: ``BodyTooLarge``)."""
        room = limit - len(self._log.body)
        if len(data) > room:
            if room > 0:
                self._log.append_body(data[:room])  # read, and within the limit: kept
            raise BodyTooLarge()
        self._log.append_body(data)

    # ---- programs --------------------------------------------------------------------------

    def _final_to_send(
        self, step: Respond, read_first: bool, stream: BodySource | None
    ) -> Program[Respond | None]:
        """What every protocol checks before a final response: the body read first if asked,
        one final response only, the resource's filter, Progress order (a 500 instead), a body
        given twice. The response to send, or None when nothing is to be sent."""
        if read_first and not self.body_started:
            yield from self.read_body()
        if self.closed:
            return None
        if self.final_started or self.raw_mode:
            self.problem("scenario-error", f"a second final response ({step.status}) was scripted")
            return None
        if self._response_filter is not None:
            step = self._response_filter(step)
        if not self._progress_in_order(step.status, step.headers, f"{step.status}"):
            yield from self.respond(
                plain_response(500, "mockprogress: the response broke Progress order\n"),
                read_first=False,
            )
            return None
        if stream is not None and (step.body or step.chunked):
            self.problem("scenario-error", f"a {step.status} response has a body and a stream")
            return None
        return step

    def _unsized_to_send(self, step: Respond) -> Program[Respond | None]:
        """``_final_to_send`` for a body of unknown length; an answer without a body (to
        HEAD, a 204, a 304) goes out as any response, and None is returned for it too."""
        if self.method == "HEAD" or step.status in (204, 304):
            yield from self.respond(step, read_first=False)  # its checks are respond's own
            return None
        return (yield from self._final_to_send(step, False, None))

    def pause(self, seconds: float) -> Program[None]:
        self._log.event(self.now, "pause", "", f"pause {seconds:g} s")
        if seconds > 0:
            yield Sleep(seconds)

    def handler_failed(self, exc: BaseException) -> Program[None]:
        text = "".join(traceback.format_exception(exc)).rstrip()
        self.problem("handler-error", f"handler raised {exc!r}\n{text}")
        if not self.final_started and not self.closed:
            yield from self.respond(
                plain_response(500, f"mockprogress: the handler raised {exc!r}\n"),
                read_first=False,
            )


def plain_response(status: int, text: str) -> Respond:
    """A text/plain response, for the server's own answers."""
    return Respond(status, text.encode(), (("Content-Type", "text/plain; charset=utf-8"),))
