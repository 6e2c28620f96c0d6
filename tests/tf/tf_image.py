"""The TensorFlow (CPU) image of tests/tf/image/, built once and cached by its recipe's hash.

It reuses the sandbox's image builder (dlrs_harness.sandbox.images): FROM the sandbox's
`base` image, tagged dlrs-sandbox/tf-cpu:<hash12>, where the hash covers the recipe folder, the
TensorFlow version and the base image's own hash. An existing tag is reused.

The wheels (tensorflow-cpu and its dependencies for Debian 12's Python 3.11) are downloaded by
the controller's pip into the recipe's `.wheels/` (ignored by git; dot-files are not part of
the hash): a build container does not trust the site's TLS interception CA that the
controller's pip is configured with, and the wheels are fixed by the pinned version anyway.
They are removed once the image is built.

    python tests/tf/tf_image.py        # build if missing; print the tag and the time it took
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

from dlrs_harness.sandbox.images import ImageBuilder, ImageSpec, image_exists
from dlrs_provision.errors import EnvironmentProblem

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "tests" / "tf" / "image"
WHEELS = RECIPE / ".wheels"
# the version tests/tf/setup.sh pins for .venv-tf; its wheels also fit Debian 12's Python 3.11
TF_VERSION = "2.21.0"
PYTHON_VERSION = "3.11"  # Debian 12's
SPEC = ImageSpec("tf-cpu", "../tf/image", parent="base", build_args=(("TF_VERSION", TF_VERSION),))


def builder(echo=None) -> ImageBuilder:
    return ImageBuilder(REPO, echo=echo, extra_specs=(SPEC,))


def download_wheels() -> None:
    """tensorflow-cpu and its dependencies as wheels for cp311 on manylinux x86_64."""
    platforms = ["manylinux2014_x86_64"] + [f"manylinux_2_{n}_x86_64" for n in range(17, 37)]
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:"]
    cmd += ["--python-version", PYTHON_VERSION, "--implementation", "cp"]
    cmd += ["--abi", "cp" + PYTHON_VERSION.replace(".", "")]
    for platform in platforms:
        cmd += ["--platform", platform]
    cmd += ["-d", str(WHEELS), f"tensorflow-cpu=={TF_VERSION}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise EnvironmentProblem(
            f"downloading tensorflow-cpu {TF_VERSION} wheels failed: {proc.stderr.strip()[-800:]}",
            "PyPI must be reachable from this machine (pip's own settings apply)",
        )


def ensure(echo=None) -> str:
    """The image's tag, built first when missing (minutes: TensorFlow is large)."""
    b = builder(echo)
    if image_exists(b.tag(SPEC.name)):
        return b.tag(SPEC.name)
    download_wheels()
    tag = b.ensure(SPEC.name)
    shutil.rmtree(WHEELS, ignore_errors=True)  # in the image now; 320 MB less on disk
    return tag


if __name__ == "__main__":
    started = time.monotonic()
    tag = ensure(echo=lambda line: print(line, file=sys.stderr))
    print(tag)
    print(f"ready in {time.monotonic() - started:.0f} s", file=sys.stderr)
