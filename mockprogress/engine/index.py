"""The index of a server's routes: what each one shows and the command that shows it.

It is built, at the moment it is asked for, from the expectations and resources the server
holds: their ``description`` and ``curl`` (set by scenario files), with ``{url}`` in a command
replaced by the server's real address. So a demo added by a new scenario file, or through the
control API, appears in the index without anyone editing it. ``mp``-free scenario files reach it
through the ``index`` step:

.. code-block:: toml

    [[expect]]
    method = "GET"
    path = "/"
    steps = [{ index = { title = "mockprogress demo set" } }]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from ..script.steps import Step
from .exchange import plain_response
from .matching import Expectation, _describe

if TYPE_CHECKING:
    from .actions import Program
    from .exchange_common import CommonExchange
    from .resource import Resource
    from .state import ServerState

_WILDCARD_HOSTS = {"", "0.0.0.0", "::", "[::]"}


@dataclass(frozen=True, slots=True)
class Route:
    """One line of the index."""

    #: ``POST /jobs``, ``GET /files/\\d+/`` (a regex) or ``/files (TusUploads)``.
    route: str
    description: str
    #: The command with the server's address filled in; None when none can be given.
    curl: str | None
    #: What answers it, as the journal's ``handled_by`` names it.
    handled_by: str


def base_url(state: ServerState, host_header: str | None = None) -> str:
    """``http://HOST:PORT`` (``https://`` over TLS) of the server. A server listening on every
    address has no one address to show: then the ``Host`` the client used stands in for it."""
    scheme = state.scheme
    if state.address is None:
        return f"{scheme}://{host_header}" if host_header else f"{scheme}://localhost"
    host, port = state.address
    if host in _WILDCARD_HOSTS and host_header:
        return f"{scheme}://{host_header}"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def _default_curl(exp: Expectation) -> str | None:
    if not isinstance(exp.path, str) or "*" in exp.path:
        return None
    if exp.method == "HEAD":
        return f"curl -I {{url}}{exp.path}"
    if exp.method in (None, "GET"):
        return f"curl -i {{url}}{exp.path}"
    return f"curl -i -X {exp.method} {{url}}{exp.path}"


def _serves_index(exp: Expectation) -> bool:
    return any(isinstance(step, Index) for step in exp.script.steps)


def _expectation_route(exp: Expectation, base: str) -> Route:
    path = exp.path if isinstance(exp.path, str) else _describe(exp.path)
    curl = exp.curl or _default_curl(exp)
    return Route(
        f"{exp.method or 'ANY'} {path}",
        exp.description or exp.name or "",
        None if curl is None else curl.replace("{url}", base),
        exp.describe(),
    )


def _resource_route(resource: Resource, base: str) -> Route:
    return Route(
        f"{resource.path} ({type(resource).__name__})",
        resource.description or "",
        None if resource.curl is None else resource.curl.replace("{url}", base),
        resource.describe(),
    )


def routes(state: ServerState, base: str) -> list[Route]:
    """The routes of the server in the order they were added, expectations first (that is the
    order they are tried in), without the ones that serve the index itself."""
    found = [
        _expectation_route(exp, base)
        for exp in state.registry.expectations
        if not _serves_index(exp) and not exp.exhausted
    ]
    found.extend(_resource_route(resource, base) for resource in state.resources)
    return found


def render_index(title: str, base: str, found: list[Route]) -> str:
    """The index as plain text: a heading, then three lines per route."""
    count = f"{len(found)} route{'s' if len(found) != 1 else ''}"
    lines = [f"{title}: {count} on {base}", ""]
    for route in found:
        lines.append(route.route)
        if route.description:
            lines.append(f"    {route.description}")
        if route.curl:
            lines.append(f"    $ {route.curl}")
        lines.append("")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Index(Step):
    """Answer with the index of the server's routes (plain text, 200)."""

    answers: ClassVar[bool] = True
    ends_connection: ClassVar[bool] = False

    title: str = "mockprogress"

    def run(self, ctx: CommonExchange) -> Program[None]:
        state = ctx.state
        base = base_url(state, ctx.headers.get("host"))
        text = render_index(self.title, base, routes(state, base))
        yield from ctx.respond(plain_response(200, text), read_first=not ctx.body_started)


def index(title: str = "mockprogress") -> Index:
    """A step answering with the index of the server's routes."""
    return Index(title)
