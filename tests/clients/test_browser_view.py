"""The live view (``GET /__mockprogress/ui``) in a real browser: Debian's Chromium, headless,
one launch for the module (tests/support/browser.py).

- an exchange shows while curl still waits on it (three 102s, running), then with its cut at
  the byte it fell on, and its timeline draws the three interims and the fault there;
- the filters by path, status and fault;
- a request path that is markup is shown as text, in the list, the timeline and the index;
- a page of another origin cannot read the journal (its fetch fails in the browser) nor frame
  the view;
- over HTTPS, with a token: the page reads nothing without it, and opening it once with
  ``?token=`` keeps it in a cookie;
- the demo set's index as a page, and the view of its exchanges (its screenshot is
  docs/ui.png: MOCKPROGRESS_UI_SCREENSHOT=docs/ui.png writes it anew).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.browser import Browser
from support.raw_client import exchange
from support.standalone import Standalone

import mockprogress as mp

ROW = "document.querySelector('li.exchange[data-index=\"{n}\"]')"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = Browser()
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def srv(browser: Browser) -> Iterator[mp.MockServer]:
    browser.call("context")  # no cookie, no page left from another test
    with mp.MockServer() as server:
        server.enable_control_api()
        yield server
        server.check()  # the browser sent nothing the test did not expect


def cell(n: int, name: str) -> str:
    """A JavaScript expression: the text of exchange #n's cell ``name`` ('' while absent)."""
    return f"({ROW.format(n=n)}?.querySelector('.{name}')?.textContent ?? '')"


def shown_rows(browser: Browser) -> list[int]:
    return [
        int(n)
        for n in browser.call(
            "eval",
            expression="[...document.querySelectorAll('li.exchange')]"
            ".filter((li) => !li.hidden).map((li) => li.dataset.index)",
        )
    ]


