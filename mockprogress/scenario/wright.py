"""Scenario tables for the wright upload resources: ``[[resumable_requests]]``,
``[[byte_range]]`` and ``[[http_progress_demo]]``.

.. code-block:: toml

    [[resumable_requests]]
    path = "/upload"
    dialect = "draft"                        # or "demo"
    interrupts = [{ after = 4096, request = 1, how = "reset" }]
    store_dir = "wright-uploads"             # or spool_threshold = N, as in every upload table

      [[resumable_requests.process]]          # steps, as in [[expect.steps]]
      respond = { status = 201, body = "stored\\n" }

    [[byte_range]]
    path = "/files"
    sparse = "zero-fill"

    [[http_progress_demo]]                    # the reference demo's test suite
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine.resource import Resource
from ..errors import ScenarioError
from ..resources.byterange_patch import ByteRangeResource
from ..resources.reference_demo import HttpProgressDemo
from ..resources.resume_request import ResumableRequests
from ..script.steps import Step
from .document import RESOURCE_BUILDERS, _step, _table, _Where
from .uploads import interrupts_of, store_of

_STORE_KEYS = {"store_dir", "spool_threshold"}


def _process(value: Any, key: str, where: _Where) -> list[Step]:
    if not isinstance(value, list) or not value:
        raise where.error(key, "expected a list of steps, as in [[expect.steps]]")
    return [_step(spec, f"{key}[{i}]", where) for i, spec in enumerate(value)]


def _build(spec: Mapping[str, Any], key: str, where: _Where, make: Any, keys: set[str]) -> Resource:
    table = _table(spec, key, where, keys)
    kwargs = dict(table)
    if keys & _STORE_KEYS:
        for name in _STORE_KEYS:
            kwargs.pop(name, None)
        kwargs["store"] = store_of(table, key, where)
    if "interrupts" in kwargs:
        kwargs["interrupts"] = interrupts_of(kwargs["interrupts"], f"{key}.interrupts", where)
    if "process" in kwargs:
        kwargs["process"] = _process(kwargs["process"], f"{key}.process", where)
    try:
        resource: Resource = make(**kwargs)
    except ScenarioError as exc:
        raise where.error(key, str(exc)) from None
    except TypeError as exc:
        raise where.error(key, str(exc)) from None
    return resource


def _resumable_requests(spec: Any, key: str, where: _Where) -> Resource:
    if not isinstance(spec, Mapping) or "path" not in spec:
        raise where.error(f"{key}.path", 'missing (where requests create jobs, e.g. "/upload")')
    keys = {
        "path",
        "jobs_path",
        "process",
        "dialect",
        "incomplete_status",
        "incomplete_reason",
        "acknowledge_every",
        "interrupts",
        "max_pending",
        *_STORE_KEYS,
    }
    return _build(spec, key, where, ResumableRequests, keys)


def _byte_range(spec: Any, key: str, where: _Where) -> Resource:
    if not isinstance(spec, Mapping) or "path" not in spec:
        raise where.error(f"{key}.path", 'missing (where the documents live, e.g. "/files")')
    table = dict(spec)
    if "documents" in table:
        documents = table["documents"]
        if not isinstance(documents, Mapping) or not all(
            isinstance(v, str) for v in documents.values()
        ):
            raise where.error(f"{key}.documents", "expected a table of path = text")
        table["documents"] = {k: v.encode() for k, v in documents.items()}
    keys = {
        "path",
        "sparse",
        "max_size",
        "max_pending",
        "documents",
        "process",
        "interrupts",
        *_STORE_KEYS,
    }
    return _build(table, key, where, ByteRangeResource, keys)


def _http_progress_demo(spec: Any, key: str, where: _Where) -> Resource:
    keys = {"path", "jobs_path", "interrupt_after", "how", "lines"}
    return _build(spec, key, where, HttpProgressDemo, keys)


RESOURCE_BUILDERS["resumable_requests"] = _resumable_requests
RESOURCE_BUILDERS["byte_range"] = _byte_range
RESOURCE_BUILDERS["http_progress_demo"] = _http_progress_demo
