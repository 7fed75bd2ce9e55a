"""Where things are: the repository, and the Node scripts the client tests run."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
NODE_DIR = ROOT / "tests" / "node"
