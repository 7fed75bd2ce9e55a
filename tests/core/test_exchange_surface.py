"""``ExchangeSurface`` is the whole of what resources, handlers, the continue policy and the
WebSocket switch use of an exchange, and ``ExchangeContext`` (HTTP/1.1 over h11) provides all
of it. (mypy checks the assignment too: ``exchange._implements_the_surface``.)

The uses are read from the source: every attribute taken of a parameter annotated as an
exchange (``ctx: ExchangeContext``, ``ctx: ExchangeSurface``) or of ``self.ctx``/``self._ctx``.
"""

from __future__ import annotations

import ast
from pathlib import Path

from support.sansio import Wire

import mockprogress
import mockprogress as mp
from mockprogress.engine.actions import Program
from mockprogress.engine.exchange import ExchangeContext
from mockprogress.engine.surface import ExchangeSurface
from mockprogress.script.steps import Respond

PACKAGE = Path(mockprogress.__file__).parent
#: Modules that must use the exchange through the surface only (with every resource).
ON_THE_SURFACE = ["engine/websocket.py", "engine/handler_control.py", "engine/expect_continue.py"]


def surface_members() -> set[str]:
    return {name for name in vars(ExchangeSurface) if not name.startswith("_")}


def exchange_uses(path: Path) -> set[str]:
    """The attributes ``path`` takes of an exchange."""
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef):
            names |= {
                a.arg
                for a in fn.args.args + fn.args.kwonlyargs
                if a.annotation is not None
                and any(k in ast.unparse(a.annotation) for k in ("ExchangeContext", "Surface"))
            }
    uses: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        base = node.value
        if isinstance(base, ast.Name) and base.id in names:
            uses.add(node.attr)
        elif (
            isinstance(base, ast.Attribute)
            and isinstance(base.value, ast.Name)
            and base.value.id == "self"
            and base.attr in ("ctx", "_ctx")
        ):
            uses.add(node.attr)
    return uses


def test_exchange_context_provides_every_member_of_the_surface() -> None:
    missing = [name for name in surface_members() if not hasattr(ExchangeContext, name)]
    assert missing == []


def test_the_reading_finds_the_uses() -> None:
    uses = exchange_uses(PACKAGE / "engine/websocket.py")
    assert {"switch_protocols", "write_raw", "read_raw", "fault"} <= uses


def test_handlers_the_continue_policy_and_websocket_use_the_surface_only() -> None:
    for module in ON_THE_SURFACE:
        outside = exchange_uses(PACKAGE / module) - surface_members()
        assert outside == set(), module


def test_resources_use_the_surface_only() -> None:
    used: set[str] = set()
    for path in sorted((PACKAGE / "resources").glob("*.py")):
        used |= exchange_uses(path)
    assert {"read_body_chunk", "respond", "fault"} <= used  # the reading found them
    assert used - surface_members() == set()


def test_a_final_response_is_seen_before_it_goes_out() -> None:
    seen: list[int] = []

    def instead(step: Respond) -> Respond:
        seen.append(step.status)
        return mp.respond(203, b"instead")

    class Watching(mp.Resource):
        def serve(self, ctx: ExchangeSurface) -> Program[None]:
            ctx.on_final_response(instead)
            yield from ctx.respond(mp.respond(200, b"scripted"), read_first=True)

    wire = Wire()
    wire.state.mount(Watching("/r"))
    out = wire.run([b"GET /r HTTP/1.1\r\nHost: x\r\n\r\n"])
    assert seen == [200]
    assert out.startswith(b"HTTP/1.1 203 ") and out.endswith(b"instead")
