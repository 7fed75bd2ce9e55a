"""Real Python clients against scripted faults: each test asserts the error that client raises
(docs/faults.md's client table) and, where the client retries, how many requests the journal saw.

Most assertions carry a byte count that only holds if the cut landed on the exact byte
(``received 119 bytes, expected 1000``; the partial body itself), or pair two neighbouring
offsets whose outcomes differ. What these clients do against this server, measured here:

- httpx (sync, asyncio, trio) raises at every cut. An RST on asyncio gives ``ReadError`` with
  an empty message.
- aiohttp retries a GET once when the connection ends before or inside the head (two
  exchanges in the journal), never once the body has started. Its error for a head cut is
  the repr of the partial head it parsed (``raw_headers=((b'Con', b''),)`` at byte 20).
- http.client, urllib3 and requests accept a head cut anywhere from byte 12 (``HTTP/1.1 200``
  without reason or line end) up to the ``Content-Length`` field as a complete, empty 200.
  From byte 53 on they trust the truncated field: ``Content-Length: 1`` (of ``1000``) gives
  ``IncompleteRead(0 bytes read, 1 more expected)``.
- http.client's ``read(amt)`` loop ends quietly at 119 of 1,000 bytes; only ``read()`` raises.
- urllib3's default ``PoolManager`` makes 4 attempts (``Retry(3)``) for a cut head and, with
  preloaded content, also for a cut or stalled body; requests makes one.
- A body that stalls after 119 bytes: httpx raises ``ReadTimeout``, aiohttp waits out its
  five-minute total unless ``sock_read`` is set, http.client raises a bare ``TimeoutError``,
  and requests raises ``ConnectionError`` ("Read timed out."), not ``ReadTimeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
from collections.abc import Iterator

import aiohttp
import httpx
import pytest
import requests
import trio
import urllib3
from support.faultcases import (
    BODY,
    HEAD_END,
    LENGTH_LINE_START,
    chunked_download,
    cut,
    download,
    serve,
)
from support.paths import ROOT

import mockprogress as mp

LENGTH_DIGIT = LENGTH_LINE_START + len("Content-Length: ") + 1  # "Content-Length: 1" ends here
#: The client's read timeout against a body that stalls after 119 bytes.
STALL_TIMEOUT = 0.3


def requests_seen(srv: mp.MockServer) -> int:
    return len(srv.journal)


# ---- httpx ---------------------------------------------------------------------------------


def httpx_fetch(mode: str, url: str, *, timeout: float = 5.0) -> tuple[bytes, BaseException | None]:
    """Stream the body with httpx in ``mode``: the bytes that arrived and the error, if any."""

    async def fetch_async() -> tuple[bytes, BaseException | None]:
        got = bytearray()
        async with httpx.AsyncClient(timeout=timeout) as client:
            try:
                async with client.stream("GET", url) as response:
                    async for chunk in response.aiter_raw():
                        got += chunk
            except httpx.HTTPError as exc:
                return bytes(got), exc
        return bytes(got), None

    if mode == "asyncio":
        return asyncio.run(fetch_async())
    if mode == "trio":
        return trio.run(fetch_async)
    got = bytearray()
    with httpx.Client(timeout=timeout) as client:
        try:
            with client.stream("GET", url) as response:
                for chunk in response.iter_raw():
                    got += chunk
        except httpx.HTTPError as exc:
            return bytes(got), exc
    return bytes(got), None


@pytest.mark.parametrize("mode", ["sync", "asyncio", "trio"])
class TestHttpx:
    """httpx 0.28 over httpcore/h11: the reference for correct behaviour."""

    def test_a_cut_inside_the_head_is_a_disconnect_at_every_offset_before_its_end(
        self, mockprogress_server: mp.MockServer, mode: str
    ) -> None:
        srv = mockprogress_server
        for at in (0, 20, HEAD_END - 1):
            url = serve(srv, f"/head{at}", cut(at, "wire"))
            got, error = httpx_fetch(mode, url)
            assert isinstance(error, httpx.RemoteProtocolError), (at, error)
            assert str(error) == "Server disconnected without sending a response."
            assert got == b""
        # One byte later the head is whole, and the error says so (0 of 1000 body bytes).
        url = serve(srv, "/whole-head", cut(HEAD_END, "wire"))
        got, error = httpx_fetch(mode, url)
        assert isinstance(error, httpx.RemoteProtocolError)
        assert "(received 0 bytes, expected 1000)" in str(error)
        assert requests_seen(srv) == 4  # no retries

    def test_a_short_body_names_the_exact_shortfall(
        self, mockprogress_server: mp.MockServer, mode: str
    ) -> None:
        url = serve(mockprogress_server, "/short", cut(119))
        got, error = httpx_fetch(mode, url)
        assert got == BODY[:119]
        assert isinstance(error, httpx.RemoteProtocolError)
        assert str(error) == (
            "peer closed connection without sending complete message body "
            "(received 119 bytes, expected 1000)"
        )

    def test_a_short_chunked_body(self, mockprogress_server: mp.MockServer, mode: str) -> None:
        url = serve(mockprogress_server, "/chunked", chunked_download().cut(119))
        got, error = httpx_fetch(mode, url)
        assert got == BODY[:119]
        assert isinstance(error, httpx.RemoteProtocolError)
        assert "(incomplete chunked read)" in str(error)

    def test_a_reset_mid_body_is_a_read_error(
        self, mockprogress_server: mp.MockServer, mode: str
    ) -> None:
        url = serve(mockprogress_server, "/reset", cut(119, how="reset"))
        got, error = httpx_fetch(mode, url)
        assert got == BODY[:119]
        assert isinstance(error, httpx.ReadError)
        message = {
            "sync": "[Errno 104] Connection reset by peer",
            "asyncio": "",  # anyio's BrokenResourceError has no message
            "trio": "socket connection broken: [Errno 104] Connection reset by peer",
        }[mode]
        assert str(error) == message

    def test_a_stall_after_the_head_ends_in_a_read_timeout(
        self, mockprogress_server: mp.MockServer, mode: str
    ) -> None:
        url = serve(mockprogress_server, "/stall", download().cut(0, how="stall"))
        got, error = httpx_fetch(mode, url, timeout=0.3)
        assert (got, type(error)) == (b"", httpx.ReadTimeout)
        fault = mockprogress_server.journal.last.fault
        assert fault is not None and (fault.kind, fault.body_bytes) == ("stall", 0)

    def test_a_stall_mid_body_is_a_read_timeout_after_the_bytes_sent(
        self, mockprogress_server: mp.MockServer, mode: str
    ) -> None:
        url = serve(mockprogress_server, "/stall-body", cut(119, how="stall"))
        got, error = httpx_fetch(mode, url, timeout=STALL_TIMEOUT)
        assert got == BODY[:119]
        assert isinstance(error, httpx.ReadTimeout)
        assert str(error) == {"sync": "timed out", "asyncio": "", "trio": ""}[mode]


# ---- aiohttp -------------------------------------------------------------------------------


def aiohttp_fetch(
    url: str, timeout: aiohttp.ClientTimeout | None = None
) -> tuple[bytes, BaseException | None]:
    async def fetch() -> tuple[bytes, BaseException | None]:
        got = bytearray()
        options = {} if timeout is None else {"timeout": timeout}
        async with aiohttp.ClientSession(**options) as session:
            try:
                async with session.get(url) as response:
                    async for chunk in response.content.iter_any():
                        got += chunk
            except aiohttp.ClientError as exc:
                return bytes(got), exc
        return bytes(got), None

    return asyncio.run(fetch())


class TestAiohttp:
    """aiohttp 3 with its C parser (the default)."""

    def test_a_cut_before_the_head_is_retried_once(
        self, mockprogress_server: mp.MockServer
    ) -> None:
        """A GET that loses its connection before the head ends is
        sent again on a fresh connection; there is no public option to stop it."""
        srv = mockprogress_server
        url = serve(srv, "/nothing", cut(0, "wire"))
        got, error = aiohttp_fetch(url)
        assert got == b""
        assert isinstance(error, aiohttp.ServerDisconnectedError)
        assert str(error) == "Server disconnected"
        assert requests_seen(srv) == 2
        assert {ex.connection for ex in srv.journal} == {1, 2}

    def test_a_cut_inside_the_head_shows_the_partial_head(
        self, mockprogress_server: mp.MockServer
    ) -> None:
        """The error's message is the repr of what the parser made of the partial head: at
        byte 20 (``HTTP/1.1 200 OK\\r\\nCon``) a field named ``Con``."""
        srv = mockprogress_server
        url = serve(srv, "/con", cut(20, "wire"))
        _, error = aiohttp_fetch(url)
        assert isinstance(error, aiohttp.ServerDisconnectedError)
        assert "raw_headers=((b'Con', b''),)" in str(error)
        assert requests_seen(srv) == 2

    def test_a_short_body_names_the_exact_shortfall_and_is_not_retried(
        self, mockprogress_server: mp.MockServer
    ) -> None:
        srv = mockprogress_server
        url = serve(srv, "/short", cut(119))
        got, error = aiohttp_fetch(url)
        assert got == BODY[:119]
        assert isinstance(error, aiohttp.ClientPayloadError)
        assert "(received 119 of 1000 bytes)" in str(error)
        assert requests_seen(srv) == 1

    def test_a_whole_head_without_body_is_a_payload_error_one_byte_after_a_disconnect(
        self, mockprogress_server: mp.MockServer
    ) -> None:
        srv = mockprogress_server
        _, before = aiohttp_fetch(serve(srv, "/almost", cut(HEAD_END - 1, "wire")))
        _, whole = aiohttp_fetch(serve(srv, "/whole", cut(HEAD_END, "wire")))
        assert isinstance(before, aiohttp.ServerDisconnectedError)
        assert isinstance(whole, aiohttp.ClientPayloadError)
        assert "(received 0 of 1000 bytes)" in str(whole)

    def test_a_short_chunked_body(self, mockprogress_server: mp.MockServer) -> None:
        url = serve(mockprogress_server, "/chunked", chunked_download().cut(119))
        got, error = aiohttp_fetch(url)
        assert got == BODY[:119]
        assert isinstance(error, aiohttp.ClientPayloadError)
        assert "Not enough data to satisfy transfer length header." in str(error)

    def test_resets(self, mockprogress_server: mp.MockServer) -> None:
        """Before the head: ``ClientOSError`` (retried once). Mid-body: the same
        ``ClientPayloadError`` as a FIN, with the reset appended to its message."""
        srv = mockprogress_server
        _, early = aiohttp_fetch(serve(srv, "/early", cut(0, "wire", "reset")))
        assert isinstance(early, aiohttp.ClientOSError) and early.errno == 104
        assert requests_seen(srv) == 2
        got, late = aiohttp_fetch(serve(srv, "/late", cut(119, how="reset")))
        assert got == BODY[:119]
        assert isinstance(late, aiohttp.ClientPayloadError)
        assert "(received 119 of 1000 bytes)" in str(late)
        assert "ConnectionResetError(104, 'Connection reset by peer')" in str(late)
        assert requests_seen(srv) == 3

    def test_a_stall_mid_body_needs_a_sock_read_timeout(
        self, mockprogress_server: mp.MockServer
    ) -> None:
        """aiohttp's default timeout is ``total=300`` seconds and no read timeout: a stalled
        body waits that long. With ``sock_read`` set, a ``SocketTimeoutError``."""
        srv = mockprogress_server
        url = serve(srv, "/stall-body", cut(119, how="stall"))
        got, error = aiohttp_fetch(url, aiohttp.ClientTimeout(sock_read=STALL_TIMEOUT))
        assert got == BODY[:119]
        assert isinstance(error, aiohttp.SocketTimeoutError)
        assert str(error) == "Timeout on reading data from socket"
        assert requests_seen(srv) == 1
        assert aiohttp.ClientTimeout().sock_read is None


# ---- http.client, urllib3, requests ----------------------------------------------------------


@contextlib.contextmanager
def http_client_get(
    port: int, path: str, timeout: float = 5.0
) -> Iterator[http.client.HTTPResponse]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        yield connection.getresponse()
    finally:
        connection.close()


class TestHttpClient:
    """CPython's http.client (the parser under urllib3 and requests)."""

    def test_where_a_truncated_head_becomes_an_error(
        self, mockprogress_server: mp.MockServer
    ) -> None:
        """A cut inside the status line, byte by byte: nothing is an error, a partial status line is a
        ``BadStatusLine``; from ``HTTP/1.1 200`` (byte 12) on, a head cut is an empty 200
        until the Content-Length digits start arriving; then the truncated value counts."""
        srv = mockprogress_server
        srv.expect("GET", "/h").respond_with(lambda ex: cut(int(ex.query["at"]), "wire"))
        outcomes: dict[int, str] = {}
        for at in (0, 11, 12, 20, LENGTH_DIGIT - 1, LENGTH_DIGIT, LENGTH_DIGIT + 3):
            try:
                with http_client_get(srv.port, f"/h?at={at}") as response:
                    outcomes[at] = f"{response.status} {response.read()!r}"
            except (http.client.HTTPException, OSError) as exc:
                outcomes[at] = f"{type(exc).__name__}: {exc}"
        assert outcomes == {
            0: "RemoteDisconnected: Remote end closed connection without response",
            11: "BadStatusLine: HTTP/1.1 20",
            12: "200 b''",
            20: "200 b''",
            LENGTH_DIGIT - 1: "200 b''",
            LENGTH_DIGIT: "IncompleteRead: IncompleteRead(0 bytes read, 1 more expected)",
            LENGTH_DIGIT + 3: "IncompleteRead: IncompleteRead(0 bytes read, 1000 more expected)",
        }

    def test_read_raises_with_the_partial_body_but_a_read_loop_ends_quietly(
        self, mockprogress_server: mp.MockServer
    ) -> None:
        """A body cut short: ``read()`` raises ``IncompleteRead`` holding exactly the 119
        bytes; a ``read(100)`` loop gets 100 + 19 bytes, then ``b""`` and no error."""
        srv = mockprogress_server
        serve(srv, "/short", cut(119))
        with pytest.raises(http.client.IncompleteRead) as caught:
            with http_client_get(srv.port, "/short") as response:
                response.read()
        assert caught.value.partial == BODY[:119]
        assert str(caught.value) == "IncompleteRead(119 bytes read, 881 more expected)"
        pieces = []
        with http_client_get(srv.port, "/short") as response:
            while piece := response.read(100):
                pieces.append(piece)
        assert [len(p) for p in pieces] == [100, 19]
        assert b"".join(pieces) == BODY[:119]

    def test_a_reset_is_a_bare_connection_reset(self, mockprogress_server: mp.MockServer) -> None:
        srv = mockprogress_server
        serve(srv, "/reset", cut(119, how="reset"))
        with pytest.raises(ConnectionResetError), http_client_get(srv.port, "/reset") as response:
            response.read()

    def test_a_stall_mid_body_is_a_bare_timeout(self, mockprogress_server: mp.MockServer) -> None:
        """``read()`` raises ``TimeoutError`` and the 119 bytes are lost with it; a
        ``read(100)`` loop gets its first 100 bytes, then the same ``TimeoutError``."""
        srv = mockprogress_server
        serve(srv, "/stall-body", cut(119, how="stall"))
        with (
            pytest.raises(TimeoutError, match=r"^timed out$"),
            http_client_get(srv.port, "/stall-body", STALL_TIMEOUT) as response,
        ):
            response.read()
        pieces: list[bytes] = []

        def read_loop() -> None:
            with http_client_get(srv.port, "/stall-body", STALL_TIMEOUT) as response:
                while piece := response.read(100):
                    pieces.append(piece)

        with pytest.raises(TimeoutError, match=r"^timed out$"):
            read_loop()
        assert pieces == [BODY[:100]]


