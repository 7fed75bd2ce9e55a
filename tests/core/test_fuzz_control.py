"""Bad input to the control API: random routes, methods, queries and bodies (scenario
documents put together at random, and bytes that are none), pipelined on one connection.

Every request gets a JSON answer with a 2xx or 4xx status (a 4xx says what was wrong in
``error``), none fails inside the server, the control log keeps each one apart from the
journal, and the connection still answers afterwards, unless a document came in a type that is
neither JSON nor TOML: that one is refused on its head (415) and the connection ends after it. Driven sans-IO (tests/support/sansio.py): the
control API is a program like any other, and this way thousands of requests take seconds.
"""

from __future__ import annotations

import json
from typing import Any

import h11
from hypothesis import given
from hypothesis import strategies as st
from support.fuzzing import examples, mutated_documents, scenario_documents
from support.sansio import Wire

from mockprogress.resources.control_api import ControlAPI
from mockprogress.scenario.document import parse_document

P = "/__mockprogress/"
ROUTES = ["expectations", "resources", "journal", "problems", "reset", "routes", "1", "2", "3"]
SEGMENTS = st.sampled_from(
    [*ROUTES, "0", "99999999999999999999", "%C2%B2", "%D9%A3", "-1", "..", "%00", "x"]
)
SINCE = ["1", "%C2%B2", "%D9%A3", "-1", "", "1e3", "9" * 5000, "1&since=2"]
QUERIES = st.sampled_from(["", "?x=%ZZ", "?since", *("?since=" + s for s in SINCE)])
METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
CONTENT_TYPES = st.sampled_from(
    [None, "application/json", "application/toml", "text/plain", "application/json; x=y", ""]
)
BODIES = st.one_of(
    (scenario_documents() | mutated_documents()).map(lambda d: json.dumps(d).encode()),
    st.sampled_from(
        [
            b"",
            b"{",
            b"\xff\xfe",
            b"[]",
            b"null",
            b'{"expect": 5}',
            b"[[tus_uploads]]\npath = '/t'\n",
            b'{"expect": [{"path": "/a", "steps": [{"respond": 201}]}]}',
            b'{"tus_uploads": [{"path": "/t"}], "progress_job": [{"path": "/t"}]}',
            b'{"expect": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        ]
    ),
    st.binary(max_size=64),
)
REQUESTS = st.tuples(METHODS, st.lists(SEGMENTS, max_size=3), QUERIES, BODIES, CONTENT_TYPES)


def responses(data: bytes, methods: list[str]) -> list[tuple[h11.Response, bytes]]:
    """The responses in ``data``, read as a client that sent these methods in turn, up to one
    that ends the connection."""
    client = h11.Connection(h11.CLIENT)
    client.receive_data(data)
    out = []
    for method in methods:
        client.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
        client.send(h11.EndOfMessage())
        head, body = None, b""
        while True:
            event = client.next_event()
            assert event is not h11.NEED_DATA, f"response {len(out) + 1} is incomplete"
            if isinstance(event, h11.Response):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
        assert head is not None
        out.append((head, body))
        if (b"connection", b"close") in head.headers:
            break
        client.start_next_cycle()
    return out


def refused_as_not_a_document(
    method: str, segments: list[str], body: bytes, content_type: str | None
) -> bool:
    """A document route given a body that does not say it is JSON or TOML."""
    takes = (method == "POST" and segments in (["expectations"], ["resources"])) or (
        method == "PUT" and len(segments) == 2 and segments[0] in ("expectations", "resources")
    )
    typed = (content_type or "").split(";")[0].strip() in ("application/json", "application/toml")
    return takes and bool(body) and not typed


def clears_the_control_log(method: str, segments: list[str], status: int) -> bool:
    return status == 200 and (method, segments) in (("DELETE", ["journal"]), ("POST", ["reset"]))


@examples(150)
@given(st.lists(REQUESTS, min_size=1, max_size=8))
def test_any_control_request_gets_a_json_answer_and_the_server_keeps_serving(
    requests: list[tuple[str, list[str], str, bytes, str | None]],
) -> None:
    wire = Wire()
    wire.state.mount(ControlAPI(parse=parse_document))
    data = b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n"
    methods = ["GET"]
    for method, segments, query, body, content_type in requests:
        head = f"{method} {P}{'/'.join(segments)}{query} HTTP/1.1\r\nHost: localhost\r\n"
        head += f"Content-Length: {len(body)}\r\n"
        if content_type is not None:
            head += f"Content-Type: {content_type}\r\n"
        data += head.encode() + b"\r\n" + body
        methods.append(method)
    data += f"GET {P} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()
    methods.append("GET")

    answers = responses(wire.run([data]), methods)

    assert not [p for p in wire.state.problems if p.kind == "internal-error"]
    logged = 0
    for (head, body), request in zip(answers[1:], [*requests, None], strict=False):
        method = "GET" if request is None else request[0]
        assert head.status_code in (200, 201, 400, 404, 405, 409, 415), (head, body)
        assert dict(head.headers)[b"content-type"] == b"application/json"
        if request is not None:
            refused = refused_as_not_a_document(request[0], request[1], request[3], request[4])
            assert (head.status_code == 415) == refused, (request, head, body)
        logged += 1
        if request is not None and clears_the_control_log(method, request[1], head.status_code):
            logged = 0  # the request that cleared it too
        if method != "HEAD":
            document: Any = json.loads(body)
            if head.status_code >= 400:
                assert isinstance(document["error"], str) and document["error"]
    closed_at = next(
        (i for i, r in enumerate(requests) if refused_as_not_a_document(r[0], r[1], r[3], r[4])),
        None,
    )
    if closed_at is None:
        # The last request, after all the others, is answered like the first control request.
        assert len(answers) == len(methods)
        assert answers[-1][0].status_code == 200
        assert json.loads(answers[-1][1])["prefix"] == P
    else:
        # Refused on its head: the connection ends after that answer.
        assert len(answers) == closed_at + 2
    # The control requests are logged apart (since the last DELETE of the journal or reset);
    # the journal keeps the plain request only (unless one of those forgot it).
    assert len(wire.state.reserved_logs) == logged
    assert [log.target for log in wire.state.logs] in (["/plain"], [])


def test_a_since_that_is_not_ascii_digits_is_a_400_not_an_internal_error() -> None:
    """'²' passed str.isdigit() and then failed int(): the request was never answered."""
    wire = Wire()
    wire.state.mount(ControlAPI(parse=parse_document))
    queries = ["%C2%B2", "%D9%A3", "9" * 5000]
    data = b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n" + b"".join(
        f"GET {P}journal?since={q} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode() for q in queries
    )
    answers = responses(wire.run([data]), ["GET"] * 4)
    assert [head.status_code for head, _ in answers] == [500, 400, 400, 400]
    assert "since must be an exchange number" in json.loads(answers[1][1])["error"]
    assert not [p for p in wire.state.problems if p.kind == "internal-error"]


