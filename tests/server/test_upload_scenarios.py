"""Scenario-file tables for the upload resources, and the standalone server keeping partial
uploads across a restart with a directory store."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.recording_client import request
from support.wright_client import head_offset, locations, message_byterange, post, resume

import mockprogress as mp

READY = re.compile(r"^mockprogress listening on http://127\.0\.0\.1:(\d+)$")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(text)
    return path


def test_tables_build_configured_resources(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[[resumable_uploads]]
path = "/uploads"
max_size = 1000
max_append_size = 100
interop_versions = [6, 8]
progress_every = 10
interrupts = [{ after = 5, request = 2, how = "close" }]
result = { status = 201, body = "stored\\n", headers = { X-Done = "1" } }

[[tus_uploads]]
path = "/files"
max_size = 50
checksum_algorithms = ["sha256"]
spool_threshold = 0
interrupts = [{ after = 7, request = "every" }]
""",
    )
    with mp.MockServer() as srv:
        ietf, tus = srv.load(path)
        assert isinstance(ietf, mp.ResumableUploads) and isinstance(tus, mp.TusUploads)
        assert ietf.upload_limit == "max-size=1000, min-size=0, max-append-size=100"
        assert ietf.interop_versions == (6, 8)
        assert ietf.plan.interrupts == (mp.interrupt(5, request=2, how="close"),)
        done = request(
            srv.port,
            "POST",
            "/uploads",
            headers=[("Upload-Complete", "?1"), ("Upload-Draft-Interop-Version", "8")],
            body=b"all",
        )
        assert (done.status, done.body, done.header("X-Done")) == (201, b"stored\n", "1")
        options = request(srv.port, "OPTIONS", "/files")
        assert options.header("Tus-Max-Size") == "50"
        assert options.header("Tus-Checksum-Algorithm") == "sha256"
        assert tus.store.spool_threshold == 0
        assert tus.plan.interrupts == (mp.interrupt(7, request=None),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[resumable_uploads]]\nmax_size = 1\n", r"resumable_uploads\[0\]\.path: missing"),
        ('[[tus_uploads]]\npath = "/f"\ncolour = 1\n', r"tus_uploads\[0\]\.colour: unknown key"),
        (
            '[[tus_uploads]]\npath = "/f"\ninterrupts = 3\n',
            r"tus_uploads\[0\]\.interrupts: expected a list",
        ),
        (
            '[[tus_uploads]]\npath = "/f"\ninterrupts = [{ request = 1 }]\n',
            r"interrupts\[0\]\.after: missing",
        ),
        (
            '[[tus_uploads]]\npath = "/f"\ninterrupts = [{ after = 1, how = "explode" }]\n',
            r"interrupts\[0\]: interrupt how must be",
        ),
        ('[[tus_uploads]]\npath = "/f"\nmax_size = -1\n', r"tus_uploads\[0\]: max_size must be"),
        (
            '[[tus_uploads]]\npath = "/f"\nchecksum_algorithms = "sha1"\n',
            r"checksum_algorithms: expected a list",
        ),
        (
            '[[resumable_uploads]]\npath = "/u"\ninterop_versions = [4]\n',
            r"resumable_uploads\[0\]: interop version 4",
        ),
        (
            '[[resumable_uploads]]\npath = "/u"\ninterop_versions = 8\n',
            r"interop_versions: expected",
        ),
        (
            '[[resumable_uploads]]\npath = "/u"\nresult = { status = 99 }\n',
            r"resumable_uploads\[0\]\.result: final response status",
        ),
        (
            '[[resumable_uploads]]\npath = "/u"\nstore_dir = "d"\nspool_threshold = 1\n',
            r"drop spool_threshold",
        ),
        (
            '[[resumable_uploads]]\npath = "/u"\nstore_dir = ""\n',
            r"store_dir: expected a directory",
        ),
        ('[[resumable_uploads]]\npath = "/u"\nspool_threshold = -5\n', r"spool_threshold: spool"),
        (
            "resumable_uploads = 1\n",
            r"resumable_uploads: expected \[\[resumable_uploads\]\] tables",
        ),
    ],
)
def test_mistakes_name_the_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(mp.ScenarioError, match=re.escape(str(path)) + ": .*" + message):
        mp.MockServer().load(path)


def test_store_dir_is_relative_to_the_scenario_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[[tus_uploads]]\npath = "/f"\nstore_dir = "kept"\n')
    blocker = tmp_path / "blocked"
    blocker.write_text("a file, not a directory")
    with mp.MockServer() as srv:
        [files] = srv.load(path)
        assert isinstance(files, mp.TusUploads)
        assert isinstance(files.store, mp.DirectoryUploadStore)
        assert files.store.directory == tmp_path / "kept"
    bad = write(tmp_path, '[[tus_uploads]]\npath = "/f"\nstore_dir = "blocked"\n')
    with pytest.raises(mp.ScenarioError, match=r"tus_uploads\[0\]\.store_dir: cannot use"):
        mp.MockServer().load(bad)


class Standalone:
    """`mockprogress serve` in a subprocess, stopped with SIGTERM."""

    def __init__(self, scenario: Path, log: Path) -> None:
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mockprogress", "serve", "--port", "0", str(scenario)],
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().rstrip("\n")
        match = READY.match(line)
        assert match, f"unexpected first line {line!r}: {log.read_text()}"
        self.port = int(match.group(1))

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.communicate(timeout=10)
        self.log.close()
        assert self.proc.returncode == 0


