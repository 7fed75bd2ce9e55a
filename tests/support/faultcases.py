"""The response every real-client fault test cuts, and the offsets that matter in it.

The response carries ``Connection: close`` itself, so its head has the same length whatever
the client asks for (h11 would add the field for a client that sends ``Connection: close``,
and for such a client, Node here, it moves the field to the end of the head)::

    HTTP/1.1 200 OK\\r\\n                    bytes  0..16  (status line ends at 17)
    Connection: close\\r\\n                  bytes 17..35
    Content-Length: 1000\\r\\n               bytes 36..57  (the value's digits are 52..55)
    \\r\\n                                   bytes 58..59  (the head ends at 60)
    1,000 body bytes, every byte value     bytes 60..1059
"""

from __future__ import annotations

import mockprogress as mp
from mockprogress.script.steps import Respond

BODY = (bytes(range(256)) * 4)[:1000]
HEAD = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1000\r\n\r\n"
STATUS_LINE_END = 17
LENGTH_LINE_START = 36
LENGTH_LINE_END = 58
HEAD_END = 60


def download() -> Respond:
    """The 1,000-byte response, uncut."""
    return mp.respond(200, BODY, {"Connection": "close"})


def chunked_download() -> Respond:
    """The same body, chunked as 100 + 900 bytes."""
    return mp.respond(200, [BODY[:100], BODY[100:]], {"Connection": "close"})


def cut(at: int, unit: str = "body", how: str = "close") -> mp.Step:
    return download().cut(at, unit, how)  # type: ignore[arg-type]


def serve(srv: mp.MockServer, path: str, step: mp.Step) -> str:
    """Answer GET ``path`` with ``step``; the URL to fetch."""
    srv.expect("GET", path).respond(step)
    return srv.url(path)