def test_an_exchange_shows_live_with_its_interims_then_its_cut_at_the_byte(
    browser: Browser, srv: mp.MockServer
) -> None:
    srv.expect("POST", "/jobs").respond(
        mp.processing("0/3", location="/jobs/1"),
        mp.pause(0.2),
        mp.processing("1/3"),
        mp.pause(0.2),
        mp.processing("2/3"),
        mp.pause(2.0),  # the time the page has to show the three 102s while curl waits
        mp.respond(200, body=b"x" * 1000).cut(at=400),
    )
    browser.call("goto", url=srv.url("/__mockprogress/ui"))
    browser.wait("document.getElementById('status').textContent.startsWith('live')")
    curl = subprocess.Popen(
        ["curl", "-sS", "-X", "POST", srv.url("/jobs")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # While curl still waits for the final response, the page shows the three 102s.
        browser.wait(
            f"{cell(1, 'interims')} === '102 \u00d73' && {cell(1, 'duration')} === 'running'"
        )
        assert curl.poll() is None, "curl had already finished: the page was not live"
        assert browser.text(".exchange .method") == ["POST"]
        assert browser.text(".exchange .status") == ["…"]
    finally:
        curl.communicate(timeout=10)
    assert curl.returncode == 18  # curl: the transfer closed with bytes outstanding
    fault = browser.wait(f"{cell(1, 'fault')}.startsWith('close') && {cell(1, 'fault')}")
    assert (
        fault == "close at body byte 400 (wire byte " + str(srv.journal.last.fault.wire_bytes) + ")"
    )
    assert browser.wait(f"{cell(1, 'status')} === '200' && {cell(1, 'bytes')}") == (
        f"{srv.journal.last.bytes_received} B / {srv.journal.last.bytes_sent} B"
    )

    browser.call("click", selector='li.exchange[data-index="1"] summary')
    browser.wait(f"{ROW.format(n=1)}.querySelector('svg.timeline')")
    drawn = browser.call(
        "eval",
        expression="[...document.querySelectorAll('svg.timeline g.event')].map((g) => "
        "[g.dataset.kind, g.querySelector('text').textContent])",
    )
    kinds = [kind for kind, _ in drawn]
    assert kinds.count("interim") == 3
    assert next(text for kind, text in drawn if kind == "interim").startswith("102 Processing")
    assert kinds.index("request") < kinds.index("interim") < kinds.index("response")
    assert kinds.index("response") < kinds.index("fault")
    offset = browser.call(
        "eval",
        expression="(() => { const t = document.querySelector('svg.timeline .fault-offset');"
        " return [t.dataset.bodyBytes, t.textContent]; })()",
    )
    assert offset[0] == "400" and offset[1].startswith("close at body byte 400")
    # The page ran under its policy without a refusal: no inline script, no style attribute.
    assert browser.call("console") == []


def test_the_filters_by_path_status_and_fault(browser: Browser, srv: mp.MockServer) -> None:
    srv.expect("GET", "/ok").respond(mp.respond(200, body=b"fine"))
    srv.expect("GET", "/cut").respond(mp.respond(200, body=b"y" * 100).cut(at=10, how="reset"))
    srv.expect("GET", "/gone").respond(mp.respond(410))
    for path in ("/ok", "/cut", "/gone", "/ok"):
        exchange(srv.port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    browser.call("goto", url=srv.url("/__mockprogress/ui"))
    browser.wait("document.querySelectorAll('li.exchange').length === 4")
    assert shown_rows(browser) == [4, 3, 2, 1]  # newest first

    browser.call("fill", selector="#filter-path", value="/ok")
    assert shown_rows(browser) == [4, 1]
    browser.call("fill", selector="#filter-path", value="")
    browser.call("fill", selector="#filter-status", value="4xx")
    assert shown_rows(browser) == [3]
    browser.call("fill", selector="#filter-status", value="200")
    assert shown_rows(browser) == [4, 2, 1]
    browser.call("select", selector="#filter-fault", value="reset")
    assert shown_rows(browser) == [2]
    browser.call("select", selector="#filter-fault", value="close")
    assert shown_rows(browser) == []
    browser.call("select", selector="#filter-fault", value="none")
    assert shown_rows(browser) == [4, 1]
    assert browser.text("#shown") == ["2 of 4 shown"]


XSS = "/<script>alert(1)</script><img/src=x/onerror=alert(2)>"


def test_a_path_of_markup_is_shown_as_text(browser: Browser, srv: mp.MockServer) -> None:
    srv.expect("GET", XSS).respond(mp.respond(200))
    reply = exchange(
        srv.port, f"GET {XSS} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    assert reply.data.startswith(b"HTTP/1.1 200 ")
    browser.call("goto", url=srv.url("/__mockprogress/ui"))
    assert browser.wait(cell(1, "path")) == XSS
    browser.call("click", selector='li.exchange[data-index="1"] summary')
    label = browser.wait(
        "document.querySelector('svg.timeline g[data-kind=request] text')?.textContent"
    )
    assert label == f"GET {XSS}"
    # Nothing of it became markup: no element from the path, no dialog.
    assert (
        browser.call("eval", expression="document.querySelectorAll('main script, main img').length")
        == 0
    )
    # A description of markup, sent through the control API, is text on the index page too.
    document = {
        "expect": [
            {
                "method": "GET",
                "path": "/index",
                "steps": [{"index": {"title": "<script>alert(4)</script>"}}],
            },
            {
                "method": "GET",
                "path": "/other",
                "description": "<img src=x onerror=alert(3)>",
                "curl": "curl '{url}/other?<b>x</b>'",
                "steps": [{"respond": {"status": 204}}],
            },
        ]
    }
    posted = subprocess.run(
        [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            json.dumps(document),
            srv.url("/__mockprogress/expectations"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert posted.stdout == "201"
    browser.call("goto", url=srv.url("/index"))
    assert browser.call("eval", expression="document.title") == "<script>alert(4)</script>"
    assert browser.text("section.route p") == ["<img src=x onerror=alert(3)>"]
    assert browser.text("section.route code.curl") == [
        f"curl -i {srv.url(XSS)}",
        f"curl '{srv.url('/other')}?<b>x</b>'",
    ]
    assert browser.call("eval", expression="document.querySelectorAll('img, script').length") == 0
    assert browser.call("dialogs") == []


def attacker_page(target: str) -> bytes:
    """A page of another origin that tries to read the journal and to frame the view."""
    return f"""<!doctype html><html><body>
<iframe id="framed" src="{target}ui"></iframe>
<script>
(async () => {{
  const results = {{}};
  try {{
    const r = await fetch("{target}journal");
    results.cors = 'read ' + (await r.text()).length + ' characters';
  }} catch (e) {{ results.cors = 'failed: ' + e.name; }}
  try {{
    const r = await fetch("{target}journal", {{ mode: 'no-cors' }});
    results.nocors = 'type ' + r.type + ', read ' + (await r.text()).length + ' characters';
  }} catch (e) {{ results.nocors = 'failed: ' + e.name; }}
  try {{
    const r = await fetch("{target}journal", {{ credentials: 'include' }});
    results.credentials = 'read ' + (await r.text()).length + ' characters';
  }} catch (e) {{ results.credentials = 'failed: ' + e.name; }}
  document.title = JSON.stringify(results);
}})();
</script></body></html>""".encode()


def test_a_page_of_another_origin_cannot_read_the_journal_nor_frame_the_view(
    browser: Browser, srv: mp.MockServer
) -> None:
    srv.expect("GET", "/secret").respond(mp.respond(200))
    exchange(srv.port, b"GET /secret HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    target = srv.url("/__mockprogress/")
    with mp.MockServer() as attacker:  # another port: another origin, the same site
        attacker.expect("GET", "/").respond(
            mp.respond(200, body=attacker_page(target), headers={"Content-Type": "text/html"})
        )
        browser.call("goto", url=attacker.url("/"))
        results = json.loads(browser.wait("document.title.startsWith('{') && document.title"))
    assert results == {
        "cors": "failed: TypeError",
        "nocors": "failed: TypeError",
        "credentials": "failed: TypeError",
    }
    # The frame never showed the view: frame-ancestors 'none'.
    frames = browser.call("frames")
    assert len(frames) == 2 and not frames[1].startswith("http"), frames
    # The server refused all three itself: two said their Origin; the no-cors read sends none,
    # but its Sec-Fetch-Site says it is another page's (and had it been answered,
    # Cross-Origin-Resource-Policy: same-origin would have the browser drop the answer).
    reads = [log for log in srv._state.reserved_logs if log.target.endswith("/journal")]
    assert [log.response.status for log in reads if log.response] == [403, 403, 403]
    assert {log.headers.get("sec-fetch-site") for log in reads} == {"same-site"}
    assert [log.headers.get("origin") for log in reads] == [
        attacker.url("/")[:-1],
        None,
        attacker.url("/")[:-1],
    ]


def test_over_https_with_a_token_the_cookie_opens_the_view(browser: Browser) -> None:
    browser.call("context", ignoreHTTPSErrors=True)
    with mp.MockServer(tls=True) as server:
        server.enable_control_api(token="s3cret")
        server.expect("GET", "/over-tls").respond(mp.respond(204))
        done = subprocess.run(
            [
                "curl",
                "-sS",
                "--cacert",
                server.ca_file,
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                server.url("/over-tls"),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        assert done.stdout == "204" and server.url("/").startswith("https://")
        view = server.url("/__mockprogress/ui")
        browser.call("goto", url=view)  # without the token: a 401 that says what to do
        refusal = json.loads(browser.call("eval", expression="document.body.textContent"))
        assert "open /__mockprogress/ui?token=<token> once" in refusal["error"]

        assert browser.call("goto", url=view + "?token=s3cret") == view  # the token left the URL
        assert browser.wait(cell(1, "status")) == "204"
        # Newest first: Chromium's own handshakes, which it gave up on before it was told to
        # ignore the unknown CA (journaled as incomplete requests), then curl's request.
        *handshakes, first = browser.text(".exchange .path")
        assert first == "/over-tls"
        assert set(handshakes) <= {"(incomplete request)"}
        (cookie,) = browser.call("cookies")
        assert cookie["name"] == f"mockprogress_{server.port}" and "s3cret" not in cookie["value"]
        assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
        assert cookie["path"] == "/__mockprogress/"


def test_the_demo_sets_index_is_a_page_and_its_exchanges_show(
    browser: Browser, tmp_path: Path
) -> None:
    with Standalone() as demo:
        browser.call("goto", url=demo.url + "/")
        routes = browser.text("section.route h2")
        assert "POST /jobs" in routes and len(routes) > 10
        commands = browser.text("section.route code.curl")
        assert f"curl -i -X POST {demo.url}/jobs" in commands
        link = browser.call("eval", expression="document.querySelector('a.view').href")
        assert link == demo.url + "/__mockprogress/ui"
        for args in (["-X", "POST", "/jobs"], ["/early"], ["/faults/close"], ["/missing"]):
            subprocess.run(
                ["curl", "-sS", "-o", "/dev/null", *args[:-1], demo.url + args[-1]],
                capture_output=True,
                check=False,
            )
        browser.call("goto", url=link)
        for path in ("/faults/close", "/jobs"):
            row = browser.wait(
                "[...document.querySelectorAll('li.exchange')]"
                f".find((li) => li.querySelector('.path').textContent === '{path}')?.dataset.index"
            )
            browser.call("click", selector=f'li.exchange[data-index="{row}"] summary')
        browser.wait("document.querySelectorAll('svg.timeline').length === 2")
        shot = os.environ.get("MOCKPROGRESS_UI_SCREENSHOT") or str(tmp_path / "ui.png")
        browser.call("screenshot", path=str(Path(shot).resolve()), fullPage=True)
        assert Path(shot).stat().st_size > 10_000


def test_the_views_of_expectations_resources_and_problems(
    browser: Browser, srv: mp.MockServer
) -> None:
    srv.mount(mp.TusUploads("/files"))
    srv.expect("GET", "/twice", times=2).respond(mp.respond(200))
    tus = {"Tus-Resumable": "1.0.0"}
    with httpx.Client() as http:
        created = http.post(srv.url("/files"), headers={**tus, "Upload-Length": "100"})
        http.patch(
            srv.url(created.headers["location"]),
            content=b"x" * 40,
            headers={
                **tus,
                "Upload-Offset": "0",
                "Content-Type": "application/offset+octet-stream",
            },
        )
        http.get(srv.url("/twice"))
        http.get(srv.url("/nobody-expects-this"))
    browser.call("goto", url=srv.url("/__mockprogress/ui"))
    assert browser.wait("document.getElementById('problem-count').textContent") == "(2)"

    browser.call("click", selector="nav button[data-view=expectations]")
    assert browser.wait("document.querySelector('#expectations td:nth-child(3)')?.textContent") == (
        "1 of 2"
    )
    browser.call("click", selector="nav button[data-view=resources]")
    offset = browser.wait("document.querySelector('#resources .upload .offset')?.textContent")
    assert offset == "40 of 100 bytes (in progress)"
    bar = browser.call(
        "eval",
        expression="(() => { const p = document.querySelector('#resources progress');"
        " return [p.value, p.max]; })()",
    )
    assert bar == [40, 100]
    browser.call("click", selector="nav button[data-view=problems]")
    problems = browser.wait(
        "document.querySelectorAll('#problems li').length === 2 && "
        "[...document.querySelectorAll('#problems li')].map((li) => li.textContent)"
    )
    assert any("GET /nobody-expects-this" in p for p in problems)
    assert any("expected 2 request(s), got 1" in p for p in problems)
    assert browser.text("#report")[0].startswith("mockprogress recorded 2 problem(s):")
    srv.reset()  # the two problems were the point
