"""Carrying out an expectation's ``Expect: 100-continue`` policy (``script.continue_policy``
says what each policy means) before its script runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..script.continue_policy import ContinuePolicy
from .actions import Program, Sleep

if TYPE_CHECKING:
    from .surface import ExchangeSurface


def begin_exchange(ctx: ExchangeSurface, policy: ContinuePolicy) -> Program[bool]:
    """Apply ``policy`` before the script runs; False when the script must not run."""
    ctx.continue_on_first_read(policy.interim if policy.mode == "auto" else None)
    if not ctx.waiting_for_continue:
        return True
    if policy.mode == "reject":
        assert policy.reject is not None
        yield from ctx.respond(policy.reject, read_first=False)
        return False
    if policy.mode == "delay":
        ctx.log.event(ctx.now, "pause", "", f"100 Continue held back {policy.seconds:g} s")
        if policy.seconds > 0:
            yield Sleep(policy.seconds)
    interim = policy.interim
    if interim is not None and policy.mode != "auto":
        yield from ctx.send_interim(interim)
    return True
