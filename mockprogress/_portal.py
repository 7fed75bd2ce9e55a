"""Background event-loop threads for thread mode, shared between servers.

Each (backend, options) pair gets one ``BlockingPortalProvider``: the thread starts with the
first server that needs it and stops when the last one leaves. The pytest plugin holds a lease
for the whole session, so a fresh server per test costs a listener, not a thread.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from anyio.from_thread import BlockingPortalProvider

_providers: dict[tuple[str, str], BlockingPortalProvider] = {}
_lock = threading.Lock()


def portal_provider(
    backend: str = "asyncio", options: Mapping[str, Any] | None = None
) -> BlockingPortalProvider:
    """The shared provider for this backend and options."""
    key = (backend, repr(sorted((options or {}).items())))
    with _lock:
        provider = _providers.get(key)
        if provider is None:
            provider = BlockingPortalProvider(backend, dict(options) if options else None)
            _providers[key] = provider
        return provider
