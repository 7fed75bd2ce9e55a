"""The control API, in process: a server scripted over HTTP with the same documents as the
files, its journal read back as JSON, and the guards (loopback, token) that keep it private.

The subprocess round trip is in test_cli.py and the Node client in test_control_node.py.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from support.recording_client import request
from support.sansio import Wire, parse_responses

import mockprogress as mp
from mockprogress.resources.control_api import ControlAPI
from mockprogress.scenario.document import parse_document
from mockprogress.scenario.keys import table
from mockprogress.scenario.resources import RESOURCE_BUILDERS

P = "/__mockprogress/"
HELLO = {"expect": [{"method": "GET", "path": "/hello", "steps": [{"respond": {"body": "hi\n"}}]}]}


class Reply:
    def __init__(self, status: int, headers: http.client.HTTPMessage, data: bytes) -> None:
        self.status = status
        self.headers = headers
        self.data = data

    @property
    def json(self) -> Any:
        return json.loads(self.data)


def call(
    srv: mp.MockServer,
    method: str,
    path: str,
    body: Any = None,
    *,
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    sent = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        if content_type is not None:
            sent["Content-Type"] = content_type
    try:
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read())
    finally:
        conn.close()


@pytest.fixture
def srv() -> Iterator[mp.MockServer]:
    with mp.MockServer() as server:
        server.enable_control_api()
        yield server


def test_program_request_and_read_the_journal(srv: mp.MockServer) -> None:
    added = call(srv, "POST", P + "expectations", HELLO)
    assert added.status == 201
    assert added.headers["Content-Type"] == "application/json"
    (summary,) = added.json["expectations"]
    assert (summary["method"], summary["path"], summary["calls"]) == ("GET", "/hello", 0)

    reply = request(srv.port, "GET", "/hello", headers=[("X-Trace", "1")])
    assert (reply.status, reply.body) == (200, b"hi\n")

    journal = call(srv, "GET", P + "journal").json["exchanges"]
    assert [(ex["index"], ex["method"], ex["target"]) for ex in journal] == [(1, "GET", "/hello")]
    assert ["X-Trace", "1"] in journal[0]["headers"]
    assert journal[0]["response"]["status"] == 200
    assert journal[0]["handled_by"] == "expect GET /hello"
    # Control requests are not the clients' exchanges: the journal holds /hello alone.
    assert [ex.target for ex in srv.journal] == ["/hello"]
    listed = call(srv, "GET", P + "expectations").json["expectations"]
    assert [(e["id"], e["calls"]) for e in listed] == [(summary["id"], 1)]


def test_toml_documents_and_sniffing(srv: mp.MockServer) -> None:
    """A document says what it is: JSON or TOML by its content type. Without one it is no
    longer sniffed (a page's form or a CORS "simple" request sends none of those types)."""
    toml = b"[[expect]]\npath = '/t'\nsteps = [{ respond = 201 }]\n"
    assert (
        call(srv, "POST", P + "expectations", toml, content_type="application/toml").status == 201
    )
    unsaid = call(srv, "POST", P + "expectations", toml.replace(b"/t", b"/u"), content_type=None)
    assert unsaid.status == 415
    assert request(srv.port, "GET", "/t").status == 201
    assert request(srv.port, "GET", "/u").status == 500


def test_a_bad_document_names_the_key_and_adds_nothing(srv: mp.MockServer) -> None:
    document = {
        "expect": [
            {"path": "/good", "steps": [{"respond": 200}]},
            {"path": "/bad", "steps": [{"respond": {"status": 42}}]},
        ]
    }
    reply = call(srv, "POST", P + "expectations", document)
    assert reply.status == 400
    assert reply.json == {
        "error": "POST /__mockprogress/expectations: expect[1].steps[0].respond: final "
        "response status must be an integer in 200..999, got 42"
    }
    assert call(srv, "GET", P + "expectations").json == {"expectations": []}
    empty = call(srv, "POST", P + "expectations", b"")
    assert (empty.status, empty.json["error"]) == (
        400,
        "POST /__mockprogress/expectations: send a scenario document (JSON or TOML)",
    )
    nothing = call(srv, "POST", P + "expectations", {"title": "x"})
    assert nothing.json["error"].endswith("the document defines nothing")


def test_replace_keeps_the_place_and_the_id_delete_removes(srv: mp.MockServer) -> None:
    first = call(srv, "POST", P + "expectations", HELLO).json["expectations"][0]["id"]
    second = call(
        srv,
        "POST",
        P + "expectations",
        {"expect": [{"path": "/hello", "steps": [{"respond": 202}]}]},
    ).json["expectations"][0]["id"]
    replaced = call(
        srv,
        "PUT",
        P + f"expectations/{first}",
        {"expect": [{"path": "/hello", "name": "new", "steps": [{"respond": 203}]}]},
    )
    assert replaced.status == 200
    assert (replaced.json["id"], replaced.json["name"]) == (first, "new")
    # Still tried first: a request to /hello gets the replacement.
    assert request(srv.port, "GET", "/hello").status == 203
    assert [e["id"] for e in call(srv, "GET", P + "expectations").json["expectations"]] == [
        first,
        second,
    ]
    assert call(srv, "GET", P + f"expectations/{first}").json["name"] == "new"
    assert call(srv, "DELETE", P + f"expectations/{first}").json == {"deleted": 1}
    assert request(srv.port, "GET", "/hello").status == 202
    missing = call(srv, "GET", P + f"expectations/{first}")
    assert (missing.status, missing.json["error"]) == (404, f"no expectation with id {first}")
    two = call(
        srv,
        "PUT",
        P + f"expectations/{second}",
        {"expect": [{"path": "/a", "steps": [{"respond": 200}]}] * 2},
    )
    assert (two.status, two.json["error"]) == (
        400,
        f"PUT /__mockprogress/expectations/{second}: send exactly one [[expect]] table",
    )
    assert call(srv, "DELETE", P + "expectations").json == {"deleted": 1}
    assert call(srv, "GET", P + "expectations").json == {"expectations": []}


def test_unknown_routes_and_methods(srv: mp.MockServer) -> None:
    nowhere = call(srv, "GET", P + "nowhere")
    assert (nowhere.status, nowhere.json["error"]) == (
        404,
        "no control route /__mockprogress/nowhere (see GET /__mockprogress/)",
    )
    wrong = call(srv, "PATCH", P + "journal")
    assert (wrong.status, wrong.headers["Allow"]) == (405, "GET, DELETE")
    overview = call(srv, "GET", P[:-1]).json
    assert overview["mockprogress"] == mp.__version__
    assert "POST /__mockprogress/reset" in overview["endpoints"]


def test_control_requests_never_reach_expectations(srv: mp.MockServer) -> None:
    srv.expect(None, re.compile(".*")).respond(mp.respond(418))
    assert call(srv, "GET", P + "expectations").status == 200
    assert request(srv.port, "GET", "/anything").status == 418
    assert [ex.target for ex in srv.journal] == ["/anything"]


def test_journal_since_one_exchange_and_clearing(srv: mp.MockServer) -> None:
    srv.expect("GET", "/x").respond(mp.respond(200, b"x"))
    for _ in range(3):
        request(srv.port, "GET", "/x")
    request(srv.port, "GET", "/nothing-here")
    since = call(srv, "GET", P + "journal?since=2").json
    assert [ex["index"] for ex in since["exchanges"]] == [3, 4] and since["total"] == 4
    assert call(srv, "GET", P + "journal/4").json["response"]["status"] == 500
    assert call(srv, "GET", P + "journal/9").status == 404
    assert call(srv, "GET", P + "journal?since=x").status == 400
    problems = call(srv, "GET", P + "problems").json
    assert [p["kind"] for p in problems["problems"]] == ["unmatched"]
    assert problems["problems"][0]["exchange"] == 4
    assert problems["report"].startswith("mockprogress recorded 1 problem(s):")
    assert call(srv, "DELETE", P + "journal").json == {"deleted": 4}
    assert call(srv, "GET", P + "journal").json == {"exchanges": [], "total": 0}
    assert call(srv, "GET", P + "problems").json == {"problems": [], "report": None}
    srv.check()  # the problems went with the journal


def test_routes_name_the_real_address(srv: mp.MockServer) -> None:
    call(
        srv,
        "POST",
        P + "expectations",
        {
            "expect": [
                {
                    "method": "POST",
                    "path": "/jobs",
                    "description": "a job",
                    "steps": [{"respond": 201}],
                },
                {"path": "/q", "curl": "curl -sS {url}/q?x=1", "steps": [{"respond": 200}]},
                {"path_regex": "/f/.*", "steps": [{"respond": 200}]},
            ]
        },
    )
    routes = call(srv, "GET", P + "routes").json
    base = f"http://127.0.0.1:{srv.port}"
    assert routes == {
        "url": base,
        "routes": [
            {
                "route": "POST /jobs",
                "description": "a job",
                "curl": f"curl -i -X POST {base}/jobs",
                "handled_by": "expect POST /jobs",
            },
            {
                "route": "ANY /q",
                "description": "",
                "curl": f"curl -sS {base}/q?x=1",
                "handled_by": "expect * /q",
            },
            {
                "route": "ANY //f/.*/",
                "description": "",
                "curl": None,
                "handled_by": "expect * //f/.*/",
            },
        ],
    }


def test_token(srv: mp.MockServer) -> None:
    with mp.MockServer() as guarded:
        guarded.enable_control_api("/ctl/", token="s3cret")
        missing = call(guarded, "GET", "/ctl/expectations")
        assert missing.status == 401
        assert missing.headers["WWW-Authenticate"] == 'Bearer realm="mockprogress"'
        wrong = call(guarded, "GET", "/ctl/expectations", headers={"Authorization": "Bearer nope"})
        assert wrong.status == 401
        basic = call(guarded, "GET", "/ctl/expectations", headers={"Authorization": "Basic s3cret"})
        assert basic.status == 401
        right = call(
            guarded, "GET", "/ctl/expectations", headers={"Authorization": "Bearer s3cret"}
        )
        assert (right.status, right.json) == (200, {"expectations": []})
        # The default prefix is an ordinary path on this server.
        assert call(guarded, "GET", P + "expectations").status == 500


def test_prefix_and_token_are_validated() -> None:
    with pytest.raises(mp.ScenarioError, match="control prefix must be a path"):
        ControlAPI("/", parse=parse_document)
    with pytest.raises(mp.ScenarioError, match="control prefix must be a path"):
        ControlAPI("ctl", parse=parse_document)
    with pytest.raises(mp.ScenarioError, match="control token must be"):
        ControlAPI(token="two words", parse=parse_document)
    assert ControlAPI("/ctl", parse=parse_document).prefix == "/ctl/"


@pytest.mark.parametrize(
    ("peer", "allow_remote", "status"),
    [
        ("127.0.0.1", False, 200),
        ("127.8.9.10", False, 200),
        ("::1", False, 200),
        ("::ffff:127.0.0.1", False, 200),
        ("192.0.2.7", False, 403),
        ("2001:db8::1", False, 403),
        ("192.0.2.7", True, 200),
    ],
)
def test_loopback_only_unless_allowed(peer: str, allow_remote: bool, status: int) -> None:
    wire = Wire(peer=peer)
    wire.state.mount(ControlAPI(allow_remote=allow_remote, parse=parse_document))
    out = wire.run([b"GET /__mockprogress/expectations HTTP/1.1\r\nHost: localhost\r\n\r\n"])
    response = parse_responses(out)[0]
    assert response.status_code == status
    assert wire.state.logs == []  # kept apart from the journal
    assert len(wire.state.reserved_logs) == 1


def test_reset_loads_the_files_again(tmp_path: Path) -> None:
    path = tmp_path / "base.toml"
    path.write_text("[[expect]]\npath = '/base'\nsteps = [{ respond = 200 }]\n")
    with mp.MockServer() as srv:
        srv.load(path)
        srv.enable_control_api(reset_files=[path])
        call(srv, "POST", P + "expectations", HELLO)
        assert request(srv.port, "GET", "/hello").status == 200
        path.write_text("[[expect]]\npath = '/base'\nsteps = [{ respond = 202 }]\n")
        reset = call(srv, "POST", P + "reset")
        assert reset.status == 200
        assert [e["path"] for e in reset.json["expectations"]] == ["/base"]
        assert call(srv, "GET", P + "journal").json == {"exchanges": [], "total": 0}
        assert request(srv.port, "GET", "/base").status == 202
        assert request(srv.port, "GET", "/hello").status == 500
        # A file broken since: the reset is refused and nothing changes.
        path.write_text("[[expect]]\npath = '/base'\nsteps = [{ respond = 42 }]\n")
        refused = call(srv, "POST", P + "reset")
        assert refused.status == 400
        assert refused.json["error"].startswith(f"{path}: expect[0].steps[0].respond: final")
        assert request(srv.port, "GET", "/base").status == 202
        assert len(srv.journal) == 3


class Shelf(mp.Resource):
    """A resource that answers with its label and counts its close() calls."""

    closed: ClassVar[list[str]] = []

    def __init__(self, path: str, label: str) -> None:
        super().__init__(path)
        self.label = label

    def serve(self, ctx: Any) -> Any:
        from mockprogress.engine.exchange import plain_response

        yield from ctx.respond(plain_response(200, self.label), read_first=True)

    def close(self) -> None:
        Shelf.closed.append(self.label)


def _shelf(value: Any, key: str, where: Any) -> mp.Resource:
    spec = table(value, key, where, {"path", "label"})
    return Shelf(spec["path"], spec.get("label", ""))


def test_resources(srv: mp.MockServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(RESOURCE_BUILDERS, "shelf", _shelf)
    monkeypatch.setattr(Shelf, "closed", [])
    added = call(
        srv,
        "POST",
        P + "resources",
        {"shelf": [{"path": "/a", "label": "books", "description": "a shelf"}]},
    )
    assert added.status == 201
    (summary,) = added.json["resources"]
    assert (summary["type"], summary["path"], summary["description"]) == ("Shelf", "/a", "a shelf")
    assert request(srv.port, "GET", "/a/1").body == b"books"
    clash = call(srv, "POST", P + "resources", {"shelf": [{"path": "/a", "label": "x"}]})
    assert (clash.status, clash.json["error"]) == (
        409,
        "POST /__mockprogress/resources: a resource is already mounted at /a",
    )
    mixed = call(srv, "POST", P + "resources", HELLO)
    assert mixed.status == 400 and "takes resource tables only" in mixed.json["error"]
    wrong = call(srv, "POST", P + "expectations", {"shelf": [{"path": "/b", "label": "x"}]})
    assert wrong.status == 400 and "takes [[expect]] tables only" in wrong.json["error"]
    # Limits are the server's: the message says so rather than "[[expect]] tables only".
    for route in ("expectations", "resources"):
        limits = call(srv, "POST", P + route, {"keep_alive_timeout": 1, **HELLO})
        assert (limits.status, limits.json["error"]) == (
            400,
            f"POST /__mockprogress/{route}: sets limits (keep_alive_timeout), which are the "
            "server's and are set when it starts: a scenario file it loads, MockServer's "
            "keywords or the options of mockprogress serve (docs/limits.md)",
        )
    ident = summary["id"]
    replaced = call(
        srv, "PUT", P + f"resources/{ident}", {"shelf": [{"path": "/a", "label": "records"}]}
    )
    assert (replaced.status, replaced.json["id"]) == (200, ident)
    assert request(srv.port, "GET", "/a").body == b"records"
    assert Shelf.closed == ["books"]
    assert call(srv, "DELETE", P + f"resources/{ident}").json == {"deleted": 1}
    assert Shelf.closed == ["books", "records"]
    assert call(srv, "GET", P + "resources").json == {"resources": []}


def test_the_server_closes_its_resources_when_it_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Shelf, "closed", [])
    with mp.MockServer() as srv:
        srv.mount(Shelf("/a", "first"))
        srv.mount(Shelf("/b", "second"))
        assert Shelf.closed == []
    assert Shelf.closed == ["first", "second"]
    with mp.MockServer() as srv:
        srv.mount(Shelf("/c", "reset"))
        srv.reset()
        assert Shelf.closed == ["first", "second", "reset"]


def test_without_the_api_mounted_its_prefix_is_an_ordinary_path() -> None:
    """The server state knows no control API: a request under the prefix is a client's request
    like any other (unmatched here, and journaled) until the API is mounted."""
    wire = Wire()
    out = wire.run([b"GET /__mockprogress/expectations HTTP/1.1\r\nHost: localhost\r\n\r\n"])
    assert parse_responses(out)[0].status_code == 500
    assert [log.target for log in wire.state.logs] == ["/__mockprogress/expectations"]
    assert [p.kind for p in wire.state.problems] == ["unmatched"]
    assert not wire.state.reserved_logs


def test_mounting_it_is_the_way_in_and_a_reset_keeps_it() -> None:
    wire = Wire()
    wire.state.mount(ControlAPI(parse=parse_document))
    wire.state.reset()
    out = wire.run([b"GET /__mockprogress/expectations HTTP/1.1\r\nHost: localhost\r\n\r\n"])
    response = parse_responses(out)[0]
    assert response.status_code == 200
    assert wire.state.logs == [] and len(wire.state.reserved_logs) == 1
    assert wire.state.resources == []  # not one of the test's resources: GET resources omits it


def test_the_server_state_names_no_control_api() -> None:
    from mockprogress.engine import state

    source = Path(state.__file__).read_text()
    assert "ControlAPI" not in source and "control_api" not in source
