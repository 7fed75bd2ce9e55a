"""Scenario-file resource tables, each -> the resource the Python API builds, registered in the
one literal table ``RESOURCE_BUILDERS``.

.. code-block:: toml

    [[progress_job]]
    path = "/jobs"
    stages = [["Herding cats", 1.0], ["Knitting sweaters", 1.0]]

    [[resumable_uploads]]                    # the IETF draft
    path = "/uploads"
    max_size = 10_000_000
    store_dir = "uploads"          # keep uploads on disk (relative to this file): they survive
                                   # a restart of `mockprogress serve`
    interrupts = [{ after = 65536, request = 1, how = "reset" }]   # request = "every": all
    result = { status = 201, body = "stored\\n" }

    [[tus_uploads]]
    path = "/files"
    checksum_algorithms = ["sha1"]

    [[resumable_requests]]                   # draft-wright resume-request
    path = "/upload"
    dialect = "draft"                        # or "demo"
    interrupts = [{ after = 4096, request = 1, how = "reset" }]
    store_dir = "wright-uploads"             # or spool_threshold = N, as in every upload table

      [[resumable_requests.process]]          # steps, as in [[expect.steps]]
      respond = { status = 201, body = "stored\\n" }

    [[byte_range]]                           # draft-wright patch-byterange
    path = "/files"
    sparse = "zero-fill"

    [[http_progress_demo]]                    # the reference demo's test suite

Every builder has one shape: ``build_<table>(value, key, where)`` reads its table with
``keys.table`` (unknown keys refused), its ``path``, the options shared by every upload table
(``store_dir``/``spool_threshold``, ``interrupts``, ``max_size``, ``max_pending``), then its
own, and calls the class. ``document.parse_scenario`` places every error a builder or the class
raises at the table's key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..engine.resource import Resource
from ..errors import ScenarioError
from ..resources.byterange_patch import ByteRangeResource
from ..resources.progress_job import ProgressJob
from ..resources.reference_demo import HttpProgressDemo
from ..resources.resumable_upload import ResumableUploads
from ..resources.resume_request import ResumableRequests
from ..resources.tus import TusUploads
from ..resources.upload_store import DirectoryUploadStore, UploadStore
from ..script.faults import Interrupt, interrupt
from ..script.steps import Step
from .keys import Where, table
from .steps import build_step, respond_at

#: The keys every upload table takes (``_upload_options`` reads them).
_UPLOAD_KEYS = {"path", "interrupts", "max_size", "max_pending", "store_dir", "spool_threshold"}


def _path(spec: Mapping[str, Any], key: str, where: Where, example: str) -> str:
    path = spec.get("path")
    if not isinstance(path, str):
        raise where.error(f"{key}.path", f"missing ({example})")
    return path


def _copied(spec: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The options the class takes as the file wrote them (the class checks them)."""
    return {name: spec[name] for name in names if name in spec}


def interrupts_of(value: Any, key: str, where: Where) -> list[Interrupt]:
    """``interrupts = [{ after = K, request = N, how = ... }]`` of any upload table;
    ``request = "every"`` cuts every upload request."""
    if not isinstance(value, list):
        raise where.error(key, "expected a list of { after = N, request = N, how = ... } tables")
    items = []
    for i, spec in enumerate(value):
        item = table(spec, f"{key}[{i}]", where, {"after", "request", "how", "seconds"})
        if "after" not in item:
            raise where.error(f"{key}[{i}].after", "missing (the body bytes read before the cut)")
        request = item.get("request", 1)
        try:
            items.append(
                interrupt(
                    item["after"],
                    request=None if request == "every" else request,
                    how=item.get("how", "reset"),
                    seconds=item.get("seconds"),
                )
            )
        except ScenarioError as exc:
            raise where.located(f"{key}[{i}]", exc, {"interrupt": f"{key}[{i}]"}) from None
    return items


def store_of(spec: Mapping[str, Any], key: str, where: Where) -> UploadStore | None:
    """The store that ``store_dir`` or ``spool_threshold`` of any upload table asks for."""
    if "store_dir" in spec and "spool_threshold" in spec:
        raise where.error(key, "store_dir keeps every upload on disk: drop spool_threshold")
    if "store_dir" in spec:
        directory = spec["store_dir"]
        if not isinstance(directory, str) or not directory:
            raise where.error(f"{key}.store_dir", "expected a directory path")
        path = Path(directory)
        if not path.is_absolute():
            if where.directory is None:
                raise where.error(
                    f"{key}.store_dir",
                    f"{directory!r} is relative, and a document sent without a file has no "
                    "directory to start from: give an absolute path",
                )
            path = where.directory / path
        try:
            return DirectoryUploadStore(path)
        except ScenarioError as exc:
            raise where.error(f"{key}.store_dir", str(exc)) from None
    if "spool_threshold" in spec:
        try:
            return UploadStore(spec["spool_threshold"])
        except ScenarioError as exc:
            raise where.error(f"{key}.spool_threshold", str(exc)) from None
    return None


def _upload_options(spec: Mapping[str, Any], key: str, where: Where) -> dict[str, Any]:
    """What every upload table takes: its store, its interrupts, its limits."""
    options: dict[str, Any] = {"store": store_of(spec, key, where)}
    if "interrupts" in spec:
        options["interrupts"] = interrupts_of(spec["interrupts"], f"{key}.interrupts", where)
    return options | _copied(spec, ("max_size", "max_pending"))


def _list(spec: Mapping[str, Any], name: str, key: str, where: Where, example: str) -> Any:
    value = spec[name]
    if not isinstance(value, list):
        raise where.error(f"{key}.{name}", f"expected a list such as {example}")
    return value


