"""The upstream leg of proxy mode: one connection from the server to the real server behind it.

The core (``engine/proxy.py``) speaks HTTP/1.1 to the upstream and decides every byte; this
module only carries out its ``UpstreamOpen``/``UpstreamSend``/``UpstreamReceive``/
``UpstreamClose`` actions on an anyio stream, and turns what the network says (a refusal, a
reset, silence) into an ``UpstreamTrouble`` for the core to answer with a 502 or a 504.
An HTTPS upstream is verified against the system's trust store and the throwaway CA of
``MockServer(tls=True)`` (so one MockServer can stand upstream of another).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import math
import ssl

import anyio
import anyio.abc

from ..engine.actions import (
    UpstreamClose,
    UpstreamOpen,
    UpstreamReceive,
    UpstreamSend,
    UpstreamTrouble,
)
from .tls import authority

UpstreamAction = UpstreamOpen | UpstreamSend | UpstreamReceive | UpstreamClose


class UpstreamLink:
    """At most one open connection to an upstream, owned by a connection's driver."""

    def __init__(self) -> None:
        self._stream: anyio.abc.ByteStream | None = None

    async def perform(self, action: UpstreamAction) -> bytes | UpstreamTrouble | None:
        """Carry out one upstream action and return its result (see ``engine.actions``)."""
        if isinstance(action, UpstreamOpen):
            await self.aclose()
            return await self._open(action)
        if isinstance(action, UpstreamClose):
            await self.aclose()
            return None
        stream = self._stream
        if stream is None:
            return UpstreamTrouble("reset", "the upstream connection is closed")
        bound = math.inf if action.timeout is None else action.timeout
        if isinstance(action, UpstreamSend):
            with anyio.move_on_after(bound):
                try:
                    await stream.send(action.data)
                except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
                    detail = f"went away while the request was sent ({exc!r})"
                    return UpstreamTrouble("reset", detail)
                return None
            return UpstreamTrouble("timeout", f"took none of the request for {bound:g} s")
        with anyio.move_on_after(bound):
            try:
                return await stream.receive(action.max_bytes)
            except anyio.EndOfStream:
                return b""
            except (OSError, anyio.BrokenResourceError, anyio.ClosedResourceError) as exc:
                return UpstreamTrouble("reset", f"reset the connection ({exc!r})")
        return UpstreamTrouble("timeout", f"sent nothing for {action.timeout:g} s")

    async def _open(self, action: UpstreamOpen) -> UpstreamTrouble | None:
        where = f"{action.host}:{action.port}"
        bound = math.inf if action.timeout is None else action.timeout
        with anyio.move_on_after(bound):
            try:
                if action.tls:
                    self._stream = await anyio.connect_tcp(
                        action.host,
                        action.port,
                        ssl_context=_client_context(),
                        tls_standard_compatible=False,
                    )
                else:
                    self._stream = await anyio.connect_tcp(action.host, action.port)
            except ConnectionRefusedError:
                return UpstreamTrouble("refused", f"refused the connection ({where})")
            except ssl.SSLError as exc:
                return UpstreamTrouble("error", f"TLS handshake with {where} failed: {exc}")
            except OSError as exc:
                if _refused(exc):
                    return UpstreamTrouble("refused", f"refused the connection ({where})")
                return UpstreamTrouble("error", f"could not be reached ({where}: {exc})")
            return None
        return UpstreamTrouble("timeout", f"did not accept a connection within {bound:g} s")

    async def aclose(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                await anyio.aclose_forcefully(stream)


def _refused(exc: BaseException | None) -> bool:
    # anyio tries every address of a name and raises one OSError caused by the first
    # failure, or by a group of them all.
    if isinstance(exc, OSError) and exc.errno == errno.ECONNREFUSED:
        return True
    cause = None if exc is None else exc.__cause__
    if isinstance(cause, BaseExceptionGroup):
        return all(_refused(e) for e in cause.exceptions)
    return cause is not None and _refused(cause)


@functools.cache
def _client_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.load_verify_locations(authority().ca_file)
    return context
