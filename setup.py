"""Build step of the wheel: ship the checkout's Ansible content inside the package.

The repository keeps playbooks/, roles/ and ansible.cfg at its top level (where ansible-playbook
and ops teams expect them). A wheel can only carry what is inside a package, so this build step
copies them into dlrs_provision/_ansible/ of the build tree; dlrs_provision/paths.py reads them
from there when the package does not run from a checkout. Molecule scenarios stay behind (they
test the roles; an installation does not run them). Everything else is in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = ("playbooks", "roles", "ansible.cfg")
LEFT_BEHIND = shutil.ignore_patterns("molecule", "__pycache__", "*.pyc")


class BuildWithAnsibleContent(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads the checkout itself
        target = Path(self.build_lib) / "dlrs_provision" / "_ansible"
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name in SHIPPED:
            source = HERE / name
            if source.is_dir():
                shutil.copytree(source, target / name, ignore=LEFT_BEHIND)
            else:
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildWithAnsibleContent})
