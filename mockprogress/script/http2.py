"""``mp.HTTP2``: what a server that speaks HTTP/2 announces (its SETTINGS), as a test chooses it,
and the error codes a test names a stream reset or a GOAWAY by.

``MockServer(http2=True)`` is ``HTTP2()``: the h2 defaults, with room for 100 concurrent
streams. A test that wants a tight server says so: ``mp.HTTP2(max_concurrent_streams=1)``,
``mp.HTTP2(max_frame_size=16384, initial_window_size=0)`` (a window of 0: the client may send
no request body byte until the script reads it).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ScenarioError
from .checks import check_count

#: RFC 9113 §7 error codes, by name (what ``RST_STREAM`` and ``GOAWAY`` carry).
ERROR_CODES: dict[str, int] = {
    "NO_ERROR": 0x0,
    "PROTOCOL_ERROR": 0x1,
    "INTERNAL_ERROR": 0x2,
    "FLOW_CONTROL_ERROR": 0x3,
    "SETTINGS_TIMEOUT": 0x4,
    "STREAM_CLOSED": 0x5,
    "FRAME_SIZE_ERROR": 0x6,
    "REFUSED_STREAM": 0x7,
    "CANCEL": 0x8,
    "COMPRESSION_ERROR": 0x9,
    "CONNECT_ERROR": 0xA,
    "ENHANCE_YOUR_CALM": 0xB,
    "INADEQUATE_SECURITY": 0xC,
    "HTTP_1_1_REQUIRED": 0xD,
}


def error_code(value: object, what: str) -> int:
    """An error code given by name (``"CANCEL"``) or number, as a number.

    :raises ScenarioError: for an unknown name or a number outside 0..2**32-1.
    """
    if isinstance(value, str):
        code = ERROR_CODES.get(value.upper())
        if code is None:
            raise ScenarioError(
                f"{what} must be one of {', '.join(ERROR_CODES)} or a number, got {value!r}"
            )
        return code
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << 32:
        raise ScenarioError(f"{what} must be an error code name or 0..2**32-1, got {value!r}")
    return value


def error_name(code: int) -> str:
    """``CANCEL`` for 8; a number with no name as ``0x...``."""
    for name, value in ERROR_CODES.items():
        if value == code:
            return name
    return f"0x{code:x}"


@dataclass(frozen=True, slots=True)
class HTTP2:
    """The SETTINGS the server announces on every HTTP/2 connection (RFC 9113 §6.5.2).

    :param max_concurrent_streams: streams a client may open at once (a stream past it is
        refused with ``RST_STREAM REFUSED_STREAM``).
    :param max_frame_size: the largest frame payload the server takes (16384..16777215).
    :param initial_window_size: the flow-control window of each stream the client sends on
        (0: not a byte of a request body until the script reads it).
    :param max_header_list_size: the largest header list the server takes (the decoded size,
        RFC 9113 §6.5.2); a larger one is refused.
    """

    max_concurrent_streams: int = 100
    max_frame_size: int = 16384
    initial_window_size: int = 65535
    max_header_list_size: int = 65536

    def __post_init__(self) -> None:
        check_count(self.max_concurrent_streams, "HTTP2(max_concurrent_streams=...)")
        check_count(self.initial_window_size, "HTTP2(initial_window_size=...)")
        check_count(self.max_header_list_size, "HTTP2(max_header_list_size=...)", minimum=1)
        if self.initial_window_size > (1 << 31) - 1:
            raise ScenarioError("HTTP2(initial_window_size=...) must be at most 2**31-1")
        size = self.max_frame_size
        if isinstance(size, bool) or not isinstance(size, int) or not 16384 <= size < 1 << 24:
            raise ScenarioError(
                f"HTTP2(max_frame_size=...) must be in 16384..16777215 (RFC 9113 §6.5.2), "
                f"got {size!r}"
            )


def http2_spec(value: object) -> HTTP2 | None:
    """``MockServer(http2=...)``: False/None for HTTP/1.1 only, True for ``HTTP2()``, or an
    ``HTTP2``."""
    if value is None or value is False:
        return None
    if value is True:
        return HTTP2()
    if isinstance(value, HTTP2):
        return value
    raise ScenarioError(f"http2 must be True, False or mp.HTTP2(...), got {value!r}")
