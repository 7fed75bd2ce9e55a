"""``cut_sweep``: a pytest ``parametrize`` over the cut points of a response.

An adapter: it imports pytest only when called, so ``import mockprogress`` stays free of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..script.steps import CutHow, CutUnit, Interim, Respond
from .sweep import EVERY_OFFSET_UP_TO, cut_points


def cut_sweep(
    response: Respond,
    *,
    argname: str = "cut",
    unit: CutUnit = "wire",
    how: CutHow | Iterable[CutHow] = "close",
    interims: Sequence[Interim] = (),
    every_offset_up_to: int = EVERY_OFFSET_UP_TO,
    sample: int = 16,
    seed: int = 0,
) -> Any:
    """Parametrize a test over ``mp.cut_points(response, ...)``: the test runs once per cut,
    gets a ``CutPoint`` as ``argname``, and its id names the offset (``[wire-20-in-header-
    content-length-close]``), so a failure says exactly where the cut fell.

    .. code-block:: python

        @mp.cut_sweep(mp.respond(200, b"x" * 1000), how=["close", "reset"])
        def test_download_reports_truncation(mockprogress_server, cut):
            mockprogress_server.expect("GET", "/file").respond(cut.response)
            with pytest.raises(DownloadError):
                download(mockprogress_server.url("/file"))
    """
    import pytest

    points = cut_points(
        response,
        unit=unit,
        how=how,
        interims=interims,
        every_offset_up_to=every_offset_up_to,
        sample=sample,
        seed=seed,
    )
    return pytest.mark.parametrize(argname, points, ids=[p.id for p in points])
