"""The exception hierarchy: one root, a few specific classes, each saying when it is raised."""

from __future__ import annotations


class MockProgressError(Exception):
    """Base class for every exception mockprogress raises."""


class ScenarioError(MockProgressError, ValueError):
    """Raised when a step, an expectation, a resource or a scenario file is invalid.

    It is raised where the scenario is written (when the step is built or the file is loaded),
    never later inside the server.
    """


class ServerStateError(MockProgressError, RuntimeError):
    """Raised on lifecycle misuse: using a server that is not running, starting one twice, or
    calling an in-loop server from a thread it cannot reach."""


class IdleTimeoutError(MockProgressError, TimeoutError):
    """Raised by ``MockServer.wait_idle()`` when exchanges are still in progress after its
    timeout. The message names each one, with its timeline so far."""


class ExpectationError(MockProgressError, AssertionError):
    """Raised by ``check()`` when the server recorded problems: a request that matched nothing,
    an expectation with ``times=N`` not fully consumed, a handler or scenario error, or a
    malformed request from the client. The message names every problem and shows the timeline
    of the exchanges involved."""
