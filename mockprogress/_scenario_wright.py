"""Scenario tables for the wright upload resources: ``[[resumable_requests]]``,
``[[byte_range]]`` and ``[[http_progress_demo]]``.

.. code-block:: toml

    [[resumable_requests]]
    path = "/upload"
    dialect = "draft"                        # or "demo"
    interrupts = [{ after = 4096, request = 1, how = "reset" }]

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

from ._byte_range_resource import ByteRangeResource
from ._errors import ScenarioError
from ._http_progress_demo import HttpProgressDemo
from ._interrupt import Interrupt
from ._resource import Resource
from ._resumable_requests import ResumableRequests
from ._scenario import RESOURCE_BUILDERS, _step, _table, _Where
from ._steps import Step


def _interrupts(value: Any, key: str, where: _Where) -> list[Interrupt]:
    if not isinstance(value, list):
        raise where.error(key, "expected a list of { after = K, request = N, how = ... } tables")
    items: list[Interrupt] = []
    for i, spec in enumerate(value):
        item_key = f"{key}[{i}]"
        table = _table(spec, item_key, where, {"after", "request", "how", "seconds"})
        if "after" not in table:
            raise where.error(f"{item_key}.after", "missing (the body bytes before the cut)")
        request = table.get("request", 1)
        if request == "every":
            request = None
        try:
            items.append(
                Interrupt(table["after"], request, table.get("how", "reset"), table.get("seconds"))
            )
        except ScenarioError as exc:
            raise where.error(item_key, str(exc)) from None
    return items


def _process(value: Any, key: str, where: _Where) -> list[Step]:
    if not isinstance(value, list) or not value:
        raise where.error(key, "expected a list of steps, as in [[expect.steps]]")
    return [_step(spec, f"{key}[{i}]", where) for i, spec in enumerate(value)]


def _build(spec: Mapping[str, Any], key: str, where: _Where, make: Any, keys: set[str]) -> Resource:
    table = _table(spec, key, where, keys)
    kwargs = dict(table)
    if "interrupts" in kwargs:
        kwargs["interrupts"] = _interrupts(kwargs["interrupts"], f"{key}.interrupts", where)
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
        "spool_threshold",
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
    keys = {"path", "sparse", "max_size", "documents", "process", "interrupts", "spool_threshold"}
    return _build(table, key, where, ByteRangeResource, keys)


def _http_progress_demo(spec: Any, key: str, where: _Where) -> Resource:
    keys = {"path", "jobs_path", "interrupt_after", "how", "lines"}
    return _build(spec, key, where, HttpProgressDemo, keys)


RESOURCE_BUILDERS["resumable_requests"] = _resumable_requests
RESOURCE_BUILDERS["byte_range"] = _byte_range
RESOURCE_BUILDERS["http_progress_demo"] = _http_progress_demo
