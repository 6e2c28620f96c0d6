"""The image catalog: the stack's TensorFlow images and what the tuning rules need from each.

A variant names a TensorFlow build (mkl, eigen, onednn); its default image and data layout
follow from it. The seed's images are kept under their original names, with their later names
and the current Intel images beside them. `dlrs-provision images list` prints this table;
`dlrs_variant` picks a variant, `dlrs_image` overrides the image.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Variant:
    name: str
    image: str  # the default image of the variant
    data_format: str  # the layout the build is fastest with
    openmp: bool  # OMP_NUM_THREADS / KMP_* apply (Intel OpenMP builds)
    description: str


@dataclass(frozen=True)
class Image:
    ref: str
    variant: str
    status: str  # "seed" (the original DLRS release), "renamed", "current"
    note: str

    def to_dict(self) -> dict[str, Any]:
        v = VARIANTS[self.variant]
        return asdict(self) | {"data_format": v.data_format, "openmp": v.openmp}


VARIANTS: dict[str, Variant] = {
    "mkl": Variant(
        name="mkl",
        image="clearlinux/stacks-dlaas-mkl:latest",
        data_format="NCHW",
        openmp=True,
        description="TensorFlow built with Intel MKL-DNN (the DLRS MKL image)",
    ),
    "eigen": Variant(
        name="eigen",
        image="clearlinux/stacks-dlaas-oss:latest",
        data_format="NHWC",
        openmp=False,
        description="TensorFlow built with Eigen (the DLRS open-source image)",
    ),
    "onednn": Variant(
        name="onednn",
        image="intel/intel-optimized-tensorflow:latest",
        data_format="NHWC",
        openmp=True,
        description="current Intel-optimized TensorFlow 2 (oneDNN, channels-last)",
    ),
}

IMAGES: tuple[Image, ...] = (
    Image(
        "clearlinux/stacks-dlaas-mkl:latest",
        "mkl",
        "seed",
        "the original DLRS MKL-DNN image (TensorFlow 1.x); deprecated upstream",
    ),
    Image(
        "clearlinux/stacks-dlaas-oss:latest",
        "eigen",
        "seed",
        "the original DLRS Eigen image (TensorFlow 1.x); deprecated upstream",
    ),
    Image(
        "clearlinux/stacks-dlrs-mkl:latest",
        "mkl",
        "renamed",
        "later name of the MKL image; deprecated upstream",
    ),
    Image(
        "clearlinux/stacks-dlrs-oss:latest",
        "eigen",
        "renamed",
        "later name of the Eigen image; deprecated upstream",
    ),
    Image(
        "intel/intel-optimized-tensorflow:latest",
        "onednn",
        "current",
        "maintained Intel image (TensorFlow 2, oneDNN)",
    ),
)

DEFAULT_VARIANT = "mkl"


def variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(
            f"unknown variant {name!r}; known variants: {', '.join(sorted(VARIANTS))}"
        ) from None


def image_variant(ref: str) -> str | None:
    """The variant of a catalogued image (registry prefix and tag ignored), or None."""

    def bare(r: str) -> str:
        name = r.split("@", 1)[0]
        if ":" in name.rsplit("/", 1)[-1]:
            name = name.rsplit(":", 1)[0]
        parts = name.split("/")
        if len(parts) > 2 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
            parts = parts[1:]
        return "/".join(parts)

    wanted = bare(ref)
    for img in IMAGES:
        if bare(img.ref) == wanted:
            return img.variant
    return None
