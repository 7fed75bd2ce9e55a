"""The clock the server and the core read: the running loop's."""

from __future__ import annotations

import asyncio
import time

import anyio

from mockprogress.server.driver import loop_clock


def test_asyncio_s_own_loop_is_read_as_time_monotonic() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        clock = loop_clock(loop)
        assert clock is time.monotonic
        before, read, after = loop.time(), clock(), loop.time()
        assert before <= read <= after

    asyncio.run(main())


def test_a_loop_with_a_clock_of_its_own_is_read_through_it() -> None:
    class Shifted(asyncio.SelectorEventLoop):
        def time(self) -> float:
            return super().time() + 1000.0

    loop = Shifted()
    try:
        clock = loop_clock(loop)
        assert clock() - time.monotonic() > 999.0
    finally:
        loop.close()


def test_trio_is_read_through_anyio() -> None:
    async def main() -> None:
        clock = loop_clock(None)
        assert clock is anyio.current_time
        assert abs(clock() - anyio.current_time()) < 1.0

    anyio.run(main, backend="trio")
