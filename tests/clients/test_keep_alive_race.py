"""The race of a server closing an idle keep-alive connection just as the client reuses it,
scripted as ``respond(...), pause(...), drop()`` (docs/faults.md, "A server closing an idle
connection as the client reuses it"): the client sends its second request during the pause,
and the connection closes without an answer. Each client's reaction is measured here, and the
table of docs/faults.md says the same.
"""

from __future__ import annotations

import asyncio
import http.client
import shutil
import subprocess

import aiohttp
import httpx
import pytest
import requests
import urllib3

import mockprogress as mp

#: Node's http module with a keep-alive agent: two GETs on one connection.
NODE_TWO_GETS = """
const http = require('http');
const agent = new http.Agent({ keepAlive: true });
function get(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      let body = '';
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}
(async () => {
  try {
    const first = await get(process.argv[1]);
    const second = await get(process.argv[1]);
    console.log(`ok ${first} ${second}`);
  } catch (err) {
    console.log(`raised ${err.code} ${err.message}`);
  }
  agent.destroy();
})();
"""


@pytest.fixture
def racing(mockprogress_server: mp.MockServer) -> mp.MockServer:
    srv = mockprogress_server
    srv.expect("GET", "/ok").respond(mp.respond(200, b"ok"), mp.pause(0.2), mp.drop())
    return srv


def connections(srv: mp.MockServer) -> list[int]:
    return [ex.connection for ex in srv.journal]


def test_requests_raises(racing: mp.MockServer) -> None:
    with requests.Session() as session:
        assert session.get(racing.url("/ok")).text == "ok"
        with pytest.raises(requests.ConnectionError) as caught:
            session.get(racing.url("/ok"))
    assert str(caught.value) == (
        "('Connection aborted.', RemoteDisconnected('Remote end closed connection without "
        "response'))"
    )
    assert connections(racing) == [1]


def test_urllib3_retries_on_a_new_connection(racing: mp.MockServer) -> None:
    pool = urllib3.PoolManager()
    assert pool.request("GET", racing.url("/ok")).data == b"ok"
    assert pool.request("GET", racing.url("/ok")).data == b"ok"
    pool.clear()
    assert connections(racing) == [1, 2]


def test_httpx_raises(racing: mp.MockServer) -> None:
    with httpx.Client() as client:
        assert client.get(racing.url("/ok")).text == "ok"
        with pytest.raises(
            httpx.RemoteProtocolError, match=r"^Server disconnected without sending a response\.$"
        ):
            client.get(racing.url("/ok"))
    assert connections(racing) == [1]


def test_aiohttp_retries_on_a_new_connection(racing: mp.MockServer) -> None:
    async def twice() -> list[str]:
        async with aiohttp.ClientSession() as session:
            bodies = []
            for _ in range(2):
                async with session.get(racing.url("/ok")) as response:
                    bodies.append(await response.text())
            return bodies

    assert asyncio.run(twice()) == ["ok", "ok"]
    assert connections(racing) == [1, 2]


def test_http_client_raises(racing: mp.MockServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", racing.port, timeout=5)
    try:
        conn.request("GET", "/ok")
        assert conn.getresponse().read() == b"ok"
        conn.request("GET", "/ok")
        with pytest.raises(
            http.client.RemoteDisconnected, match=r"^Remote end closed connection without response$"
        ):
            conn.getresponse()
    finally:
        conn.close()
    assert connections(racing) == [1]


def test_curl_retries_on_a_new_connection(racing: mp.MockServer) -> None:
    binary = shutil.which("curl")
    assert binary, "these tests drive the curl command line: install curl"
    url = racing.url("/ok")
    done = subprocess.run(
        [binary, "-sS", "-v", "--max-time", "10", url, url],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert (done.returncode, done.stdout) == (0, "okok")
    assert "Connection died, retrying a fresh connect" in done.stderr
    assert connections(racing) == [1, 2]


def test_node_raises(racing: mp.MockServer) -> None:
    binary = shutil.which("node")
    assert binary, "these tests drive Node's http module: install Node.js (20 or newer)"
    done = subprocess.run(
        [binary, "-e", NODE_TWO_GETS, racing.url("/ok")],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    )
    assert done.stdout == "raised ECONNRESET socket hang up\n"
    assert connections(racing) == [1]
