"""The product as a user installs it: a wheel built from this checkout, installed into a fresh
venv in a temporary folder, run from a folder outside the checkout.

No network: the wheel is built with the dev venv's setuptools (`pip wheel --no-deps
--no-build-isolation`) from a copy of what the sdist carries, so the checkout gets no build/
folder; the fresh venv gets the wheel alone (`--no-deps`), and sees the dev venv's third-party
packages (ansible-core, ansible-runner, paramiko, ...) through a .pth file naming a folder of
links to them. That folder leaves out dlrs-provision's and dlrs-harness's own entries (the
editable installs of this checkout), so nothing of the checkout can be imported there. The
ansible-* commands get launchers that run the fresh venv's Python, as pip writes them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# what MANIFEST.in puts into the sdist, i.e. what a wheel is built from
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "ansible.cfg")
SOURCE_DIRS = ("dlrs_provision", "playbooks", "roles")
LEFT_OUT_DEPS = ("dlrs_provision", "dlrs_harness", "dlrs-provision", "__editable__")


@dataclass(frozen=True)
class Installed:
    venv: Path
    python: Path
    site: Path
    work: Path  # a folder outside the checkout to run in
    env: dict[str, str]

    def run(
        self, *args: str, check: bool = True, timeout: int = 600
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [str(self.venv / "bin" / "dlrs-provision"), *args],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check:
            assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc


def _sh(*cmd: str | Path, cwd: Path | None = None) -> None:
    proc = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, f"{cmd}:\n{proc.stdout}\n{proc.stderr}"


def build_wheel(out: Path) -> Path:
    src = out / "src"
    src.mkdir(parents=True)
    for name in SOURCES:
        shutil.copy2(REPO / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "_ansible")
    for name in SOURCE_DIRS:
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    dist = out / "dist"
    _sh(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
        "-w", dist, src)  # fmt: skip
    (wheel,) = dist.glob("dlrs_provision-*.whl")
    return wheel


def install(wheel: Path, root: Path) -> Installed:
    venv = root / "venv"
    _sh(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    _sh(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel)
    site = Path(
        subprocess.check_output(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True
        ).strip()
    )
    deps = root / "deps"
    deps.mkdir()
    dev_site = Path(sysconfig.get_paths()["purelib"])
    for entry in dev_site.iterdir():
        if not entry.name.startswith(LEFT_OUT_DEPS) and not entry.name.endswith(".pth"):
            (deps / entry.name).symlink_to(entry)
    (site / "dlrs-test-deps.pth").write_text(f"{deps}\n")
    dev_bin = Path(sys.executable).parent
    for script in dev_bin.glob("ansible*"):
        lines = script.read_text().splitlines(keepends=True)
        if lines and lines[0].startswith("#!"):
            launcher = venv / "bin" / script.name
            launcher.write_text(f"#!{python}\n" + "".join(lines[1:]))
            launcher.chmod(0o755)
    work = root / "work"
    work.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANSIBLE_", "DLRS_", "VIRTUAL_ENV", "PYTHON"))
    }
    env["PATH"] = os.pathsep.join([str(venv / "bin"), "/usr/local/bin", "/usr/bin", "/bin"])
    env["HOME"] = str(root / "home")
    return Installed(venv=venv, python=python, site=site, work=work, env=env)
