"""Real upload clients against ResumableUploads and TusUploads, cut at many offsets: each
upload must end with the stored bytes identical to the source (same SHA-256), after the
client found the offset with HEAD and resumed from exactly the bytes the cut left.

- tus-js-client 4.3.1 (pinned in tests/node/package-lock.json, installed by `make` with
  `npm ci`) in its ``tus-v1``, ``ietf-draft-05`` and ``ietf-draft-03`` modes, run by
  tests/node/tus_upload.js: one node process per test runs every upload of a sweep.
- tuspy (PyPI ``tuspy``) for tus 1.0, in this process.

Each cut offset gets its own resource path on one server, so every upload meets exactly one
cut in its first upload request, whatever else the client does.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from support.paths import NODE_DIR
from tusclient import client as tus_client

import mockprogress as mp

NODE = shutil.which("node")
SIZE = 200_000
OFFSETS = [0, 1, 2, 100, 4095, 4096, 4097, 65535, 65536, 65537, 131072, SIZE - 1]


def run_tus_js(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run tus_upload.js over ``jobs``; one report per job."""
    if NODE is None:
        pytest.skip("the node command is not installed")
    if not (NODE_DIR / "node_modules" / "tus-js-client").is_dir():
        pytest.fail(
            "tus-js-client is not installed: run `make test` (it runs npm ci in tests/node)"
        )
    done = subprocess.run(
        [NODE, str(NODE_DIR / "tus_upload.js")],
        input=json.dumps(jobs),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=NODE_DIR,
    )
    assert done.returncode == 0, done.stderr
    reports = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(reports) == len(jobs), done.stderr
    return reports


@pytest.fixture
def source(tmp_path: Path) -> tuple[bytes, Path]:
    data = os.urandom(SIZE)
    path = tmp_path / "source.bin"
    path.write_bytes(data)
    return data, path


def offsets_after_cut(srv: mp.MockServer, path: str) -> list[int]:
    """The Upload-Offset of every HEAD answered under ``path``."""
    return [
        int(ex.response.headers["Upload-Offset"])
        for ex in srv.journal.find("HEAD")
        if ex.path.startswith(path + "/") and ex.response is not None
    ]


PROTOCOLS = {
    "tus-v1": mp.TusUploads,
    "ietf-draft-05": mp.ResumableUploads,
    "ietf-draft-03": mp.ResumableUploads,
}


@pytest.mark.parametrize("how", ["reset", "close"])
def test_tus_js_client_resumes_from_every_cut(
    mockprogress_server: mp.MockServer, source: tuple[bytes, Path], how: str
) -> None:
    srv = mockprogress_server
    data, path = source
    sha = hashlib.sha256(data).hexdigest()
    jobs = []
    resources: dict[str, mp.TusUploads | mp.ResumableUploads] = {}
    for protocol, kind in PROTOCOLS.items():
        for k in OFFSETS:
            base = f"/{protocol}/{k}"
            resources[base] = srv.mount(kind(base, interrupts=[mp.interrupt(after=k, how=how)]))
            jobs.append({"endpoint": srv.url(base), "protocol": protocol, "file": str(path)})

    reports = run_tus_js(jobs)

    for job, report in zip(jobs, reports, strict=True):
        base = job["endpoint"].removeprefix(srv.url(""))
        base = "/" + base.lstrip("/")
        assert report["error"] is None, (job, report)
        [upload] = resources[base].uploads.values()
        assert upload.complete and upload.offset == SIZE
        assert upload.hexdigest() == sha, job
        k = int(base.rsplit("/", 1)[1])
        assert offsets_after_cut(srv, base) == [k], (job, report["requests"])
        methods = [m for m, _ in report["requests"]]
        assert methods == ["POST", "PATCH", "HEAD", "PATCH"], report["requests"]
        assert report["requests"][1][1] is None  # the cut request got no response


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_tus_js_client_survives_a_cut_in_every_request(
    mockprogress_server: mp.MockServer, source: tuple[bytes, Path], protocol: str
) -> None:
    """Chunks of 50 000 bytes, every upload request cut after 20 000: each chunk takes a cut,
    a HEAD and a resumed request until the last short piece fits under the cut."""
    srv = mockprogress_server
    data, path = source
    kind = PROTOCOLS[protocol]
    resource = srv.mount(kind("/up", interrupts=[mp.interrupt(after=20_000, request=None)]))
    [report] = run_tus_js(
        [{"endpoint": srv.url("/up"), "protocol": protocol, "file": str(path), "chunkSize": 50_000}]
    )
    assert report["error"] is None, report
    [upload] = resource.uploads.values()
    assert upload.hexdigest() == hashlib.sha256(data).hexdigest()
    assert offsets_after_cut(srv, "/up") == list(range(20_000, SIZE, 20_000))


