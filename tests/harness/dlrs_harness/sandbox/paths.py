"""Where the sandbox finds its recipes (the checkout) and writes its state (inventory/sandbox/)."""

from __future__ import annotations

import os
from pathlib import Path

from dlrs_provision.errors import EnvironmentProblem

REPO_ROOT_ENV = "DLRS_REPO_ROOT"


def repo_root() -> Path:
    """The dlrs-provision checkout this package runs from (it holds tests/sandbox and
    tests/standins, which the sandbox builds its images from)."""
    forced = os.environ.get(REPO_ROOT_ENV)
    here = Path(__file__).resolve()
    candidates = [Path(forced).resolve()] if forced else list(here.parents)
    for candidate in candidates:
        if _is_checkout(candidate):
            return candidate
    where = forced if forced else str(here)
    raise EnvironmentProblem(
        f"the sandbox needs a checkout of dlrs-provision (it builds its hosts from tests/sandbox "
        f"and tests/standins), and none was found at or above {where}",
        "install the harness from the git checkout (`make venv` there: it installs dlrs-provision "
        "and tests/harness editable) and run it there, "
        f"or set {REPO_ROOT_ENV}=/path/to/the/checkout",
    )


def _is_checkout(path: Path) -> bool:
    return (
        (path / "pyproject.toml").is_file()
        and (path / "tests" / "sandbox").is_dir()
        and (path / "dlrs_provision").is_dir()
    )


def sandbox_dir(root: Path) -> Path:
    """inventory/sandbox/ of the checkout: hosts.yml, known_hosts, the key pair, sandbox.json."""
    return root / "inventory" / "sandbox"


def cache_dir(root: Path) -> Path:
    """.cache/sandbox/ of the checkout (ignored by git): image build logs."""
    return root / ".cache" / "sandbox"