class TestRequestsAndUrllib3:
    """requests 2 (no retries) over urllib3 2 (``Retry(3)`` by default)."""

    def test_requests_takes_a_truncated_head_for_an_empty_200(
        self, mockprogress_server: mp.MockServer
    ) -> None:
        srv = mockprogress_server
        response = requests.get(serve(srv, "/t", cut(20, "wire")), timeout=5)
        assert (response.status_code, response.content) == (200, b"")
        assert requests_seen(srv) == 1

    def test_requests_errors(self, mockprogress_server: mp.MockServer) -> None:
        srv = mockprogress_server
        cases: list[tuple[mp.Step, type[Exception], str]] = [
            (cut(0, "wire"), requests.ConnectionError, "Remote end closed connection"),
            (cut(11, "wire"), requests.ConnectionError, "BadStatusLine('HTTP/1.1 20')"),
            (
                cut(119),
                requests.exceptions.ChunkedEncodingError,
                "IncompleteRead(119 bytes read, 881 more expected)",
            ),
            (cut(0, "wire", "reset"), requests.ConnectionError, "Connection aborted."),
            (
                cut(119, how="reset"),
                requests.exceptions.ChunkedEncodingError,
                "ConnectionResetError(104",
            ),
            (
                chunked_download().cut(119),
                requests.exceptions.ChunkedEncodingError,
                "IncompleteRead(19 bytes read, 881 more expected)",
            ),
        ]
        for i, (step, error, message) in enumerate(cases):
            with pytest.raises(error) as caught:
                requests.get(serve(srv, f"/e{i}", step), timeout=5)
            assert message in str(caught.value), (i, caught.value)
        assert requests_seen(srv) == len(cases)  # requests never retries

    def test_urllib3_retries_three_times_then_gives_up(
        self, mockprogress_server: mp.MockServer
    ) -> None:
        """Retries: ``PoolManager()`` makes 4 attempts for a GET whose head was
        cut; with preloaded content it retries a cut body as well."""
        srv = mockprogress_server
        pool = urllib3.PoolManager()
        with pytest.raises(urllib3.exceptions.MaxRetryError) as head:
            pool.request("GET", serve(srv, "/head", cut(0, "wire")))
        assert "RemoteDisconnected('Remote end closed connection without response')" in str(
            head.value
        )
        assert requests_seen(srv) == 4
        with pytest.raises(urllib3.exceptions.MaxRetryError) as body:
            pool.request("GET", serve(srv, "/body", cut(119)))
        assert "IncompleteRead(119 bytes read, 881 more expected)" in str(body.value)
        assert requests_seen(srv) == 8

    def test_urllib3_without_retries_and_a_truncated_head(
        self, mockprogress_server: mp.MockServer
    ) -> None:
        srv = mockprogress_server
        pool = urllib3.PoolManager(retries=False)
        with pytest.raises(urllib3.exceptions.ProtocolError) as caught:
            pool.request("GET", serve(srv, "/body", cut(119)))
        assert "IncompleteRead(119 bytes read, 881 more expected)" in str(caught.value)
        with pytest.raises(urllib3.exceptions.ProtocolError) as reset:
            pool.request("GET", serve(srv, "/reset", cut(119, how="reset")))
        assert "ConnectionResetError(104, 'Connection reset by peer')" in str(reset.value)
        response = pool.request("GET", serve(srv, "/head", cut(20, "wire")))
        assert (response.status, response.data) == (200, b"")
        assert requests_seen(srv) == 3

    def test_a_stall_mid_body(self, mockprogress_server: mp.MockServer) -> None:
        """requests raises ``ConnectionError`` ("Read timed out."), not ``ReadTimeout``, once the
        head is in; urllib3's ``PoolManager()`` preloads the body, so it retries the request
        (4 attempts) before ``MaxRetryError``; without retries, ``ReadTimeoutError``."""
        srv = mockprogress_server
        url = serve(srv, "/stall-body", cut(119, how="stall"))
        with pytest.raises(requests.ConnectionError) as caught:
            requests.get(url, timeout=STALL_TIMEOUT)
        assert type(caught.value) is requests.ConnectionError
        assert not isinstance(caught.value, requests.Timeout)
        assert str(caught.value).endswith("Read timed out.")
        assert requests_seen(srv) == 1
        with pytest.raises(urllib3.exceptions.MaxRetryError) as retried:
            urllib3.PoolManager(timeout=STALL_TIMEOUT).request("GET", url)
        assert "ReadTimeoutError('None: Read timed out.')" in str(retried.value)
        assert requests_seen(srv) == 5
        with pytest.raises(urllib3.exceptions.ReadTimeoutError) as bare:
            urllib3.PoolManager(timeout=STALL_TIMEOUT, retries=False).request("GET", url)
        assert str(bare.value) == "None: Read timed out."
        assert requests_seen(srv) == 6


def test_the_docs_client_table_has_the_stall_column_measured_here() -> None:
    """docs/faults.md's client table shows what the stall tests above (and curl's and Node's in
    test_clients_cli.py) measure, one cell per client."""
    page = (ROOT / "docs" / "faults.md").read_text()
    table = page[page.index("| client | cut inside the head") :].split("\n\n")[0]
    header, _, *rows = table.splitlines()
    columns = [c.strip() for c in header.strip("|").split("|")]
    stall = columns.index("stall after 119 body bytes (read timeout 0.3 s)")
    cells = {row.split(" | ")[0].strip("| "): row.strip("|").split(" | ")[stall] for row in rows}
    assert "`ReadTimeout`" in cells["httpx 0.28, sync, asyncio and trio"]
    assert "`SocketTimeoutError" in cells["aiohttp 3.14"]
    assert "`TimeoutError: timed out`" in cells["http.client (3.11)"]
    assert "`ConnectionError` (`… Read timed out.`), not `ReadTimeout`" in cells["requests 2.34"]
    assert "after 4 attempts" in cells["urllib3 2.8 `PoolManager()`"]
    assert "exit 28" in cells["curl 7.88"]
    assert "no timeout of its own" in cells["Node 20 `http`"]
