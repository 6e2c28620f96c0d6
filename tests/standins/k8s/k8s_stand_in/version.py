"""The Kubernetes version a stand-in plays.

A package built by tests/harness/dlrs_harness/sandbox/k8s_repo.py carries build_info.json next
to this module ({"version": "1.32.3", "package_version": "1.32.3-1.1", ...}). Run from the checkout
(unit tests), the version is $K8S_STAND_IN_VERSION or DEFAULT_VERSION.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_VERSION = "1.32.3"
# kustomize bundled with kubectl, and the Go release, per minor version (kubectl version prints
# them); the values of the real releases of these minors.
KUSTOMIZE = {"1.30": "v5.0.4-0.20230601165947-6ce0bf390ce3", "1.31": "v5.4.2", "1.32": "v5.5.0"}
GO_VERSION = {"1.31": "go1.22.12", "1.32": "go1.23.6"}
BUILD_INFO = Path(__file__).resolve().parent / "build_info.json"


@dataclass(frozen=True)
class VersionInfo:
    version: str  # 1.32.3
    package_version: str  # 1.32.3-1.1 (what apt installed), or "" from the checkout

    @property
    def git_version(self) -> str:
        return "v" + self.version

    @property
    def major(self) -> str:
        return self.version.split(".")[0]

    @property
    def minor(self) -> str:
        return self.version.split(".")[1]

    @property
    def major_minor(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def kustomize(self) -> str:
        return KUSTOMIZE.get(self.major_minor, "v5.5.0")

    def info(self) -> dict[str, str]:
        """version.Info as the Kubernetes binaries print it; the fields that rest on the
        stand-in (commit, build, Go) say so instead of inventing values."""
        return {
            "major": self.major,
            "minor": self.minor,
            "gitVersion": self.git_version,
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "1970-01-01T00:00:00Z",
            "goVersion": "dlrs-provision stand-in (Python), not "
            + GO_VERSION.get(self.major_minor, "go"),
            "compiler": "gc",
            "platform": "linux/amd64",
        }


def current() -> VersionInfo:
    forced = os.environ.get("K8S_STAND_IN_VERSION")
    if forced:
        return VersionInfo(forced.lstrip("v"), "")
    try:
        data = json.loads(BUILD_INFO.read_text())
        return VersionInfo(str(data["version"]), str(data.get("package_version", "")))
    except (OSError, ValueError, KeyError):
        return VersionInfo(DEFAULT_VERSION, "")


def parse_semver(text: str) -> tuple[int, int, int] | None:
    """'v1.32.3' / '1.32' -> (1, 32, 3); None when it is not a version."""
    text = text.strip().lstrip("v").split("-")[0].split("+")[0]
    parts = text.split(".")
    if not 2 <= len(parts) <= 3 or not all(p.isdigit() for p in parts):
        return None
    nums = [int(p) for p in parts] + [0] * (3 - len(parts))
    return nums[0], nums[1], nums[2]
