"""Session fixtures of the package tests: the wheel built and installed once (package_install)."""

from __future__ import annotations

import pytest
from package_install import Installed, build_wheel, install


@pytest.fixture(scope="session")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    return install(build_wheel(root / "build"), root)
