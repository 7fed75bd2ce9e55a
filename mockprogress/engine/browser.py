"""Answers meant for a browser: the index as HTML and the control API's live view.

A test double listens on a developer's machine, where browsers run: any page they load may
send requests to it. Whatever the server writes for a browser to render therefore carries
headers that keep it to its own origin:

- ``Content-Security-Policy``: no inline script (so text from the journal that slips into
  the markup cannot run), nothing loaded from elsewhere, never framed (``frame-ancestors
  'none'``), no ``<base>``, no form posted anywhere;
- ``X-Content-Type-Options: nosniff``: a JSON answer is never read as script or HTML;
- ``Cross-Origin-Resource-Policy: same-origin``: another origin's page cannot load it as an
  image, script or style (no-cors) either;
- ``Referrer-Policy: no-referrer`` and ``Cache-Control: no-store``;
- and never an ``Access-Control-Allow-*`` header: a page of another origin cannot read an
  answer.
"""

from __future__ import annotations

import base64
import hashlib

from ..http.headers import HeaderPairs
from ..script.steps import Respond

#: Sent with everything the server writes for a browser (the control API's JSON included).
SAME_ORIGIN_HEADERS: HeaderPairs = (
    ("X-Content-Type-Options", "nosniff"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)

#: The policy of an answer that is data, not a page (JSON): it loads nothing, runs nothing.
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'"


def page_policy(*, scripts: bool, style_hash: str | None = None) -> str:
    """The Content-Security-Policy of a page: its own scripts and styles only (``'self'``,
    or the inline style whose hash is given), and fetches to its own origin."""
    style = f"'{style_hash}'" if style_hash else "'self'"
    parts = ["default-src 'none'", f"style-src {style}", "img-src 'self' data:"]
    if scripts:
        parts += ["script-src 'self'", "connect-src 'self'"]
    parts += ["frame-ancestors 'none'", "base-uri 'none'", "form-action 'none'"]
    return "; ".join(parts)


def style_hash(css: str) -> str:
    """The CSP source of an inline ``<style>`` with this text: ``sha256-BASE64``."""
    digest = hashlib.sha256(css.encode()).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def browser_response(
    status: int,
    body: bytes,
    content_type: str,
    policy: str,
    extra: HeaderPairs = (),
) -> Respond:
    """A response for a browser, with the headers of the module docstring."""
    headers = (
        ("Content-Type", content_type),
        ("Content-Security-Policy", policy),
        *SAME_ORIGIN_HEADERS,
        *extra,
    )
    return Respond(status, body, headers)


def wants_html(accept: str | None) -> bool:
    """True when ``Accept`` names ``text/html`` (a browser's navigation) with a weight above
    zero; curl's ``*/*`` and a missing header are answered in plain text."""
    for item in (accept or "").split(","):
        kind, *params = (p.strip() for p in item.split(";"))
        if kind.lower() != "text/html":
            continue
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False
