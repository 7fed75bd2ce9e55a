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

from ._byte_range_resource import ByteRangeResource as ByteRangeResource
from ._byte_range_resource import StoredDocument as StoredDocument
from ._continue import ContinuePolicy as ContinuePolicy
from ._continue import continue_auto as continue_auto
from ._continue import continue_delay as continue_delay
from ._continue import continue_immediate as continue_immediate
from ._continue import continue_never as continue_never
from ._continue import continue_reject as continue_reject
from ._control import HandlerControl as HandlerControl
from ._errors import ExpectationError as ExpectationError
from ._errors import MockProgressError as MockProgressError
from ._errors import ScenarioError as ScenarioError
from ._errors import ServerStateError as ServerStateError
from ._gauntlet import GauntletCase as GauntletCase
from ._gauntlet import gauntlet as gauntlet
from ._headers import Headers as Headers
from ._http_progress_demo import HttpProgressDemo as HttpProgressDemo
from ._interrupt import Interrupt as Interrupt
from ._interrupt import interrupt as interrupt
from ._journal import Event as Event
from ._journal import Exchange as Exchange
from ._journal import Fault as Fault
from ._journal import Frame as Frame
from ._journal import InterimRecord as InterimRecord
from ._journal import Journal as Journal
from ._journal import ResponseRecord as ResponseRecord
from ._malformed import bad_status_line as bad_status_line
from ._malformed import lying_content_length as lying_content_length
from ._malformed import malformed_chunked as malformed_chunked
from ._malformed import unsolicited_101 as unsolicited_101
from ._matching import Expectation as Expectation
from ._parametrize import cut_sweep as cut_sweep
from ._prefer import Preference as Preference
from ._prefer import Preferences as Preferences
from ._progress import Comment as Comment
from ._progress import ExtValue as ExtValue
from ._progress import Fraction as Fraction
from ._progress import Progress as Progress
from ._progress import Quoted as Quoted
from ._progress_job import JobInfo as JobInfo
from ._progress_job import ProgressJob as ProgressJob
from ._resource import Resource as Resource
from ._resumable_jobs import StoredRequest as StoredRequest
from ._resumable_requests import ResumableRequests as ResumableRequests
from ._resumable_uploads import ResumableUploads as ResumableUploads
from ._server import MockServer as MockServer
from ._steps import Step as Step
from ._steps import drop as drop
from ._steps import early_hints as early_hints
from ._steps import interim as interim
from ._steps import pause as pause
from ._steps import processing as processing
from ._steps import raw as raw
from ._steps import read_body as read_body
from ._steps import respond as respond
from ._steps import stall as stall
from ._structured import StructuredFieldError as StructuredFieldError
from ._sweep import CutPoint as CutPoint
from ._sweep import cut_points as cut_points
from ._tus import TusUploads as TusUploads
from ._upload_store import DirectoryUploadStore as DirectoryUploadStore
from ._upload_store import Upload as Upload
from ._upload_store import UploadStore as UploadStore
from ._version import __version__ as __version__
from ._websocket import UpgradeWebSocket as UpgradeWebSocket
from ._websocket import upgrade_websocket as upgrade_websocket
from ._ws_script import ws_close as ws_close
from ._ws_script import ws_echo as ws_echo
from ._ws_script import ws_expect as ws_expect
from ._ws_script import ws_ping as ws_ping
from ._ws_script import ws_send as ws_send

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
    "Fraction",
    "Frame",
    "GauntletCase",
    "HandlerControl",
    "Headers",
    "HttpProgressDemo",
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
    "gauntlet",
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
