"""The stand-in scripts the harness runs in its own process as well (they are also copied into
images and run there as scripts, so they are loaded by path, not imported as a package)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def load_script(path: Path) -> ModuleType | None:
    """The module of the script at path, or None when it is not there."""
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"_dlrs_sandbox_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