HOSTS = {
    "localhost": True,
    "LOCALHOST:8": True,
    "a.localhost": True,
    "127.0.0.1:8": True,
    "[::1]:8": True,
    "192.0.2.1": True,
    "mock.test": True,
    "attacker.example": False,
    "attacker.example:8": False,
    "localhost.attacker.example": False,
    "127.0.0.1.nip.io": False,
    "mock.test.evil": False,
    "": False,
    "x:y": False,
}
ORIGINS = st.sampled_from([None, "own", "http://attacker.example", "null", "https://own"])


@examples(150)
@given(METHODS, st.lists(SEGMENTS, max_size=2), st.sampled_from(sorted(HOSTS)), ORIGINS)
def test_a_foreign_host_or_origin_is_refused_on_every_route(
    method: str, segments: list[str], host: str, origin: str | None
) -> None:
    """Whatever the route and method: a Host the server does not answer for, or an Origin
    other than its own, is a 403 (and nothing else is)."""
    wire = Wire()
    wire.state.mount(ControlAPI(allowed_hosts=["mock.test"], parse=parse_document))
    head = f"{method} {P}{'/'.join(segments)} HTTP/1.1\r\nHost: {host}\r\n"
    if origin is not None:
        # The server's own origin; over https (this server is http), another one.
        sent = {"own": f"http://{host}", "https://own": f"https://{host}"}.get(origin, origin)
        head += f"Origin: {sent}\r\n"
    (answer,) = responses(wire.run([head.encode() + b"\r\n"]), [method])
    foreign_origin = origin is not None and origin != "own"
    refused = not HOSTS[host] or foreign_origin
    status = answer[0].status_code
    assert (status == 403) == refused, (head, status, answer[1])
    if refused:
        reason = json.loads(answer[1])["error"] if method != "HEAD" else ""
        assert method == "HEAD" or ("Host" in reason) == (not HOSTS[host])
