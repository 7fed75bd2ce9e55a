"""What an expectation does with ``Expect: 100-continue`` (RFC 9110 §10.1.1).

A client that sends ``Expect: 100-continue`` waits for a ``100 Continue`` (or a final
response) before it sends the body, or until its own timer runs out. Real clients differ
widely here (tests/clients/test_clients_continue.py): curl waits one second and then sends
anyway, aiohttp and Node's http wait forever. Each policy below puts a client in one of those
situations:

- ``"auto"``: the 100 goes out when the script first reads the body (the lazy 100), unless the
  script sent its own ``interim(100)`` first.
- ``"immediate"``: the 100 goes out as soon as the request head has arrived, before the script.
- ``continue_delay(seconds)``: the 100 goes out ``seconds`` after the request head arrived,
  then the script runs. A client whose timer is shorter sends its body first; the 100 goes
  out all the same (RFC 9110 lets a server omit it then; sending it tests that the client
  ignores a late 100).
- ``"never"``: no 100 at all. The script reads the body when the client's own timer fires; a
  client without a timer waits until it gives up.
- ``continue_reject(status)``: a final response before the body, instead of the script. The
  server then closes the connection: RFC 9110 §10.1.1 lets it close or go on reading, and
  closing is the choice that leaves the client no doubt (the response says
  ``Connection: close``).

``continue_auto``, ``continue_immediate`` and ``continue_delay`` take ``headers=`` for the 100
(draft-wright-http-resume-request puts its locations there). The policies only apply to
HTTP/1.1 requests that carry ``Expect: 100-continue``. The journal records, for every 100
that answered one, how many body bytes had already reached the server
(``Exchange.body_before_continue``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from ..errors import ScenarioError
from ..http.headers import HeaderPairs, HeadersInput, header_pairs
from .checks import check_seconds
from .steps import Interim, Respond, respond

ContinueMode: TypeAlias = Literal["auto", "immediate", "delay", "never", "reject"]


@dataclass(frozen=True, slots=True)
class ContinuePolicy:
    """How an expectation answers ``Expect: 100-continue``. Build one with
    ``mp.continue_auto()``, ``mp.continue_immediate()``, ``mp.continue_delay()``,
    ``mp.continue_never()`` or ``mp.continue_reject()``, or name it: ``"auto"``,
    ``"immediate"``, ``"never"``."""

    mode: ContinueMode = "auto"
    #: For ``delay``: seconds after the request head arrived.
    seconds: float = 0.0
    #: Extra header fields of the ``100 Continue``.
    headers: HeaderPairs = ()
    #: For ``reject``: the final response sent instead of the 100.
    reject: Respond | None = None
    # Built once: every exchange of the expectation asks for it.
    _interim: Interim | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.mode not in ("auto", "immediate", "delay", "never", "reject"):
            raise ScenarioError(f"unknown 100-continue mode {self.mode!r}")
        if (self.mode == "reject") != (self.reject is not None):
            raise ScenarioError("a reject policy needs its response, and only it takes one")
        if self.mode not in ("never", "reject"):
            object.__setattr__(self, "_interim", Interim(100, self.headers))

    @property
    def interim(self) -> Interim | None:
        """The ``100 Continue`` this policy sends, or None for ``never`` and ``reject``."""
        return self._interim

    def describe(self) -> str:
        """The policy in a few words, for reports (``100-continue after 0.5 s``)."""
        if self.mode == "delay":
            return f"100-continue after {self.seconds:g} s"
        if self.mode == "reject" and self.reject is not None:
            return f"100-continue rejected with {self.reject.status}"
        return f"100-continue {self.mode}"


ContinueInput: TypeAlias = "ContinuePolicy | Literal['auto', 'immediate', 'never']"

AUTO = ContinuePolicy()


def continue_policy(value: object) -> ContinuePolicy:
    """Turn ``expect_continue=`` into a policy.

    :raises ScenarioError: for anything but a policy or one of its names.
    """
    if isinstance(value, ContinuePolicy):
        return value
    if value == "auto":
        return AUTO
    if value == "immediate":
        return ContinuePolicy("immediate")
    if value == "never":
        return ContinuePolicy("never")
    raise ScenarioError(
        "expect_continue must be 'auto', 'immediate', 'never' or a policy from "
        f"mp.continue_delay(), mp.continue_reject(), ...; got {value!r}"
    )


def continue_auto(headers: HeadersInput = None) -> ContinuePolicy:
    """The lazy 100 (the default), carrying ``headers``: it goes out when the script first
    reads the body."""
    return ContinuePolicy("auto", headers=header_pairs(headers, where="continue_auto"))


def continue_immediate(headers: HeadersInput = None) -> ContinuePolicy:
    """A 100 as soon as the request head has arrived, carrying ``headers``.

    .. code-block:: python

        srv.expect("POST", "/up", expect_continue=mp.continue_immediate(
            {"Request-Content-Location": "/up/1.request"}
        )).respond(mp.respond(201))
    """
    return ContinuePolicy("immediate", headers=header_pairs(headers, where="continue_immediate"))


def continue_delay(seconds: float, headers: HeadersInput = None) -> ContinuePolicy:
    """A 100 ``seconds`` after the request head arrived, carrying ``headers``; the script runs
    after it."""
    checked = check_seconds(seconds, "continue_delay(seconds)")
    assert checked is not None
    return ContinuePolicy(
        "delay", seconds=checked, headers=header_pairs(headers, where="continue_delay")
    )


def continue_never() -> ContinuePolicy:
    """No 100: the body comes when the client's own expect timer fires (or never)."""
    return ContinuePolicy("never")


def continue_reject(
    status: int = 417, body: bytes | str = b"", headers: HeadersInput = None
) -> ContinuePolicy:
    """A final response before the body (417 Expectation Failed by default), then the server
    closes the connection; the script does not run."""
    return ContinuePolicy("reject", reject=respond(status, body, headers))
