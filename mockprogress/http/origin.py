"""Who a request is for and where it comes from: the authority it names (``Host``, or an
absolute-form target), and whether an ``Origin`` is the server's own.

A page in a browser on the same machine reaches a loopback server too. Two facts keep it out of
what the server offers only to the people running it (the control API, proxy mode): after DNS
rebinding the page's requests name the page's host, not an address of the server (``Host``);
and a browser names the page's origin in ``Origin`` on every cross-origin request it lets a
page send. These helpers read both; the callers decide what to refuse.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .headers import Headers

from ..errors import ScenarioError

#: A name for ``allowed_hosts``: DNS labels, optionally after a dot (the name and its subdomains).
_HOST_NAME = re.compile(r"\.?[A-Za-z0-9_]([A-Za-z0-9_-]*)(\.[A-Za-z0-9_-]+)*\.?")


def allowed_names(names: Iterable[str]) -> tuple[str, ...]:
    """Names a ``Host`` may carry besides the server's address (``mock.test``; ``.example.test``
    for that name and every name under it), checked and lowercased.

    :raises ScenarioError: for anything that is not such a name.
    """
    if isinstance(names, str):
        names = [names]
    checked = []
    for name in names:
        if not isinstance(name, str) or not _HOST_NAME.fullmatch(name):
            raise ScenarioError(
                f"an allowed host is a name such as mock.test or .example.test, got {name!r}"
            )
        checked.append(name.lower())
    return tuple(checked)


def request_authority(target: str, host: str | None) -> str | None:
    """The authority a request names: an absolute-form target's (RFC 9112 §3.2.2: it overrides
    ``Host``), else the ``Host`` field; None for an HTTP/1.0 request without one."""
    split = urllib.parse.urlsplit(target)
    if split.scheme and split.netloc:
        return split.netloc
    return host


def hostname(authority: str) -> str | None:
    """The host of ``host[:port]`` (brackets of an IPv6 literal removed), lowercased."""
    try:
        split = urllib.parse.urlsplit("//" + authority)
        split.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        return None
    if split.username is not None or split.path or split.query or split.fragment:
        return None
    return split.hostname or None


def host_allowed(authority: str, listening: str | None, allowed: Sequence[str] = ()) -> bool:
    """The listening address, any IP address (a page cannot rebind an address, only a name),
    ``localhost`` and its subdomains, and the ``allowed`` names (``.example.test``: that name
    and every name under it)."""
    host = hostname(authority)
    if host is None:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    if listening is not None and host == listening.strip("[]").lower():
        return True
    return any(
        host == name or (name.startswith(".") and (host.endswith(name) or host == name[1:]))
        for name in allowed
    )


def same_origin(origin: str, scheme: str, authority: str | None) -> bool:
    """Whether ``origin`` is the server's own: its ``scheme`` and the authority it was asked
    by, default ports written or not."""
    if authority is None:
        return False
    default = {"http": 80, "https": 443}
    try:
        theirs = urllib.parse.urlsplit(origin)
        ours = urllib.parse.urlsplit(f"{scheme}://{authority}")
        their_port = theirs.port or default.get(theirs.scheme.lower())
        our_port = ours.port or default.get(scheme)
    except ValueError:
        return False
    return (
        theirs.scheme.lower() == scheme
        and theirs.hostname is not None
        and theirs.hostname == ours.hostname
        and their_port == our_port
        and not (theirs.path or theirs.query or theirs.fragment or theirs.username)
    )


def another_page(headers: Headers, scheme: str, authority: str | None) -> str | None:
    """What shows that a browser sent the request for a page of another origin (None: nothing
    does): an ``Origin`` other than the server's own, or, where a browser sends no Origin (a
    no-cors read: an ``<img>``, a ``<script>``), a ``Sec-Fetch-Site`` other than
    ``same-origin`` and ``none`` (``none``: the user's own navigation)."""
    origins = headers.getall("origin")
    if origins and (len(origins) > 1 or not same_origin(origins[0], scheme, authority)):
        return f"Origin {', '.join(origins)!r}"
    site = headers.get("sec-fetch-site")
    if site is not None and site.strip().lower() not in ("same-origin", "none"):
        return f"Sec-Fetch-Site: {site}"
    return None
