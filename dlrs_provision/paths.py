"""Where things are: the checkout's playbooks and roles, and the per-inventory state folder."""

from __future__ import annotations

import os
from pathlib import Path

from dlrs_provision.errors import EnvironmentProblem

PACKAGE_DIR = Path(__file__).resolve().parent
FILTER_PLUGINS = PACKAGE_DIR / "ansible_plugins" / "filter"
STATE_ENV = "DLRS_PROVISION_STATE"
STATE_DIRNAME = ".dlrs-provision"


def repo_root() -> Path:
    """The checkout holding playbooks/ and roles/ (the package is installed from it, editable)."""
    root = PACKAGE_DIR.parent
    if (root / "playbooks").is_dir() and (root / "roles").is_dir():
        return root
    raise EnvironmentProblem(
        f"playbooks/ and roles/ not found beside the package in {root}",
        "install dlrs-provision from its checkout with `pip install -e .` (see README)",
    )


def playbook(name: str) -> Path:
    path = repo_root() / "playbooks" / name
    if not path.is_file():
        raise EnvironmentProblem(f"playbook {path} is missing", "restore it from git")
    return path


def state_dir(inventory: Path) -> Path:
    """Per-inventory state (fact cache, run artifacts): beside the inventory unless overridden.

    DLRS_PROVISION_STATE=DIR puts it elsewhere (a read-only inventory checkout, tests).
    """
    override = os.environ.get(STATE_ENV)
    if override:
        return Path(override).resolve()
    base = inventory if inventory.is_dir() else inventory.parent
    return (base / STATE_DIRNAME).resolve()


def facts_dir(inventory: Path) -> Path:
    return state_dir(inventory) / "facts"


def runs_dir(inventory: Path) -> Path:
    return state_dir(inventory) / "runs"
