"""Where things are: the playbooks and roles (the checkout's, or the copy shipped in the
wheel), and the per-inventory state folder."""

from __future__ import annotations

import os
from pathlib import Path

from dlrs_provision.errors import EnvironmentProblem

PACKAGE_DIR = Path(__file__).resolve().parent
FILTER_PLUGINS = PACKAGE_DIR / "ansible_plugins" / "filter"
CACHE_PLUGINS = PACKAGE_DIR / "ansible_plugins" / "cache"
# playbooks/, roles/ and ansible.cfg as the wheel carries them (copied there by setup.py)
SHIPPED_DIR = PACKAGE_DIR / "_ansible"
STATE_ENV = "DLRS_PROVISION_STATE"
STATE_DIRNAME = ".dlrs-provision"


def repo_root() -> Path:
    """The folder holding playbooks/, roles/ and ansible.cfg.

    The checkout when the package runs from one (an editable install: its files are the ones
    being edited), else the copy that the wheel ships inside the package, else the Ansible
    collection this module was copied into (plugins/module_utils/, two levels below its roles/).
    """
    for root in (PACKAGE_DIR.parent, SHIPPED_DIR, PACKAGE_DIR.parents[1]):
        if (root / "playbooks").is_dir() and (root / "roles").is_dir():
            return root
    raise EnvironmentProblem(
        f"playbooks/ and roles/ are neither beside the package ({PACKAGE_DIR.parent}) nor "
        f"shipped in it ({SHIPPED_DIR})",
        "reinstall dlrs-provision from a wheel or its checkout (`pip install .`); a build that "
        "skipped setup.py's copy step does not carry them",
    )


def roles_dir() -> Path:
    return repo_root() / "roles"


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


def private_dir(path: Path) -> Path:
    """Create `path` (and its missing parents) for this user only (0700) and return it.

    The state folder holds facts, run artifacts and keys: nobody else reads it. A folder that
    exists already is made 0700 too (older versions created them with the umask's mode). A part
    of the path that is a file, or a folder that cannot be created, is an EnvironmentProblem
    (exit 3) naming the culprit, not a traceback.
    """
    path = Path(path)
    for part in (*reversed(path.parents), path):
        if part.exists() and not part.is_dir():
            raise EnvironmentProblem(
                f"the state folder {path} cannot be created: {part} is a file, not a folder",
                f"move or remove {part}, or point {STATE_ENV} at a folder",
            )
    try:
        for part in (*reversed(path.parents), path):
            if not part.exists():
                part.mkdir(mode=0o700)
        if path.stat().st_uid == os.getuid():
            path.chmod(0o700)
    except OSError as exc:
        raise EnvironmentProblem(
            f"the state folder {path} cannot be created: {exc.strerror}",
            f"make its parent writable, or point {STATE_ENV} at a folder you can write",
        ) from None
    return path


def ensure_state(inventory: Path) -> Path:
    """The inventory's state folder, its facts/ and runs/ made 0700; returns the state folder."""
    state = private_dir(state_dir(inventory))
    private_dir(state / "facts")
    private_dir(state / "runs")
    return state
