"""Expectations: which request gets which script, how often, and in what order.

Selection, for each request:

1. Expectations are tried in the order they were added. One whose ``times=N`` is used up no
   longer matches. An ordered expectation (``ordered=True`` or a group name) matches only when
   it is the next unused one of its group.
2. Among those that match, one with ``times`` set wins over a permanent one (``times=None``),
   so a few scripted answers can precede a fallback. A ``GET`` expectation answers ``HEAD``
   too, as a server does (the head of its GET answer, no content; the HEAD counts as one of
   its calls), but any match for the request's own method (``HEAD`` or any) wins over it.
3. A request matching nothing gets an error response naming the expectations that came
   closest (same path first, then same method) and the criteria each failed; a request that
   matched an ordered expectation out of turn is reported as such.

An expectation is refused where it is written when it could never match (a path carrying a
query), and one whose answer fails to build (``respond()`` raising) is withdrawn.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json as _json
import re
import reprlib
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from ..errors import ScenarioError
from ..http.headers import Headers
from ..script.continue_policy import ContinueInput, continue_policy
from ..script.steps import Respond, Script, Step

if TYPE_CHECKING:
    from .journal import Exchange

#: A matcher is an exact value or a predicate returning True for a match.
ValueMatcher: TypeAlias = "str | Callable[[str], bool]"
Handler: TypeAlias = (
    "Callable[[Exchange], Step | Iterable[Step]] | Callable[[Any], Awaitable[None]]"
)


class RequestView(NamedTuple):
    """What matching looks at. ``body`` is None until the body has been read. (A tuple: one
    is made for every request, and a frozen dataclass costs three times as much to make.)"""

    method: str
    path: str
    query: Mapping[str, str]
    raw_query: str
    headers: Headers
    body: bytes | None = None


def _describe(matcher: object) -> str:
    if isinstance(matcher, re.Pattern):
        pattern = matcher.pattern
        text = pattern.decode("latin-1") if isinstance(pattern, bytes) else pattern
        return f"/{text}/"
    if callable(matcher):
        return f"<{getattr(matcher, '__name__', 'predicate')}>"
    return repr(matcher)


def _excerpt_repr() -> reprlib.Repr:
    excerpt = reprlib.Repr()
    excerpt.maxlevel = 3
    for name in ("maxtuple", "maxlist", "maxarray", "maxdict", "maxset", "maxfrozenset"):
        setattr(excerpt, name, 6)
    excerpt.maxstring = excerpt.maxother = 60
    excerpt.maxlong = 40
    return excerpt


_EXCERPT = _excerpt_repr()
#: The longest excerpt of a value a mismatch quotes (a request's body may be megabytes).
EXCERPT_CHARS = 200


def _excerpt(value: object) -> str:
    """A bounded repr of ``value``: a few items of each container, a few levels deep."""
    text = _EXCERPT.repr(value)
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 3] + "..."


def _value_ok(matcher: object, value: str) -> bool:
    if type(matcher) is str:
        return matcher == value  # the usual case: no isinstance or callable checks first
    if isinstance(matcher, re.Pattern):
        return matcher.fullmatch(value) is not None
    if callable(matcher):
        return bool(matcher(value))
    return bool(matcher == value)


def _check_matcher(value: object, what: str) -> None:
    if not (isinstance(value, str | re.Pattern) or callable(value)):
        raise ScenarioError(f"{what} must be a string, a compiled regex or a predicate")


def _query_in_path(path: str) -> str:
    # A request's path is matched without its query: such a path could never match.
    bare, _, raw_query = path.partition("?")
    query = dict(urllib.parse.parse_qsl(raw_query, keep_blank_values=True))
    return (
        f"path {path!r} has a query, and a request's path is matched without its query: "
        f"write path={bare!r}, query={query!r} (or query={raw_query!r} for the exact string)"
    )


class Expectation:
    """A rule: requests that match get this script (or handler).

    Built by ``srv.expect(method, path, ...)``; ``respond(*steps)`` sets the script and returns
    the expectation, so one line both declares and answers.
    """

    def __init__(
        self,
        method: str | None,
        path: str | re.Pattern[str] | Callable[[str], bool],
        *,
        query: Mapping[str, Any] | str | Callable[[Mapping[str, str]], bool] | None = None,
        headers: Mapping[str, Any] | Callable[[Headers], bool] | None = None,
        body: bytes | str | re.Pattern[bytes] | Callable[[bytes], bool] | None = None,
        json: object = None,
        times: int | None = None,
        ordered: bool | str = False,
        name: str | None = None,
        expect_continue: ContinueInput = "auto",
    ) -> None:
        if method is not None and (not isinstance(method, str) or not method.strip()):
            raise ScenarioError(
                f"method must be a string such as 'GET', or None for any: {method!r}"
            )
        self.method = None if method in (None, "*") else method.upper()
        _check_matcher(path, "path")
        if isinstance(path, str) and not path.startswith(("/", "*")):
            raise ScenarioError(f"path must start with '/', got {path!r}")
        if isinstance(path, str) and "?" in path:
            raise ScenarioError(_query_in_path(path))
        self.path = path
        if query is not None and not isinstance(query, str | Mapping) and not callable(query):
            raise ScenarioError("query must be a mapping, a raw query string or a predicate")
        if isinstance(query, Mapping):
            for key, value in query.items():
                _check_matcher(value, f"query[{key!r}]")
        self.query = query
        if headers is not None and not isinstance(headers, Mapping) and not callable(headers):
            raise ScenarioError("headers must be a mapping of name to value or a predicate")
        if isinstance(headers, Mapping):
            for key, value in headers.items():
                _check_matcher(value, f"headers[{key!r}]")
        self.headers = headers
        if body is not None and json is not None:
            raise ScenarioError("match on body= or json=, not both")
        if isinstance(body, str):
            body = body.encode()
        if isinstance(body, re.Pattern) and not isinstance(body.pattern, bytes):
            raise ScenarioError("a body regex is matched against bytes: compile it from bytes")
        if body is not None and not isinstance(body, bytes | re.Pattern) and not callable(body):
            raise ScenarioError("body must be bytes, str, a bytes regex or a predicate on bytes")
        self.body = body
        self.json = json
        if times is not None and (
            isinstance(times, bool) or not isinstance(times, int) or times < 1
        ):
            raise ScenarioError(f"times must be an integer >= 1 or None, got {times!r}")
        if ordered and times is None:
            times = 1
        self.times = times
        if not isinstance(ordered, bool | str):
            raise ScenarioError("ordered must be True or a group name")
        self.group: str | None = ("" if ordered is True else ordered) if ordered else None
        self.name = name
        #: What the route shows and the command that shows it, for the standalone server's
        #: index (scenario files set them; ``{url}`` in ``curl`` stands for the server's URL).
        self.description: str | None = None
        self.curl: str | None = None
        #: What a request with ``Expect: 100-continue`` gets before the script (``_continue``).
        self.continue_policy = continue_policy(expect_continue)
        self.calls = 0
        #: Until ``respond()`` or ``respond_with()`` gives one: a 500 saying it was never
        #: given a response (``check()`` reports it too).
        self.script: Script = _unanswered_script(self.describe())
        self.handler: Handler | None = None
        self._apply: Callable[[Callable[[], None]], None] = lambda fn: fn()
        #: The registry holding this expectation (set by ``Registry.add``), and whether
        #: ``respond()`` or ``respond_with()`` has given it an answer yet.
        self._registry: Registry | None = None
        self._answered = False

    # ---- building --------------------------------------------------------------------------

    def respond(self, *steps: Step) -> Expectation:
        """Answer matching requests with these steps, in order.

        :raises ScenarioError: for steps that make no script; an expectation given no answer
            before is then withdrawn (``srv.expect(...).respond(bad)`` registers nothing).
        """
        with self._building():
            script = Script.of(steps)

        def apply() -> None:
            self.script, self.handler = script, None

        self._apply(apply)
        return self

    def respond_with(self, handler: Handler) -> Expectation:
        """Answer with a handler: a function of the request returning steps, or an async
        function of a control object for full control (``await ctl.send(...)``,
        ``await ctl.read_body()``).

        :raises ScenarioError: for a handler that is not callable (then as ``respond()``).
        """
        with self._building():
            if not callable(handler):
                raise ScenarioError(f"respond_with() takes a callable, got {handler!r}")

        def apply() -> None:
            self.handler = handler

        self._apply(apply)
        return self

    @contextlib.contextmanager
    def _building(self) -> Iterator[None]:
        # An answer that fails to build would otherwise leave the expectation registered,
        # answering the default empty 200 to requests the test meant for something else.
        try:
            yield
        except Exception:
            if not self._answered:
                self._apply(self._withdraw)
            raise
        self._answered = True

    def _withdraw(self) -> None:
        if self._registry is not None:
            self._registry.discard(self)

    @property
    def is_async_handler(self) -> bool:
        """Whether the handler is an async function driving the exchange itself."""
        return self.handler is not None and inspect.iscoroutinefunction(self.handler)

    # ---- matching --------------------------------------------------------------------------

    @property
    def needs_body(self) -> bool:
        """Whether matching reads the request body first (``body=`` or ``json=`` given)."""
        return self.body is not None or self.json is not None

    @property
    def exhausted(self) -> bool:
        """Whether an expectation with ``times=N`` has answered its N requests."""
        return self.times is not None and self.calls >= self.times

    def answers_method(self, method: str) -> bool:
        """Whether a request with ``method`` gets past the method criterion. A GET answers
        HEAD too (RFC 9110 §9.3.2): the exchange sends the head its script gives a GET, with
        the same Content-Length, and no content."""
        return self.method in (None, method) or (self.method == "GET" and method == "HEAD")

    def describe(self) -> str:
        """How reports name it: ``expect POST /jobs``, with its ``name`` if it has one."""
        path = self.path if isinstance(self.path, str) else _describe(self.path)
        label = f"expect {self.method or '*'} {path}"
        if self.name:
            label += f" ({self.name})"
        return label

    def mismatches(self, request: RequestView) -> list[str]:
        """Why ``request`` does not match (empty when it does). A body matcher is not judged
        until the body has been read."""
        reasons: list[str] = []
        if not self.answers_method(request.method):
            reasons.append(f"method: wanted {self.method}, got {request.method}")
        if not _value_ok(self.path, request.path):
            reasons.append(f"path: wanted {_describe(self.path)}, got {request.path!r}")
        # Most expectations name no query or headers: no call for those (every request tries
        # every expectation).
        if self.query is not None:
            reasons.extend(self._query_mismatches(request))
        if self.headers is not None:
            reasons.extend(self._header_mismatches(request.headers))
        if request.body is not None:
            reasons.extend(self._body_mismatches(request.body))
        return reasons

    def _query_mismatches(self, request: RequestView) -> list[str]:
        if self.query is None:
            return []
        if isinstance(self.query, str):
            if request.raw_query != self.query:
                return [f"query: wanted {self.query!r}, got {request.raw_query!r}"]
            return []
        if isinstance(self.query, Mapping):
            reasons = []
            for key, matcher in self.query.items():
                got = request.query.get(key)
                if got is None or not _value_ok(matcher, got):
                    reasons.append(f"query {key}: wanted {_describe(matcher)}, got {got!r}")
            return reasons
        if not self.query(request.query):
            return [f"query: {_describe(self.query)} returned False for {request.raw_query!r}"]
        return []

    def _header_mismatches(self, headers: Headers) -> list[str]:
        if self.headers is None:
            return []
        if isinstance(self.headers, Mapping):
            reasons = []
            for name, matcher in self.headers.items():
                got = headers.get(name)
                if got is None or not _value_ok(matcher, got):
                    reasons.append(f"header {name}: wanted {_describe(matcher)}, got {got!r}")
            return reasons
        if not self.headers(headers):
            return [f"headers: {_describe(self.headers)} returned False"]
        return []

    def _body_mismatches(self, body: bytes) -> list[str]:
        if self.json is not None:
            try:
                parsed = _json.loads(body)
                same = parsed == self.json
            except ValueError:
                return [f"json: body is not JSON ({body[:40]!r})"]
            except RecursionError:
                return [f"json: body is nested too deeply to compare ({body[:40]!r})"]
            if not same:
                return [f"json: wanted {_excerpt(self.json)}, got {_excerpt(parsed)}"]
            return []
        if self.body is None:
            return []
        if isinstance(self.body, bytes):
            if body != self.body:
                return [f"body: wanted {self.body[:60]!r}, got {body[:60]!r}"]
            return []
        if isinstance(self.body, re.Pattern):
            if self.body.fullmatch(body) is None:
                return [f"body: wanted {_describe(self.body)}, got {body[:60]!r}"]
            return []
        if not self.body(body):
            return [f"body: {_describe(self.body)} returned False"]
        return []

    def __repr__(self) -> str:
        return f"<{self.describe()} times={self.times} calls={self.calls}>"


_PLAIN_TEXT = "text/plain; charset=utf-8"


def never_answered(description: str) -> str:
    """What is said of an expectation that was never given a response."""
    return f"{description} was never given a response: add .respond(...) or .respond_with(...)"


@functools.lru_cache(maxsize=1024)  # scripts are immutable: one serves alike expectations
def _unanswered_script(description: str) -> Script:
    """The answer of an expectation that ``respond()`` never gave one (a bare
    ``srv.expect(...)``, or one whose steps raised while its arguments were built): a 500 that
    says so, rather than a 200 a client would take for the answer the test meant."""
    text = f"mockprogress: {never_answered(description)}\n"
    return Script.of([Respond(500, text.encode(), (("Content-Type", _PLAIN_TEXT),))])


class Selection(NamedTuple):
    """The outcome of matching one request (a tuple, as ``RequestView``)."""

    expectation: Expectation | None
    needs_body: bool = False
    out_of_order: Expectation | None = None
    waiting_for: Expectation | None = None


class Registry:
    """The expectations of one server, in the order they were added."""

    def __init__(self) -> None:
        self.expectations: list[Expectation] = []

    def add(self, expectation: Expectation) -> None:
        self.expectations.append(expectation)
        expectation._registry = self

    def discard(self, expectation: Expectation) -> None:
        """Remove ``expectation`` if it is here."""
        if expectation in self.expectations:
            self.expectations.remove(expectation)

    def clear(self) -> None:
        self.expectations.clear()

    def _group_head(self, group: str) -> Expectation | None:
        for exp in self.expectations:
            if exp.group == group and not exp.exhausted:
                return exp
        return None

    def select(self, request: RequestView) -> Selection:
        """Pick the expectation for ``request``. With ``needs_body`` set, read the body and
        select again."""
        # The first match of the best rank: the request's own method before a GET standing in
        # for a HEAD (2), then ``times=N`` before permanent (1).
        chosen: Expectation | None = None
        chosen_rank = 4
        out_of_order: tuple[Expectation, Expectation] | None = None
        for exp in self.expectations:
            if exp.exhausted:
                continue
            if exp.mismatches(request):
                continue
            if exp.needs_body and request.body is None:
                return Selection(None, needs_body=True)
            if exp.group is not None:
                head = self._group_head(exp.group)
                if head is not exp:
                    if out_of_order is None and head is not None:
                        out_of_order = (exp, head)
                    continue
            stands_in = exp.method is not None and exp.method != request.method
            rank = 2 * stands_in + (exp.times is None)
            if rank < chosen_rank:
                chosen, chosen_rank = exp, rank
        if chosen is None and out_of_order is not None:
            return Selection(None, out_of_order=out_of_order[0], waiting_for=out_of_order[1])
        return Selection(chosen)

    def closest(self, request: RequestView, limit: int = 3) -> list[tuple[Expectation, list[str]]]:
        """The expectations that came closest to matching, each with the criteria it failed
        (``method: ...``, ``path: ...``, ``header Prefer: ...``, ``already used ...``).

        One on the request's path comes first, then one for its method, then the one that
        failed fewest criteria, then the first added: ``GET /target`` missing a header is
        what a ``GET /target`` meant, not ``GET /a`` that fails on the path alone.
        """
        scored = []
        for position, exp in enumerate(self.expectations):
            reasons = exp.mismatches(request)
            if exp.exhausted:
                reasons = [*reasons, f"already used {exp.calls} time(s) of times={exp.times}"]
            rank = (
                not _value_ok(exp.path, request.path),
                not exp.answers_method(request.method),
                len(reasons),
                position,
            )
            scored.append((rank, exp, reasons))
        scored.sort(key=lambda item: item[0])
        return [(exp, reasons) for _, exp, reasons in scored[:limit]]

    def unanswered(self) -> Sequence[Expectation]:
        """The expectations that ``respond()`` or ``respond_with()`` never gave a response."""
        return [e for e in self.expectations if not e._answered]

    def unconsumed(self) -> Sequence[Expectation]:
        return [e for e in self.expectations if e.times is not None and e.calls < e.times]