def _steps(value: Any, key: str, where: Where) -> list[Step]:
    if not isinstance(value, list) or not value:
        raise where.error(key, "expected a list of steps, as in [[expect.steps]]")
    return [build_step(spec, f"{key}[{i}]", where) for i, spec in enumerate(value)]


_PROGRESS_JOB_KEYS = {"path", "stages", "result", "done_remark", "methods"}


def build_progress_job(value: Any, key: str, where: Where) -> Resource:
    """``[[progress_job]]`` -> ``ProgressJob``: ``path``, ``stages = [["Herding cats", 1.0],
    ...]``, ``result = { status = 201, ... }`` (as a ``respond`` step), ``done_remark``,
    ``methods``."""
    spec = table(value, key, where, _PROGRESS_JOB_KEYS)
    path = _path(spec, key, where, 'where jobs start, e.g. "/jobs"')
    options = _copied(spec, ("done_remark", "methods"))
    if "stages" in spec:
        stages = spec["stages"]
        if not isinstance(stages, list) or not all(isinstance(s, list) for s in stages):
            raise where.error(f"{key}.stages", "expected a list of [remark, seconds] pairs")
        options["stages"] = [tuple(s) for s in stages]
    if "result" in spec:
        options["result"] = respond_at(spec["result"], f"{key}.result", where)
    return ProgressJob(path, **options)


_RESUMABLE_UPLOADS_KEYS = _UPLOAD_KEYS | {
    "result",
    "min_size",
    "max_append_size",
    "min_append_size",
    "interop_versions",
    "progress_every",
}


def build_resumable_uploads(value: Any, key: str, where: Where) -> Resource:
    """``[[resumable_uploads]]`` -> ``ResumableUploads`` (the IETF draft)."""
    spec = table(value, key, where, _RESUMABLE_UPLOADS_KEYS)
    path = _path(spec, key, where, 'where uploads are created, e.g. "/uploads"')
    options = _upload_options(spec, key, where)
    options |= _copied(spec, ("min_size", "max_append_size", "min_append_size", "progress_every"))
    if "interop_versions" in spec:
        options["interop_versions"] = _list(spec, "interop_versions", key, where, "[5, 6, 8]")
    if "result" in spec:
        try:
            options["result"] = respond_at(spec["result"], f"{key}.result", where)
        except ScenarioError as exc:
            raise where.located(f"{key}.result", exc) from None
    return ResumableUploads(path, **options)


def build_tus_uploads(value: Any, key: str, where: Where) -> Resource:
    """``[[tus_uploads]]`` -> ``TusUploads``."""
    spec = table(value, key, where, _UPLOAD_KEYS | {"checksum_algorithms"})
    path = _path(spec, key, where, 'where uploads are created, e.g. "/uploads"')
    options = _upload_options(spec, key, where)
    if "checksum_algorithms" in spec:
        options["checksum_algorithms"] = _list(spec, "checksum_algorithms", key, where, '["sha1"]')
    return TusUploads(path, **options)


_RESUMABLE_REQUESTS_OWN = (
    "jobs_path",
    "dialect",
    "incomplete_status",
    "incomplete_reason",
    "acknowledge_every",
)


def build_resumable_requests(value: Any, key: str, where: Where) -> Resource:
    """``[[resumable_requests]]`` -> ``ResumableRequests`` (draft-wright resume-request)."""
    keys = (_UPLOAD_KEYS - {"max_size"}) | {"process", *_RESUMABLE_REQUESTS_OWN}
    spec = table(value, key, where, keys)
    path = _path(spec, key, where, 'where requests create jobs, e.g. "/upload"')
    options = _upload_options(spec, key, where) | _copied(spec, _RESUMABLE_REQUESTS_OWN)
    if "process" in spec:
        options["process"] = _steps(spec["process"], f"{key}.process", where)
    return ResumableRequests(path, **options)


def build_byte_range(value: Any, key: str, where: Where) -> Resource:
    """``[[byte_range]]`` -> ``ByteRangeResource`` (draft-wright patch-byterange)."""
    spec = table(value, key, where, _UPLOAD_KEYS | {"sparse", "documents", "process"})
    path = _path(spec, key, where, 'where the documents live, e.g. "/files"')
    options = _upload_options(spec, key, where) | _copied(spec, ("sparse",))
    if "documents" in spec:
        documents = spec["documents"]
        if not isinstance(documents, Mapping) or not all(
            isinstance(v, str) for v in documents.values()
        ):
            raise where.error(f"{key}.documents", "expected a table of path = text")
        options["documents"] = {k: v.encode() for k, v in documents.items()}
    if "process" in spec:
        options["process"] = _steps(spec["process"], f"{key}.process", where)
    return ByteRangeResource(path, **options)


_HTTP_PROGRESS_DEMO_KEYS = {"path", "jobs_path", "interrupt_after", "how", "lines"}


def build_http_progress_demo(value: Any, key: str, where: Where) -> Resource:
    """``[[http_progress_demo]]`` -> ``HttpProgressDemo``: every key has a default."""
    spec = table(value, key, where, _HTTP_PROGRESS_DEMO_KEYS)
    return HttpProgressDemo(**_copied(spec, _HTTP_PROGRESS_DEMO_KEYS))


#: Top-level table name -> builder of resources, in the order ``parse_scenario`` builds them.
RESOURCE_BUILDERS: dict[str, Callable[[Any, str, Where], Resource]] = {
    "progress_job": build_progress_job,
    "resumable_uploads": build_resumable_uploads,
    "tus_uploads": build_tus_uploads,
    "resumable_requests": build_resumable_requests,
    "byte_range": build_byte_range,
    "http_progress_demo": build_http_progress_demo,
}
