"""A progress job's stages as a pure function of time.

A job started at ``started`` runs its stages one after another; stage ``i`` ends at
``started + ends[i]``. Everything the server says about the job (the 102s, the 202, the
status document) is read off this plan with the clock: "progress now" and "next change at".
Nothing here sleeps; the programs that serve the job yield ``Sleep`` until the next change.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ScenarioError
from ..http.progress import Comment, ExtValue, Fraction, Progress, Quoted, _remark
from ..script.checks import check_seconds

#: Times closer than this count as equal, so a sleep that wakes a hair early (or float
#: rounding in ``started + end``) still lands on the stage boundary it aimed at.
EPSILON = 1e-6

StageRemark = str | Quoted | Comment | ExtValue | None


@dataclass(frozen=True, slots=True)
class JobPlan:
    """The stages of a job: ``progress[i]`` is ``i/n "remark i"``, reported while stage ``i``
    runs; ``final`` (``n/n``) once all have ended."""

    progress: tuple[Progress, ...]
    ends: tuple[float, ...]
    final: Progress

    @classmethod
    def build(
        cls, stages: Sequence[tuple[StageRemark, float]], done_remark: StageRemark = None
    ) -> JobPlan:
        """Check ``[(remark, seconds), ...]`` and lay the stages out in time.

        :raises ScenarioError: on an empty list, a negative or non-numeric duration, or a
            remark that the Progress grammar cannot carry.
        """
        if isinstance(stages, str | bytes) or not isinstance(stages, Sequence) or not stages:
            raise ScenarioError("a ProgressJob needs stages: a list of (remark, seconds)")
        total = len(stages)
        progress: list[Progress] = []
        durations: list[float] = []
        for i, stage in enumerate(stages):
            try:
                remark, seconds = stage
            except (TypeError, ValueError):
                raise ScenarioError(f"stage {i} must be (remark, seconds), got {stage!r}") from None
            checked = check_seconds(seconds, f"stage {i} seconds")
            assert checked is not None
            durations.append(checked)
            progress.append(Progress(i, total, _remarks(remark)))
        final = Progress(total, total, _remarks(done_remark))
        return cls(tuple(progress), tuple(itertools.accumulate(durations)), final)

    @property
    def stages(self) -> int:
        return len(self.progress)

    @property
    def duration(self) -> float:
        """Seconds from start to the end of the last stage."""
        return self.ends[-1]

    def stage_at(self, elapsed: float) -> int:
        """How many stages have ended ``elapsed`` seconds after the start (``stages`` when the
        job is done)."""
        return bisect.bisect_right(self.ends, elapsed + EPSILON)

    def progress_at(self, elapsed: float) -> Progress:
        """The job's progress ``elapsed`` seconds after the start."""
        index = self.stage_at(elapsed)
        return self.final if index >= self.stages else self.progress[index]

    def next_change(self, elapsed: float) -> float | None:
        """When (seconds after the start) the progress changes next; None once done."""
        index = self.stage_at(elapsed)
        return None if index >= self.stages else self.ends[index]

    def describe(self, elapsed: float) -> str:
        """A sentence for status documents and the 202: which step the job is on."""
        index = self.stage_at(elapsed)
        if index >= self.stages:
            return f"done: {self.stages} of {self.stages} steps"
        remark = self.progress[index].remark
        step = f"step {index + 1} of {self.stages}"
        return f"{step}: {remark}" if remark else step


def _remarks(remark: StageRemark) -> tuple[Quoted | Comment | ExtValue | Fraction, ...]:
    if remark is None or remark == "":
        return ()
    return (_remark(remark),)
