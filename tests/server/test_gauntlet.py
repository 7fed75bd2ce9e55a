"""The gauntlet, run the way a user runs it: one parametrization over ``mp.gauntlet()``.

httpx gets through every case as a correct client should. requests and aiohttp are run
through it too, to show that it catches what docs/faults.md describes (measured here):

- requests takes the first 102 of a 1xx storm, and a CDN's 103, for the final response,
  accepts a truncated head as an empty 200, and returns an unsolicited 101 as a response.
- aiohttp returns an unsolicited 101 as a response, and waits for a 100 that never comes
  until its own timeout (it has no expect timeout); it retries a GET whose head was cut.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import httpx
import pytest
import requests
from support.paths import ROOT

import mockprogress as mp

TIMEOUT = 0.5  # the clients' read timeout: the stall case waits this long


def verdict(case: mp.GauntletCase, outcome: str, result: Any) -> bool:
    """Whether a client ended the way ``case`` says a correct client does."""
    if outcome != case.outcome:
        return False
    return outcome != "response" or result == (case.status, case.body)


def with_httpx(case: mp.GauntletCase, url: str) -> tuple[str, Any]:
    try:
        response = httpx.request(
            case.method,
            url,
            headers=list(case.request_headers),
            content=case.request_body or None,
            timeout=TIMEOUT,
        )
    except httpx.TimeoutException as exc:
        return "timeout", exc
    except httpx.HTTPError as exc:
        return "error", exc
    return "response", (response.status_code, response.content)


def with_requests(case: mp.GauntletCase, url: str) -> tuple[str, Any]:
    try:
        response = requests.request(
            case.method,
            url,
            headers=dict(case.request_headers),
            data=case.request_body or None,
            timeout=TIMEOUT,
        )
    except requests.exceptions.ConnectionError as exc:
        # requests reports a read timeout in the body as a ConnectionError.
        if isinstance(exc.args[0], requests.packages.urllib3.exceptions.ReadTimeoutError):  # type: ignore[attr-defined]
            return "timeout", exc
        return "error", exc
    except requests.Timeout as exc:
        return "timeout", exc
    except requests.RequestException as exc:
        return "error", exc
    return "response", (response.status_code, response.content)


def with_aiohttp(case: mp.GauntletCase, url: str) -> tuple[str, Any]:
    async def run() -> tuple[str, Any]:
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.request(
                    case.method,
                    url,
                    headers=dict(case.request_headers),
                    data=case.request_body or None,
                ) as response,
            ):
                return "response", (response.status, await response.read())
        except TimeoutError as exc:
            return "timeout", exc
        except aiohttp.ClientError as exc:
            return "error", exc

    return asyncio.run(run())


@pytest.mark.parametrize("case", mp.gauntlet(), ids=str)
def test_httpx_runs_the_gauntlet(mockprogress_server: mp.MockServer, case: mp.GauntletCase) -> None:
    case.install(mockprogress_server, "/g")
    outcome, result = with_httpx(case, mockprogress_server.url("/g"))
    assert verdict(case, outcome, result), f"{case.name}: {outcome} {result!r}; {case.correct}"
    journal = mockprogress_server.journal
    assert len(journal) == 1  # httpx never retries
    ex = journal.last
    if case.name == "early-response":
        assert ex.body_size == 1024 and not ex.body_complete
    if case.name == "100-never-comes":
        assert ex.interims == () and ex.body == case.request_body
    if case.name == "1xx-storm":
        assert len(ex.interims) == 66


def test_the_gauntlet_catches_what_requests_and_aiohttp_get_wrong() -> None:
    failures: dict[str, list[str]] = {"requests": [], "aiohttp": []}
    retried: list[str] = []
    for case in mp.gauntlet():
        for name, client in (("requests", with_requests), ("aiohttp", with_aiohttp)):
            with mp.MockServer() as srv:
                case.install(srv, "/g")
                outcome, result = client(case, srv.url("/g"))
                if not verdict(case, outcome, result):
                    failures[name].append(case.name)
                if len(srv.journal) > 1:
                    retried.append(f"{name} {case.name} x{len(srv.journal)}")
    assert failures == {
        "requests": ["1xx-storm", "cdn-103", "truncated-head", "unsolicited-101"],
        "aiohttp": ["unsolicited-101", "100-never-comes"],
    }
    assert retried == ["aiohttp truncated-head x2"]


def test_cases_are_named_and_selectable() -> None:
    names = [str(case) for case in mp.gauntlet()]
    assert names == [
        "1xx-storm",
        "cdn-103",
        "truncated-head",
        "short-body",
        "reset-mid-body",
        "stall-after-head",
        "unsolicited-101",
        "100-never-comes",
        "early-response",
        "garbage-status-line",
        "bad-chunk-size",
    ]
    assert [c.name for c in mp.gauntlet("short-body", "cdn-103")] == ["short-body", "cdn-103"]
    with pytest.raises(mp.ScenarioError, match=r"unknown gauntlet case.*nope.*known: 1xx-storm"):
        mp.gauntlet("nope")
    for case in mp.gauntlet():
        assert case.failure and case.correct
        assert (case.status is None) == (case.outcome != "response")


def test_the_docs_list_every_case_with_what_a_correct_client_does() -> None:
    docs = (ROOT / "docs" / "faults.md").read_text()
    for case in mp.gauntlet():
        correct = case.correct.replace("'", "`")
        assert f"| `{case.name}` |" in docs, case.name
        assert correct in docs or case.correct in docs, case.name
