"""The index of a server's routes: what each one shows and the command that shows it.

It is built, at the moment it is asked for, from the expectations and resources the server
holds: their ``description`` and ``curl`` (set by scenario files), with ``{url}`` in a command
replaced by the server's real address. So a demo added by a new scenario file, or through the
control API, appears in the index without anyone editing it. ``mp``-free scenario files reach it
through the ``index`` step. A browser (``Accept: text/html``) gets the same index as a page
(``render_index_html``), curl and the rest plain text; both link the live view in a browser
when the server offers one (the control API's ``page``).

.. code-block:: toml

    [[expect]]
    method = "GET"
    path = "/"
    steps = [{ index = { title = "mockprogress demo set" } }]
"""

from __future__ import annotations

import html
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

from ..script.steps import Step
from .browser import browser_response, page_policy, style_hash, wants_html
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


def live_view(state: ServerState, base: str) -> str | None:
    """The URL of the live view in a browser, when a reserved resource (the control API)
    serves one."""
    page = next((r.page for r in state.reserved if r.page is not None), None)
    return None if page is None else base + page


def _count(found: list[Route]) -> str:
    return f"{len(found)} route{'s' if len(found) != 1 else ''}"


def render_index(title: str, base: str, found: list[Route], view: str | None = None) -> str:
    """The index as plain text: a heading, then three lines per route."""
    lines = [f"{title}: {_count(found)} on {base}"]
    if view is not None:
        lines.append(f"the live view in a browser: {view}")
    lines.append("")
    for route in found:
        lines.append(route.route)
        if route.description:
            lines.append(f"    {route.description}")
        if route.curl:
            lines.append(f"    $ {route.curl}")
        lines.append("")
    return "\n".join(lines)


#: The index page's only style, inline: the page's policy allows exactly this text (its hash).
_INDEX_CSS = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 60em; padding: 0 1em;
       color: #1d2330; background: #fbfbfd; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
section { border-top: 1px solid #dde; padding: 0.6em 0; }
h2 { font-size: 1em; margin: 0; font-family: ui-monospace, monospace; }
p { margin: 0.2em 0; }
pre { margin: 0.3em 0; padding: 0.4em 0.6em; background: #eef0f6; border-radius: 4px;
      overflow-x: auto; }
pre code { user-select: all; }
.view { font-weight: 600; }
"""


def render_index_html(title: str, base: str, found: list[Route], view: str | None = None) -> str:
    """The index as a page: every route with its description and its command (one click
    selects a command whole, to copy). Every text is escaped: descriptions and routes come
    from scenario documents, which the control API takes from clients."""
    e = html.escape
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',
        f"<title>{e(title)}</title><style>{_INDEX_CSS}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>{_count(found)} on <code>{e(base)}</code></p>",
    ]
    if view is not None:
        parts.append(f'<p><a class="view" href="{e(view)}">The live view of the journal</a></p>')
    for route in found:
        parts.append(f'<section class="route"><h2>{e(route.route)}</h2>')
        if route.description:
            parts.append(f"<p>{e(route.description)}</p>")
        if route.curl:
            parts.append(f'<pre><code class="curl">{e(route.curl)}</code></pre>')
        parts.append("</section>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


@dataclass(frozen=True, slots=True)
class Index(Step):
    """Answer with the index of the server's routes: a page to a browser (``Accept:
    text/html``), plain text to any other client (200 either way, ``Vary: Accept``)."""

    answers: ClassVar[bool] = True
    ends_connection: ClassVar[bool] = False

    title: str = "mockprogress"

    def run(self, ctx: CommonExchange) -> Program[None]:
        state = ctx.state
        base = base_url(state, ctx.headers.get("host"))
        found, view = routes(state, base), live_view(state, base)
        vary = (("Vary", "Accept"),)
        if wants_html(ctx.headers.get("accept")):
            page = render_index_html(self.title, base, found, view).encode()
            policy = page_policy(scripts=False, style_hash=style_hash(_INDEX_CSS))
            answer = browser_response(200, page, "text/html; charset=utf-8", policy, vary)
        else:
            text = plain_response(200, render_index(self.title, base, found, view))
            answer = replace(text, headers=(*text.headers, *vary))
        yield from ctx.respond(answer, read_first=not ctx.body_started)


def index(title: str = "mockprogress") -> Index:
    """A step answering with the index of the server's routes."""
    return Index(title)
