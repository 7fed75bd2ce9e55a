"""Malformed responses, written verbatim with ``mp.raw``: framing that lies, broken chunk
sizes, a garbage status line, an unsolicited ``101``.

h11 refuses to produce any of these (that is its job), so each factory builds the bytes by
hand and returns a ``Raw`` step. The connection closes after the script, as after any raw
bytes; a ``mp.stall()`` or ``mp.pause()`` may follow to hold it open first.

.. code-block:: python

    srv.expect("GET", "/short").respond(mp.lying_content_length(b"x" * 10, declared=100))
    srv.expect("GET", "/chunks").respond(mp.malformed_chunked([(5, b"hello"), ("zz", b"!")]))
"""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ScenarioError
from ..http.headers import HeadersInput, header_pairs
from ..http.status import reason_phrase
from .checks import check_count, check_status
from .steps import Raw

ChunkSize = int | str | bytes


def _head(status_line: bytes, headers: Sequence[tuple[str, str]]) -> bytes:
    fields = b"".join(f"{n}: {v}\r\n".encode("latin-1") for n, v in headers)
    return status_line + b"\r\n" + fields + b"\r\n"


def _status_line(status: int) -> bytes:
    check_status(status, 100, 999, "response")
    return f"HTTP/1.1 {status} {reason_phrase(status)}".encode()


def _bytes(value: object, what: str) -> bytes:
    if isinstance(value, str):
        return value.encode("latin-1")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise ScenarioError(f"{what} must be bytes or str, got {value!r}")


def lying_content_length(
    body: bytes = b"mockprogress\n",
    declared: int = 0,
    *,
    status: int = 200,
    headers: HeadersInput = None,
) -> Raw:
    """A response whose ``Content-Length`` says ``declared`` but whose body is ``body``.

    Declared longer than the body: the client gets the whole body, then the connection closes
    short of what was promised (a correct client reports an incomplete body). Declared
    shorter: the bytes past ``declared`` follow the message on the connection, where a client
    that reuses it would read them as the start of its next response.
    """
    body = _bytes(body, "lying_content_length body")
    check_count(declared, "lying_content_length(declared=...)")
    if declared == len(body):
        raise ScenarioError(
            f"declared={declared} is the body's true length: use mp.respond() for an honest one"
        )
    pairs = [*header_pairs(headers), ("Content-Length", str(declared))]
    return Raw(_head(_status_line(status), pairs) + body)


def malformed_chunked(
    chunks: Sequence[tuple[ChunkSize, bytes]],
    *,
    status: int = 200,
    headers: HeadersInput = None,
    end: bool = True,
) -> Raw:
    """A chunked response with the chunk-size lines you give.

    Each chunk is ``(size, data)``: an int size is written in hex (and may lie about
    ``data``), a str or bytes size is written verbatim (``"zz"``, ``"-1"``,
    ``"ffffffffffffffffff"``). ``end=False`` leaves out the last chunk (``0\\r\\n\\r\\n``).

    .. code-block:: python

        mp.malformed_chunked([(5, b"hello"), ("zz", b"world")])  # a size that is not hex
        mp.malformed_chunked([(3, b"hello")])                    # data overruns its size
        mp.malformed_chunked([(10, b"hello")], end=False)        # size promises more
    """
    pieces = []
    for i, item in enumerate(chunks):
        try:
            size, data = item
        except (TypeError, ValueError):
            raise ScenarioError(f"chunk {i} must be a (size, data) pair, got {item!r}") from None
        if isinstance(size, int) and not isinstance(size, bool):
            check_count(size, f"chunk {i} size")
            size_line = f"{size:x}".encode()
        else:
            size_line = _bytes(size, f"chunk {i} size")
        pieces.append(size_line + b"\r\n" + _bytes(data, f"chunk {i} data") + b"\r\n")
    if end:
        pieces.append(b"0\r\n\r\n")
    pairs = [*header_pairs(headers), ("Transfer-Encoding", "chunked")]
    return Raw(_head(_status_line(status), pairs) + b"".join(pieces))


def bad_status_line(
    line: bytes | str = b"HTTP/1.1 2OO OK",
    body: bytes = b"",
    *,
    headers: HeadersInput = None,
) -> Raw:
    """A response whose status line is ``line`` (default: a status of letters, ``2OO``),
    followed by well-formed header fields and a ``Content-Length`` body."""
    status_line = _bytes(line, "bad_status_line line")
    if b"\r" in status_line or b"\n" in status_line:
        raise ScenarioError("bad_status_line line must not contain CR or LF; use mp.raw()")
    body = _bytes(body, "bad_status_line body")
    pairs = [*header_pairs(headers), ("Content-Length", str(len(body)))]
    return Raw(_head(status_line, pairs) + body)


def unsolicited_101(
    upgrade: str = "websocket",
    *,
    headers: HeadersInput = None,
    then: bytes = b"",
) -> Raw:
    """A ``101 Switching Protocols`` to a request that asked for no upgrade (a protocol
    violation: RFC 9110 §7.8, a server must not switch to a protocol the request's
    ``Upgrade`` did not offer), then ``then`` verbatim, as if the other protocol had started."""
    pairs = [("Connection", "Upgrade"), ("Upgrade", upgrade), *header_pairs(headers)]
    return Raw(_head(_status_line(101), pairs) + _bytes(then, "unsolicited_101 then"))
