"""Scenario-file tables for the upload resources: ``[[resumable_uploads]]`` and
``[[tus_uploads]]``.

.. code-block:: toml

    [[resumable_uploads]]
    path = "/uploads"
    max_size = 10_000_000
    store_dir = "uploads"          # keep uploads on disk (relative to this file): they survive
                                   # a restart of `mockprogress serve`
    interrupts = [{ after = 65536, request = 1, how = "reset" }]   # request = "every": all
    result = { status = 201, body = "stored\\n" }

    [[tus_uploads]]
    path = "/files"
    checksum_algorithms = ["sha1"]

Every mistake raises ``ScenarioError`` naming the file and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..engine.resource import Resource
from ..errors import ScenarioError
from ..resources.resumable_upload import ResumableUploads
from ..resources.tus import TusUploads
from ..resources.upload_store import DirectoryUploadStore, UploadStore
from ..script.faults import Interrupt, interrupt
from .document import RESOURCE_BUILDERS, _respond, _table, _Where

_COMMON = {"path", "interrupts", "max_size", "max_pending", "store_dir", "spool_threshold"}
_RESUMABLE = _COMMON | {
    "result",
    "min_size",
    "max_append_size",
    "min_append_size",
    "interop_versions",
    "progress_every",
}
_TUS = _COMMON | {"checksum_algorithms"}


def interrupts_of(value: Any, key: str, where: _Where) -> list[Interrupt]:
    """``interrupts = [{ after = K, request = N, how = ... }]`` of any upload table;
    ``request = "every"`` cuts every upload request."""
    if not isinstance(value, list):
        raise where.error(key, "expected a list of { after = N, request = N, how = ... } tables")
    items = []
    for i, spec in enumerate(value):
        item = _table(spec, f"{key}[{i}]", where, {"after", "request", "how", "seconds"})
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
            raise where.error(f"{key}[{i}]", str(exc)) from None
    return items


def store_of(spec: Mapping[str, Any], key: str, where: _Where) -> UploadStore | None:
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


def _common(spec: Mapping[str, Any], key: str, where: _Where) -> dict[str, Any]:
    if not isinstance(spec.get("path"), str):
        raise where.error(f"{key}.path", 'missing (where uploads are created, e.g. "/uploads")')
    options: dict[str, Any] = {"store": store_of(spec, key, where)}
    if "interrupts" in spec:
        options["interrupts"] = interrupts_of(spec["interrupts"], f"{key}.interrupts", where)
    for name in ("max_size", "max_pending"):
        if name in spec:
            options[name] = spec[name]
    return options


def _located(build: Any) -> Any:
    """Name the file and the key in every error the builder raises."""

    def builder(value: Any, key: str, where: _Where) -> Resource:
        try:
            resource: Resource = build(value, key, where)
        except ScenarioError as exc:
            if str(exc).startswith(where.filename + ":"):
                raise
            raise where.error(key, str(exc)) from None
        return resource

    builder.__doc__ = build.__doc__
    return builder


@_located
def build_resumable_uploads(value: Any, key: str, where: _Where) -> Resource:
    """``[[resumable_uploads]]`` -> ``ResumableUploads``."""
    spec = _table(value, key, where, _RESUMABLE)
    options = _common(spec, key, where)
    for name in ("min_size", "max_append_size", "min_append_size", "progress_every"):
        if name in spec:
            options[name] = spec[name]
    if "interop_versions" in spec:
        versions = spec["interop_versions"]
        if not isinstance(versions, list):
            raise where.error(f"{key}.interop_versions", "expected a list such as [5, 6, 8]")
        options["interop_versions"] = versions
    if "result" in spec:
        try:
            options["result"] = _respond(spec["result"], f"{key}.result", where)
        except ScenarioError as exc:
            if str(exc).startswith(where.filename + ":"):
                raise
            raise where.error(f"{key}.result", str(exc)) from None
    return ResumableUploads(spec["path"], **options)


@_located
def build_tus_uploads(value: Any, key: str, where: _Where) -> Resource:
    """``[[tus_uploads]]`` -> ``TusUploads``."""
    spec = _table(value, key, where, _TUS)
    options = _common(spec, key, where)
    if "checksum_algorithms" in spec:
        algorithms = spec["checksum_algorithms"]
        if not isinstance(algorithms, list):
            raise where.error(f"{key}.checksum_algorithms", 'expected a list such as ["sha1"]')
        options["checksum_algorithms"] = algorithms
    return TusUploads(spec["path"], **options)


RESOURCE_BUILDERS["resumable_uploads"] = build_resumable_uploads
RESOURCE_BUILDERS["tus_uploads"] = build_tus_uploads
