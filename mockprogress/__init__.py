"""mockprogress: a programmable HTTP/1.1 test double for HTTP clients.

Script interim responses (``102 Processing`` with ``Progress``, ``103 Early Hints``, any 1xx),
cut connections at exact byte offsets, and check every exchange in the journal.

.. code-block:: python

    import mockprogress as mp

    def test_client_waits_through_processing(mockprogress_server):
        mockprogress_server.expect("POST", "/jobs").respond(
            mp.processing('0/3 "Herding cats"', location="/jobs/1/status"),
            mp.pause(0.05),
            mp.processing((1, 3, "Knitting sweaters")),
            mp.respond(201, b"created\\n"),
        )
"""

from __future__ import annotations

import re as _re

from .engine.handler_control import HandlerControl as HandlerControl
from .engine.journal import Event as Event
from .engine.journal import Exchange as Exchange
from .engine.journal import Fault as Fault
from .engine.journal import Frame as Frame
from .engine.journal import FrameCount as FrameCount
from .engine.journal import InterimRecord as InterimRecord
from .engine.journal import Journal as Journal
from .engine.journal import ResponseRecord as ResponseRecord
from .engine.matching import Expectation as Expectation
from .engine.proxy import Forward as Forward
from .engine.proxy import forward as forward
from .engine.resource import Resource as Resource
from .engine.websocket import UpgradeWebSocket as UpgradeWebSocket
from .engine.websocket import upgrade_websocket as upgrade_websocket
from .errors import ExpectationError as ExpectationError
from .errors import IdleTimeoutError as IdleTimeoutError
from .errors import MockProgressError as MockProgressError
from .errors import ScenarioError as ScenarioError
from .errors import ServerStateError as ServerStateError
from .http.headers import Headers as Headers
from .http.prefer import Preference as Preference
from .http.prefer import Preferences as Preferences
from .http.progress import Comment as Comment
from .http.progress import ExtValue as ExtValue
from .http.progress import Fraction as Fraction
from .http.progress import Progress as Progress
from .http.progress import Quoted as Quoted
from .http.structured import StructuredFieldError as StructuredFieldError
from .resources.byterange_patch import ByteRangeResource as ByteRangeResource
from .resources.byterange_patch import StoredDocument as StoredDocument
from .resources.progress_job import JobInfo as JobInfo
from .resources.progress_job import ProgressJob as ProgressJob
from .resources.reference_demo import HttpProgressDemo as HttpProgressDemo
from .resources.resumable_upload import ResumableUploads as ResumableUploads
from .resources.resume_request import ResumableRequests as ResumableRequests
from .resources.resume_request_jobs import StoredRequest as StoredRequest
from .resources.tus import TusUploads as TusUploads
from .resources.upload_store import DirectoryUploadStore as DirectoryUploadStore
from .resources.upload_store import Upload as Upload
from .resources.upload_store import UploadStore as UploadStore
from .script.continue_policy import ContinuePolicy as ContinuePolicy
from .script.continue_policy import continue_auto as continue_auto
from .script.continue_policy import continue_delay as continue_delay
from .script.continue_policy import continue_immediate as continue_immediate
from .script.continue_policy import continue_never as continue_never
from .script.continue_policy import continue_reject as continue_reject
from .script.faults import Interrupt as Interrupt
from .script.faults import interrupt as interrupt
from .script.http2 import HTTP2 as HTTP2
from .script.malformed import bad_status_line as bad_status_line
from .script.malformed import lying_content_length as lying_content_length
from .script.malformed import malformed_chunked as malformed_chunked
from .script.malformed import unsolicited_101 as unsolicited_101
from .script.steps import Step as Step
from .script.steps import drop as drop
from .script.steps import early_hints as early_hints
from .script.steps import goaway as goaway
from .script.steps import interim as interim
from .script.steps import pause as pause
from .script.steps import processing as processing
from .script.steps import raw as raw
from .script.steps import read_body as read_body
from .script.steps import respond as respond
from .script.steps import stall as stall
from .script.tls import TLS as TLS
from .script.websocket import ws_close as ws_close
from .script.websocket import ws_echo as ws_echo
from .script.websocket import ws_expect as ws_expect
from .script.websocket import ws_ping as ws_ping
from .script.websocket import ws_send as ws_send
from .server.server import MockServer as MockServer
from .testing.gauntlet import GauntletCase as GauntletCase
from .testing.gauntlet import gauntlet as gauntlet
from .testing.parametrize import cut_sweep as cut_sweep
from .testing.sweep import CutPoint as CutPoint
from .testing.sweep import cut_points as cut_points
from .version import __version__ as __version__

__all__ = (
    "ByteRangeResource",
    "Comment",
    "ContinuePolicy",
    "DirectoryUploadStore",
    "CutPoint",
    "Event",
    "Exchange",
    "Expectation",
    "ExpectationError",
    "ExtValue",
    "Fault",
    "Forward",
    "Fraction",
    "Frame",
    "FrameCount",
    "GauntletCase",
    "HTTP2",
    "HandlerControl",
    "Headers",
    "HttpProgressDemo",
    "IdleTimeoutError",
    "InterimRecord",
    "Interrupt",
    "JobInfo",
    "Journal",
    "MockProgressError",
    "MockServer",
    "Preference",
    "Preferences",
    "Progress",
    "ProgressJob",
    "Quoted",
    "Resource",
    "ResponseRecord",
    "ResumableRequests",
    "ResumableUploads",
    "ScenarioError",
    "ServerStateError",
    "Step",
    "StoredDocument",
    "StoredRequest",
    "StructuredFieldError",
    "TLS",
    "TusUploads",
    "UpgradeWebSocket",
    "Upload",
    "UploadStore",
    "__version__",
    "continue_auto",
    "continue_delay",
    "continue_immediate",
    "continue_never",
    "continue_reject",
    "bad_status_line",
    "cut_points",
    "cut_sweep",
    "drop",
    "early_hints",
    "forward",
    "gauntlet",
    "goaway",
    "interim",
    "interrupt",
    "lying_content_length",
    "malformed_chunked",
    "pause",
    "processing",
    "raw",
    "read_body",
    "respond",
    "stall",
    "upgrade_websocket",
    "ws_close",
    "ws_echo",
    "ws_expect",
    "ws_ping",
    "ws_send",
    "unsolicited_101",
)


def _index() -> str:
    """One line per public name: the first sentence of its docstring."""
    lines = []
    for name in sorted(__all__, key=str.lower):
        doc = "The package's version." if name == "__version__" else globals()[name].__doc__
        paragraph = " ".join((doc or "").strip().split("\n\n")[0].split())
        sentence = _re.split(r"\.\s+(?=[A-Z`])", paragraph)[0].rstrip(".") + "."
        if len(sentence) > 72:
            sentence = sentence[:71].rsplit(" ", 1)[0] + " ..."
        lines.append(f"    {name:21} {sentence}")
    return "\n".join(lines)


__doc__ = f"""{__doc__}
Every public name, each documented by ``help(mockprogress.NAME)`` (docs/ has the guides):

{_index()}
"""


def __dir__() -> list[str]:
    """What ``dir()`` and so ``help(mockprogress)`` show: the overview, whose index names every
    public name; ``__all__`` lists them for ``import *`` and for editors. Without this,
    ``help()`` would print every class and function in full (thousands of lines)."""
    return ["__all__", "__doc__", "__file__", "__name__", "__path__", "__version__"]
