"""The live view and the index page on the wire, without a browser (httpx): what each answer
carries so that only the server's own origin can use it, how the token reaches the view (a
header, the cookie ``ui?token=`` sets, nothing else), and the index as text or HTML by
``Accept``. The browser itself is tests/clients/test_browser_view.py."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

import mockprogress as mp
from mockprogress.engine.browser import wants_html
from mockprogress.engine.index import index

P = "/__mockprogress/"
TOKEN = "s3cret;,=x"  # characters a cookie value cannot hold as they are


@pytest.fixture
def srv() -> Iterator[mp.MockServer]:
    with mp.MockServer() as server:
        server.enable_control_api(token=TOKEN)
        server.expect("GET", "/").respond(index("demo"))
        yield server


@pytest.fixture
def client(srv: mp.MockServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=srv.url("/"), follow_redirects=False) as http:
        yield http


def test_every_answer_keeps_to_its_own_origin(client: httpx.Client) -> None:
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    for path, kind in [
        ("ui", "text/html"),
        ("ui/app.js", "text/javascript"),
        ("ui/app.css", "text/css"),
        ("journal", "application/json"),
        ("nothing-here", "application/json"),  # a 404 too
    ]:
        answer = client.get(P + path, headers=bearer)
        assert answer.headers["content-type"].startswith(kind), path
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["cross-origin-resource-policy"] == "same-origin"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert not [h for h in answer.headers if h.startswith("access-control-")], path
    page = client.get(P + "ui", headers=bearer)
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy and "unsafe-inline" not in policy
    assert f'data-prefix="{P}"' in page.text and "<script>" not in page.text
    assert client.get(P + "ui/other.js", headers=bearer).status_code == 404


def test_the_token_opens_the_view_as_a_header_or_a_cookie_only(
    srv: mp.MockServer, client: httpx.Client
) -> None:
    assert client.get(P + "ui").status_code == 401
    assert client.get(P + "ui", params={"token": "wrong"}).status_code == 401
    # ?token= opens the page only, and only to set the cookie: not a way to read the API.
    assert client.get(P + "journal", params={"token": TOKEN}).status_code == 401
    opened = client.get(P + "ui", params={"token": TOKEN})
    assert opened.status_code == 303 and opened.headers["location"] == P + "ui"
    cookie = opened.headers["set-cookie"]
    name, value = cookie.split(";")[0].split("=", 1)
    assert name == f"mockprogress_{srv.port}" and TOKEN not in cookie
    assert f"; Path={P}; HttpOnly; SameSite=Strict" in cookie and "Secure" not in cookie
    with_cookie = {"Cookie": f"other=1; {name}={value}"}
    assert client.get(P + "journal", headers=with_cookie).json()["exchanges"] == []
    assert client.get(P + "ui", headers=with_cookie).status_code == 200
    assert client.get(P + "journal", headers={"Cookie": f"{name}={value}x"}).status_code == 401
    assert client.get(P + "journal", headers={"Cookie": f"{name}={TOKEN}"}).status_code == 401
    # The cookie does not get past the Origin check: a page of another origin is refused,
    # and so is a browser's read for another page that says no Origin (an <img>, a <script>).
    crossing = {**with_cookie, "Origin": "http://127.0.0.1:1"}
    assert client.get(P + "journal", headers=crossing).status_code == 403
    for site, status in [("same-site", 403), ("cross-site", 403), ("same-origin", 200)]:
        fetched = {**with_cookie, "Sec-Fetch-Site": site}
        assert client.get(P + "journal", headers=fetched).status_code == status, site
    typed = {**with_cookie, "Sec-Fetch-Site": "none"}  # the user's own navigation
    assert client.get(P + "ui", headers=typed).status_code == 200


def test_the_index_is_html_to_a_browser_and_text_to_curl(
    srv: mp.MockServer, client: httpx.Client
) -> None:
    srv.expect("POST", "/jobs").respond(mp.respond(201)).description = "a <b>job</b>"
    text = client.get("/", headers={"Accept": "*/*"})
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.headers["vary"] == "Accept"
    assert text.text.splitlines()[:2] == [
        f"demo: 1 route on {srv.url('/')[:-1]}",
        f"the live view in a browser: {srv.url(P + 'ui')}",
    ]
    page = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["vary"] == "Accept"
    assert "a &lt;b&gt;job&lt;/b&gt;" in page.text and "<b>" not in page.text
    assert f'<a class="view" href="{srv.url(P + "ui")}">' in page.text
    policy = page.headers["content-security-policy"]
    assert "style-src 'sha256-" in policy and "script-src" not in policy
    srv.check()


def test_an_index_without_a_control_api_links_no_view() -> None:
    with mp.MockServer() as srv:
        srv.expect("GET", "/").respond(index())
        with httpx.Client() as http:
            text = http.get(srv.url("/")).text
            page = http.get(srv.url("/"), headers={"Accept": "text/html"}).text
    assert "live view" not in text and 'class="view"' not in page


def test_upload_resources_list_each_upload_with_its_offset_and_length(
    srv: mp.MockServer, client: httpx.Client
) -> None:
    srv.mount(mp.TusUploads("/files"))
    created = client.post("/files", headers={"Tus-Resumable": "1.0.0", "Upload-Length": "100"})
    assert created.status_code == 201
    patched = client.patch(
        created.headers["location"],
        content=b"x" * 40,
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert patched.status_code == 204
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    (resource,) = client.get(P + "resources", headers=bearer).json()["resources"]
    (upload,) = resource["uploads"]
    assert {k: upload[k] for k in ("offset", "length", "complete", "invalid")} == {
        "offset": 40,
        "length": 100,
        "complete": False,
        "invalid": False,
    }
    journal = client.get(P + "journal", headers=bearer, params={"since": "1"}).json()
    assert journal["total"] == 2 and [ex["index"] for ex in journal["exchanges"]] == [2]


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", True),
        ("TEXT/HTML", True),
        ("text/html;q=0", False),
        ("text/html;q=x", False),
        ("*/*", False),
        ("application/json, text/plain", False),
        (None, False),
    ],
)
def test_wants_html(accept: str | None, html: bool) -> None:
    assert wants_html(accept) is html


def test_the_view_reads_nothing_but_the_apis_json() -> None:
    """The page's script names only the read routes of the API: it changes nothing."""
    from importlib.resources import files

    script = files("mockprogress.ui").joinpath("app.js").read_text("utf-8")
    assert "method:" not in script and "innerHTML" not in script and "eval(" not in script
    reads = {"journal?bodies=none", "expectations", "resources", "problems", "routes"}
    for route in reads:
        assert f"api('{route}" in script or f"api(`{route}" in script, route


def test_the_view_follows_the_control_prefix() -> None:
    with mp.MockServer() as srv:
        srv.enable_control_api("/ctl/")
        with httpx.Client(base_url=srv.url("/")) as http:
            page = http.get("/ctl/ui")
            script = http.get("/ctl/ui/app.js")
            default = http.get(P + "ui")
    assert page.status_code == 200 and script.status_code == 200
    assert 'data-prefix="/ctl/"' in page.text and 'src="/ctl/ui/app.js"' in page.text
    assert default.status_code == 500  # an ordinary path now, which nobody expected
    srv.reset()
