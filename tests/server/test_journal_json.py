"""The journal's JSON form: stable field names, a lossless round trip (body bytes included),
the same Mermaid diagram from the JSON as from the live journal, and errors that name the
field when a file is not a journal."""

from __future__ import annotations

import json

import pytest
from support.recording_client import Client, request

import mockprogress as mp
from mockprogress.engine.journal_json import (
    JournalFormatError,
    dump_exchange,
    exchange_from_json,
    exchange_to_json,
    load_exchanges,
)


@pytest.fixture(scope="module")
def journal() -> mp.Journal:
    with mp.MockServer() as srv:
        srv.expect("POST", "/jobs").respond(
            mp.processing('0/2 "Herding cats"', location="/jobs/1"),
            mp.early_hints("</a.css>; rel=preload"),
            mp.respond(201, b"created\n", {"Location": "/items/1"}),
        )
        srv.expect("PUT", "/cut").respond(mp.read_body(3), mp.drop("reset"))
        srv.expect("GET", "/partial").respond(mp.respond(200, b"0123456789").cut(4))
        with Client(srv.port) as client:
            client.request("POST", "/jobs", body=b'{"go": true}')
            client.request("GET", "/nowhere")
        request(srv.port, "PUT", "/cut", body=b"\xff\x00\xfe binary")
        request(srv.port, "GET", "/partial")
        return srv.journal


def test_the_json_form(journal: mp.Journal) -> None:
    data = exchange_to_json(journal[0])
    assert list(data) == [
        "schema",
        "index",
        "connection",
        "method",
        "target",
        "http_version",
        "headers",
        "body_size",
        "body_base64",
        "body",
        "body_complete",
        "interims",
        "response",
        "fault",
        "events",
        "started",
        "duration",
        "handled_by",
        "bytes_received",
        "bytes_sent",
    ]
    assert (data["schema"], data["index"], data["method"], data["target"]) == (
        1,
        1,
        "POST",
        "/jobs",
    )
    assert data["body"] == '{"go": true}'
    assert data["interims"][0] == {
        "status": 102,
        "reason": "Processing",
        "headers": [["Progress", '0/2 "Herding cats"'], ["Location", "/jobs/1"]],
        "at": journal[0].interims[0].at,
        "skipped": False,
    }
    assert data["response"]["status"] == 201
    assert data["fault"] is None
    assert [e["kind"] for e in data["events"]] == [
        "request",
        "interim",
        "interim",
        "body",
        "response",
        "body-sent",
    ]
    cut = exchange_to_json(journal[2])
    assert "body" not in cut  # not UTF-8: only the base64 form
    assert (cut["body_base64"], cut["body_size"], cut["body_complete"]) == ("/wD+", 3, False)
    assert cut["fault"]["kind"] == "reset" and cut["fault"]["side"] == "request"
    json.dumps(data)  # JSON-ready as it is


def test_round_trip_is_lossless(journal: mp.Journal) -> None:
    assert len(journal) == 4
    for ex in journal:
        back = exchange_from_json(json.loads(dump_exchange(ex)))
        assert back == ex
        assert back.body == ex.body
        assert back.timeline() == ex.timeline()


def test_mermaid_from_the_json_is_the_journals(journal: mp.Journal) -> None:
    lines = "\n".join(dump_exchange(ex) for ex in journal) + "\n"
    from_lines = mp.Journal(list(load_exchanges(lines)))
    assert from_lines.to_mermaid() == journal.to_mermaid()
    document = json.dumps({"exchanges": [exchange_to_json(ex) for ex in journal]}, indent=2)
    from_document = mp.Journal(list(load_exchanges(document)))
    assert from_document.to_mermaid() == journal.to_mermaid()
    assert "S-xC: close after 4 body bytes" in journal.to_mermaid()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("method"), "j: line 1: exchange.method: missing (a string)"),
        (lambda d: d.update(index="1"), "j: line 1: exchange.index: expected an integer, got '1'"),
        (
            lambda d: d.update(index=True),
            "j: line 1: exchange.index: expected an integer, got True",
        ),
        (
            lambda d: d.update(schema=2),
            "j: line 1: exchange.schema: this mockprogress reads schema 1",
        ),
        (lambda d: d.update(body_base64="**"), "j: line 1: exchange.body_base64: not base64"),
        (
            lambda d: d.update(body_size=99),
            "j: line 1: exchange.body_size: says 99 bytes, body_base64 holds 12",
        ),
        (
            lambda d: d["interims"][0].update(headers=[["a"]]),
            "j: line 1: exchange.interims[0].headers[0]: expected a [name, value] pair of strings",
        ),
        (
            lambda d: d["events"][1].pop("kind"),
            "j: line 1: exchange.events[1].kind: missing (a string)",
        ),
        (
            lambda d: d.update(response=[]),
            "j: line 1: exchange.response: expected an object or null",
        ),
    ],
)
def test_errors_name_the_field(journal: mp.Journal, change: object, message: str) -> None:
    data = exchange_to_json(journal[0])
    change(data)  # type: ignore[operator]
    with pytest.raises(JournalFormatError) as info:
        list(load_exchanges(json.dumps(data) + "\n", "j"))
    assert str(info.value).startswith(message)


def test_not_json_at_all() -> None:
    with pytest.raises(JournalFormatError, match=r"^j: line 2: not JSON"):
        list(load_exchanges("\n{nope\n", "j"))
    with pytest.raises(
        JournalFormatError, match=r"^j: line 1: exchange: expected an object, got list"
    ):
        list(load_exchanges("[1]\n", "j"))