def test_tus_js_client_creation_with_upload_is_cut_and_resumed(
    mockprogress_server: mp.MockServer, source: tuple[bytes, Path]
) -> None:
    srv = mockprogress_server
    data, path = source
    files = srv.mount(mp.TusUploads("/files", interrupts=[mp.interrupt(after=12_345)]))
    # tus-js-client learns the upload URL only from the POST's response, so this cut costs it
    # the upload: it creates a second one. The first keeps exactly the bytes read.
    [report] = run_tus_js(
        [
            {
                "endpoint": srv.url("/files"),
                "protocol": "tus-v1",
                "file": str(path),
                "uploadDataDuringCreation": True,
            }
        ]
    )
    assert report["error"] is None, report
    uploads = sorted(files.uploads.values(), key=lambda u: u.offset)
    assert [u.offset for u in uploads] == [12_345, SIZE]
    assert uploads[0].data == data[:12_345]
    assert uploads[1].hexdigest() == hashlib.sha256(data).hexdigest()


def test_tus_js_client_ietf_final_response_reaches_the_client(
    mockprogress_server: mp.MockServer, source: tuple[bytes, Path]
) -> None:
    srv = mockprogress_server
    _, path = source
    srv.mount(
        mp.ResumableUploads(
            "/uploads",
            result=mp.respond(201, b"processed\n"),
            interrupts=[mp.interrupt(after=1000)],
        )
    )
    [report] = run_tus_js(
        [{"endpoint": srv.url("/uploads"), "protocol": "ietf-draft-05", "file": str(path)}]
    )
    assert (report["status"], report["body"]) == (201, "processed\n")
    creation = srv.journal.find("POST", "/uploads")[0]
    assert creation.headers["Upload-Draft-Interop-Version"] == "6"
    assert [i.status for i in creation.interims] == [104]


@pytest.mark.parametrize("how", ["reset", "close"])
def test_tuspy_resumes_from_every_cut(mockprogress_server: mp.MockServer, how: str) -> None:
    srv = mockprogress_server
    data = os.urandom(SIZE)
    sha = hashlib.sha256(data).hexdigest()
    for k in OFFSETS:
        base = f"/tuspy/{k}"
        files = srv.mount(mp.TusUploads(base, interrupts=[mp.interrupt(after=k, how=how)]))
        uploader = tus_client.TusClient(srv.url(base)).uploader(
            file_stream=io.BytesIO(data), retries=2, retry_delay=0
        )
        uploader.upload()
        [upload] = files.uploads.values()
        assert upload.complete and upload.hexdigest() == sha, k
        assert offsets_after_cut(srv, base) == [k]


def test_tuspy_checksummed_chunks_are_all_or_nothing(mockprogress_server: mp.MockServer) -> None:
    """With Upload-Checksum a cut chunk is discarded whole; tuspy finds the chunk's start with
    HEAD and sends it again. Upload requests 2 and 5 are cut (chunks at 40 000 and 120 000)."""
    srv = mockprogress_server
    data = os.urandom(SIZE)
    files = srv.mount(
        mp.TusUploads(
            "/files",
            interrupts=[mp.interrupt(after=30_000, request=2), mp.interrupt(after=1, request=5)],
        )
    )
    uploader = tus_client.TusClient(srv.url("/files")).uploader(
        file_stream=io.BytesIO(data),
        chunk_size=40_000,
        retries=2,
        retry_delay=0,
        upload_checksum=True,
    )
    uploader.upload()
    [upload] = files.uploads.values()
    assert upload.hexdigest() == hashlib.sha256(data).hexdigest()
    assert offsets_after_cut(srv, "/files") == [40_000, 120_000]
    patches = srv.journal.find("PATCH")
    assert all(p.headers["Upload-Checksum"].startswith("sha1 ") for p in patches)
    assert [p.body_size for p in patches] == [40_000, 30_000, 40_000, 40_000, 1, 40_000, 40_000]
