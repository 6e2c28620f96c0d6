"""What the all-Clear e2e modules share (a module of its own: `conftest` is also tests/e2e's)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))

from e2e_support import on

NODES = ("node1", "node2")
CLEAR_START = 26000  # below the DLRS floor of 26240: the OS phase must lift it


def sh(node: str, script: str, check: bool = True) -> str:
    return on(node, script, check=check)
