"""Faults stay on their own connection: 50 clients at once, half of them faulted.

The 25 clean exchanges stream a 64 KiB body in dripped pieces, so they are still running while
the faulted ones are closed, reset, cut inside the head, cut while uploading, or stalled
(stalls hold their connections open for the whole test). Every clean client must get its
whole response, and every faulted one exactly its scripted bytes and ending.
"""

from __future__ import annotations

import threading

from support.raw_client import Received, exchange, get, in_parallel, post

import mockprogress as mp

CLIENTS = 50
BIG = bytes(range(256)) * 256  # 64 KiB
# The client asks to close, so h11 writes Connection last (it rewrites that field itself).
BIG_HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 65536\r\nConnection: close\r\n\r\n"
SMALL = bytes(range(200))
SMALL_HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n"
FAULTS = ("close", "reset", "head", "upload", "stall")


def script(i: int) -> tuple[str, bytes, list[mp.Step], Received]:
    """Client ``i``'s path, request, script and exactly what it must receive."""
    if i % 2 == 0:
        drip = mp.respond(200, BIG, {"Connection": "close"}).drip(chunk=8192, interval=0.01)
        return (
            f"/clean/{i}",
            get(f"/clean/{i}", "Connection: close\r\n"),
            [drip],
            Received(BIG_HEAD + BIG, "eof"),
        )
    kind = FAULTS[(i // 2) % len(FAULTS)]
    at = 3 + i  # a different offset for each client
    path = f"/{kind}/{i}"
    if kind == "upload":
        steps: list[mp.Step] = [mp.read_body(upto=at), mp.drop("reset")]
        return path, post(path, SMALL), steps, Received(b"", "reset")
    if kind == "head":
        inside = 1 + i % (len(SMALL_HEAD) - 1)
        cut_head = mp.respond(200, SMALL).cut(inside, "wire")
        return path, get(path), [cut_head], Received(SMALL_HEAD[:inside], "eof")
    how = {"close": "close", "reset": "reset", "stall": "stall"}[kind]
    end = {"close": "eof", "reset": "reset", "stall": "silent"}[kind]
    steps = [mp.respond(200, SMALL).cut(at, how=how)]  # type: ignore[arg-type]
    return path, get(path), steps, Received(SMALL_HEAD + SMALL[:at], end)


def test_fifty_concurrent_connections_half_of_them_faulted(
    mockprogress_server: mp.MockServer,
) -> None:
    srv = mockprogress_server
    plans = [script(i) for i in range(CLIENTS)]
    for path, _, steps, _ in plans:
        srv.expect(None, path).respond(*steps)
    start = threading.Barrier(CLIENTS)

    def run(i: int) -> Received:
        _, request, _, expected = plans[i]
        start.wait()
        # Stalled clients give up after a second of silence; the others never wait that long.
        return exchange(srv.port, request, timeout=1.0 if expected.end == "silent" else 10.0)

    results = in_parallel(run, range(CLIENTS), workers=CLIENTS)
    wrong = []
    for i, got in enumerate(results):
        expected = plans[i][3]
        if (got.data, got.end) != (expected.data, expected.end):
            wrong.append(
                f"client {i} {plans[i][0]}: wanted {len(expected.data)} bytes then "
                f"{expected.end}, got {len(got.data)} bytes then {got.end}"
            )
    assert "\n".join(wrong) == ""
    journal = srv.journal
    assert len(journal) == CLIENTS
    assert len({ex.connection for ex in journal}) == CLIENTS
    for ex in journal:
        clean = ex.path.startswith("/clean/")
        assert (ex.fault is None) == clean, ex.timeline()
        if clean:
            assert ex.response is not None and ex.response.complete
            assert ex.response.body_sent == len(BIG)
        elif ex.path.startswith("/upload/"):
            i = int(ex.path.rsplit("/", 1)[1])
            assert ex.body == SMALL[: 3 + i]
