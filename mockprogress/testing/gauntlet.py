"""The gauntlet: named real-world failures (docs/faults.md) to run an HTTP client through.

Each case is a script plus the request a client should send and what a correct client does.
One parametrization runs a client through all of them:

.. code-block:: python

    @pytest.mark.parametrize("case", mp.gauntlet(), ids=str)
    def test_my_client_survives(mockprogress_server, case):
        case.install(mockprogress_server, "/g")
        try:
            result = my_client.request(case.method, mockprogress_server.url("/g"),
                                       headers=case.request_headers, body=case.request_body,
                                       timeout=1)
        except MyClientError:
            assert case.outcome in ("error", "timeout")
        else:
            assert case.outcome == "response"
            assert (result.status, result.body) == (case.status, case.body)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ..errors import ScenarioError
from ..script.malformed import bad_status_line, malformed_chunked, unsolicited_101
from ..script.steps import Step, early_hints, interim, processing, read_body, respond

if TYPE_CHECKING:
    pass

Outcome = Literal["response", "error", "timeout"]


class _Expects(Protocol):
    def expect(self, method: str | None, path: Any, **match: Any) -> Any: ...


@dataclass(frozen=True)
class GauntletCase:
    """One real-world failure.

    :ivar name: a short id (``"short-body"``); ``str(case)`` is the name, for test ids.
    :ivar failure: what happens on the wire.
    :ivar correct: what a correct client does about it.
    :ivar steps: the server's script.
    :ivar method: the request method a client should send.
    :ivar request_headers: header fields the request should carry.
    :ivar request_body: the body the request should upload.
    :ivar outcome: what a correct client ends with: ``"response"`` (``status`` and ``body``),
        ``"error"`` (it raises or reports a failed exchange) or ``"timeout"`` (its read timeout
        fires; without one it would hang).
    :ivar status: the final status a correct client reports, for ``outcome="response"``.
    :ivar body: the body a correct client returns, for ``outcome="response"``.
    :ivar expect_continue: the expectation's 100-continue policy (``"never"`` withholds it).
    """

    name: str
    failure: str
    correct: str
    steps: tuple[Step, ...]
    outcome: Outcome
    method: str = "GET"
    request_headers: tuple[tuple[str, str], ...] = ()
    request_body: bytes = b""
    status: int | None = None
    body: bytes | None = None
    expect_continue: str = "auto"

    def install(self, server: _Expects, path: str = "/gauntlet") -> Any:
        """Script ``server`` to answer ``method path`` with this case; returns the expectation."""
        expectation = server.expect(self.method, path, expect_continue=self.expect_continue)
        return expectation.respond(*self.steps)

    def __str__(self) -> str:
        return self.name


_BODY = bytes(range(256)) * 4  # 1,024 bytes holding every byte value
_DOWNLOAD = _BODY[:1000]
_OCTETS = {"Content-Type": "application/octet-stream"}


def _storm() -> tuple[Step, ...]:
    steps: list[Step] = []
    for i in range(60):
        steps.append(processing((i, 60, "storming")))
        if i % 20 == 0:
            steps.append(early_hints("</storm.css>; rel=preload; as=style"))
            steps.append(interim(150))
    steps.append(respond(200, b"survived the storm\n"))
    return tuple(steps)


_CASES = (
    GauntletCase(
        "1xx-storm",
        "66 interim responses (102 with Progress, 103, an unknown 150) before a 200",
        "skips or reports every 1xx and returns the 200 and its body; a 1xx is never the "
        "final response, so the next request on the connection gets its own answer",
        _storm(),
        "response",
        status=200,
        body=b"survived the storm\n",
    ),
    GauntletCase(
        "cdn-103",
        "a 103 Early Hints with two Link preloads, as a CDN sends, before the 200",
        "returns the 200 and its body (the hints may be used or ignored, never taken as the "
        "answer)",
        (
            early_hints("</style.css>; rel=preload; as=style", "</app.js>; rel=preload; as=script"),
            respond(200, b"<!doctype html><title>hi</title>\n", {"Content-Type": "text/html"}),
        ),
        "response",
        status=200,
        body=b"<!doctype html><title>hi</title>\n",
    ),
    GauntletCase(
        "truncated-head",
        "the connection closes (FIN) 20 bytes into the response: "
        "'HTTP/1.1 200 OK\\r\\nCon', the header block never ends",
        "reports an error: a head that never ended is an incomplete message (RFC 9112 §8), "
        "never an empty 200",
        (respond(200, _DOWNLOAD, _OCTETS).cut(20, unit="wire"),),
        "error",
    ),
    GauntletCase(
        "short-body",
        "Content-Length: 1000, then a FIN after 119 body bytes",
        "reports an error naming the shortfall (119 of 1000 bytes), also when it streams the "
        "body in pieces; never hands back 119 bytes as the whole body",
        (respond(200, _DOWNLOAD, _OCTETS).cut(119),),
        "error",
    ),
    GauntletCase(
        "reset-mid-body",
        "Content-Length: 1000, then an RST after 119 body bytes",
        "reports an error (connection reset); never treats the 119 bytes as the whole body",
        (respond(200, _DOWNLOAD, _OCTETS).cut(119, how="reset"),),
        "error",
    ),
    GauntletCase(
        "stall-after-head",
        "the head arrives (Content-Length: 1000), then silence with the connection open",
        "gives up when its read timeout fires; without a read timeout it would hang for good",
        (respond(200, _DOWNLOAD, _OCTETS).cut(0, how="stall"),),
        "timeout",
    ),
    GauntletCase(
        "unsolicited-101",
        "a 101 Switching Protocols (Upgrade: websocket) to a plain GET, then a close",
        "reports an error: a server must not switch to a protocol the request did not offer "
        "in Upgrade (RFC 9110 §7.8); the connection is not reused",
        (unsolicited_101(),),
        "error",
    ),
    GauntletCase(
        "100-never-comes",
        "a POST with Expect: 100-continue; the server never sends 100 and waits for the body",
        "waits a short while (curl waits 1 s), then sends the body anyway (RFC 9110 §10.1.1) "
        "and gets the 200",
        (respond(200, b"body received\n"),),
        "response",
        method="POST",
        request_headers=(("Expect", "100-continue"),),
        request_body=_BODY * 4,
        status=200,
        body=b"body received\n",
        expect_continue="never",
    ),
    GauntletCase(
        "early-response",
        "a 1 MiB upload; after 1,024 bytes the server answers 413 and closes",
        "stops sending and reports the 413 (with its body), not a broken pipe or a reset",
        (read_body(upto=1024), respond(413, b"upload too large\n")),
        "response",
        method="POST",
        request_body=b"u" * (1 << 20),
        status=413,
        body=b"upload too large\n",
    ),
    GauntletCase(
        "garbage-status-line",
        "the status line is 'HTTP/1.1 2OO OK' (letters for digits)",
        "reports a protocol error",
        (bad_status_line(b"HTTP/1.1 2OO OK", b"ok\n"),),
        "error",
    ),
    GauntletCase(
        "bad-chunk-size",
        "a chunked body whose second chunk size is 'zz'",
        "reports a protocol error; never returns 'hello' as the whole body",
        (malformed_chunked([(5, b"hello"), ("zz", b"world")]),),
        "error",
    ),
)


def gauntlet(*names: str) -> tuple[GauntletCase, ...]:
    """The gauntlet's cases (all of them, or those named), in a stable order.

    :raises ScenarioError: for an unknown name, listing the known ones.
    """
    if not names:
        return _CASES
    by_name = {case.name: case for case in _CASES}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ScenarioError(
            f"unknown gauntlet case(s) {', '.join(unknown)}; known: {', '.join(by_name)}"
        )
    return tuple(by_name[n] for n in names)