def test_partial_uploads_survive_a_restart_of_the_standalone_server(tmp_path: Path) -> None:
    scenario = write(
        tmp_path,
        """
[[tus_uploads]]
path = "/files"
store_dir = "tus-store"
interrupts = [{ after = 3000, request = 1 }]

[[resumable_uploads]]
path = "/uploads"
store_dir = "ietf-store"
""",
    )
    source = bytes(range(256)) * 40  # 10 240 bytes
    tus = [("Tus-Resumable", "1.0.0")]
    stream = ("Content-Type", "application/offset+octet-stream")
    first = Standalone(scenario, tmp_path / "first.log")
    try:
        created = request(first.port, "POST", "/files", headers=[*tus, ("Upload-Length", "10240")])
        tus_location = created.header("Location")
        assert tus_location is not None
        cut = request(
            first.port,
            "PATCH",
            tus_location,
            headers=[*tus, stream, ("Upload-Offset", "0")],
            body=source,
        )
        assert cut.status is None
        ietf = request(
            first.port,
            "POST",
            "/uploads",
            headers=[("Upload-Complete", "?0"), ("Upload-Draft-Interop-Version", "8")],
            body=source[:100],
        )
        ietf_location = ietf.header("Location")
        assert ietf.status == 201 and ietf_location is not None
    finally:
        first.stop()

    second = Standalone(scenario, tmp_path / "second.log")
    try:
        head = request(second.port, "HEAD", tus_location, headers=tus)
        assert (head.status, head.header("Upload-Offset")) == (200, "3000")
        # The interrupt counter starts again with the new process: request 1 is cut again.
        assert (
            request(
                second.port,
                "PATCH",
                tus_location,
                headers=[*tus, stream, ("Upload-Offset", "3000")],
                body=source[3000:],
            ).status
            is None
        )
        done = request(
            second.port,
            "PATCH",
            tus_location,
            headers=[*tus, stream, ("Upload-Offset", "6000")],
            body=source[6000:],
        )
        assert (done.status, done.header("Upload-Offset")) == (204, "10240")
        resumed = request(second.port, "HEAD", ietf_location)
        assert (resumed.status, resumed.header("Upload-Offset")) == (204, "100")
    finally:
        second.stop()
    tus_id = tus_location.rsplit("/", 1)[1]
    assert (tmp_path / "tus-store" / f"{tus_id}.bin").read_bytes() == source


def test_wright_uploads_survive_a_restart_of_the_standalone_server(tmp_path: Path) -> None:
    """ResumableRequests and ByteRangeResource with store_dir: a cut upload, a cut byte-range
    PATCH and a finished document are all there after a restart, and both uploads finish."""
    scenario = write(
        tmp_path,
        """
[[resumable_requests]]
path = "/upload"
store_dir = "wright-store"
interrupts = [{ after = 3000, request = 1 }]

[[byte_range]]
path = "/files"
store_dir = "range-store"
interrupts = [{ after = 2500, request = 2 }]
""",
    )
    source = bytes(range(256)) * 40  # 10 240 bytes
    byterange = [("Content-Type", "message/byterange")]
    first = Standalone(scenario, tmp_path / "first.log")
    try:
        cut = post(first.port, "/upload", source)
        assert cut.status is None
        rcl, rml = locations(cut)
        assert head_offset(first.port, rcl) == (299, 3000)
        small = message_byterange(0, b"hello", 5)
        done = request(first.port, "PATCH", "/files/small.txt", headers=byterange, body=small)
        small_etag = done.header("etag")
        assert done.status == 200 and small_etag
        big = message_byterange(0, source, len(source))
        fields = len(big) - len(source)
        cut_patch = request(first.port, "PATCH", "/files/big.bin", headers=byterange, body=big)
        assert cut_patch.status is None  # request 2 is cut after 2500 body bytes
        assert int(request(first.port, "HEAD", "/files/big.bin").header("content-length") or 0) == (
            2500 - fields
        )
    finally:
        first.stop()

    second = Standalone(scenario, tmp_path / "second.log")
    try:
        assert head_offset(second.port, rcl) == (299, 3000)
        # The interrupt counter starts again with the new process: the first PATCH is cut too.
        resumed = resume(second.port, rcl, source)
        resume_fields = len(message_byterange(3000, source[3000:], len(source))) - 7240
        assert resumed.offsets[:2] == [3000, 3000 + 3000 - resume_fields]
        assert resumed.final.status == 200
        assert request(second.port, "GET", rcl).body == source
        assert request(second.port, "GET", rml).header("content-type") == "message/http"

        small_again = request(second.port, "GET", "/files/small.txt")
        assert (small_again.body, small_again.header("etag")) == (b"hello", small_etag)
        stored = 2500 - fields
        rest = message_byterange(stored, source[stored:], len(source))
        finished = request(second.port, "PATCH", "/files/big.bin", headers=byterange, body=rest)
        assert finished.status == 200, finished
        # An ETag given before the restart is never given again to another version.
        assert finished.header("etag") not in (small_etag, None)
        assert request(second.port, "GET", "/files/big.bin").body == source
    finally:
        second.stop()
    # Every stored file is named by an unguessable key, whatever the resource calls the upload.
    for directory in ("wright-store", "range-store"):
        names = [p.name for p in (tmp_path / directory).iterdir()]
        assert names and all(re.fullmatch(r"[A-Za-z0-9_-]{22}\.(bin|json)", n) for n in names)
