"""What draft-wright-http-progress §3.2 asks of a sender, across the messages of one exchange.

"The numerator MUST NOT decrease in value and MUST NOT disappear once introduced", and the
denominator, when present, "MUST NOT be smaller than the numerator". Every ``Progress`` value
must also follow the grammar. The server holds itself to this: a script whose steps would
break it fails when it is built (``Script.of``), a ``ProgressJob`` is built so that it cannot,
and what an async handler sends is checked as it goes out.

To test a client against a server that breaks the rule, write the bytes with ``mp.raw()``.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import ScenarioError
from .progress import Progress


class ProgressOrder:
    """Follows the ``Progress`` values one exchange sends, in order."""

    __slots__ = ("last", "last_where")

    def __init__(self) -> None:
        self.last: Progress | None = None
        self.last_where = ""

    def admit(self, status: int, values: Iterable[str], where: str) -> None:
        """Check the ``Progress`` field values of the next message (``status``) and remember
        them.

        :raises ScenarioError: when a value does not parse, when the numerator goes down,
            or when a ``102 Processing`` omits ``Progress`` after an earlier one carried it.
        """
        items = list(values)
        if not items:
            if status == 102 and self.last is not None:
                raise ScenarioError(
                    f"{where}: a 102 without Progress after {self.last_where} sent "
                    f"Progress: {self.last} (draft-wright-http-progress §3.2: the numerator "
                    "MUST NOT disappear once introduced)"
                )
            return
        for value in items:
            progress = Progress.parse(value)  # grammar, and denominator >= numerator
            if self.last is not None and progress.done < self.last.done:
                raise ScenarioError(
                    f"{where}: Progress: {progress} after {self.last_where} sent "
                    f"Progress: {self.last} (draft-wright-http-progress §3.2: the numerator "
                    "MUST NOT decrease)"
                )
            self.last, self.last_where = progress, where


def check_progress_order(messages: Iterable[tuple[int, Iterable[str], str]]) -> None:
    """Check ``(status, progress values, description)`` for the messages of one exchange, in
    the order they go out.

    :raises ScenarioError: on the first message that breaks §3.2.
    """
    order = ProgressOrder()
    for status, values, where in messages:
        order.admit(status, values, where)
